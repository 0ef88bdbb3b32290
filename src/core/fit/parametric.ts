/**
 * Chinchilla Approach 3, fitted exactly as in Besiroglu, Erdil, Barnett & You (2024),
 * "Chinchilla Scaling: A replication attempt":
 *
 *   L(N, D) = E + A/N^α + B/D^β,   log L̂ = LSE(a − α·log N, b − β·log D, e),  A = e^a, B = e^b, E = e^e
 *   objective = Σ_i Huber_δ(log L_i − log L̂_i),  δ = 1e-3   (the SUM, not the mean)
 *
 * minimised with L-BFGS (analytic gradient) from every point of the grid
 * α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25} (4500 starts), keeping the best.
 * Parameter vectors are ordered [a, b, e, α, β] throughout (as in the replication's code).
 * Pure TypeScript.
 */
import { Lbfgs, type LbfgsOptions, type LbfgsReason } from './lbfgs';
import { makeWasmHuberObjective } from './wasmObjective';

export const HUBER_DELTA = 1e-3;

export interface ParametricData {
  logN: Float64Array;
  logD: Float64Array;
  logL: Float64Array;
  /** multiplicity of each row (bootstrap resamples use counts instead of copies); all 1 if absent */
  weight?: Float64Array;
}

export function makeParametricData(N: ArrayLike<number>, D: ArrayLike<number>, L: ArrayLike<number>): ParametricData {
  const n = N.length;
  const logN = new Float64Array(n);
  const logD = new Float64Array(n);
  const logL = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    logN[i] = Math.log(N[i]);
    logD[i] = Math.log(D[i]);
    logL[i] = Math.log(L[i]);
  }
  return { logN, logD, logL };
}

/** A resample given as row indices, compacted to unique rows with counts. */
export function resampleParametricData(data: ParametricData, indices: ArrayLike<number>): ParametricData {
  const counts = new Map<number, number>();
  for (let k = 0; k < indices.length; k++) counts.set(indices[k], (counts.get(indices[k]) ?? 0) + 1);
  const rows = [...counts.keys()].sort((x, y) => x - y);
  const logN = new Float64Array(rows.length);
  const logD = new Float64Array(rows.length);
  const logL = new Float64Array(rows.length);
  const weight = new Float64Array(rows.length);
  rows.forEach((r, j) => {
    logN[j] = data.logN[r];
    logD[j] = data.logD[r];
    logL[j] = data.logL[r];
    weight[j] = counts.get(r)! * (data.weight ? data.weight[r] : 1);
  });
  return { logN, logD, logL, weight };
}

// ---------------------------------------------------------------------------------------------
// Fast, accurate exp and log for the objective's inner loop. Math.exp/Math.log are calls into C
// that V8 does not inline; these are plain arithmetic on two small tables and are inlined.
// exp: x = k·ln2/32 + r, |r| ≤ ln2/64, e^x = 2^(k>>5) · 2^((k&31)/32) · P6(r): relative error
// below 5e-16 on [−740, 34]. log: only ever called with s ∈ [1, 3] (a sum of three terms of which
// the largest is 1): s = c_i·(1+t), |t| ≤ 1/256, log s = log c_i + P6(t): absolute error below
// 5e-16. Both are checked against Math in the unit tests.

const EXP_TABLE = new Float64Array(32);
for (let j = 0; j < 32; j++) EXP_TABLE[j] = Math.pow(2, j / 32);
const POW2 = new Float64Array(1200); // 2^m for m ∈ [−1150, 49]
for (let m = -1150; m < 50; m++) POW2[m + 1150] = Math.pow(2, m);
const EXP_INV = 32 / Math.LN2;
const EXP_HI = 6.9314718036912382e-1 / 32;
const EXP_LO = 1.9082149292705877e-10 / 32;

/** e^x for −740 ≤ x ≤ 34 (the objective calls it on [−700, 30]); 0 below −740. */
export function fastExp(x: number): number {
  if (x < -740) return 0;
  const k = Math.floor(x * EXP_INV + 0.5);
  const r = x - k * EXP_HI - k * EXP_LO;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720))))));
  return EXP_TABLE[k & 31] * POW2[(k >> 5) + 1150] * p;
}

const LOG_INV_C = new Float64Array(258);
const LOG_C = new Float64Array(258);
for (let i = 0; i < 258; i++) {
  const c = 1 + (i + 0.5) / 128;
  LOG_INV_C[i] = 1 / c;
  LOG_C[i] = Math.log(c);
}

/** ln s for s ∈ [1, 3] (outside that range it falls back to Math.log). */
export function fastLog13(s: number): number {
  if (!(s >= 1 && s <= 3)) return Math.log(s);
  const i = ((s - 1) * 128) | 0;
  const t = s * LOG_INV_C[i] - 1;
  return LOG_C[i] + t * (1 - t * (0.5 - t * (1 / 3 - t * (0.25 - t * (0.2 - t * (1 / 6))))));
}

/**
 * The objective and its analytic gradient with respect to [a, b, e, α, β].
 *
 * With z1 = a − e − α·log N and z2 = b − e − β·log D, log L̂ = e + log(1 + e^z1 + e^z2): one exp
 * fewer per point than subtracting the per-point maximum, and the log's argument is ≥ 1 (≤ 3 near
 * any sensible fit, where the table log applies). Points with z outside [−700, 30] (wild iterates)
 * take the max-subtracted path with Math.exp/Math.log, so nothing overflows. Huber is evaluated
 * branch-free as c·(|r| − c/2) with c = min(|r|, δ), which is exact in both regimes.
 */
export function makeHuberObjective(data: ParametricData, delta = HUBER_DELTA): (x: Float64Array, g: Float64Array) => number {
  const ts = makeHuberObjectiveTs(data, delta);
  return makeWasmHuberObjective(data.logN, data.logD, data.logL, data.weight, delta, ts) ?? ts;
}

/**
 * The scalar TypeScript kernel: used where WebAssembly SIMD is unavailable (or disabled with
 * FLOPSFIT_FIT_WASM=0) and for evaluations at wild iterates, which the WebAssembly kernel hands back.
 */
export function makeHuberObjectiveTs(data: ParametricData, delta = HUBER_DELTA): (x: Float64Array, g: Float64Array) => number {
  const { logN, logD, logL, weight } = data;
  const n = logN.length;
  return (x, g) => {
    const a = x[0], b = x[1], e = x[2], al = x[3], be = x[4];
    const ae = a - e, bee = b - e;
    let f = 0, ga = 0, gb = 0, ge = 0, gal = 0, gbe = 0;
    for (let i = 0; i < n; i++) {
      const ln = logN[i];
      const ld = logD[i];
      const z1 = ae - al * ln;
      const z2 = bee - be * ld;
      let p1: number, p2: number, p3: number, pred: number;
      if (z1 < 30 && z2 < 30 && z1 > -700 && z2 > -700) {
        const e1 = fastExp(z1);
        const e2 = fastExp(z2);
        const s = 1 + e1 + e2;
        pred = e + (s <= 3 ? fastLog13(s) : Math.log(s));
        p3 = 1 / s;
        p1 = e1 * p3;
        p2 = e2 * p3;
      } else {
        // far from the data: the log-sum-exp with its maximum taken out
        const mx = z1 > z2 ? (z1 > 0 ? z1 : 0) : z2 > 0 ? z2 : 0;
        const m1 = Math.exp(z1 - mx), m2 = Math.exp(z2 - mx), m3 = Math.exp(-mx);
        const s = m1 + m2 + m3;
        pred = e + mx + Math.log(s);
        p1 = m1 / s;
        p2 = m2 / s;
        p3 = m3 / s;
      }
      const r = logL[i] - pred;
      const ar = Math.abs(r);
      const c = ar < delta ? ar : delta;
      const w = weight ? weight[i] : 1;
      f += w * c * (ar - 0.5 * c);
      const psi = w * (r > delta ? delta : r < -delta ? -delta : r);
      const w1 = psi * p1;
      const w2 = psi * p2;
      ga -= w1;
      gal += w1 * ln;
      gb -= w2;
      gbe += w2 * ld;
      ge -= psi * p3;
    }
    g[0] = ga; g[1] = gb; g[2] = ge; g[3] = gal; g[4] = gbe;
    return f;
  };
}

/** The 4500-point start grid of Besiroglu et al., as [a, b, e, α, β] rows (row-major Float64Array). */
export function besirogluGrid(): Float64Array {
  const alphas = [0, 0.5, 1, 1.5, 2];
  const es = [-1, -0.5, 0, 0.5, 1];
  const abs = [0, 5, 10, 15, 20, 25];
  const out = new Float64Array(4500 * 5);
  let k = 0;
  // Same nesting order as the replication's itertools.product(alpha, beta, e, a, b).
  for (const al of alphas)
    for (const be of alphas)
      for (const e of es)
        for (const a of abs)
          for (const b of abs) {
            out[k++] = a;
            out[k++] = b;
            out[k++] = e;
            out[k++] = al;
            out[k++] = be;
          }
  return out;
}
export const START_GRID_SIZE = 4500;

export interface ParametricParams {
  E: number;
  A: number;
  B: number;
  alpha: number;
  beta: number;
  /** N_opt ∝ C^a, a = β/(α+β) */
  a: number;
  /** D_opt ∝ C^b, b = α/(α+β) */
  b: number;
  /** G = (αA/(βB))^(1/(α+β)) */
  G: number;
}

/** [a, b, e, α, β] → named parameters and the closed-form allocation exponents. */
export function paramsFromVector(x: ArrayLike<number>): ParametricParams {
  const A = Math.exp(x[0]);
  const B = Math.exp(x[1]);
  const E = Math.exp(x[2]);
  const alpha = x[3];
  const beta = x[4];
  const s = alpha + beta;
  return { E, A, B, alpha, beta, a: beta / s, b: alpha / s, G: Math.pow((alpha * A) / (beta * B), 1 / s) };
}

/** Predicted loss L(N, D) = E + A/N^α + B/D^β. */
export function parametricLoss(p: Pick<ParametricParams, 'E' | 'A' | 'B' | 'alpha' | 'beta'>, N: number, D: number): number {
  return p.E + p.A / Math.pow(N, p.alpha) + p.B / Math.pow(D, p.beta);
}

/**
 * Compute-optimal allocation in closed form (Hoffmann et al. 2022, eq. 4) for C = k·N·D:
 * N_opt = G·(C/k)^a, D_opt = (C/k)/N_opt. Computed in log space to stay exact for large C.
 */
export function parametricAllocation(p: ParametricParams, C: number, k = 6): { nOpt: number; dOpt: number } {
  const logCk = Math.log(C / k);
  const s = p.alpha + p.beta;
  const logG = (Math.log(p.alpha) + Math.log(p.A) - Math.log(p.beta) - Math.log(p.B)) / s;
  const logN = logG + p.a * logCk;
  return { nOpt: Math.exp(logN), dOpt: Math.exp(logCk - logN) };
}

export interface StartResult {
  x: Float64Array;
  f: number;
  converged: boolean;
  reason: LbfgsReason;
  iterations: number;
}

export interface MultiStartResult {
  best: StartResult;
  starts: number;
  convergedStarts: number;
  totalIterations: number;
  totalEvaluations: number;
  /** distinct local optima, best first (at most `keepOptima`) */
  optima: StartResult[];
}

export interface MultiStartOptions extends LbfgsOptions {
  delta?: number;
  /** how many distinct local optima to keep (used to warm-start bootstrap resamples) */
  keepOptima?: number;
}

const REASONS: readonly LbfgsReason[] = ['gradient', 'ftol', 'maxiter', 'maxeval', 'linesearch', 'nonfinite'];

/**
 * The outcome of L-BFGS from each start, in start order, as flat typed arrays (so that it can be
 * computed in chunks on worker threads and concatenated without changing a bit).
 */
export interface StartRuns {
  count: number;
  /** final points, 5 per start */
  x: Float64Array;
  f: Float64Array;
  /** 1 if converged */
  converged: Uint8Array;
  /** index into the LbfgsReason list */
  reason: Uint8Array;
  iterations: Int32Array;
  evaluations: Int32Array;
}

function newStartRuns(count: number): StartRuns {
  return {
    count,
    x: new Float64Array(count * 5),
    f: new Float64Array(count),
    converged: new Uint8Array(count),
    reason: new Uint8Array(count),
    iterations: new Int32Array(count),
    evaluations: new Int32Array(count),
  };
}

/** Runs L-BFGS from every start (rows of `starts`, 5 values each), recording each outcome. */
export function runStarts(data: ParametricData, starts: Float64Array, opts: MultiStartOptions = {}): StartRuns {
  const fg = makeHuberObjective(data, opts.delta ?? HUBER_DELTA);
  const solver = new Lbfgs(5, opts);
  const count = starts.length / 5;
  const out = newStartRuns(count);
  for (let s = 0; s < count; s++) {
    const x = out.x.subarray(s * 5, s * 5 + 5);
    x.set(starts.subarray(s * 5, s * 5 + 5));
    const r = solver.minimize(fg, x);
    out.f[s] = r.f;
    out.converged[s] = r.converged ? 1 : 0;
    out.reason[s] = REASONS.indexOf(r.reason);
    out.iterations[s] = r.iterations;
    out.evaluations[s] = r.evaluations;
  }
  return out;
}

/** Concatenates the runs of consecutive chunks of one start list, in order. */
export function concatStartRuns(parts: readonly StartRuns[]): StartRuns {
  const count = parts.reduce((k, p) => k + p.count, 0);
  const out = newStartRuns(count);
  let k = 0;
  for (const p of parts) {
    out.x.set(p.x, k * 5);
    out.f.set(p.f, k);
    out.converged.set(p.converged, k);
    out.reason.set(p.reason, k);
    out.iterations.set(p.iterations, k);
    out.evaluations.set(p.evaluations, k);
    k += p.count;
  }
  return out;
}

/**
 * Keeps the best start (strictly better wins; ties keep the earliest start, the same rule as a
 * Python `<` loop) and the `keepOptima` best distinct optima, visiting the starts in order.
 */
export function reduceStarts(runs: StartRuns, keepOptima = 0): MultiStartResult {
  let bestF = Infinity;
  let best: StartResult | undefined;
  let convergedStarts = 0;
  let totalIterations = 0;
  let totalEvaluations = 0;
  const optima: StartResult[] = [];
  for (let s = 0; s < runs.count; s++) {
    const x = runs.x.subarray(s * 5, s * 5 + 5);
    const r = { f: runs.f[s], converged: runs.converged[s] === 1, reason: REASONS[runs.reason[s]], iterations: runs.iterations[s] };
    totalIterations += r.iterations;
    totalEvaluations += runs.evaluations[s];
    if (r.converged) convergedStarts++;
    if (!Number.isFinite(r.f) || !allFinite(x)) continue;
    if (r.f < bestF) {
      bestF = r.f;
      best = { x: Float64Array.from(x), f: r.f, converged: r.converged, reason: r.reason, iterations: r.iterations };
    }
    if (keepOptima > 0) considerOptimum(optima, x, r, keepOptima);
  }
  if (!best) throw new Error('every start of the parametric fit diverged');
  return { best, starts: runs.count, convergedStarts, totalIterations, totalEvaluations, optima };
}

/** Runs L-BFGS from every start (rows of `starts`, 5 values each) and keeps the best. */
export function multiStartFit(data: ParametricData, starts: Float64Array, opts: MultiStartOptions = {}): MultiStartResult {
  return reduceStarts(runStarts(data, starts, opts), opts.keepOptima ?? 0);
}

function allFinite(x: Float64Array): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}

/**
 * Keeps the `keep` best distinct optima. Distinct: a, b or e (logs of A, B, E) differ by more than
 * 0.05, or α or β by more than 0.01 — stops of one flat basin at slightly different points are
 * the same optimum.
 */
function considerOptimum(optima: StartResult[], x: Float64Array, r: { f: number; converged: boolean; reason: LbfgsReason; iterations: number }, keep: number): void {
  if (optima.length === keep && r.f >= optima[optima.length - 1].f) return;
  for (let j = 0; j < optima.length; j++) {
    const o = optima[j];
    let same = true;
    for (let i = 0; i < 5; i++) {
      if (Math.abs(o.x[i] - x[i]) > (i < 3 ? 0.05 : 0.01)) {
        same = false;
        break;
      }
    }
    if (same) {
      if (r.f < o.f) {
        optima.splice(j, 1);
        break;
      }
      return;
    }
  }
  const entry: StartResult = { x: Float64Array.from(x), f: r.f, converged: r.converged, reason: r.reason, iterations: r.iterations };
  let pos = optima.findIndex((o) => r.f < o.f);
  if (pos === -1) pos = optima.length;
  optima.splice(pos, 0, entry);
  if (optima.length > keep) optima.length = keep;
}

/** Residuals log L − log L̂ at the fitted parameters, one per row. */
export function logResiduals(data: ParametricData, x: ArrayLike<number>): Float64Array {
  const n = data.logN.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u1 = x[0] - x[3] * data.logN[i];
    const u2 = x[1] - x[4] * data.logD[i];
    const u3 = x[2];
    const mx = Math.max(u1, u2, u3);
    out[i] = data.logL[i] - (mx + Math.log(Math.exp(u1 - mx) + Math.exp(u2 - mx) + Math.exp(u3 - mx)));
  }
  return out;
}

/**
 * Tolerances of the final polish. The multi-start uses scipy's defaults, whose ftol test is
 * effectively absolute (scale floor 1) while this objective is ~1e-4–1e-3: starts stop in flat
 * valleys well before the minimum. The winner is therefore re-minimised with a purely relative
 * ftol and a tiny gtol, so the reported optimum does not depend on where a start happened to stop.
 */
export const POLISH_OPTIONS: LbfgsOptions = { gtol: 1e-12, ftol: 1e-13, fScale: 0, maxIter: 5000, maxEval: 10000 };

export interface PolishedFit extends MultiStartResult {
  /** the polished optimum [a, b, e, α, β] */
  x: Float64Array;
  /** objective at x */
  f: number;
}

/** Multi-start (scipy-default stopping) followed by a tight polish of the best start. */
export function fitParametricData(data: ParametricData, starts: Float64Array, opts: MultiStartOptions = {}): PolishedFit {
  return polishBest(data, multiStartFit(data, starts, opts), opts.delta);
}

/** The tight polish of a multi-start's winner (the second half of fitParametricData). */
export function polishBest(data: ParametricData, ms: MultiStartResult, delta = HUBER_DELTA): PolishedFit {
  const x = Float64Array.from(ms.best.x);
  const r = new Lbfgs(5, POLISH_OPTIONS).minimize(makeHuberObjective(data, delta), x);
  if (Number.isFinite(r.f) && r.f <= ms.best.f && allFinite(x)) return { ...ms, x, f: r.f };
  return { ...ms, x: Float64Array.from(ms.best.x), f: ms.best.f };
}

/** The largest ln E allowed: the lowest observed ln L (E ≤ the lowest loss, as OLMo's and Open Athena's fitters). */
export function maxLogE(data: ParametricData): number {
  let m = Infinity;
  for (let i = 0; i < data.logL.length; i++) if (!data.weight || data.weight[i] > 0) m = Math.min(m, data.logL[i]);
  return m;
}

/**
 * Enforces E ≤ the lowest observed loss: a fit whose e = ln E exceeds `eMax` is re-minimised with e
 * held at eMax (the constraint is then active), from the fit itself and each of `others`; the best
 * is returned. A fit that satisfies the bound is returned unchanged (`capped` false).
 */
export function capLogE(data: ParametricData, fit: { x: Float64Array; f: number }, eMax: number, others: readonly Float64Array[] = [], delta = HUBER_DELTA): { x: Float64Array; f: number; capped: boolean } {
  if (!(fit.x[2] > eMax)) return { ...fit, capped: false };
  const fg = makeHuberObjective(data, delta);
  const fixed = (x: Float64Array, g: Float64Array): number => {
    x[2] = eMax;
    const f = fg(x, g);
    g[2] = 0; // L-BFGS never moves a coordinate whose gradient is always 0
    return f;
  };
  const solver = new Lbfgs(5, POLISH_OPTIONS);
  let best: { x: Float64Array; f: number } | undefined;
  for (const start of [fit.x, ...others]) {
    const x = Float64Array.from(start);
    x[2] = eMax;
    const r = solver.minimize(fixed, x);
    x[2] = eMax;
    if (Number.isFinite(r.f) && allFinite(x) && (!best || r.f < best.f)) best = { x, f: r.f };
  }
  if (!best) {
    const x = Float64Array.from(fit.x);
    x[2] = eMax;
    return { x, f: fg(x, new Float64Array(5)), capped: true };
  }
  return { ...best, capped: true };
}
