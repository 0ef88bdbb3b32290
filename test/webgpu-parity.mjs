#!/usr/bin/env node
// Cross-backend check: the engine trains the same toy transformer for the same seed on wasm and on
// WebGPU, and the per-step losses must agree to float tolerance. Without a GPU the WebGPU side runs
// on Dawn's OpenGL ES backend over Mesa llvmpipe (stock Debian packages: libegl1, libegl-mesa0,
// libgles2, libgl1-mesa-dri), which is slow but exact enough to catch a wrong kernel. Also checks:
//  - `backend: auto` never picks a software adapter (it falls through to wasm, saying why);
//  - a WebGPU validation/allocation error surfaces as an exception (not as garbage losses).
//
// Usage: node test/webgpu-parity.mjs [--bundle] [--steps N] [--tol X] [--keep]
//   --bundle  run dist/flopsfit.js (after `npm run build`) instead of the TypeScript sources via tsx
//
// Exit codes: 0 pass; 1 a check failed; 2 NOT RUN because the optional `webgpu` /
// `@tensorflow/tfjs-backend-webgpu` packages are absent or no WebGPU adapter exists at all (never
// counted as passing).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const useBundle = argv.includes('--bundle');
const keep = argv.includes('--keep');
const steps = Number(opt('steps', '20'));
const tol = Number(opt('tol', '1e-4'));

function notRun(why) {
  console.error(`\nWEBGPU PARITY NOT RUN: ${why}`);
  console.error('This is not a pass. Install the optional dependencies (npm install, without --omit=optional) and the');
  console.error('Mesa EGL/GLES packages (apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri).');
  process.exit(2);
}

for (const pkg of ['webgpu', '@tensorflow/tfjs-backend-webgpu']) {
  try {
    require.resolve(pkg);
  } catch {
    notRun(`the optional npm package \`${pkg}\` is not installed`);
  }
}
if (useBundle && !fs.existsSync(path.join(root, 'dist/flopsfit.js'))) {
  console.error('dist/flopsfit.js is missing: run `npm run build` first (or drop --bundle)');
  process.exit(1);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-webgpu-parity-'));
const B = 8;
const T = 32;
const d = 32;
const L = 2;
const V = 64;
const N = L * (12 * d * d + 13 * d) + 2 * d;
function spec(backend) {
  return {
    id: `parity-${backend}`,
    sweep: 'webgpu-parity',
    budget: 6 * N * steps * B * T,
    budgetIndex: 0,
    sizeParam: 'dModel',
    sizeValue: d,
    params: N,
    paramsTotal: N + 2 * V * d + T * d,
    tokens: steps * B * T,
    tokensPerParam: (steps * B * T) / N,
    flopsPerParamPerToken: 6,
    hyperparameters: {},
    seed: 1234,
    model: { family: 'transformer', dModel: d, nLayers: L, nHeads: 2, contextLength: T, vocabSize: V, mlpRatio: 4, tiedEmbeddings: false },
    data: { source: 'synthetic', vocabSize: V, branching: 4, seed: 7 },
    training: {
      batchSize: B,
      learningRate: 3e-3,
      schedule: 'cosine',
      warmupFraction: 0.1,
      minLrRatio: 0.1,
      weightDecay: 0.1,
      beta1: 0.9,
      beta2: 0.95,
      gradClip: 1,
      evalTokens: 256,
      evalInterval: 0,
      checkpointInterval: 0,
      backend,
      allowRepeat: true,
    },
  };
}

function train(backend, env = {}) {
  const dir = path.join(work, backend);
  fs.mkdirSync(dir, { recursive: true });
  const specFile = path.join(dir, 'spec.json');
  fs.writeFileSync(specFile, JSON.stringify(spec(backend), null, 2));
  const cli = useBundle ? [path.join(root, 'dist/flopsfit.js')] : ['--import', 'tsx', path.join(root, 'src/cli/main.ts')];
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...cli, 'train', specFile, '--out', dir], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 600_000,
  });
  const seconds = (performance.now() - t0) / 1000;
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  fs.writeFileSync(path.join(dir, 'log.txt'), out);
  let result;
  try {
    result = JSON.parse(fs.readFileSync(path.join(dir, 'result.json'), 'utf8'));
  } catch {
    result = undefined;
  }
  const metrics = fs.existsSync(path.join(dir, 'metrics.jsonl'))
    ? fs
        .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l))
    : [];
  return { backend, status: r.status, signal: r.signal, seconds, out, result, metrics };
}

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'}  ${what}`);
  if (!ok) failures.push(what);
};

console.log(`webgpu parity: d${d}/L${L}, B${B}×T${T} (B·T=${B * T}), ${steps} steps, seed 1234, tolerance ${tol}; ${useBundle ? 'dist/flopsfit.js' : 'sources via tsx'}`);
const wasm = train('wasm');
const webgpu = train('webgpu');
const auto = train('auto');

for (const r of [wasm, webgpu, auto]) {
  console.log(`  ${r.backend.padEnd(7)} exit ${r.status ?? r.signal}  ${r.seconds.toFixed(1)} s  backend=${r.result?.backend ?? '?'}  device=${r.result?.device ?? '?'}`);
}

if (webgpu.result?.backend !== 'webgpu') {
  const why = webgpu.out.split('\n').find((l) => /webgpu/i.test(l) && /skipped|using|adapter|not installed/i.test(l));
  if (webgpu.result && /no WebGPU adapter|not installed/.test(webgpu.out)) notRun(`no WebGPU adapter in this environment (${why ?? 'see log'})`);
}

check(wasm.status === 0 && wasm.result?.status === 'completed' && wasm.result.backend === 'wasm', 'wasm run completed on wasm');
check(webgpu.status === 0 && webgpu.result?.status === 'completed' && webgpu.result.backend === 'webgpu', 'webgpu run completed on webgpu');
check(typeof webgpu.result?.device === 'string' && webgpu.result.device.startsWith('WebGPU: '), `webgpu result records the adapter (${webgpu.result?.device})`);
check(wasm.metrics.length === steps && webgpu.metrics.length === steps, `both logged ${steps} steps (${wasm.metrics.length}, ${webgpu.metrics.length})`);

let maxDiff = 0;
let firstBad;
for (let i = 0; i < Math.min(wasm.metrics.length, webgpu.metrics.length); i++) {
  const a = wasm.metrics[i].trainLoss;
  const b = webgpu.metrics[i].trainLoss;
  const diff = Math.abs(a - b);
  if (!(diff <= tol) && firstBad === undefined) firstBad = `step ${i + 1}: wasm ${a} vs webgpu ${b}`;
  maxDiff = Math.max(maxDiff, Number.isFinite(diff) ? diff : Infinity);
}
console.log('\n  step   wasm loss      webgpu loss    |diff|');
for (let i = 0; i < Math.min(wasm.metrics.length, webgpu.metrics.length); i++) {
  const a = wasm.metrics[i].trainLoss;
  const b = webgpu.metrics[i].trainLoss;
  console.log(`  ${String(i + 1).padStart(4)}   ${a.toFixed(7)}      ${b.toFixed(7)}      ${Math.abs(a - b).toExponential(1)}`);
}
check(firstBad === undefined, `per-step train losses agree within ${tol} (max |diff| ${maxDiff.toExponential(2)})${firstBad ? `; first mismatch ${firstBad}` : ''}`);
const ea = wasm.result?.finalLoss;
const eb = webgpu.result?.finalLoss;
check(Number.isFinite(ea) && Number.isFinite(eb) && Math.abs(ea - eb) <= tol, `final eval losses agree (wasm ${ea}, webgpu ${eb})`);
const first = wasm.metrics[0]?.trainLoss;
const last = wasm.metrics[wasm.metrics.length - 1]?.trainLoss;
check(first - last > (steps >= 20 ? 0.2 : 0), `the model learns (train loss ${first?.toFixed(3)} → ${last?.toFixed(3)})`);

// auto must not pick a software adapter
const autoDevice = auto.result?.device ?? '';
check(auto.result?.status === 'completed', `auto run completed (on ${auto.result?.backend})`);
check(!(auto.result?.backend === 'webgpu' && /software/.test(autoDevice)), `auto did not choose a software WebGPU adapter (chose ${auto.result?.backend}: ${autoDevice})`);
if (/software/.test(webgpu.result?.device ?? '')) {
  check(/skipped webgpu: (software adapter only|no GPU device)/.test(auto.out), 'auto logged why it did not use WebGPU');
}

// a device-side WebGPU error must throw, not return garbage
const probe = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--input-type=module',
    '-e',
    `
const m = await import('./src/engine/backends/webgpu.ts'); const w = m.initWebGpu ? m : m.default;
const s = await import('./src/engine/backends/smoke.ts'); const sm = s.classifyBackendError ? s : s.default;
const tf = await import('@tensorflow/tfjs');
const r = await w.initWebGpu({ allowSoftware: true });
if (!r.ok) { console.log('RESULT ' + JSON.stringify({ skipped: r.reason })); process.exit(0); }
const xs = Array.from({ length: 40 }, (_, i) => tf.scalar(i + 1));
const sum = (await tf.addN(xs).data())[0];
const lim = tf.backend().device.limits;
const n = Math.floor(lim.maxStorageBufferBindingSize / 4) + 1024;
let outcome;
if (n * 4 > 512 * 1024 * 1024) outcome = { untested: 'binding limit ' + lim.maxStorageBufferBindingSize + ' too large to exceed cheaply' };
else {
  try { const v = await tf.sum(tf.add(tf.zeros([n]), 1)).data(); outcome = { threw: false, value: v[0] }; }
  catch (e) { outcome = { threw: true, kind: sm.classifyBackendError(e).kind, message: String(e.message).slice(0, 160) }; }
}
console.log('RESULT ' + JSON.stringify({ addN40: sum, ...outcome }));
`,
  ],
  { cwd: root, encoding: 'utf8', timeout: 300_000 },
);
const line = (probe.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
const pr = line ? JSON.parse(line.slice(7)) : undefined;
check(pr !== undefined && !pr.skipped, `device-error probe ran${pr?.skipped ? ` (skipped: ${pr.skipped})` : pr ? '' : ` (exit ${probe.status}: ${(probe.stderr ?? '').split('\n').filter((l) => /Error/.test(l))[0] ?? ''})`}`);
if (pr && !pr.skipped) {
  check(pr.addN40 === 820, `addN over 40 tensors (more than one shader can bind) is right: ${pr.addN40} (820)`);
  if (pr.untested) console.log(`skip  oversized binding not tried: ${pr.untested}`);
  else check(pr.threw === true && pr.kind === 'out-of-memory', `an oversized buffer throws an out-of-memory error (${pr.threw ? `${pr.kind}: ${pr.message}` : `returned ${pr.value}`})`);
}

const total = wasm.seconds + webgpu.seconds + auto.seconds;
console.log(`\ntimes: wasm ${wasm.seconds.toFixed(1)} s, webgpu ${webgpu.seconds.toFixed(1)} s, auto ${auto.seconds.toFixed(1)} s (total ${total.toFixed(1)} s)`);
if (keep || failures.length) console.log(`run directories and logs kept in ${work}`);
else fs.rmSync(work, { recursive: true, force: true });
if (failures.length) {
  console.log(`\nWEBGPU PARITY FAILED (${failures.length} check${failures.length > 1 ? 's' : ''})`);
  process.exit(1);
}
console.log('\nWEBGPU PARITY PASSED');
