/**
 * Limited-memory BFGS (unconstrained) with a strong-Wolfe line search (Nocedal & Wright,
 * Algorithms 3.5/3.6, safeguarded cubic interpolation). Written for many small problems: one
 * `Lbfgs` instance owns every work array, and `minimize` allocates nothing in its inner loop, so
 * a 4500-start multi-start costs only objective evaluations.
 *
 * Stopping rules follow scipy's L-BFGS-B so that both find the same optima:
 *   - max |g_i| ≤ gtol                                        (converged: 'gradient')
 *   - (f_k − f_{k+1}) ≤ ftol · max(|f_k|, |f_{k+1}|, 1)          (converged: 'ftol')
 *   - iterations ≥ maxIter or evaluations ≥ maxEval              (not converged)
 *   - the line search cannot make progress even along −g         (not converged: 'linesearch')
 * Pure TypeScript.
 */

/** Writes the gradient at x into g and returns f(x). */
export type ObjectiveGradient = (x: Float64Array, g: Float64Array) => number;

export interface LbfgsOptions {
  /** number of correction pairs kept (scipy: maxcor = 10) */
  memory?: number;
  maxIter?: number;
  maxEval?: number;
  /** projected-gradient tolerance (scipy: gtol/pgtol = 1e-5) */
  gtol?: number;
  /** relative reduction tolerance (scipy: ftol = factr·eps = 2.220446049250313e-09) */
  ftol?: number;
  /**
   * floor of the scale in the ftol test, max(|f_k|, |f_{k+1}|, fScale); scipy uses 1, which makes
   * the test absolute for objectives much smaller than 1 (use 0 for a purely relative test)
   */
  fScale?: number;
  /** sufficient-decrease and curvature constants of the strong Wolfe conditions */
  c1?: number;
  c2?: number;
  maxLineSearch?: number;
  /**
   * 'strong' (default, like L-BFGS-B): |φ'(t)| ≤ c2·|φ'(0)|; 'weak': φ'(t) ≥ c2·φ'(0), which
   * accepts long steps across the kinks of a Huber objective and saves evaluations
   */
  wolfe?: 'strong' | 'weak';
}

export type LbfgsReason = 'gradient' | 'ftol' | 'maxiter' | 'maxeval' | 'linesearch' | 'nonfinite';

export interface LbfgsResult {
  f: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
  reason: LbfgsReason;
  /** max |g_i| at the solution */
  gradMax: number;
}

export class Lbfgs {
  readonly n: number;
  private readonly m: number;
  private readonly maxIter: number;
  private readonly maxEval: number;
  private readonly gtol: number;
  private readonly ftol: number;
  private readonly fScale: number;
  private readonly c1: number;
  private readonly c2: number;
  private readonly maxLs: number;
  private readonly weak: boolean;

  private readonly g: Float64Array;
  private readonly d: Float64Array;
  private readonly xt: Float64Array;
  private readonly gt: Float64Array;
  private readonly xPrev: Float64Array;
  private readonly gPrev: Float64Array;
  private readonly S: Float64Array;
  private readonly Y: Float64Array;
  private readonly rho: Float64Array;
  private readonly alpha: Float64Array;

  private evals = 0;

  constructor(n: number, opts: LbfgsOptions = {}) {
    this.n = n;
    this.m = opts.memory ?? 10;
    this.maxIter = opts.maxIter ?? 15000;
    this.maxEval = opts.maxEval ?? 15000;
    this.gtol = opts.gtol ?? 1e-5;
    this.ftol = opts.ftol ?? 2.220446049250313e-9;
    this.fScale = opts.fScale ?? 1;
    this.c1 = opts.c1 ?? 1e-4;
    this.c2 = opts.c2 ?? 0.9;
    this.maxLs = opts.maxLineSearch ?? 30;
    this.weak = opts.wolfe === 'weak';
    this.g = new Float64Array(n);
    this.d = new Float64Array(n);
    this.xt = new Float64Array(n);
    this.gt = new Float64Array(n);
    this.xPrev = new Float64Array(n);
    this.gPrev = new Float64Array(n);
    this.S = new Float64Array(this.m * n);
    this.Y = new Float64Array(this.m * n);
    this.rho = new Float64Array(this.m);
    this.alpha = new Float64Array(this.m);
  }

  /** Minimises fg starting from x; x is overwritten with the solution. */
  minimize(fg: ObjectiveGradient, x: Float64Array): LbfgsResult {
    const n = this.n;
    const { g, d, xPrev, gPrev, S, Y, rho, alpha } = this;
    const m = this.m;
    this.evals = 0;
    let f = fg(x, g);
    this.evals++;
    if (!Number.isFinite(f)) return { f, iterations: 0, evaluations: 1, converged: false, reason: 'nonfinite', gradMax: Infinity };
    let gmax = maxAbs(g, n);
    if (gmax <= this.gtol) return { f, iterations: 0, evaluations: 1, converged: true, reason: 'gradient', gradMax: gmax };

    let stored = 0; // number of pairs in memory
    let head = 0; // index of the oldest pair
    let iter = 0;
    let reason: LbfgsReason = 'maxiter';
    let steepestRetry = false;

    while (iter < this.maxIter) {
      // Two-loop recursion: d = −H·g.
      for (let i = 0; i < n; i++) d[i] = -g[i];
      let gamma = 1;
      if (stored > 0) {
        // (ring-buffer indices without %, an integer division per use)
        for (let k = stored - 1; k >= 0; k--) {
          let j = head + k;
          if (j >= m) j -= m;
          const off = j * n;
          let sd = 0;
          for (let i = 0; i < n; i++) sd += S[off + i] * d[i];
          const a = rho[j] * sd;
          alpha[j] = a;
          for (let i = 0; i < n; i++) d[i] -= a * Y[off + i];
        }
        let lastSlot = head + stored - 1;
        if (lastSlot >= m) lastSlot -= m;
        const last = lastSlot * n;
        let sy = 0;
        let yy = 0;
        for (let i = 0; i < n; i++) {
          sy += S[last + i] * Y[last + i];
          yy += Y[last + i] * Y[last + i];
        }
        gamma = sy / yy;
        for (let i = 0; i < n; i++) d[i] *= gamma;
        for (let k = 0; k < stored; k++) {
          let j = head + k;
          if (j >= m) j -= m;
          const off = j * n;
          let yd = 0;
          for (let i = 0; i < n; i++) yd += Y[off + i] * d[i];
          const b = rho[j] * yd;
          const a = alpha[j] - b;
          for (let i = 0; i < n; i++) d[i] += a * S[off + i];
        }
      }
      let dphi0 = 0;
      for (let i = 0; i < n; i++) dphi0 += g[i] * d[i];
      if (!(dphi0 < 0)) {
        // Not a descent direction (numerical trouble): restart from steepest descent.
        stored = 0;
        head = 0;
        for (let i = 0; i < n; i++) d[i] = -g[i];
        dphi0 = 0;
        for (let i = 0; i < n; i++) dphi0 -= g[i] * g[i];
      }
      let step = 1;
      if (stored === 0) {
        // First step (or a restart): scale like L-BFGS-B, 1/||d||.
        let dn = 0;
        for (let i = 0; i < n; i++) dn += d[i] * d[i];
        step = Math.min(1, 1 / Math.sqrt(dn));
      }
      for (let i = 0; i < n; i++) {
        xPrev[i] = x[i];
        gPrev[i] = g[i];
      }
      const fPrev = f;
      const fNew = this.lineSearch(fg, x, f, dphi0, step);
      if (Number.isNaN(fNew)) {
        // Line search failed: x and g are unchanged (restored from xPrev/gPrev).
        for (let i = 0; i < n; i++) {
          x[i] = xPrev[i];
          g[i] = gPrev[i];
        }
        if (stored > 0 && !steepestRetry) {
          stored = 0;
          head = 0;
          steepestRetry = true;
          continue;
        }
        reason = this.evals >= this.maxEval ? 'maxeval' : 'linesearch';
        break;
      }
      steepestRetry = false;
      f = fNew;
      iter++;
      // Store the correction pair if the curvature condition holds.
      let sy = 0;
      let yy = 0;
      let slot = head;
      if (stored < m) {
        slot = head + stored;
        if (slot >= m) slot -= m;
      }
      const off = slot * n;
      for (let i = 0; i < n; i++) {
        const s = x[i] - xPrev[i];
        const y = g[i] - gPrev[i];
        S[off + i] = s;
        Y[off + i] = y;
        sy += s * y;
        yy += y * y;
      }
      if (sy > 2.220446049250313e-16 * yy) {
        rho[slot] = 1 / sy;
        if (stored < m) stored++;
        else if (++head === m) head = 0;
      }
      gmax = maxAbs(g, n);
      if (gmax <= this.gtol) {
        reason = 'gradient';
        break;
      }
      if (fPrev - f <= this.ftol * Math.max(Math.abs(fPrev), Math.abs(f), this.fScale)) {
        reason = 'ftol';
        break;
      }
      if (this.evals >= this.maxEval) {
        reason = 'maxeval';
        break;
      }
    }
    return {
      f,
      iterations: iter,
      evaluations: this.evals,
      converged: reason === 'gradient' || reason === 'ftol',
      reason,
      gradMax: maxAbs(g, n),
    };
  }

  /**
   * Strong-Wolfe line search along this.d from x (value f0, slope dphi0 < 0). On success writes
   * the new point into x and its gradient into this.g and returns f; on failure returns NaN.
   */
  private lineSearch(fg: ObjectiveGradient, x: Float64Array, f0: number, dphi0: number, step0: number): number {
    const n = this.n;
    const { d, xt, gt, g, xPrev } = this;
    const c1 = this.c1;
    const c2 = this.c2;
    let aPrev = 0;
    let fPrevA = f0;
    let dPrevA = dphi0;
    let a = step0;
    let lo = 0;
    let hi = 0;
    let fLo = f0;
    let fHi = 0;
    let dLo = dphi0;
    let dHi = 0;
    let zoom = false;
    let bestA = 0;
    let bestF = f0;
    for (let it = 0; it < this.maxLs && this.evals < this.maxEval; it++) {
      for (let i = 0; i < n; i++) xt[i] = xPrev[i] + a * d[i];
      const fa = fg(xt, gt);
      this.evals++;
      let da = 0;
      for (let i = 0; i < n; i++) da += gt[i] * d[i];
      const finite = Number.isFinite(fa) && Number.isFinite(da);
      if (finite && fa <= f0 + c1 * a * dphi0 && fa < bestF) {
        bestF = fa;
        bestA = a;
      }
      if (!zoom) {
        if (!finite || fa > f0 + c1 * a * dphi0 || (it > 0 && fa >= fPrevA)) {
          lo = aPrev;
          fLo = fPrevA;
          dLo = dPrevA;
          hi = a;
          fHi = fa;
          dHi = da;
          zoom = true;
        } else if (Math.abs(da) <= -c2 * dphi0 || (this.weak && da >= c2 * dphi0)) {
          return this.accept(x, fa);
        } else if (da >= 0) {
          lo = a;
          fLo = fa;
          dLo = da;
          hi = aPrev;
          fHi = fPrevA;
          dHi = dPrevA;
          zoom = true;
        } else {
          // Extrapolate: cubic step clamped to [1.1a, 4a] beyond a.
          const next = cubicMin(aPrev, fPrevA, dPrevA, a, fa, da);
          const lower = a + 1.1 * (a - aPrev);
          const upper = a + 4 * (a - aPrev);
          aPrev = a;
          fPrevA = fa;
          dPrevA = da;
          a = Number.isFinite(next) && next > lower ? Math.min(next, upper) : upper;
          continue;
        }
      } else {
        if (!finite || fa > f0 + c1 * a * dphi0 || fa >= fLo) {
          hi = a;
          fHi = fa;
          dHi = da;
        } else {
          if (Math.abs(da) <= -c2 * dphi0 || (this.weak && da >= c2 * dphi0)) return this.accept(x, fa);
          if (da * (hi - lo) >= 0) {
            hi = lo;
            fHi = fLo;
            dHi = dLo;
          }
          lo = a;
          fLo = fa;
          dLo = da;
        }
      }
      // Next trial inside [lo, hi]: safeguarded cubic interpolation, else bisection.
      const width = hi - lo;
      if (Math.abs(width) <= 1e-16 * Math.max(1, Math.abs(lo))) break;
      let next = Number.isFinite(fHi) && Number.isFinite(dHi) ? cubicMin(lo, fLo, dLo, hi, fHi, dHi) : NaN;
      const left = Math.min(lo, hi);
      const right = Math.max(lo, hi);
      const margin = 0.1 * (right - left);
      if (!Number.isFinite(next) || next < left + margin || next > right - margin) next = 0.5 * (lo + hi);
      a = next;
    }
    // No strong-Wolfe point: accept the best point with sufficient decrease, if any.
    if (bestA > 0 && bestF < f0) {
      for (let i = 0; i < n; i++) xt[i] = xPrev[i] + bestA * d[i];
      const f = fg(xt, gt);
      this.evals++;
      if (Number.isFinite(f)) return this.accept(x, f);
    }
    for (let i = 0; i < n; i++) g[i] = this.gPrev[i];
    return NaN;
  }

  private accept(x: Float64Array, f: number): number {
    const { xt, gt, g } = this;
    for (let i = 0; i < this.n; i++) {
      x[i] = xt[i];
      g[i] = gt[i];
    }
    return f;
  }
}

function maxAbs(v: Float64Array, n: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(v[i]);
    if (a > m || Number.isNaN(a)) m = a;
  }
  return m;
}

/** Minimiser of the cubic interpolating f and f' at a and b (NaN when it has none). */
function cubicMin(a: number, fa: number, da: number, b: number, fb: number, db: number): number {
  const d1 = da + db - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - da * db;
  if (!(disc >= 0)) return NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(disc);
  const denom = db - da + 2 * d2;
  if (denom === 0) return NaN;
  return b - (b - a) * ((db + d2 - d1) / denom);
}
