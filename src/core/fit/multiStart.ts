/**
 * The parametric fit's minimisation: L-BFGS from every start (in chunks that workers can run),
 * the best start and the distinct local optima, the tight polish of the winner, and E capped at
 * the lowest observed loss.
 */
import { makeHuberObjective } from './huberObjective';
import { Lbfgs, type LbfgsOptions, type LbfgsReason } from './lbfgs';
import { HUBER_DELTA, type ParametricData } from './parametric';

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
