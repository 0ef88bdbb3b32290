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
 * The objective is in ./huberObjective, its multi-start minimisation in ./multiStart; this file holds
 * the law itself: the data, the start grid, the parameters, the loss and the allocation.
 * Pure TypeScript.
 */

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
/**
 * Why the 5-parameter law L(N, D) = E + A/N^α + B/D^β cannot be fitted to these points (too few of
 * them, or one model size or token count only), or undefined: one rule for the parametric fit and
 * VPNLS. `name` is the fit's name in the message.
 */
export function lawFitProblem(points: readonly { N: number; D: number }[], name: string): string | undefined {
  if (points.length < 5) return `the ${name} fit has 5 parameters (E, A, B, α, β) and needs at least 5 points; got ${points.length}`;
  const distinctN = new Set(points.map((p) => p.N)).size;
  const distinctD = new Set(points.map((p) => p.D)).size;
  if (distinctN < 2 || distinctD < 2) return `the ${name} fit needs at least 2 distinct model sizes and 2 distinct token counts; got ${distinctN} and ${distinctD}`;
  return undefined;
}

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

