/**
 * The bootstrap of a fit: resamples each method's fit (IsoFLOP within budgets or by loss noise,
 * parametric and VPNLS by rows), collects the derived quantities of every resample and summarises
 * them as intervals and standard errors; weighted IsoFLOP power laws are refitted from its spread.
 */
import { bootstrapCountWarning, summarise } from './bootstrap';
import { fmt } from './format';
import { fitGroup, fitIsoflopLaws, logLossNoise, type BudgetGroup, type GroupFit } from './isoflop';
import { applyLaws, type IsoState } from './isoflopMethod';
import type { Resolved } from './options';
import { START_GRID_SIZE } from './parametric';
import { BOOTSTRAP_GRID_STARTS, BOOTSTRAP_WARM_OPTIMA, type ParamState, type ResampleFit } from './parametricMethod';
import { frontierQuantities, isoQuantities, paramQuantities } from './quantities';
import { Rng } from './rng';
import type { FitSteps } from './steps';
import type { BootstrapReport, FitPoint, FrontierFit, Interval } from './types';
import { vpnlsResampleParams, type VpnlsState } from './vpnls';

/** How the IsoFLOP bootstrap of the 'akima' and 'local-parabola' optima works, in words. */
export const ISOFLOP_NOISE_BOOTSTRAP =
  'IsoFLOP: each point\'s ln L is perturbed by Gaussian noise of the σ estimated from the scatter of ln L about local parabolas (pooled over budgets) and every budget\'s optimum re-estimated (a used budget whose lowest loss moves to an end size takes that size, counted in the warnings). ';
export const BOOTSTRAP_STRATEGY =
  'IsoFLOP (optimum "parabola"): points are resampled within each budget (redrawn until a budget has 3 distinct sizes); a resample in which a used budget has no bracketed optimum fails. ' +
  `Parametric: rows are resampled (E held at most at each resample's lowest loss); each resample starts L-BFGS from the full-data optimum, the next ${BOOTSTRAP_WARM_OPTIMA - 1} distinct local optima of the ` +
  `full-data multi-start and ${BOOTSTRAP_GRID_STARTS} evenly strided points of the ${START_GRID_SIZE}-point grid, keeping the best and polishing it`;

export interface BootstrapInput {
  o: Resolved;
  points: readonly FitPoint[];
  groups: readonly BudgetGroup[];
  iso?: IsoState;
  par?: ParamState;
  vp?: VpnlsState;
  frontier?: FrontierFit;
  tableBudgets: readonly number[];
  /** The point estimates; with weighted power laws, `iso` and the IsoFLOP estimates are refitted in place. */
  estimates: Record<string, number>;
  /** Filled with every quantity's interval and standard error. */
  summaries: Map<string, { interval?: Interval; se?: number }>;
}

/** The bootstrap as fit steps (the parametric resamples are yielded as one batch to the driver). */
export function* runBootstrapSteps(input: BootstrapInput): FitSteps<BootstrapReport> {
  const { o, points, groups, iso, par, vp, frontier, tableBudgets, estimates, summaries } = input;
  const samples = new Map<string, number[]>();
  const push = (q: Record<string, number>) => {
    for (const [k, v] of Object.entries(q)) {
      let arr = samples.get(k);
      if (!arr) samples.set(k, (arr = []));
      arr.push(v);
    }
  };
  const succeeded: BootstrapReport['succeeded'] = {};
  const failed: BootstrapReport['failed'] = {};
  const bw: string[] = [];
  if (iso) {
    const rng = new Rng(o.seed, 1);
    let ok = 0;
    let bad = 0;
    const noise = o.optimum.method === 'parabola' ? undefined : logLossNoise(points, groups);
    if (noise) {
      bw.push(`IsoFLOP bootstrap: the losses are perturbed by the noise of ln L estimated from the data, σ = ${fmt(noise.sigma)} (${noise.dof} degrees of freedom)`);
    } else if (o.optimum.method !== 'parabola') {
      bw.push('IsoFLOP bootstrap: no budget has 4 or more sizes, so the loss noise cannot be estimated and the optima get no interval; train more sizes per budget');
    }
    const perturbed: FitPoint[] = points.map((p) => ({ ...p }));
    const sampleFits: GroupFit[][] = [];
    let edgeHits = 0;
    for (let s = 0; s < (o.optimum.method === 'parabola' || noise ? o.bootstrap : 0); s++) {
      let fits: GroupFit[];
      if (noise) {
        for (let i = 0; i < points.length; i++) perturbed[i].loss = points[i].loss * Math.exp(noise.sigma * rng.normal());
        fits = groups.map((g) => fitGroup(perturbed, g.members, g.budget, o.k, o.optimum));
      } else {
        fits = groups.map((g, gi) => {
          const m = g.members.length;
          const idx = new Int32Array(m);
          const distinct = new Set<number>();
          // Within-budget resampling, conditioned on the resample still having 3 distinct sizes
          // (redrawn up to 50 times) so that it has a parabola at all.
          for (let tries = 0; tries < 50; tries++) {
            distinct.clear();
            for (let j = 0; j < m; j++) {
              idx[j] = g.members[rng.int(m)];
              distinct.add(points[idx[j]].N);
            }
            if (distinct.size >= 3 || !iso!.used.includes(gi)) break;
          }
          return fitGroup(points, idx, g.budget, o.k, o.optimum);
        });
      }
      // A resample fails when a budget used by the full fit loses its optimum (not convex, or
      // no longer bracketed): dropping it would silently change which budgets the law rests on.
      // With perturbed losses, a used budget whose lowest loss moves to an end size keeps that size
      // as its N_opt (counted and reported): failing such resamples would cut off one tail.
      const edgeHit = noise !== undefined && iso.used.some((gi) => fits[gi].status === 'edge' && fits[gi].nOpt !== undefined);
      const lost = iso.used.some((gi) => fits[gi].nOpt === undefined || (fits[gi].status !== 'ok' && !((noise || o.optimum.keepEdges) && fits[gi].status === 'edge')));
      const laws = lost ? undefined : fitIsoflopLaws(fits, iso.used);
      if (laws && edgeHit) edgeHits++;
      if (!laws) {
        bad++;
        continue;
      }
      ok++;
      if (o.weighted) sampleFits.push(fits);
      push(isoQuantities(fits, iso.used, laws, tableBudgets, o.target, o.k));
      if (frontier) push(frontierQuantities(fits, iso.used, o.target));
    }
    if (edgeHits > 0) {
      bw.push(
        `IsoFLOP bootstrap: in ${edgeHits} of ${ok} resamples the noise moved a used budget's lowest loss to its smallest or largest size, where N_opt was taken as that size; the intervals may be too narrow on that side (add sizes beyond the optimum)`,
      );
    }
    succeeded.isoflop = ok;
    failed.isoflop = bad;
    if (bad > 0) {
      bw.push(
        `IsoFLOP bootstrap: ${bad} of ${o.bootstrap} resamples failed (a used budget's resample had no bracketed optimum) and are excluded from the intervals`,
      );
    }
    const rigid = noise ? [] : iso.used.filter((gi) => new Set(groups[gi].members.map((m) => points[m].N)).size === groups[gi].members.length && groups[gi].members.length <= 3);
    if (rigid.length > 0) {
      bw.push(
        `IsoFLOP bootstrap: ${rigid.length} budget(s) have exactly 3 points at 3 sizes, so every usable resample equals the data and they add no uncertainty to the intervals; train more sizes (or seeds) per budget`,
      );
    }
    const cw = o.optimum.method === 'parabola' || noise ? bootstrapCountWarning('IsoFLOP bootstrap', ok, o.confidence) : undefined;
    if (cw) bw.push(cw);
    if (o.weighted) {
      // Weighted power laws (as Porian et al.): each budget weighted by 1 / the bootstrap variance
      // of its ln N*, for the point estimate and for every resample alike.
      const variances = iso.used.map((gi) => {
        const v = sampleFits.map((f) => Math.log(f[gi].nOpt!));
        const m = v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
        return v.length > 1 ? v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1) : NaN;
      });
      if (variances.every((v) => v > 0 && Number.isFinite(v))) {
        const w = variances.map((v) => 1 / v);
        const laws = fitIsoflopLaws(iso.groupFits, iso.used, w);
        if (laws) {
          iso.laws = laws;
          applyLaws(iso.fit, laws);
          iso.fit.weights = iso.used.map((gi, i) => ({ budget: iso!.groupFits[gi].budget, weight: w[i] }));
          Object.assign(estimates, isoQuantities(iso.groupFits, iso.used, laws, tableBudgets, o.target, o.k));
          for (const key of [...samples.keys()]) if (/^(isoflop\.|prediction\.isoflop\.|table\.isoflop\.)/.test(key)) samples.delete(key);
          for (const f of sampleFits) {
            const l = fitIsoflopLaws(f, iso.used, w);
            if (l) push(isoQuantities(f, iso.used, l, tableBudgets, o.target, o.k));
          }
        }
      } else {
        bw.push('IsoFLOP: --weighted needs a bootstrap spread of ln N* at every used budget (some have none); the power laws are unweighted');
      }
    }
  }
  if (par) {
    const rng = new Rng(o.seed, 2);
    const n = points.length;
    // The draws depend on the rng only, so all of them are made first and fitted as one batch.
    const indices: Int32Array[] = [];
    for (let s = 0; s < o.bootstrap; s++) {
      const idx = new Int32Array(n);
      for (let j = 0; j < n; j++) idx[j] = rng.int(n);
      indices.push(idx);
    }
    const fits = (yield { kind: 'resamples', base: par, indices }) as ResampleFit[];
    let ok = 0;
    let bad = 0;
    for (const p of fits) {
      if (!p) {
        bad++;
        continue;
      }
      ok++;
      push(paramQuantities(p, tableBudgets, o.target, o.k));
    }
    succeeded.parametric = ok;
    failed.parametric = bad;
    if (bad > 0) bw.push(`parametric bootstrap: ${bad} of ${o.bootstrap} resamples failed (no finite optimum with α, β > 0) and are excluded from the intervals`);
    const cw = bootstrapCountWarning('parametric bootstrap', ok, o.confidence);
    if (cw) bw.push(cw);
  }
  if (vp) {
    const rng = new Rng(o.seed, 3);
    const n = points.length;
    let ok = 0;
    let bad = 0;
    for (let s = 0; s < o.bootstrap; s++) {
      const idx = new Int32Array(n);
      for (let j = 0; j < n; j++) idx[j] = rng.int(n);
      const p = vpnlsResampleParams(vp, idx);
      if (!p) {
        bad++;
        continue;
      }
      ok++;
      push(paramQuantities(p, tableBudgets, o.target, o.k, 'vpnls'));
    }
    succeeded.vpnls = ok;
    failed.vpnls = bad;
    if (bad > 0) bw.push(`VPNLS bootstrap: ${bad} of ${o.bootstrap} resamples failed (no allocation: A or B held at 0, or α, β ≤ 0) and are excluded from the intervals`);
    const cw = bootstrapCountWarning('VPNLS bootstrap', ok, o.confidence);
    if (cw) bw.push(cw);
  }
  const intervals: Record<string, Interval> = {};
  const se: Record<string, number | null> = {};
  for (const [name, vals] of samples) {
    const s = summarise(vals, o.confidence);
    // percentiles of finite values are finite unless interpolating between them overflowed
    const interval = s.interval && s.interval.every(Number.isFinite) ? s.interval : undefined;
    if (interval) summaries.set(name, { interval, se: s.se });
    if (name.startsWith('table.')) continue; // table intervals live on the table rows
    if (interval) intervals[name] = interval;
    // fit.json's one representation of a non-finite number is null (see types.ts)
    if (s.se !== undefined) se[name] = Number.isFinite(s.se) ? s.se : null;
  }
  return { samples: o.bootstrap, confidence: o.confidence, seed: o.seed, succeeded, failed, intervals, se, warnings: bw };
}
