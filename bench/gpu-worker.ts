/**
 * One engine run for bench/gpu.sh: initialises exactly the requested backend (no fallback: a
 * benchmark that silently fell back to wasm would report the wrong engine), trains the benchmark
 * model with the real engine code (synthetic data stream, TransformerModel, AdamW, trainStep) and
 * prints one JSON line (same fields as bench/gpu_torch.py):
 *   backend, device, config, paramsNonEmbedding, paramsTotal, stepMs (timed steps), losses,
 *   initMs (backend init + smoke step), firstStepMs (includes shader compilation / autotuning)
 * or {"error": ...} with exit code 3 when the backend cannot start.
 *
 * Run from the repository root: node --import tsx bench/gpu-worker.ts --backend webgpu --d 768 ...
 * Progress goes to stderr, so a run killed by the time box still shows how far it got.
 */
import type { Backend } from '../src/core/contracts';
import { benchExperiment, type BenchConfig } from './common';

interface Args extends BenchConfig {
  backend: string;
  maxSeconds: number;
  seed: number;
  /** 1: accept a software WebGPU adapter (only for testing the script without a GPU) */
  allowSoftware: number;
}

const NUMERIC = ['d', 'layers', 'heads', 'context', 'batch', 'vocab', 'steps', 'warmup', 'maxSeconds', 'seed', 'allowSoftware'] as const;

export function parseWorkerArgs(argv: string[]): Args {
  const a: Args = { backend: 'webgpu', d: 768, layers: 8, heads: 12, context: 512, batch: 32, vocab: 256, steps: 10, warmup: 2, maxSeconds: 0, seed: 1, allowSoftware: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${argv[i]} needs a value`);
    if (key === 'backend') a.backend = v;
    else if ((NUMERIC as readonly string[]).includes(key)) {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${argv[i]}: not a non-negative number: ${v}`);
      (a as unknown as Record<string, number>)[key] = n;
    } else throw new Error(`unknown option ${argv[i]}`);
  }
  if (a.d % a.heads !== 0) throw new Error(`--d ${a.d} is not divisible by --heads ${a.heads}`);
  return a;
}

function fail(message: string): never {
  process.stdout.write(JSON.stringify({ engine: 'flopsfit', error: message }) + '\n');
  process.exit(3);
}

async function main(): Promise<void> {
  let a: Args;
  try {
    a = parseWorkerArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`gpu-worker: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = (line: string) => process.stderr.write(`[${a.backend}] ${line}\n`);
  const { initBackend, tf } = await import('../src/engine/backend');
  const { spec, counts, totalSteps, tokens } = benchExperiment(a, { id: 'gpu-bench', backend: a.backend as Backend, seed: a.seed, allowRepeat: true });
  const t0 = performance.now();
  let info;
  try {
    info = await initBackend(a.backend as Backend, log);
  } catch (err) {
    fail((err as Error).message);
  }
  if (info.name !== a.backend) fail(`${a.backend} did not start: ${info.fallbacks.join('; ') || 'unknown reason'} (would have used ${info.name})`);
  if (info.name === 'webgpu' && /\bsoftware\)$/.test(info.device) && !a.allowSoftware) {
    fail(`only a software WebGPU adapter is available (${info.device}): not a GPU measurement`);
  }
  const initMs = performance.now() - t0;
  log(`backend ${info.name} on ${info.device} (${Math.round(initMs)} ms)`);
  const { openExperimentData } = await import('../src/engine/data');
  const { buildModel, batchTensors, trainStep, planTokens } = await import('../src/engine/train');
  const { AdamW, learningRate } = await import('../src/engine/optimizer');
  const plan = planTokens(tokens, a.batch, a.context);
  const data = openExperimentData(spec, plan.sequences);
  const m = buildModel(spec);
  const opt = new AdamW(m.vars, m.layout.map((p) => p.decay), spec.training);
  const losses: number[] = [];
  const stepMs: number[] = [];
  let firstStepMs = 0;
  const tTrain = performance.now();
  try {
    for (let s = 0; s < totalSteps; s++) {
      const ts = performance.now();
      const { x, y } = batchTensors(data.train.next(a.batch), a.batch, a.context);
      losses.push(await trainStep(m, opt, x, y, learningRate(s, totalSteps, spec.training)));
      tf.dispose([x, y]);
      const te = performance.now();
      if (s === 0) firstStepMs = te - ts;
      if (s >= a.warmup) stepMs.push(te - ts);
      log(`step ${s + 1}${s < a.warmup ? ' (warmup)' : ''}: ${(te - ts).toFixed(0)} ms, loss ${losses[s].toFixed(4)}`);
      if (a.maxSeconds > 0 && s >= a.warmup && (te - tTrain) / 1000 > a.maxSeconds) {
        log(`time box of ${a.maxSeconds} s reached after ${stepMs.length} timed steps`);
        break;
      }
    }
  } catch (err) {
    fail(`training step failed on ${info.device}: ${(err as Error).message.split('\n')[0]}`);
  }
  process.stdout.write(
    JSON.stringify({
      engine: 'flopsfit',
      backend: info.name,
      device: info.device,
      config: { d: a.d, layers: a.layers, heads: a.heads, context: a.context, batch: a.batch, vocab: a.vocab, steps: a.steps, warmup: a.warmup },
      paramsNonEmbedding: counts.nonEmbedding,
      paramsTotal: counts.total,
      initMs,
      firstStepMs,
      stepMs,
      losses,
      numTensors: tf.memory().numTensors,
    }) + '\n',
  );
  data.close();
  m.dispose();
  opt.dispose();
}

if (require.main === module) {
  void main();
}
