/**
 * Chinchilla Approach 2 (IsoFLOP profiles). Runs whose compute budgets agree within a tolerance
 * form one group; per group the optimum N_opt is estimated (by default the minimum of an Akima
 * interpolant of ln L against ln N; see OPTIMUM_METHODS) and D_opt = C/(k·N_opt), so C = k·N·D
 * holds exactly. Across groups, ln N_opt, ln D_opt and
 * ln L_opt are regressed on ln C. Pure TypeScript.
 */

export interface IsoPoint {
  N: number;
  D: number;
  C: number;
  loss: number;
  budget?: number;
}

export interface BudgetGroup {
  /** nominal budget: the shared `budget` when the points carry one, else the geometric mean of C */
  budget: number;
  /** indices into the input points */
  members: number[];
}

/**
 * Groups points by budget. Points carrying `budget` are grouped by it, others by C; two values
 * belong to the same group when they differ by at most `tolerance` (relative, e.g. 0.05 = 5%)
 * from the group's first (smallest) value.
 */
export function groupByBudget(points: readonly IsoPoint[], tolerance: number): BudgetGroup[] {
  const keyed = points.map((p, i) => ({ i, v: p.budget ?? p.C })).sort((x, y) => x.v - y.v || x.i - y.i);
  const groups: BudgetGroup[] = [];
  let start = NaN;
  let current: number[] = [];
  const flush = () => {
    if (current.length === 0) return;
    const vals = current.map((i) => points[i].budget);
    const nominal = vals.every((v) => v !== undefined && v === vals[0])
      ? (vals[0] as number)
      : Math.exp(current.reduce((s, i) => s + Math.log(points[i].budget ?? points[i].C), 0) / current.length);
    groups.push({ budget: nominal, members: current.slice().sort((a, b) => a - b) });
    current = [];
  };
  for (const { i, v } of keyed) {
    if (current.length > 0 && v > start * (1 + tolerance)) flush();
    if (current.length === 0) start = v;
    current.push(i);
  }
  flush();
  return groups;
}

export interface QuadraticFit {
  /** loss ≈ c0 + c1·x + c2·x², x = ln N */
  c0: number;
  c1: number;
  c2: number;
  /** centre of x used for the numerically stable fit: loss ≈ p0 + p1·t + p2·t², t = x − center */
  center: number;
  p0: number;
  p1: number;
  p2: number;
}

/** Least-squares quadratic in x (weights optional). Returns undefined when it is not determined. */
export function fitQuadratic(x: ArrayLike<number>, y: ArrayLike<number>, w?: ArrayLike<number>): QuadraticFit | undefined {
  const n = x.length;
  let sw = 0;
  let sx = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i] : 1;
    sw += wi;
    sx += wi * x[i];
  }
  if (!(sw > 0)) return undefined;
  const center = sx / sw;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, t0 = 0, t1 = 0, t2 = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i] : 1;
    const t = x[i] - center;
    const tt = t * t;
    s0 += wi;
    s1 += wi * t;
    s2 += wi * tt;
    s3 += wi * tt * t;
    s4 += wi * tt * tt;
    t0 += wi * y[i];
    t1 += wi * y[i] * t;
    t2 += wi * y[i] * tt;
  }
  const sol = solve3([s0, s1, s2, s1, s2, s3, s2, s3, s4], [t0, t1, t2]);
  if (!sol) return undefined;
  const [p0, p1, p2] = sol;
  return {
    center,
    p0,
    p1,
    p2,
    c2: p2,
    c1: p1 - 2 * p2 * center,
    c0: p0 - p1 * center + p2 * center * center,
  };
}

/** Gaussian elimination with partial pivoting for a 3×3 system; undefined when (near) singular. */
function solve3(m: number[], b: number[]): [number, number, number] | undefined {
  const a = m.slice();
  const r = b.slice();
  const scale = Math.max(...a.map(Math.abs));
  if (!(scale > 0)) return undefined;
  for (let col = 0; col < 3; col++) {
    let piv = col;
    for (let row = col + 1; row < 3; row++) if (Math.abs(a[row * 3 + col]) > Math.abs(a[piv * 3 + col])) piv = row;
    if (Math.abs(a[piv * 3 + col]) <= 1e-12 * scale) return undefined;
    if (piv !== col) {
      for (let k = 0; k < 3; k++) [a[col * 3 + k], a[piv * 3 + k]] = [a[piv * 3 + k], a[col * 3 + k]];
      [r[col], r[piv]] = [r[piv], r[col]];
    }
    for (let row = col + 1; row < 3; row++) {
      const f = a[row * 3 + col] / a[col * 3 + col];
      for (let k = col; k < 3; k++) a[row * 3 + k] -= f * a[col * 3 + k];
      r[row] -= f * r[col];
    }
  }
  const x2 = r[2] / a[8];
  const x1 = (r[1] - a[5] * x2) / a[4];
  const x0 = (r[0] - a[1] * x1 - a[2] * x2) / a[0];
  if (![x0, x1, x2].every(Number.isFinite)) return undefined;
  return [x0, x1, x2];
}

export type GroupStatus = 'ok' | 'too-few-sizes' | 'singular' | 'not-convex' | 'edge';

/**
 * How a budget's optimum N* is estimated from its points:
 *  - 'akima': the minimum of the Akima interpolant of ln L against ln N through the sizes tried (the
 *    default): local, so far-away points of a wide or lopsided grid do not pull it;
 *  - 'local-parabola': a parabola in ln N through the lowest-loss size and `window` sizes on each side;
 *  - 'parabola': one parabola through every point of the budget (Chinchilla's Approach 2 as
 *    published; biased on wide or asymmetric grids, kept to compare).
 */
export const OPTIMUM_METHODS = ['akima', 'local-parabola', 'parabola'] as const;
export type OptimumMethod = (typeof OPTIMUM_METHODS)[number];

export interface OptimumOptions {
  method: OptimumMethod;
  /** sizes on each side of the lowest loss in the local parabola (≥ 1) */
  window: number;
  /** use budgets whose optimum is not bracketed (at the edge of the sizes tried) in the power laws */
  keepEdges: boolean;
}

export const DEFAULT_OPTIMUM: OptimumOptions = { method: 'akima', window: 2, keepEdges: false };

export interface GroupFit {
  status: GroupStatus;
  budget: number;
  /** the parabola through all points (drawn for reference whatever the method) */
  quad?: QuadraticFit;
  nOpt?: number;
  dOpt?: number;
  lossOpt?: number;
  /** d²L/d(ln N)² = 2·c2 of the parabola through all points */
  curvature?: number;
  convex?: boolean;
  /** whether N_opt lies within the sizes tried */
  interior?: boolean;
  /** whether the lowest loss is at an inner size (the optimum is bracketed by the sizes tried) */
  bracketed?: boolean;
  /** when not bracketed: the side on which the optimum lies */
  edge?: 'smaller' | 'larger';
  /** median spacing of the sizes tried, in ln N */
  logStep?: number;
  minN: number;
  maxN: number;
  distinctSizes: number;
  /** the estimator's curve, (ln N, loss) samples, when asked for */
  curve?: { x: number[]; y: number[] };
}

/** Akima (1970) node derivatives of the interpolant through (x, y), x strictly increasing, n ≥ 2. */
export function akimaSlopes(x: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  const n = x.length;
  const t = new Float64Array(n);
  // m[k + 2] is the slope of interval k; two extra slopes are extrapolated at each end
  const m = new Float64Array(n + 3);
  for (let k = 0; k < n - 1; k++) m[k + 2] = (y[k + 1] - y[k]) / (x[k + 1] - x[k]);
  if (n === 2) return t.fill(m[2]);
  m[1] = 2 * m[2] - m[3];
  m[0] = 2 * m[1] - m[2];
  m[n + 1] = 2 * m[n] - m[n - 1];
  m[n + 2] = 2 * m[n + 1] - m[n];
  for (let i = 0; i < n; i++) {
    const w1 = Math.abs(m[i + 3] - m[i + 2]);
    const w2 = Math.abs(m[i + 1] - m[i]);
    t[i] = w1 + w2 > 0 ? (w1 * m[i + 1] + w2 * m[i + 2]) / (w1 + w2) : 0.5 * (m[i + 1] + m[i + 2]);
  }
  return t;
}

/** The cubic Hermite piece on [x0, x0 + h]: value at s ∈ [0, 1]. */
function hermite(y0: number, y1: number, t0: number, t1: number, h: number, s: number): number {
  const c2 = 3 * (y1 - y0) - h * (2 * t0 + t1);
  const c3 = h * (t0 + t1) - 2 * (y1 - y0);
  return y0 + s * (h * t0 + s * (c2 + s * c3));
}

/** Minimum of the Hermite piece over s ∈ [0, 1]: [s, value]. */
function hermiteMin(y0: number, y1: number, t0: number, t1: number, h: number): [number, number] {
  const c1 = h * t0;
  const c2 = 3 * (y1 - y0) - h * (2 * t0 + t1);
  const c3 = h * (t0 + t1) - 2 * (y1 - y0);
  const cands = [0, 1];
  // p'(s) = c1 + 2 c2 s + 3 c3 s²
  const a = 3 * c3;
  const b = 2 * c2;
  if (Math.abs(a) < 1e-14 * (Math.abs(b) + Math.abs(c1))) {
    if (b !== 0) cands.push(-c1 / b);
  } else {
    const disc = b * b - 4 * a * c1;
    if (disc >= 0) {
      const q = -0.5 * (b + Math.sign(b || 1) * Math.sqrt(disc));
      cands.push(q / a);
      if (q !== 0) cands.push(c1 / q);
    }
  }
  let best: [number, number] = [0, y0];
  for (const sc of cands) {
    if (!(sc >= 0 && sc <= 1)) continue;
    const v = hermite(y0, y1, t0, t1, h, sc);
    if (v < best[1]) best = [sc, v];
  }
  return best;
}

/** The distinct sizes of a budget's points, ascending: ln N and the mean loss at each. */
function sizeProfile(points: readonly IsoPoint[], members: ArrayLike<number>): { x: number[]; loss: number[] } {
  const byN = new Map<number, { sum: number; n: number }>();
  for (let j = 0; j < members.length; j++) {
    const p = points[members[j]];
    const c = byN.get(p.N);
    if (c) {
      c.sum += p.loss;
      c.n++;
    } else byN.set(p.N, { sum: p.loss, n: 1 });
  }
  const sizes = [...byN.keys()].sort((a, b) => a - b);
  return { x: sizes.map(Math.log), loss: sizes.map((n) => byN.get(n)!.sum / byN.get(n)!.n) };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : 0.5 * (s[h - 1] + s[h]);
}

/**
 * Fits one budget group (the points given by `members`, optionally repeated for a resample). The
 * optimum is estimated with `opt.method`; a budget whose lowest loss is at its smallest or largest
 * size is 'edge' (not bracketed) whatever the method.
 */
export function fitGroup(points: readonly IsoPoint[], members: ArrayLike<number>, budget: number, k: number, opt: OptimumOptions = DEFAULT_OPTIMUM, withCurve = false): GroupFit {
  const m = members.length;
  const x = new Float64Array(m);
  const y = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    const p = points[members[j]];
    x[j] = Math.log(p.N);
    y[j] = p.loss;
  }
  const prof = sizeProfile(points, members);
  const n = prof.x.length;
  const minN = Math.exp(prof.x[0]);
  const maxN = Math.exp(prof.x[n - 1]);
  const steps: number[] = [];
  for (let i = 1; i < n; i++) steps.push(prof.x[i] - prof.x[i - 1]);
  const base: GroupFit = { status: 'ok', budget, minN, maxN, distinctSizes: n, ...(steps.length ? { logStep: median(steps) } : {}) };
  if (n < 3) return { ...base, status: 'too-few-sizes' };
  let iMin = 0;
  for (let i = 1; i < n; i++) if (prof.loss[i] < prof.loss[iMin]) iMin = i;
  const bracketed = iMin > 0 && iMin < n - 1;
  const edgeInfo = bracketed ? { bracketed } : { bracketed, edge: iMin === 0 ? ('smaller' as const) : ('larger' as const) };
  const quad = fitQuadratic(x, y);
  const global = quad ? { quad, curvature: 2 * quad.c2, convex: quad.p2 > 0 } : {};
  const finish = (xStar: number, lossOpt: number, curve?: { x: number[]; y: number[] }): GroupFit => {
    const nOpt = Math.exp(xStar);
    const dOpt = budget / (k * nOpt);
    if (![nOpt, lossOpt, dOpt].every((v) => Number.isFinite(v) && v > 0)) return { ...base, ...global, ...edgeInfo, status: 'singular' };
    const interior = nOpt >= minN * (1 - 1e-12) && nOpt <= maxN * (1 + 1e-12);
    const status: GroupStatus = bracketed && interior ? 'ok' : 'edge';
    return { ...base, ...global, ...edgeInfo, status, nOpt, dOpt, lossOpt, interior, ...(withCurve && curve ? { curve } : {}) };
  };
  const parabolaCurve = (q: QuadraticFit, lo: number, hi: number) => {
    const xs = Array.from({ length: 33 }, (_, i) => lo + ((hi - lo) * i) / 32);
    return { x: xs, y: xs.map((v) => q.p0 + q.p1 * (v - q.center) + q.p2 * (v - q.center) ** 2) };
  };
  if (opt.method === 'parabola') {
    if (!quad) return { ...base, ...edgeInfo, status: 'singular' };
    if (!(quad.p2 > 0)) return { ...base, ...global, ...edgeInfo, status: 'not-convex' };
    const t = -quad.p1 / (2 * quad.p2);
    const pad = 0.5 * (prof.x[n - 1] - prof.x[0]);
    return finish(quad.center + t, quad.p0 - (quad.p1 * quad.p1) / (4 * quad.p2), parabolaCurve(quad, prof.x[0] - pad * 0.4, prof.x[n - 1] + pad * 0.4));
  }
  if (!bracketed) {
    // the best size tried is an end: that end is a bound on the optimum, not an estimate
    return finish(prof.x[iMin], prof.loss[iMin]);
  }
  if (opt.method === 'local-parabola') {
    const lo = Math.max(0, iMin - opt.window);
    const hi = Math.min(n - 1, iMin + opt.window);
    const q = fitQuadratic(prof.x.slice(lo, hi + 1), prof.loss.slice(lo, hi + 1));
    if (!q) return { ...base, ...global, ...edgeInfo, status: 'singular' };
    if (!(q.p2 > 0)) return { ...base, ...global, ...edgeInfo, status: 'not-convex' };
    return finish(q.center - q.p1 / (2 * q.p2), q.p0 - (q.p1 * q.p1) / (4 * q.p2), parabolaCurve(q, prof.x[lo], prof.x[hi]));
  }
  // Akima interpolant of ln L; its minimum lies on one of the two intervals beside the lowest size.
  const ly = prof.loss.map(Math.log);
  const t = akimaSlopes(prof.x, ly);
  let bestX = prof.x[iMin];
  let bestY = ly[iMin];
  for (const i of [iMin - 1, iMin]) {
    const h = prof.x[i + 1] - prof.x[i];
    const [sx, v] = hermiteMin(ly[i], ly[i + 1], t[i], t[i + 1], h);
    if (v < bestY) {
      bestY = v;
      bestX = prof.x[i] + sx * h;
    }
  }
  let curve: { x: number[]; y: number[] } | undefined;
  if (withCurve) {
    curve = { x: [], y: [] };
    for (let i = 0; i < n - 1; i++) {
      const h = prof.x[i + 1] - prof.x[i];
      for (let j = 0; j < 8; j++) {
        curve.x.push(prof.x[i] + (h * j) / 8);
        curve.y.push(Math.exp(hermite(ly[i], ly[i + 1], t[i], t[i + 1], h, j / 8)));
      }
    }
    curve.x.push(prof.x[n - 1]);
    curve.y.push(prof.loss[n - 1]);
  }
  return finish(bestX, Math.exp(bestY), curve);
}

/**
 * The noise of ln L, pooled over budgets: the root mean square of the residuals of ln L about a
 * parabola through the lowest-loss size and up to 2 sizes on each side (budgets with at least 4
 * distinct sizes; residual degrees of freedom = points − 3). Undefined when no budget has 4 sizes.
 * Any curvature the parabola misses counts as noise, so this errs on the large side.
 */
export function logLossNoise(points: readonly IsoPoint[], groups: readonly BudgetGroup[]): { sigma: number; dof: number } | undefined {
  let sse = 0;
  let dof = 0;
  for (const g of groups) {
    const prof = sizeProfile(points, g.members);
    const n = prof.x.length;
    if (n < 4) continue;
    let iMin = 0;
    for (let i = 1; i < n; i++) if (prof.loss[i] < prof.loss[iMin]) iMin = i;
    let lo = Math.max(0, iMin - 2);
    let hi = Math.min(n - 1, iMin + 2);
    while (hi - lo < 3) {
      if (lo > 0) lo--;
      else hi++;
    }
    const xs = prof.x.slice(lo, hi + 1);
    const ys = prof.loss.slice(lo, hi + 1).map(Math.log);
    const q = fitQuadratic(xs, ys);
    if (!q) continue;
    xs.forEach((x, i) => {
      const t = x - q.center;
      sse += (ys[i] - (q.p0 + q.p1 * t + q.p2 * t * t)) ** 2;
    });
    dof += xs.length - 3;
  }
  return dof > 0 ? { sigma: Math.sqrt(sse / dof), dof } : undefined;
}

export interface LineFit {
  slope: number;
  intercept: number;
  /** coefficient of determination, when there are at least 3 points */
  r2?: number;
}

/** Ordinary least squares y = intercept + slope·x (at least 2 distinct x). */
export function fitLine(x: ArrayLike<number>, y: ArrayLike<number>): LineFit | undefined {
  const n = x.length;
  if (n < 2) return undefined;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (!(sxx > 1e-24 * Math.max(1, mx * mx))) return undefined;
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  if (!Number.isFinite(slope) || !Number.isFinite(intercept)) return undefined;
  const fit: LineFit = { slope, intercept };
  if (n >= 3) {
    let sse = 0;
    for (let i = 0; i < n; i++) {
      const e = y[i] - intercept - slope * x[i];
      sse += e * e;
    }
    fit.r2 = syy > 0 ? 1 - sse / syy : 1;
  }
  return fit;
}

export interface IsoflopLaws {
  /** ln N_opt = logCoefficient + a·ln C */
  n: LineFit;
  /** ln D_opt = dLogCoefficient + b·ln C */
  d: LineFit;
  /** ln L_opt = lossLogCoefficient + lossExponent·ln C */
  loss: LineFit;
}

/** Power laws through the usable groups' optima (undefined with fewer than 2). */
export function fitIsoflopLaws(groups: readonly GroupFit[], used?: readonly number[]): IsoflopLaws | undefined {
  const ok = used ? used.map((i) => groups[i]).filter((g) => g.nOpt !== undefined) : groups.filter((g) => g.status === 'ok');
  if (used && ok.length !== used.length) return undefined;
  if (ok.length < 2) return undefined;
  const lc = ok.map((g) => Math.log(g.budget));
  const n = fitLine(lc, ok.map((g) => Math.log(g.nOpt!)));
  const d = fitLine(lc, ok.map((g) => Math.log(g.dOpt!)));
  const loss = fitLine(lc, ok.map((g) => Math.log(g.lossOpt!)));
  if (!n || !d || !loss) return undefined;
  return { n, d, loss };
}
