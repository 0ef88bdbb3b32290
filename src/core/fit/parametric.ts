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

/** The objective and its analytic gradient with respect to [a, b, e, α, β]. */
export function makeHuberObjective(data: ParametricData, delta = HUBER_DELTA): (x: Float64Array, g: Float64Array) => number {
  const { logN, logD, logL, weight } = data;
  const n = logN.length;
  const halfDelta = 0.5 * delta;
  if (weight) {
    return (x, g) => {
      const a = x[0], b = x[1], e = x[2], al = x[3], be = x[4];
      let f = 0, ga = 0, gb = 0, ge = 0, gal = 0, gbe = 0;
      for (let i = 0; i < n; i++) {
        const ln = logN[i];
        const ld = logD[i];
        const u1 = a - al * ln;
        const u2 = b - be * ld;
        const mx = u1 > u2 ? (u1 > e ? u1 : e) : u2 > e ? u2 : e;
        const e1 = Math.exp(u1 - mx);
        const e2 = Math.exp(u2 - mx);
        const e3 = Math.exp(e - mx);
        const s = e1 + e2 + e3;
        const r = logL[i] - (mx + Math.log(s));
        const w = weight[i];
        let psi: number;
        if (r > delta) {
          f += w * delta * (r - halfDelta);
          psi = delta;
        } else if (r < -delta) {
          f += w * delta * (-r - halfDelta);
          psi = -delta;
        } else {
          f += w * 0.5 * r * r;
          psi = r;
        }
        const q = (w * psi) / s;
        const w1 = q * e1;
        const w2 = q * e2;
        ga -= w1;
        gal += w1 * ln;
        gb -= w2;
        gbe += w2 * ld;
        ge -= q * e3;
      }
      g[0] = ga; g[1] = gb; g[2] = ge; g[3] = gal; g[4] = gbe;
      return f;
    };
  }
  return (x, g) => {
    const a = x[0], b = x[1], e = x[2], al = x[3], be = x[4];
    let f = 0, ga = 0, gb = 0, ge = 0, gal = 0, gbe = 0;
    for (let i = 0; i < n; i++) {
      const ln = logN[i];
      const ld = logD[i];
      const u1 = a - al * ln;
      const u2 = b - be * ld;
      const mx = u1 > u2 ? (u1 > e ? u1 : e) : u2 > e ? u2 : e;
      const e1 = Math.exp(u1 - mx);
      const e2 = Math.exp(u2 - mx);
      const e3 = Math.exp(e - mx);
      const s = e1 + e2 + e3;
      const r = logL[i] - (mx + Math.log(s));
      let psi: number;
      if (r > delta) {
        f += delta * (r - halfDelta);
        psi = delta;
      } else if (r < -delta) {
        f += delta * (-r - halfDelta);
        psi = -delta;
      } else {
        f += 0.5 * r * r;
        psi = r;
      }
      const q = psi / s;
      const w1 = q * e1;
      const w2 = q * e2;
      ga -= w1;
      gal += w1 * ln;
      gb -= w2;
      gbe += w2 * ld;
      ge -= q * e3;
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

/** Runs L-BFGS from every start (rows of `starts`, 5 values each) and keeps the best. */
export function multiStartFit(data: ParametricData, starts: Float64Array, opts: MultiStartOptions = {}): MultiStartResult {
  const fg = makeHuberObjective(data, opts.delta ?? HUBER_DELTA);
  const solver = new Lbfgs(5, opts);
  const x = new Float64Array(5);
  const count = starts.length / 5;
  const keep = opts.keepOptima ?? 0;
  let bestF = Infinity;
  let best: StartResult | undefined;
  let convergedStarts = 0;
  let totalIterations = 0;
  let totalEvaluations = 0;
  const optima: StartResult[] = [];
  for (let s = 0; s < count; s++) {
    for (let i = 0; i < 5; i++) x[i] = starts[s * 5 + i];
    const r = solver.minimize(fg, x);
    totalIterations += r.iterations;
    totalEvaluations += r.evaluations;
    if (r.converged) convergedStarts++;
    if (!Number.isFinite(r.f) || !allFinite(x)) continue;
    // Strictly better wins; ties keep the earliest start (same rule as a Python `<` loop).
    if (r.f < bestF) {
      bestF = r.f;
      best = { x: Float64Array.from(x), f: r.f, converged: r.converged, reason: r.reason, iterations: r.iterations };
    }
    if (keep > 0) considerOptimum(optima, x, r, keep);
  }
  if (!best) throw new Error('every start of the parametric fit diverged');
  return { best, starts: count, convergedStarts, totalIterations, totalEvaluations, optima };
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
  const ms = multiStartFit(data, starts, opts);
  const x = Float64Array.from(ms.best.x);
  const r = new Lbfgs(5, POLISH_OPTIONS).minimize(makeHuberObjective(data, opts.delta ?? HUBER_DELTA), x);
  if (Number.isFinite(r.f) && r.f <= ms.best.f && allFinite(x)) return { ...ms, x, f: r.f };
  return { ...ms, x: Float64Array.from(ms.best.x), f: ms.best.f };
}
