/**
 * Akima (1970) interpolation for the IsoFLOP optimum: the node derivatives, and the value and
 * minimum of a cubic Hermite piece.
 */

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
export function hermite(y0: number, y1: number, t0: number, t1: number, h: number, s: number): number {
  const c2 = 3 * (y1 - y0) - h * (2 * t0 + t1);
  const c3 = h * (t0 + t1) - 2 * (y1 - y0);
  return y0 + s * (h * t0 + s * (c2 + s * c3));
}

/** Minimum of the Hermite piece over s ∈ [0, 1]: [s, value]. */
export function hermiteMin(y0: number, y1: number, t0: number, t1: number, h: number): [number, number] {
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
