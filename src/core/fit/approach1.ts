/**
 * Chinchilla Approach 1: the lower envelope of all training curves. Every evaluation point of every
 * run is a (C = k·N·tokens, loss) pair; at log-spaced FLOP values the lowest loss over all runs
 * (each curve interpolated linearly in ln C between its evaluations, never extrapolated) picks the
 * run that attains it, whose N and D = C/(k·N) are the optimum there. N_opt ∝ C^a and D_opt ∝ C^b
 * are then fitted by least squares in log space, with intervals from a seeded bootstrap over runs.
 *
 * Caveat (Hoffmann et al. 2022): a point before the end of a run whose learning-rate schedule was
 * set for a longer horizon is not compute-optimal (its learning rate has not decayed), so the
 * envelope from intermediate points favours larger models. `restrict: 'final'` uses each run's last
 * evaluation only; `restrict: 'after'` the points after `afterFraction` of the run's planned tokens.
 * Pure TypeScript.
 */
import { summarise } from './bootstrap';
import type { Approach1Fit } from './extraTypes';
import { Rng } from './rng';
import { FitInputError } from './types';
import { lstsq } from './vpnls';

export interface TrainingCurve {
  id: string;
  /** parameters */
  N: number;
  /** planned training tokens (the schedule's horizon) */
  plannedTokens: number;
  /** evaluations: tokens seen and held-out loss, in training order */
  points: { tokens: number; loss: number }[];
}

export type Approach1Restrict = 'final' | 'after' | 'all';

export interface Approach1Options {
  restrict?: Approach1Restrict;
  /** with restrict 'after': keep points with tokens ≥ afterFraction·plannedTokens; default 0.8 */
  afterFraction?: number;
  /** FLOPs per parameter per token; default 6 */
  k?: number;
  /** log-spaced FLOP values of the envelope; default 40 */
  gridPoints?: number;
  bootstrap?: number;
  confidence?: number;
  seed?: number;
}

interface Curve {
  id: string;
  N: number;
  lc: number[];
  loss: number[];
}

function candidates(curves: readonly TrainingCurve[], restrict: Approach1Restrict, after: number, k: number): Curve[] {
  const out: Curve[] = [];
  for (const c of curves) {
    let pts = c.points.filter((p) => p.tokens > 0 && p.loss > 0 && Number.isFinite(p.loss));
    if (pts.length === 0) continue;
    if (restrict === 'final') pts = [pts[pts.length - 1]];
    else if (restrict === 'after') pts = pts.filter((p) => p.tokens >= after * c.plannedTokens);
    if (pts.length === 0) continue;
    pts = [...pts].sort((a, b) => a.tokens - b.tokens);
    out.push({ id: c.id, N: c.N, lc: pts.map((p) => Math.log(k * c.N * p.tokens)), loss: pts.map((p) => p.loss) });
  }
  return out;
}

/** The envelope at `grid` (ln C values): per value, the lowest interpolated loss and its curve. */
function envelope(curves: readonly Curve[], grid: readonly number[], final: boolean): { lc: number; loss: number; curve: number }[] {
  const out: { lc: number; loss: number; curve: number }[] = [];
  if (final) {
    // one point per run: the Pareto front (no other run reaches a lower loss with fewer FLOPs)
    const pts = curves.map((c, i) => ({ lc: c.lc[0], loss: c.loss[0], curve: i })).sort((a, b) => a.lc - b.lc || a.loss - b.loss);
    let best = Infinity;
    for (const p of pts) {
      if (p.loss < best) {
        out.push(p);
        best = p.loss;
      }
    }
    return out;
  }
  for (const g of grid) {
    let best: { lc: number; loss: number; curve: number } | undefined;
    curves.forEach((c, i) => {
      const n = c.lc.length;
      if (g < c.lc[0] - 1e-12 || g > c.lc[n - 1] + 1e-12) return;
      let loss = c.loss[n - 1];
      for (let j = 0; j < n - 1; j++) {
        if (g <= c.lc[j + 1]) {
          const span = c.lc[j + 1] - c.lc[j];
          const t = span > 0 ? (g - c.lc[j]) / span : 0;
          loss = c.loss[j] + Math.min(1, Math.max(0, t)) * (c.loss[j + 1] - c.loss[j]);
          break;
        }
      }
      if (!best || loss < best.loss) best = { lc: g, loss, curve: i };
    });
    if (best) out.push(best);
  }
  return out;
}

function line(x: readonly number[], y: readonly number[]): { slope: number; intercept: number; r2: number } | undefined {
  if (new Set(x).size < 2) return undefined;
  const n = x.length;
  const c = lstsq([new Float64Array(n).fill(1), Float64Array.from(x)], Float64Array.from(y));
  if (!c) return undefined;
  const mean = y.reduce((a, b) => a + b, 0) / n;
  let ssr = 0;
  let sst = 0;
  for (let i = 0; i < n; i++) {
    ssr += (y[i] - c[0] - c[1] * x[i]) ** 2;
    sst += (y[i] - mean) ** 2;
  }
  return { intercept: c[0], slope: c[1], r2: sst > 0 ? 1 - ssr / sst : 1 };
}

function fitEnvelope(curves: readonly Curve[], grid: readonly number[], final: boolean, k: number) {
  const full = envelope(curves, grid, final);
  // Where the smallest or largest model attains the envelope, the optimum may lie beyond the sizes
  // trained (the envelope is censored there): those points are left out of the fit when enough remain.
  const minN = Math.min(...curves.map((c) => c.N));
  const maxN = Math.max(...curves.map((c) => c.N));
  const inner = full.filter((e) => curves[e.curve].N !== minN && curves[e.curve].N !== maxN);
  const env = new Set(inner.map((e) => e.curve)).size >= 2 ? inner : full;
  const censored = full.length - env.length;
  const distinctRuns = new Set(env.map((e) => e.curve)).size;
  if (env.length < 2 || distinctRuns < 2) return undefined;
  const x = env.map((e) => e.lc);
  const n = line(
    x,
    env.map((e) => Math.log(curves[e.curve].N)),
  );
  const d = line(
    x,
    env.map((e) => e.lc - Math.log(k) - Math.log(curves[e.curve].N)),
  );
  if (!n || !d) return undefined;
  return { env, n, d, distinctRuns, censored };
}

/** Approach 1 from training curves. Throws FitInputError when no envelope can be fitted. */
export function fitApproach1(curves: readonly TrainingCurve[], opts: Approach1Options = {}): Approach1Fit {
  const restrict = opts.restrict ?? 'all';
  const after = opts.afterFraction ?? 0.8;
  if (!(after >= 0 && after <= 1)) throw new FitInputError(`Approach 1: afterFraction must be between 0 and 1, got ${after}`);
  const k = opts.k ?? 6;
  const gridPoints = opts.gridPoints ?? 40;
  const cands = candidates(curves, restrict, after, k);
  if (cands.length < 2) throw new FitInputError(`Approach 1 needs the evaluation curves of at least 2 runs; found ${cands.length}${restrict !== 'all' ? ` after restricting to ${restrict === 'final' ? 'final points' : `points after ${after * 100} % of each run`}` : ''}`);
  const lo = Math.min(...cands.map((c) => c.lc[0]));
  const hi = Math.max(...cands.map((c) => c.lc[c.lc.length - 1]));
  const grid = Array.from({ length: gridPoints }, (_, i) => lo + ((hi - lo) * i) / Math.max(1, gridPoints - 1));
  const final = restrict === 'final';
  const f = fitEnvelope(cands, grid, final, k);
  if (!f) throw new FitInputError('Approach 1: the lower envelope is attained by fewer than 2 runs, so N_opt(C) cannot be fitted (train more sizes)');
  const warnings: string[] = [];
  if (restrict === 'all') {
    warnings.push(
      'Approach 1 uses every evaluation point: a point before the end of a run whose learning-rate schedule was set for a longer horizon is not compute-optimal, which favours larger models; restrict it to final points (--approach1 final) or to the late part of each run (--approach1 after:0.8)',
    );
  }
  if (f.censored > 0) warnings.push(`Approach 1: ${f.censored} envelope point(s) attained by the smallest or largest model were left out (the optimum may lie beyond the sizes trained there)`);
  if (f.distinctRuns < 3) warnings.push(`Approach 1: the envelope is attained by only ${f.distinctRuns} runs; the exponents rest on very few models`);
  const intervals: Record<string, [number, number]> = {};
  const bootstrap = opts.bootstrap ?? 0;
  if (bootstrap > 0) {
    const rng = new Rng(opts.seed ?? 0, 21);
    const as: number[] = [];
    const bs: number[] = [];
    for (let s = 0; s < bootstrap; s++) {
      const pick: Curve[] = [];
      for (let i = 0; i < cands.length; i++) pick.push(cands[rng.int(cands.length)]);
      const r = fitEnvelope(pick, grid, final, k);
      if (!r) continue;
      as.push(r.n.slope);
      bs.push(r.d.slope);
    }
    const ia = summarise(as, opts.confidence ?? 0.95).interval;
    const ib = summarise(bs, opts.confidence ?? 0.95).interval;
    if (ia) intervals['nOpt.exponent'] = ia;
    if (ib) intervals['dOpt.exponent'] = ib;
    if (as.length < bootstrap) warnings.push(`Approach 1 bootstrap: ${bootstrap - as.length} of ${bootstrap} resamples had an envelope of fewer than 2 runs and are excluded`);
  }
  const law = (l: { slope: number; intercept: number; r2: number }) => ({ exponent: l.slope, logCoefficient: l.intercept, coefficient: Math.exp(l.intercept), r2: l.r2 });
  return {
    restrict,
    ...(restrict === 'after' ? { afterFraction: after } : {}),
    envelope: f.env.map((e) => {
      const c = cands[e.curve];
      const C = Math.exp(e.lc);
      return { C, loss: e.loss, N: c.N, D: C / (k * c.N), run: c.id };
    }),
    runs: cands.length,
    nOpt: law(f.n),
    dOpt: law(f.d),
    ...(Object.keys(intervals).length ? { intervals } : {}),
    warnings,
  };
}
