/** Small least-squares fits for the IsoFLOP method: a (weighted) quadratic and a (weighted) line. */

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

export interface LineFit {
  slope: number;
  intercept: number;
  /** coefficient of determination, when there are at least 3 points */
  r2?: number;
}

/** (Weighted) least squares y = intercept + slope·x (at least 2 distinct x). */
export function fitLine(x: ArrayLike<number>, y: ArrayLike<number>, w?: ArrayLike<number>): LineFit | undefined {
  const n = x.length;
  if (n < 2) return undefined;
  let mx = 0;
  let my = 0;
  let sw = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i] : 1;
    sw += wi;
    mx += wi * x[i];
    my += wi * y[i];
  }
  if (!(sw > 0)) return undefined;
  mx /= sw;
  my /= sw;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i] : 1;
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxx += wi * dx * dx;
    sxy += wi * dx * dy;
    syy += wi * dy * dy;
  }
  if (!(sxx > 1e-24 * sw * Math.max(1, mx * mx))) return undefined;
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  if (!Number.isFinite(slope) || !Number.isFinite(intercept)) return undefined;
  const fit: LineFit = { slope, intercept };
  if (n >= 3) {
    let sse = 0;
    for (let i = 0; i < n; i++) {
      const e = y[i] - intercept - slope * x[i];
      sse += (w ? w[i] : 1) * e * e;
    }
    fit.r2 = syy > 0 ? 1 - sse / syy : 1;
  }
  return fit;
}
