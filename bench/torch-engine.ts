/**
 * One run of the PyTorch engine for the benchmarks (bench/train.mjs, bench/gpu.sh): the real
 * trainer (src/engine/torch/flopsfit_torch.py through src/engine/torchEngine.ts: data stream,
 * model, AdamW, metrics, final checkpoint) on the benchmark experiment of bench/common.ts. Prints
 * one JSON line in the reference script's shape (bench/train_torch.py): stepMs per timed step
 * (from metrics.jsonl, whose throughput excludes the evaluation), losses, device, maxRssMB.
 *
 * Options: --d --layers --heads --context --batch --vocab --steps --warmup (as bench/common.ts),
 *          --python PATH (default: FLOPSFIT_PYTHON, else /usr/bin/python3), --device auto|cpu|cuda.
 * Threads: FLOPSFIT_TORCH_THREADS (the engine's default on the CPU is 1 thread per process).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchExperiment, type BenchConfig } from './common';
import { trainWithTorch, type TorchDevice } from '../src/engine/torchEngine';

async function main(): Promise<void> {
  const c: BenchConfig = { d: 128, layers: 4, heads: 4, context: 128, batch: 16, vocab: 256, steps: 12, warmup: 2 };
  let python = process.env.FLOPSFIT_PYTHON ?? '/usr/bin/python3';
  let device: TorchDevice = 'cpu';
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[i + 1];
    if (k === 'python') python = v;
    else if (k === 'device') device = v as TorchDevice;
    else if (k in c) (c as unknown as Record<string, number>)[k] = Number(v);
    else throw new Error(`unknown option --${k}`);
  }
  const { spec } = benchExperiment(c, { id: 'bench-torch', backend: 'torch', seed: 1, allowRepeat: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-bench-torch-'));
  try {
    const t0 = Date.now();
    const r = await trainWithTorch(spec, dir, { python, device });
    if (r.status !== 'completed') throw new Error(`the torch engine run ${r.status}: ${r.reason}`);
    const lines = fs
      .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { step: number; trainLoss: number; tokensPerSecond: number; tokens: number });
    const perStep = c.batch * c.context;
    const timed = lines.filter((l) => l.step > c.warmup);
    process.stdout.write(
      JSON.stringify({
        engine: 'torch-engine',
        device: r.device,
        config: c,
        stepMs: timed.map((l) => (perStep / l.tokensPerSecond) * 1000),
        losses: lines.map((l) => l.trainLoss),
        wallSeconds: (Date.now() - t0) / 1000,
        maxRssMB: 0,
      }) + '\n',
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench torch-engine: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
