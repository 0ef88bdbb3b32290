/**
 * Variable projection (VPNLS) for the Chinchilla form L(N, D) = E + A/N^α + B/D^β, least squares
 * on the raw loss.
 *
 * For fixed (α, β) the model is linear in (E, A, B): they are solved exactly by non-negative least
 * squares (three columns, so every active set is tried and the best feasible one kept). What is
 * left is a 2-D problem in (α, β), the "projected" residual sum of squares RSS(α, β), which is
 * well conditioned (on the 217 Chinchilla rows the RSS Hessian's condition number is ≈ 1.6 in
 * (α, β), against ≈ 1.5e5 in (E, A, B, α, β) with N in millions and D in billions). It
 * is searched on a grid and the best grid point refined with L-BFGS (./lbfgs), the gradient coming
 * from the envelope theorem (Golub & Pereyra 1973): at the inner optimum, ∂RSS/∂α =
 * 2·Σ r_i·A·ln N_i·N_i^−α, and likewise for β.
 *
 * E, α, β and the RSS do not depend on the units of N and D; A and B are reported for N and D in
 * parameters and tokens. Pure TypeScript.
 */
import type { VpnlsFit } from './extraTypes';
import { Lbfgs } from './lbfgs';
import { lawFitProblem, type ParametricParams } from './parametric';
import type { FitPoint } from './types';

export interface VpnlsOptions {
  /** grid of α and β values searched before the refinement; default 0.05, 0.1, …, 2.5 */
  alphaGrid?: readonly number[];
  betaGrid?: readonly number[];
}

export interface VpnlsSolution {
  E: number;
  A: number;
  B: number;
  alpha: number;
  beta: number;
  /** Σ (L − L̂)² */
  rss: number;
}

export interface VpnlsResult extends VpnlsSolution {
  /** best grid point before the refinement */
  grid: VpnlsSolution & { points: number };
  /** whether the refinement met a convergence criterion */
  converged: boolean;
  /** linear coefficients held at zero by the non-negativity constraints at the optimum */
  atBound: ('E' | 'A' | 'B')[];
  /** whether (α, β) lies on the edge of the searched grid */
  onGridEdge: boolean;
}

export const DEFAULT_VPNLS_GRID: readonly number[] = Array.from({ length: 50 }, (_, i) => +((i + 1) * 0.05).toFixed(2));

/** Data prepared once: logs of N and D and the losses. */
export interface VpnlsData {
  logN: Float64Array;
  logD: Float64Array;
  L: Float64Array;
}

export function makeVpnlsData(N: ArrayLike<number>, D: ArrayLike<number>, L: ArrayLike<number>): VpnlsData {
  const n = N.length;
  const d: VpnlsData = { logN: new Float64Array(n), logD: new Float64Array(n), L: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    d.logN[i] = Math.log(N[i]);
    d.logD[i] = Math.log(D[i]);
    d.L[i] = L[i];
  }
  return d;
}

/**
 * Least squares y ≈ Σ c_j·cols[j] by modified Gram–Schmidt (columns scaled to unit norm first);
 * returns the coefficients, or undefined when the columns are (numerically) dependent.
 */
export function lstsq(cols: readonly Float64Array[], y: Float64Array): Float64Array | undefined {
  const k = cols.length;
  const n = y.length;
  const Q = cols.map((c) => Float64Array.from(c));
  const R = new Float64Array(k * k);
  const scale = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += Q[j][i] * Q[j][i];
    s = Math.sqrt(s);
    if (!(s > 0) || !Number.isFinite(s)) return undefined;
    scale[j] = s;
    for (let i = 0; i < n; i++) Q[j][i] /= s;
  }
  for (let j = 0; j < k; j++) {
    // two passes of orthogonalisation against the previous columns
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += Q[p][i] * Q[j][i];
        R[p * k + j] += dot;
        for (let i = 0; i < n; i++) Q[j][i] -= dot * Q[p][i];
      }
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += Q[j][i] * Q[j][i];
    s = Math.sqrt(s);
    if (!(s > 1e-12)) return undefined;
    R[j * k + j] = s;
    for (let i = 0; i < n; i++) Q[j][i] /= s;
  }
  const qty = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let dot = 0;
    for (let i = 0; i < n; i++) dot += Q[j][i] * y[i];
    qty[j] = dot;
  }
  const c = new Float64Array(k);
  for (let j = k - 1; j >= 0; j--) {
    let v = qty[j];
    for (let p = j + 1; p < k; p++) v -= R[j * k + p] * c[p];
    c[j] = v / R[j * k + j];
  }
  for (let j = 0; j < k; j++) c[j] /= scale[j];
  return c;
}

/**
 * Non-negative least squares with at most a few columns: every subset of free columns is solved
 * unconstrained and the best one with all coefficients ≥ 0 is kept (exact for this size).
 */
export function nnlsSmall(cols: readonly Float64Array[], y: Float64Array): { coef: Float64Array; rss: number } {
  const k = cols.length;
  const n = y.length;
  let best: { coef: Float64Array; rss: number } | undefined;
  for (let mask = 0; mask < 1 << k; mask++) {
    const idx: number[] = [];
    for (let j = 0; j < k; j++) if (mask & (1 << j)) idx.push(j);
    const coef = new Float64Array(k);
    if (idx.length > 0) {
      const c = lstsq(
        idx.map((j) => cols[j]),
        y,
      );
      if (!c || c.some((v) => !(v >= 0))) continue;
      idx.forEach((j, t) => (coef[j] = c[t]));
    }
    let rss = 0;
    for (let i = 0; i < n; i++) {
      let pred = 0;
      for (let j = 0; j < k; j++) pred += coef[j] * cols[j][i];
      rss += (y[i] - pred) ** 2;
    }
    if (!best || rss < best.rss) best = { coef, rss };
  }
  return best!;
}

/** E, A, B solved for fixed (α, β), and the projected RSS. */
export function vpnlsInner(data: VpnlsData, alpha: number, beta: number): VpnlsSolution {
  const n = data.L.length;
  const one = new Float64Array(n).fill(1);
  const xN = new Float64Array(n);
  const xD = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xN[i] = Math.exp(-alpha * data.logN[i]);
    xD[i] = Math.exp(-beta * data.logD[i]);
  }
  const { coef, rss } = nnlsSmall([one, xN, xD], data.L);
  return { E: coef[0], A: coef[1], B: coef[2], alpha, beta, rss };
}

/** Fits L = E + A/N^α + B/D^β by variable projection. Needs at least 5 rows. */
export function fitVpnls(N: ArrayLike<number>, D: ArrayLike<number>, L: ArrayLike<number>, opts: VpnlsOptions = {}): VpnlsResult {
  return fitVpnlsData(makeVpnlsData(N, D, L), opts);
}

export function fitVpnlsData(data: VpnlsData, opts: VpnlsOptions = {}): VpnlsResult {
  const ag = opts.alphaGrid ?? DEFAULT_VPNLS_GRID;
  const bg = opts.betaGrid ?? DEFAULT_VPNLS_GRID;
  let grid: VpnlsSolution | undefined;
  for (const a of ag) {
    for (const b of bg) {
      const s = vpnlsInner(data, a, b);
      if (!grid || s.rss < grid.rss) grid = s;
    }
  }
  if (!grid) throw new Error('VPNLS: empty grid');
  const n = data.L.length;
  // Refinement over (α, β) with the envelope-theorem gradient.
  const fg = (x: Float64Array, g: Float64Array): number => {
    const s = vpnlsInner(data, x[0], x[1]);
    let ga = 0;
    let gb = 0;
    for (let i = 0; i < n; i++) {
      const tN = s.A * Math.exp(-x[0] * data.logN[i]);
      const tD = s.B * Math.exp(-x[1] * data.logD[i]);
      const r = data.L[i] - (s.E + tN + tD);
      ga += 2 * r * tN * data.logN[i];
      gb += 2 * r * tD * data.logD[i];
    }
    g[0] = ga;
    g[1] = gb;
    return s.rss;
  };
  const x = Float64Array.of(grid.alpha, grid.beta);
  const r = new Lbfgs(2, { gtol: 1e-9, ftol: 1e-15, fScale: 0, maxIter: 500 }).minimize(fg, x);
  // A line search that stalls at machine precision with a tiny gradient has converged too.
  const stalled = r.reason === 'linesearch' && r.gradMax < 1e-7;
  let best = vpnlsInner(data, x[0], x[1]);
  if (!(best.rss <= grid.rss) || !Number.isFinite(best.rss)) best = grid;
  const atBound: ('E' | 'A' | 'B')[] = [];
  if (best.E === 0) atBound.push('E');
  if (best.A === 0) atBound.push('A');
  if (best.B === 0) atBound.push('B');
  const lo = (g: readonly number[]) => Math.min(...g);
  const hi = (g: readonly number[]) => Math.max(...g);
  const step = (g: readonly number[]) => (hi(g) - lo(g)) / Math.max(1, g.length - 1);
  const onGridEdge = grid.alpha <= lo(ag) || grid.alpha >= hi(ag) || grid.beta <= lo(bg) || grid.beta >= hi(bg) || best.alpha < lo(ag) - step(ag) || best.beta < lo(bg) - step(bg);
  return { ...best, grid: { ...grid, points: ag.length * bg.length }, converged: r.converged || stalled || best === grid, atBound, onGridEdge };
}

/** The rows of `data` picked by `indices` (a bootstrap resample). */
export function resampleVpnlsData(data: VpnlsData, indices: ArrayLike<number>): VpnlsData {
  const n = indices.length;
  const d: VpnlsData = { logN: new Float64Array(n), logD: new Float64Array(n), L: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    d.logN[i] = data.logN[indices[i]];
    d.logD[i] = data.logD[indices[i]];
    d.L[i] = data.L[indices[i]];
  }
  return d;
}

/**
 * A bootstrap resample's fit: the grid is a coarse one (every 4th point of the default) plus the
 * full-data optimum, so that a resample can leave the full-data basin, then the same refinement.
 */
export function fitVpnlsResample(data: VpnlsData, start: { alpha: number; beta: number }): VpnlsResult {
  const coarse = DEFAULT_VPNLS_GRID.filter((_, i) => i % 4 === 1);
  const withStart = (g: readonly number[], v: number) => [...g, v].sort((x, y) => x - y);
  return fitVpnlsData(data, { alphaGrid: withStart(coarse, start.alpha), betaGrid: withStart(coarse, start.beta) });
}

// ---------------------------------------------------------------------------------------------
// As a method of the fit report (`--method vpnls`)

export interface VpnlsState {
  fit: VpnlsFit;
  params: ParametricParams;
  data: VpnlsData;
  warnings: string[];
}

/** The closed-form allocation parameters (a, b, G) of a VPNLS solution (undefined G when A or B is 0). */
export function vpnlsParams(s: VpnlsSolution): ParametricParams {
  const sum = s.alpha + s.beta;
  return { E: s.E, A: s.A, B: s.B, alpha: s.alpha, beta: s.beta, a: s.beta / sum, b: s.alpha / sum, G: Math.pow((s.alpha * s.A) / (s.beta * s.B), 1 / sum) };
}

/** The VPNLS fit of the report's points, or why it cannot be made. */
export function runVpnls(points: readonly FitPoint[]): VpnlsState | string {
  const problem = lawFitProblem(points, 'VPNLS');
  if (problem) return problem;
  const data = makeVpnlsData(
    points.map((p) => p.N),
    points.map((p) => p.D),
    points.map((p) => p.loss),
  );
  const r = fitVpnlsData(data);
  const params = vpnlsParams(r);
  const warnings: string[] = [];
  for (const c of r.atBound) {
    warnings.push(
      c === 'E'
        ? 'VPNLS fit: E held at 0 by the non-negativity constraint (the data shows no irreducible loss floor)'
        : `VPNLS fit: ${c} held at 0 by the non-negativity constraint (the loss does not fall with ${c === 'A' ? 'N' : 'D'} in this data), so there is no compute-optimal allocation`,
    );
  }
  if (r.onGridEdge) warnings.push(`VPNLS fit: the best (α, β) grid point lies on the edge of the grid (0.05–2.5); the optimum may lie outside it`);
  if (!r.converged) warnings.push('VPNLS fit: the refinement stopped before meeting a convergence criterion');
  const allocation = r.A > 0 && r.B > 0 && r.alpha > 0 && r.beta > 0;
  const residuals = points.map((p, i) => {
    const predicted = r.E + r.A * Math.exp(-r.alpha * data.logN[i]) + r.B * Math.exp(-r.beta * data.logD[i]);
    return { index: i, predicted, residual: p.loss - predicted };
  });
  const fit: VpnlsFit = {
    E: r.E,
    A: r.A,
    B: r.B,
    alpha: r.alpha,
    beta: r.beta,
    ...(allocation ? { a: params.a, b: params.b, G: params.G } : {}),
    rss: r.rss,
    rmsResidual: Math.sqrt(r.rss / points.length),
    grid: { alpha: r.grid.alpha, beta: r.grid.beta, rss: r.grid.rss, points: r.grid.points },
    converged: r.converged,
    atBound: r.atBound,
    residuals,
  };
  return { fit, params, data, warnings };
}

/** Bootstrap resamples of the VPNLS fit: row indices → parameters (undefined when no allocation). */
export function vpnlsResampleParams(state: VpnlsState, indices: Int32Array): ParametricParams | undefined {
  const r = fitVpnlsResample(resampleVpnlsData(state.data, indices), state.fit);
  if (!(r.A > 0 && r.B > 0 && r.alpha > 0 && r.beta > 0) || ![r.E, r.A, r.B, r.alpha, r.beta].every(Number.isFinite)) return undefined;
  return vpnlsParams(r);
}
