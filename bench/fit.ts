/**
 * `npm run bench:fit` — the parametric (Chinchilla Approach 3) fit in TypeScript against an
 * independent scipy reference (bench/fit_scipy.py, scipy.optimize L-BFGS-B), in the same run:
 *
 *   1. the 4500-start fit (Besiroglu et al. grid, Σ Huber δ = 1e-3) + polish of the winner
 *   2. a 1000-resample bootstrap, each resample warm-started as fitScalingLaws does it
 *
 * on the 240 Chinchilla points (test/fixtures/chinchilla.csv, epoch_excluded rows dropped). Both
 * sides get the same data, the same 4500 starts, the same resamples (as row counts) and the same
 * warm starts, and both polish their winners the same way; the script prints both times, the
 * ratio, and both optima.
 *
 * The TypeScript side runs twice: on one thread, then on a worker_threads pool (--workers, default
 * the cores node may use); both must give bit-identical results.
 *
 * Options: --resamples <n> (default 1000), --starts <n> (default 4500, a prefix of the grid),
 * --python <path> (default /usr/bin/python3), --workers <n>, --no-scipy.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fitParametricResample } from '../src/core/fit/parametricMethod';
import { runParametric } from '../src/core/fit/steps';
import { readPointsFile } from '../src/core/fit/io';
import { FitPool, defaultWorkers, fitParametricDataParallel, fitParametricResamplesParallel } from '../src/core/fit/parallel';
import { fitParametricData } from '../src/core/fit/multiStart';
import { besirogluGrid, paramsFromVector } from '../src/core/fit/parametric';
import { Rng } from '../src/core/fit/rng';
import { wasmObjectiveAvailable } from '../src/core/fit/wasmObjective';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const RESAMPLES = Number(arg('resamples', '1000'));
const STARTS = Number(arg('starts', '4500'));
const PYTHON = arg('python', '/usr/bin/python3');
const SCIPY = !process.argv.includes('--no-scipy');
const WORKERS = Number(arg('workers', String(defaultWorkers())));

async function main(): Promise<void> {

const root = path.resolve(__dirname, '..');
const { points } = readPointsFile(path.join(root, 'test', 'fixtures', 'chinchilla.csv'));
if (points.length !== 240) throw new Error(`expected 240 points, got ${points.length}`);

const grid = besirogluGrid().slice(0, STARTS * 5);
const named = (x: ArrayLike<number>) => {
  const p = paramsFromVector(x);
  return { E: p.E, A: p.A, B: p.B, alpha: p.alpha, beta: p.beta, a: p.a, b: p.b };
};

// ---- TypeScript: full multi-start fit -------------------------------------------------------
// Warm up the JIT on a small prefix first (scipy's import time is likewise not timed).
const state0 = runParametric(points);
if (typeof state0 === 'string') throw new Error(state0);
fitParametricData(state0.data, grid.subarray(0, 50 * 5));

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
let t = performance.now();
let c = cpu();
const full = fitParametricData(state0.data, grid, { keepOptima: 5 });
const tsFit = (performance.now() - t) / 1000;
const tsFitCpu = cpu() - c;
const tsBest = named(full.best.x);
const tsPolished = named(full.x);

// ---- TypeScript: bootstrap (same procedure as fitScalingLaws) -------------------------------
const state = runParametric(points);
if (typeof state === 'string') throw new Error(state);
const rng = new Rng(0, 2);
const n = points.length;
const resamples: Int32Array[] = [];
for (let s = 0; s < RESAMPLES; s++) {
  const idx = new Int32Array(n);
  for (let j = 0; j < n; j++) idx[j] = rng.int(n);
  resamples.push(idx);
}
for (const idx of resamples.slice(0, 3)) fitParametricResample(state, idx); // JIT warm-up of this path too
t = performance.now();
c = cpu();
const tsBoot: { alpha: number; beta: number; E: number; a: number }[] = [];
let tsFailed = 0;
for (const idx of resamples) {
  const p = fitParametricResample(state, idx);
  if (p) tsBoot.push({ alpha: p.alpha, beta: p.beta, E: p.E, a: p.a });
  else tsFailed++;
}
const tsBootSec = (performance.now() - t) / 1000;
const tsBootCpu = cpu() - c;

// ---- TypeScript on worker threads: the same work, must give bit-identical results -----------
const pool = new FitPool(WORKERS);
const threads = pool.threads;
// Start the workers and warm up each one's JIT on both kinds of work, as for the single thread.
await fitParametricDataParallel(pool, state0.data, grid.subarray(0, 50 * 2 * threads * 5), {}, 50);
await fitParametricResamplesParallel(pool, state, resamples.slice(0, 3 * threads), 3);
t = performance.now();
c = cpu();
const pfull = await fitParametricDataParallel(pool, state0.data, grid, { keepOptima: 5 });
const parFit = (performance.now() - t) / 1000;
const parFitCpu = cpu() - c;
t = performance.now();
c = cpu();
const pboot = await fitParametricResamplesParallel(pool, state, resamples);
const parBoot = (performance.now() - t) / 1000;
const parBootCpu = cpu() - c;
await pool.close();
const sameBits = (x: ArrayLike<number>, y: ArrayLike<number>) => x.length === y.length && Array.from(x).every((v, i) => Object.is(v, y[i]));
const parFitSame =
  pfull.f === full.f && sameBits(pfull.x, full.x) && pfull.best.f === full.best.f && sameBits(pfull.optima.map((o) => o.f), full.optima.map((o) => o.f)) && pfull.totalEvaluations === full.totalEvaluations;
const pOk = pboot.filter((p) => p !== undefined);
const parBootSame =
  pOk.length === tsBoot.length && pOk.every((p, i) => Object.is(p.alpha, tsBoot[i].alpha) && Object.is(p.beta, tsBoot[i].beta) && Object.is(p.E, tsBoot[i].E) && Object.is(p.a, tsBoot[i].a));

// ---- scipy -----------------------------------------------------------------------------------
interface ScipyOut {
  scipy: string;
  numpy: string;
  fitSeconds: number;
  bootstrapSeconds: number;
  fitCpuSeconds: number;
  bootstrapCpuSeconds: number;
  converged: number;
  objective: number;
  best: ReturnType<typeof named>;
  polishedObjective: number;
  polished: ReturnType<typeof named>;
  bootstrap: { samples: number; failed: number; alpha: number[]; beta: number[]; E: number[]; a: number[] };
}
let sp: ScipyOut | undefined;
let scipyError: string | undefined;
if (SCIPY) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-bench-'));
  const job = path.join(dir, 'job.json');
  const rows = (a: Float64Array) => Array.from({ length: a.length / 5 }, (_, i) => Array.from(a.subarray(i * 5, i * 5 + 5)));
  fs.writeFileSync(
    job,
    JSON.stringify({
      logN: Array.from(state.data.logN),
      logD: Array.from(state.data.logD),
      logL: Array.from(state.data.logL),
      starts: rows(grid),
      bootstrapStarts: rows(state.warmStarts),
      resamples: resamples.map((idx) => {
        const c = new Array<number>(n).fill(0);
        for (const i of idx) c[i]++;
        return c;
      }),
      delta: 1e-3,
    }),
  );
  const r = spawnSync(PYTHON, [path.join(__dirname, 'fit_scipy.py'), job], { encoding: 'utf8', maxBuffer: 64 << 20 });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.status === 0) sp = JSON.parse(r.stdout) as ScipyOut;
  else scipyError = (r.error?.message ?? r.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
}

// ---- report ----------------------------------------------------------------------------------
const f = (v: number, d = 6) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(d - 1) : v.toPrecision(d));
const median = (v: number[]) => {
  const s = [...v].sort((x, y) => x - y);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const pct = (v: number[], q: number) => {
  const s = [...v].sort((x, y) => x - y);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  return s[lo] + (h - lo) * (s[Math.min(lo + 1, s.length - 1)] - s[lo]);
};

console.log(`flopsfit bench:fit — ${points.length} Chinchilla points, ${STARTS} starts, ${RESAMPLES} bootstrap resamples`);
console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} ×${os.cpus().length}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
if (sp) console.log(`scipy ${sp.scipy}, numpy ${sp.numpy} (${PYTHON})`);
console.log(`objective kernel: ${wasmObjectiveAvailable() ? 'WebAssembly SIMD' : 'TypeScript (no WebAssembly SIMD)'}; worker pool: ${threads} thread(s) on ${os.cpus().length} core(s)`);
console.log('');
console.log('                                          wall time (s)                     CPU time (s)');
console.log('                                    TypeScript    scipy   ratio    TypeScript    scipy   ratio');
const ratio = (a: number, b?: number) => (b !== undefined ? (b / a).toFixed(1) + '×' : '-');
const num = (v?: number) => (v !== undefined ? v.toFixed(3) : '-');
const row = (label: string, a: number, b: number | undefined, ac: number, bc: number | undefined) =>
  console.log(
    `${label.padEnd(36)}${num(a).padStart(10)}${num(b).padStart(9)}${ratio(a, b).padStart(8)}${num(ac).padStart(14)}${num(bc).padStart(9)}${ratio(ac, bc).padStart(8)}`,
  );
const spFit = sp?.fitSeconds;
const spBoot = sp?.bootstrapSeconds;
const spTot = sp ? sp.fitSeconds + sp.bootstrapSeconds : undefined;
const spFitC = sp?.fitCpuSeconds;
const spBootC = sp?.bootstrapCpuSeconds;
const spTotC = sp ? sp.fitCpuSeconds + sp.bootstrapCpuSeconds : undefined;
row(`${STARTS}-start fit + polish, 1 thread`, tsFit, spFit, tsFitCpu, spFitC);
row(`${RESAMPLES}-resample bootstrap, 1 thread`, tsBootSec, spBoot, tsBootCpu, spBootC);
row('total, 1 thread', tsFit + tsBootSec, spTot, tsFitCpu + tsBootCpu, spTotC);
row(`${STARTS}-start fit + polish, ${threads} workers`, parFit, spFit, parFitCpu, spFitC);
row(`${RESAMPLES}-resample bootstrap, ${threads} workers`, parBoot, spBoot, parBootCpu, spBootC);
row(`total, ${threads} workers`, parFit + parBoot, spTot, parFitCpu + parBootCpu, spTotC);
console.log('(scipy runs single-threaded, as its reference script is written. Wall time is the speed a user sees;');
console.log(' CPU time (all threads of the process) is steadier on a shared machine.)');
console.log(`worker results identical bit for bit to 1 thread: fit ${parFitSame ? 'yes' : 'NO'}, bootstrap ${parBootSame ? 'yes' : 'NO'}`);
console.log('');
console.log('optimum             objective          E          A          B      alpha       beta          a');
const opt = (label: string, obj: number, p: ReturnType<typeof named>) =>
  console.log(`${label.padEnd(18)}${f(obj, 10).padStart(12)}${[p.E, p.A, p.B, p.alpha, p.beta, p.a].map((v) => f(v).padStart(11)).join('')}`);
opt('TS best start', full.best.f, tsBest);
if (sp) opt('scipy best start', sp.objective, sp.best);
opt('TS polished', full.f, tsPolished);
if (sp) opt('scipy polished', sp.polishedObjective, sp.polished);
console.log(`TS: ${full.convergedStarts}/${full.starts} starts converged${sp ? `; scipy: ${sp.converged}/${full.starts}` : ''}`);
if (sp) {
  const relObj = Math.abs(full.f - sp.polishedObjective) / sp.polishedObjective;
  const maxRel = Math.max(...(['E', 'A', 'B', 'alpha', 'beta'] as const).map((k) => Math.abs(tsPolished[k] - sp!.polished[k]) / Math.abs(sp!.polished[k])));
  console.log(`polished optima: objective differs by ${relObj.toExponential(2)} (relative), parameters by at most ${maxRel.toExponential(2)} (relative)`);
}
console.log('');
console.log('bootstrap          ok  failed   median α    95% α interval         median β    median a');
const boot = (label: string, b: { alpha: number[]; beta: number[]; a: number[] }, failed: number) =>
  console.log(
    `${label.padEnd(16)}${String(b.alpha.length).padStart(5)}${String(failed).padStart(8)}${f(median(b.alpha)).padStart(11)}    [${f(pct(b.alpha, 0.025))}, ${f(pct(b.alpha, 0.975))}]${f(median(b.beta)).padStart(12)}${f(median(b.a)).padStart(12)}`,
  );
boot('TypeScript', { alpha: tsBoot.map((b) => b.alpha), beta: tsBoot.map((b) => b.beta), a: tsBoot.map((b) => b.a) }, tsFailed);
if (sp) {
  boot('scipy', sp.bootstrap, sp.bootstrap.failed);
  let same = 0;
  for (let i = 0; i < Math.min(tsBoot.length, sp.bootstrap.alpha.length); i++) {
    if (Math.abs(tsBoot[i].alpha - sp.bootstrap.alpha[i]) < 1e-4 && Math.abs(tsBoot[i].beta - sp.bootstrap.beta[i]) < 1e-4) same++;
  }
  if (tsFailed === 0 && sp.bootstrap.failed === 0) console.log(`resamples whose optima agree (|Δα|, |Δβ| < 1e-4): ${same}/${RESAMPLES}`);
}
if (scipyError) console.log(`\nscipy reference did not run: ${scipyError}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
