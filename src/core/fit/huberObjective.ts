/**
 * The parametric fit's objective: Σ Huber_δ(log L − log L̂) and its analytic gradient in
 * [a, b, e, α, β], as a WebAssembly SIMD kernel where available and a scalar TypeScript kernel
 * (with its own fast exp and log) otherwise.
 */
import { HUBER_DELTA, type ParametricData } from './parametric';
import { makeWasmHuberObjective } from './wasmObjective';

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
