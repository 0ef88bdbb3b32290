#!/usr/bin/env node
// Demo-scale sweep on both engines: the built-in demo config (src/core/demo.ts: 12 experiments on
// the synthetic Markov source) run once with `backend: wasm` (TensorFlow.js) and once with
// `backend: torch-cpu` (PyTorch, src/engine/torch/flopsfit_torch.py), then fitted. The fitted
// irreducible loss E of the two sweeps must agree within 2 %, and every experiment's final loss
// within 2 % too (the engines start from the same weights and read the same tokens).
//
// Usage: node test/torch-sweep-parity.mjs [--tol 0.02] [--keep] [--python /usr/bin/python3]
// Needs `npm run build` (runs dist/flopsfit.js) and a Python with torch (FLOPSFIT_PYTHON or
// --python; default /usr/bin/python3, Debian's python3-torch). Exit 0 pass, 1 fail (torch missing
// counts as a failure: this check exists to run the PyTorch engine).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const tol = Number(opt('tol', '0.02'));
const python = opt('python', process.env.FLOPSFIT_PYTHON ?? '/usr/bin/python3');
const cli = path.join(root, 'dist', 'flopsfit.js');
if (!fs.existsSync(cli)) {
  console.error('torch sweep parity: dist/flopsfit.js is missing; run `npm run build` first');
  process.exit(1);
}
if (spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) {
  console.error(`torch sweep parity: FAILED: ${python} cannot import torch`);
  process.exit(1);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-torch-sweep-'));
// The demo's config text, read from its one home (src/core/demo.ts).
const demoSrc = fs.readFileSync(path.join(root, 'src/core/demo.ts'), 'utf8');
const m = /export const DEMO_CONFIG_TEXT = `([\s\S]*?)`;/.exec(demoSrc);
if (!m) {
  console.error('torch sweep parity: cannot find DEMO_CONFIG_TEXT in src/core/demo.ts');
  process.exit(1);
}
const demoConfig = m[1].replace(/\\`/g, '`');

function runSweep(backend) {
  const dir = path.join(work, backend);
  fs.mkdirSync(dir, { recursive: true });
  const cfg = path.join(dir, 'demo.sweep.yaml');
  const text = demoConfig.replace(/^(\s*)backend: wasm\s*$/m, `$1backend: ${backend}`).replace(/^name: demo$/m, `name: demo-${backend}`);
  if (!text.includes(`backend: ${backend}`)) throw new Error('could not set the backend in the demo config');
  fs.writeFileSync(cfg, text);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [cli, 'run', cfg, '--out', path.join(dir, 'run'), '--workspace', dir, '--progress', '600'], {
    encoding: 'utf8',
    env: { ...process.env, FLOPSFIT_PYTHON: python },
    maxBuffer: 64 << 20,
  });
  const seconds = (Date.now() - t0) / 1000;
  if (r.status !== 0) {
    console.error(r.stdout.slice(-4000), r.stderr.slice(-4000));
    throw new Error(`the ${backend} sweep failed (exit ${r.status})`);
  }
  const fit = JSON.parse(fs.readFileSync(path.join(dir, 'run', 'fit.json'), 'utf8'));
  const rows = fs
    .readFileSync(path.join(dir, 'run', 'results.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const results = new Map(rows.map((row) => [`${row.params}/${row.tokens}`, row]));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'run', 'manifest.json'), 'utf8'));
  const backends = new Set(Object.values(manifest.experiments).map((e) => e.backend));
  return { E: fit.parametric?.E, results, seconds, backends };
}

let failed = false;
try {
  const wasm = runSweep('wasm');
  const torch = runSweep('torch-cpu');
  console.log(`wasm sweep: ${wasm.results.size} experiments in ${wasm.seconds.toFixed(0)} s, backends ${[...wasm.backends].join(', ')}, E = ${wasm.E}`);
  console.log(`torch sweep: ${torch.results.size} experiments in ${torch.seconds.toFixed(0)} s, backends ${[...torch.backends].join(', ')}, E = ${torch.E}`);
  if (!torch.backends.has('torch') || torch.backends.size !== 1) {
    console.error('FAIL: the torch sweep did not train every experiment with the PyTorch engine');
    failed = true;
  }
  let worst = 0;
  for (const [key, w] of wasm.results) {
    const t = torch.results.get(key);
    if (!t) {
      console.error(`FAIL: experiment ${key} missing from the torch sweep`);
      failed = true;
      continue;
    }
    worst = Math.max(worst, Math.abs(t.loss - w.loss) / w.loss);
  }
  console.log(`largest relative difference of an experiment's final loss: ${(worst * 100).toFixed(3)} %`);
  if (worst > tol) failed = true;
  const rel = Math.abs(torch.E - wasm.E) / wasm.E;
  console.log(`fitted E: torch ${torch.E?.toFixed(5)} vs wasm ${wasm.E?.toFixed(5)}: ${(rel * 100).toFixed(3)} % (tolerance ${tol * 100} %)`);
  if (!(rel <= tol)) failed = true;
} catch (err) {
  console.error(`torch sweep parity: ${err.message}`);
  failed = true;
}
if (!argv.includes('--keep')) fs.rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
console.log(failed ? 'TORCH SWEEP PARITY: FAILED' : 'TORCH SWEEP PARITY: PASSED');
process.exit(failed ? 1 : 0);
