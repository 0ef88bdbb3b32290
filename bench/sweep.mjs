#!/usr/bin/env node
// `npm run bench:sweep`: a whole IsoFLOP sweep, end to end, with the FlopsFit engine and with
// PyTorch on the same machine, P experiments at a time (P = cores) both ways.
//
//   engine  `flopsfit run <config> --parallel P --no-fit`: the real runner, one training process
//           per experiment (process start, data, model, every step logged to metrics.jsonl,
//           checkpoints every 200 steps and at the end, the held-out evaluation, result.json)
//   torch   bench/train_torch.py per experiment, the same model, batch, context and step count,
//           P processes at a time (torch threads 1, OpenBLAS 1): process start and `import torch`,
//           every step logged, the same held-out evaluation, a checkpoint at the end
//
// Prints the wall time of each sweep and the ratio (torch wall ÷ engine wall: above 1 means the
// engine gets through the sweep faster). Unlike bench:train this includes what a sweep pays per
// run: start-up, evaluation, logging and checkpoints, at the sizes a CPU sweep uses.
// Options: --procs P, --budgets a,b,c (FLOPs), --keep (keep the temporary run directory).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { flag, opt, root } from './cli.mjs';

const procs = Number(opt('procs', os.cpus().length));
const budgets = String(opt('budgets', '3e10,1e11,3e11'))
  .split(',')
  .map(Number);
const PY = '/usr/bin/python3';
const CLI = path.join(root, 'dist', 'flopsfit.js');

const CONFIG = `# bench:sweep — a small CPU IsoFLOP sweep (written by bench/sweep.mjs)
name: bench-sweep
model:
  family: transformer
  nLayers: 2
  nHeads: 2
  contextLength: 64
  size: { param: dModel, min: 16, max: 192, multiple: 8 }
data: { source: synthetic, vocabSize: 256, branching: 4, seed: 0 }
budgets: [${budgets.join(', ')}]
planning:
  sizesPerBudget: 3
training:
  batchSize: 16
  learningRate: 0.003
  evalTokens: 8192
  evalInterval: 0
  checkpointInterval: 200
  backend: wasm
`;

function run(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(' ')} exited with ${code}: ${(err || out).trim().slice(-600)}`));
      resolve({ out, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

async function pool(items, n, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}

async function main() {
  if (!fs.existsSync(CLI)) throw new Error('dist/flopsfit.js is missing: run `npm run build` first');
  const haveTorch = spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-bench-sweep-'));
  try {
    const cfgPath = path.join(dir, 'bench.sweep.yaml');
    fs.writeFileSync(cfgPath, CONFIG);
    const plan = JSON.parse((await run(process.execPath, [CLI, 'plan', cfgPath, '--json', '--workspace', dir])).out);
    const exps = plan.experiments;
    const steps = (e) => Math.ceil(e.tokens / (e.training.batchSize * e.model.contextLength));
    const tokens = exps.reduce((a, e) => a + steps(e) * e.training.batchSize * e.model.contextLength, 0);
    console.log(
      `bench:sweep  ${exps.length} experiments (budgets ${budgets.map((b) => b.toExponential(0)).join(', ')}; dModel ${[...new Set(exps.map((e) => e.model.dModel))].sort((a, b) => a - b).join('/')}; ` +
        `L2 T64 B16 V256), ${(tokens / 1e6).toFixed(1)}M tokens, ${procs} at a time  (${os.cpus().length} cores: ${os.cpus()[0]?.model}; load ${os.loadavg()[0].toFixed(2)})`,
    );

    console.log('engine: flopsfit run …');
    const eng = await run(process.execPath, [CLI, 'run', cfgPath, '--workspace', dir, '--out', path.join(dir, 'run'), '--parallel', String(procs), '--no-fit', '--progress', '600']);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'run', 'manifest.json'), 'utf8'));
    const notDone = manifest.order.filter((id) => manifest.experiments[id].status !== 'completed');
    if (notDone.length) throw new Error(`engine: ${notDone.length} experiments did not complete`);
    const engineResults = exps.map((e) => JSON.parse(fs.readFileSync(path.join(dir, 'run', 'experiments', e.id, 'result.json'), 'utf8')));
    const engineLoss = engineResults.map((r) => r.finalLoss);

    let torch;
    if (haveTorch) {
      console.log('torch: bench/train_torch.py per experiment …');
      fs.mkdirSync(path.join(dir, 'torch'));
      const t0 = performance.now();
      const perRun = [];
      await pool(exps, procs, async (e, i) => {
        const m = e.model;
        const args = [
          path.join(root, 'bench/train_torch.py'),
          ...['--d', m.dModel, '--layers', m.nLayers, '--heads', m.nHeads, '--context', m.contextLength, '--batch', e.training.batchSize, '--vocab', m.vocabSize],
          ...['--steps', steps(e), '--warmup', 0, '--lr', e.training.learningRate, '--eval-tokens', e.training.evalTokens, '--log-every', 1],
          ...['--checkpoint', path.join(dir, 'torch', `${e.id}.pt`), '--label', e.id],
        ].map(String);
        const r = await run(PY, args, { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' });
        perRun[i] = r.seconds;
      });
      torch = { seconds: (performance.now() - t0) / 1000, perRun };
    } else {
      console.log(`PyTorch not importable with ${PY} (apt-get install python3-torch libopenblas0-pthread): engine only`);
    }

    console.log('');
    console.log(`  engine sweep wall ${eng.seconds.toFixed(1)} s  (${(tokens / eng.seconds).toFixed(0)} tokens/s)`);
    if (torch) {
      console.log(`  torch  sweep wall ${torch.seconds.toFixed(1)} s  (${(tokens / torch.seconds).toFixed(0)} tokens/s; per run ${Math.min(...torch.perRun).toFixed(1)}–${Math.max(...torch.perRun).toFixed(1)} s)`);
      console.log(`  sweep throughput  engine ÷ torch = ${(torch.seconds / eng.seconds).toFixed(3)}   (goal ≥ 1.0)`);
    }
    console.log(`  engine final losses: ${engineLoss.map((x) => x.toFixed(3)).join(' ')}`);
    console.log('');
    console.log('  experiment         dModel  steps   engine s (training)   torch s (process)');
    exps.forEach((e, i) =>
      console.log(
        `  ${e.id}  ${String(e.model.dModel).padStart(6)} ${String(steps(e)).padStart(6)}   ${engineResults[i].elapsedSeconds.toFixed(1).padStart(18)}   ${torch ? torch.perRun[i].toFixed(1).padStart(17) : ''}`,
      ),
    );
    console.log(`  engine order: ${manifest.order.map((id) => exps.findIndex((e) => e.id === id)).join(' ')} (plan indices); torch: plan order`);
    console.log(`  load average after: ${os.loadavg()[0].toFixed(2)}`);
  } finally {
    if (flag('keep')) console.log(`  kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench:sweep: ${err.message}`);
  process.exitCode = 1;
});
