/**
 * Chinchilla Approach 2 (IsoFLOP profiles). Runs whose compute budgets agree within a tolerance
 * form one group; per group the loss is fitted as a quadratic in x = ln N and the vertex gives
 * N_opt (D_opt = C/(k·N_opt), so C = k·N·D holds exactly). Across groups, ln N_opt, ln D_opt and
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

export type GroupStatus = 'ok' | 'too-few-sizes' | 'singular' | 'not-convex';

export interface GroupFit {
  status: GroupStatus;
  budget: number;
  quad?: QuadraticFit;
  nOpt?: number;
  dOpt?: number;
  lossOpt?: number;
  /** d²L/d(ln N)² = 2·c2 */
  curvature?: number;
  convex?: boolean;
  interior?: boolean;
  minN: number;
  maxN: number;
  distinctSizes: number;
}

/** Fits one budget group (the points given by `members`, optionally repeated for a resample). */
export function fitGroup(points: readonly IsoPoint[], members: ArrayLike<number>, budget: number, k: number): GroupFit {
  const m = members.length;
  const x = new Float64Array(m);
  const y = new Float64Array(m);
  let minN = Infinity;
  let maxN = -Infinity;
  const distinct = new Set<number>();
  for (let j = 0; j < m; j++) {
    const p = points[members[j]];
    x[j] = Math.log(p.N);
    y[j] = p.loss;
    distinct.add(p.N);
    if (p.N < minN) minN = p.N;
    if (p.N > maxN) maxN = p.N;
  }
  const base = { budget, minN, maxN, distinctSizes: distinct.size };
  if (distinct.size < 3) return { ...base, status: 'too-few-sizes' };
  const quad = fitQuadratic(x, y);
  if (!quad) return { ...base, status: 'singular' };
  const curvature = 2 * quad.c2;
  const convex = quad.p2 > 0;
  if (!convex) return { ...base, status: 'not-convex', quad, curvature, convex };
  const tStar = -quad.p1 / (2 * quad.p2);
  const xStar = quad.center + tStar;
  const nOpt = Math.exp(xStar);
  const lossOpt = quad.p0 - (quad.p1 * quad.p1) / (4 * quad.p2);
  const dOpt = budget / (k * nOpt);
  if (![nOpt, lossOpt, dOpt].every((v) => Number.isFinite(v) && v > 0)) return { ...base, status: 'singular', quad, curvature, convex };
  const interior = nOpt >= minN && nOpt <= maxN;
  return { ...base, status: 'ok', quad, nOpt, dOpt, lossOpt, curvature, convex, interior };
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
export function fitIsoflopLaws(groups: readonly GroupFit[]): IsoflopLaws | undefined {
  const ok = groups.filter((g) => g.status === 'ok');
  if (ok.length < 2) return undefined;
  const lc = ok.map((g) => Math.log(g.budget));
  const n = fitLine(lc, ok.map((g) => Math.log(g.nOpt!)));
  const d = fitLine(lc, ok.map((g) => Math.log(g.dOpt!)));
  const loss = fitLine(lc, ok.map((g) => Math.log(g.lossOpt!)));
  if (!n || !d || !loss) return undefined;
  return { n, d, loss };
}
