#!/usr/bin/env node
// `npm run bench:train`: the FlopsFit engine against an independent PyTorch reference, same model
// (d_model 128, 4 layers, 4 heads, context 128, batch 16, vocab 256), same machine, same run.
//
//   engine ×1        one engine process (wasm, single-threaded in Node)
//   engine ×P        P engine processes at once, one per core: how a sweep uses the machine
//   torch best       torch.set_num_threads(1) + OpenBLAS P threads (best on this box, engine-bench.md)
//   torch 1 core     torch threads 1 + OPENBLAS_NUM_THREADS=1: the per-core reference
//   torch ×P         P single-threaded torch processes at once (a sweep can run PyTorch that way too)
//   torch engine ×1  FlopsFit's PyTorch engine (backend torch-cpu, bench/torch-engine.ts): one process
//   torch engine ×P  P of them at once, one thread each: how a torch-cpu sweep uses the machine
//
// Ratios (throughput, > 1 means the engine is faster):
//   per process       engine ×1 ÷ torch 1 core
//   whole machine     engine ×P (sum) ÷ torch best, and ÷ torch ×P (sum)
//   sweep throughput  engine ×P ÷ the faster of torch best and torch ×P: the goal
//   torch engine      torch engine ×P ÷ the same reference (goal ≥ 0.9), and ×1 ÷ torch 1 core
// Also prints RSS, tensor counts (leak check) and the per-run overhead of an engine process
// (process start → tfjs loaded → backend → data → model → first step done).
//
// Options: --steps N (engine timed steps, default 5), --torch-steps N (default 12),
//          --procs P (default: logical cores), --no-torch, --d/--layers/--heads/--context/--batch/--vocab,
//          --json FILE (write all raw results).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { flag, opt, root } from './cli.mjs';
import * as esbuild from 'esbuild';

const cfg = {
  d: Number(opt('d', 128)),
  layers: Number(opt('layers', 4)),
  heads: Number(opt('heads', 4)),
  context: Number(opt('context', 128)),
  batch: Number(opt('batch', 16)),
  vocab: Number(opt('vocab', 256)),
};
const steps = Number(opt('steps', 5));
const torchSteps = Number(opt('torch-steps', 12));
const procs = Number(opt('procs', os.cpus().length));
const jsonOut = opt('json', undefined);
const PY = '/usr/bin/python3';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const tokPerStep = cfg.batch * cfg.context;
const cfgArgs = Object.entries(cfg).flatMap(([k, v]) => [`--${k}`, String(v)]);

/** Bundles the worker exactly like dist/flopsfit.js (esbuild, cjs, wasm binaries beside it). */
async function buildWorker() {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-bench-'));
  await esbuild.build({
    entryPoints: [path.join(root, 'bench/train-worker.ts')],
    outfile: path.join(out, 'train-worker.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
    external: ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', 'webgpu', '@tensorflow/tfjs-backend-webgpu'],
  });
  const wasmSrc = path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  for (const f of fs.readdirSync(wasmSrc)) if (f.endsWith('.wasm')) fs.copyFileSync(path.join(wasmSrc, f), path.join(out, f));
  return out;
}

function run(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const spawnedAt = Date.now();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line) return reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited with ${code}: ${err.trim().slice(-500)}`));
      const r = JSON.parse(line);
      r.spawnedAt = spawnedAt;
      r.exitedAt = Date.now();
      resolve(r);
    });
  });
}

const engineRun = (dir) => run(process.execPath, [path.join(dir, 'train-worker.js'), ...cfgArgs, '--steps', String(steps), '--warmup', '1']);
const torchEngineRun = () =>
  run(process.execPath, ['--import', 'tsx', path.join(root, 'bench/torch-engine.ts'), ...cfgArgs, '--steps', String(torchSteps), '--warmup', '2', '--python', PY], {
    OPENBLAS_NUM_THREADS: '1',
    OMP_NUM_THREADS: '1',
    FLOPSFIT_TORCH_THREADS: '1',
  });
const torchRun = (blas, label) =>
  run(PY, [path.join(root, 'bench/train_torch.py'), ...cfgArgs, '--steps', String(torchSteps), '--warmup', '2', '--torch-threads', '1', '--label', label], {
    OPENBLAS_NUM_THREADS: String(blas),
    OMP_NUM_THREADS: '1',
  });

function summarize(r) {
  const ms = median(r.stepMs);
  const best = Math.min(...r.stepMs);
  return { ms, tps: (tokPerStep / ms) * 1000, best, bestTps: (tokPerStep / best) * 1000 };
}

const load = () => os.loadavg()[0].toFixed(2);

async function main() {
  console.log(`bench:train  d${cfg.d} L${cfg.layers} H${cfg.heads} T${cfg.context} B${cfg.batch} V${cfg.vocab}  ` + `(${os.cpus().length} cores: ${os.cpus()[0]?.model}; load ${load()})`);
  const dir = await buildWorker();
  const results = { cfg, startedAt: new Date().toISOString(), loadBefore: os.loadavg() };
  try {
    const haveTorch = !flag('no-torch') && spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
    if (!haveTorch && !flag('no-torch')) console.log(`PyTorch not importable with ${PY} (apt-get install python3-torch libopenblas0-pthread); engine only`);

    console.log(`engine ×1 (${steps} timed steps)…`);
    results.engine1 = await engineRun(dir);
    if (haveTorch) {
      console.log(`torch best (torch threads 1, OpenBLAS ${procs})…`);
      results.torchBest = await torchRun(procs, 'best');
    }
    console.log(`engine ×${procs} concurrently…`);
    results.engineN = await Promise.all(Array.from({ length: procs }, () => engineRun(dir)));
    if (haveTorch) {
      console.log('torch 1 core (torch threads 1, OpenBLAS 1)…');
      results.torch1 = await torchRun(1, 'single-core');
      if (procs > 1) {
        console.log(`torch ×${procs} concurrently (one single-threaded process per core, as a sweep could run it)…`);
        results.torchN = await Promise.all(Array.from({ length: procs }, () => torchRun(1, 'per-core')));
      }
      console.log('torch engine ×1 (FlopsFit PyTorch engine, 1 thread)…');
      results.torchEngine1 = await torchEngineRun();
      if (procs > 1) {
        console.log(`torch engine ×${procs} concurrently…`);
        results.torchEngineN = await Promise.all(Array.from({ length: procs }, () => torchEngineRun()));
      }
    }
    results.loadAfter = os.loadavg();

    const e1 = summarize(results.engine1);
    const eN = results.engineN.map(summarize);
    const eNsum = eN.reduce((a, x) => a + x.tps, 0);
    const tb = results.torchBest && summarize(results.torchBest);
    const t1 = results.torch1 && summarize(results.torch1);
    const tN = results.torchN && results.torchN.map(summarize);
    const tNsum = tN ? tN.reduce((a, x) => a + x.tps, 0) : 0;
    const tNbest = tN ? tN.reduce((a, x) => a + x.bestTps, 0) : 0;
    const row = (name, ms, tps, rss) => console.log(`  ${name.padEnd(34)} ${ms.padStart(14)} ${tps.padStart(12)} ${rss.padStart(9)}`);
    console.log('');
    row('run', 'ms/step med/min', 'tokens/s', 'maxRSS');
    row(`engine ×1 (${results.engine1.backend})`, `${e1.ms.toFixed(0)}/${e1.best.toFixed(0)}`, e1.tps.toFixed(0), `${results.engine1.maxRssMB.toFixed(0)} MB`);
    row(`engine ×${procs} (sum; each ${eN.map((x) => x.ms.toFixed(0)).join(' / ')} ms)`, '', eNsum.toFixed(0), `${Math.max(...results.engineN.map((r) => r.maxRssMB)).toFixed(0)} MB`);
    if (tb) row(`torch best (1 thread + OpenBLAS ${procs})`, `${tb.ms.toFixed(0)}/${tb.best.toFixed(0)}`, tb.tps.toFixed(0), `${results.torchBest.maxRssMB.toFixed(0)} MB`);
    if (t1) row('torch 1 core', `${t1.ms.toFixed(0)}/${t1.best.toFixed(0)}`, t1.tps.toFixed(0), `${results.torch1.maxRssMB.toFixed(0)} MB`);
    if (tN) row(`torch ×${procs} (sum; each ${tN.map((x) => x.ms.toFixed(0)).join(' / ')} ms)`, '', tNsum.toFixed(0), `${Math.max(...results.torchN.map((r) => r.maxRssMB)).toFixed(0)} MB`);
    const te1 = results.torchEngine1 && summarize(results.torchEngine1);
    const teN = results.torchEngineN ? results.torchEngineN.map(summarize) : te1 ? [te1] : undefined;
    const teNsum = teN ? teN.reduce((a, x) => a + x.tps, 0) : 0;
    if (te1) row('torch engine ×1', `${te1.ms.toFixed(0)}/${te1.best.toFixed(0)}`, te1.tps.toFixed(0), '');
    if (results.torchEngineN) row(`torch engine ×${procs} (sum; each ${teN.map((x) => x.ms.toFixed(0)).join(' / ')} ms)`, '', teNsum.toFixed(0), '');
    console.log('');
    const eNbest = eN.reduce((a, x) => a + x.bestTps, 0);
    if (t1) console.log(`  ratio per process     engine ×1 ÷ torch 1 core      = ${(e1.tps / t1.tps).toFixed(3)}   (fastest steps: ${(e1.bestTps / t1.bestTps).toFixed(3)})`);
    if (tb) console.log(`  ratio whole machine   engine ×${procs} ÷ torch best       = ${(eNsum / tb.tps).toFixed(3)}   (fastest steps: ${(eNbest / tb.bestTps).toFixed(3)})`);
    if (tN) console.log(`                        engine ×${procs} ÷ torch ×${procs}          = ${(eNsum / tNsum).toFixed(3)}   (fastest steps: ${(eNbest / tNbest).toFixed(3)})`);
    if (tb) {
      // the sweep reference is PyTorch's better way of using the whole machine
      const ref = Math.max(tb.tps, tNsum);
      const refName = tNsum > tb.tps ? `torch ×${procs}` : 'torch best';
      console.log(`  sweep throughput      engine ×${procs} ÷ the faster of the two (${refName}) = ${(eNsum / ref).toFixed(3)}   (goal ≥ 1.0)`);
      console.log(`  (engine ×1 ÷ torch best = ${(e1.tps / tb.tps).toFixed(3)})`);
      if (teN) {
        console.log(`  torch engine sweep    torch engine ×${procs} ÷ ${refName} = ${(teNsum / ref).toFixed(3)}   (goal ≥ 0.9: within 10 % of the reference)`);
        console.log(`  torch engine per process  torch engine ×1 ÷ torch 1 core = ${(te1.tps / t1.tps).toFixed(3)}`);
      }
    }
    const p = results.engine1.phases;
    const startup = results.engine1.spawnedAt;
    const originGap = results.engine1.timeOrigin ? results.engine1.timeOrigin - startup : 0;
    console.log('');
    console.log(
      `  per-run overhead (engine ×1, ms since process start): script ${p.script.toFixed(0)}, tfjs loaded ${p.import.toFixed(0)}, backend ${p.backend.toFixed(0)}, ` +
        `data ${p.data.toFixed(0)}, model ${p.model.toFixed(0)}, first step done ${p.firstStep.toFixed(0)}` + (originGap > 0 ? ` (+${originGap.toFixed(0)} ms exec before node's clock starts)` : ''),
    );
    const over = p.firstStep + Math.max(0, originGap) - e1.ms;
    console.log(`  overhead before training = spawn → first step done − one steady step = ${over.toFixed(0)} ms (goal < 1000 ms)`);
    console.log(
      `  tensors: ${results.engine1.tensorsBefore} before timed steps, ${results.engine1.tensorsAfter} after (leak ${results.engine1.tensorsAfter - results.engine1.tensorsBefore}); ` +
        `RSS ${results.engine1.rssWarmMB.toFixed(0)} MB after warm-up → ${results.engine1.rssMB.toFixed(0)} MB at the end`,
    );
    console.log(`  first losses: engine ${results.engine1.losses.slice(0, 3).map((x) => x.toFixed(3)).join(' ')}` + (tb ? `; torch ${results.torchBest.losses.slice(0, 3).map((x) => x.toFixed(3)).join(' ')}` : ''));
    console.log(`  load average: before ${results.loadBefore[0].toFixed(2)}, after ${results.loadAfter[0].toFixed(2)} (shared machine: ratios are noisy)`);
    if (jsonOut) {
      fs.writeFileSync(jsonOut, JSON.stringify(results, null, 1) + '\n');
      console.log(`  raw results: ${jsonOut}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench:train: ${err.message}`);
  process.exitCode = 1;
});
