/**
 * The derived quantities of a fit (laws, predictions at the target, table rows), as flat named
 * numbers shared by the point estimate and every bootstrap resample.
 */
import { fitFrontier, frontierLoss } from './frontier';
import type { GroupFit, IsoflopLaws } from './isoflop';
import { parametricAllocation, parametricLoss, type ParametricParams } from './parametric';

export function isoPrediction(laws: IsoflopLaws, C: number, k: number): { nOpt: number; dOpt: number; tokensPerParam: number; loss: number } {
  const lc = Math.log(C);
  const nOpt = Math.exp(laws.n.intercept + laws.n.slope * lc);
  const dOpt = C / (k * nOpt);
  return { nOpt, dOpt, tokensPerParam: dOpt / nOpt, loss: Math.exp(laws.loss.intercept + laws.loss.slope * lc) };
}

export function paramPrediction(p: ParametricParams, C: number, k: number): { nOpt: number; dOpt: number; tokensPerParam: number; loss: number } | undefined {
  if (!(p.alpha > 0 && p.beta > 0)) return undefined;
  const { nOpt, dOpt } = parametricAllocation(p, C, k);
  const v = { nOpt, dOpt, tokensPerParam: dOpt / nOpt, loss: parametricLoss(p, nOpt, dOpt) };
  return Object.values(v).every((x) => Number.isFinite(x) && x > 0) ? v : undefined;
}

export const PRED_KEYS = ['nOpt', 'dOpt', 'tokensPerParam', 'loss'] as const;

export function isoQuantities(groups: readonly GroupFit[], used: readonly number[], laws: IsoflopLaws, budgets: readonly number[], target: number | undefined, k: number): Record<string, number> {
  const q: Record<string, number> = {
    'isoflop.a': laws.n.slope,
    'isoflop.b': laws.d.slope,
    'isoflop.logCoefficient': laws.n.intercept,
    'isoflop.dLogCoefficient': laws.d.intercept,
    'isoflop.lossExponent': laws.loss.slope,
    'isoflop.lossLogCoefficient': laws.loss.intercept,
  };
  for (const gi of used) {
    const g = groups[gi];
    q[`isoflop.groups.${gi}.nOpt`] = g.nOpt!;
    q[`isoflop.groups.${gi}.dOpt`] = g.dOpt!;
    q[`isoflop.groups.${gi}.lossOpt`] = g.lossOpt!;
  }
  if (target !== undefined) {
    const p = isoPrediction(laws, target, k);
    for (const key of PRED_KEYS) q[`prediction.isoflop.${key}`] = p[key];
  }
  budgets.forEach((b, i) => {
    const p = isoPrediction(laws, b, k);
    for (const key of PRED_KEYS) q[`table.isoflop.${i}.${key}`] = p[key];
  });
  return q;
}

/** The quantities of an L(N, D) fit, named `<method>.*` (parametric, or vpnls: the same law fitted another way). */
export function paramQuantities(p: ParametricParams, budgets: readonly number[], target: number | undefined, k: number, method: 'parametric' | 'vpnls' = 'parametric'): Record<string, number> {
  const q: Record<string, number> = {
    [`${method}.E`]: p.E,
    [`${method}.A`]: p.A,
    [`${method}.B`]: p.B,
    [`${method}.alpha`]: p.alpha,
    [`${method}.beta`]: p.beta,
  };
  if (p.alpha > 0 && p.beta > 0 && p.A > 0 && p.B > 0) {
    q[`${method}.a`] = p.a;
    q[`${method}.b`] = p.b;
    q[`${method}.G`] = p.G;
  }
  if (target !== undefined) {
    const pr = paramPrediction(p, target, k);
    if (pr) for (const key of PRED_KEYS) q[`prediction.${method}.${key}`] = pr[key];
  }
  budgets.forEach((b, i) => {
    const pr = paramPrediction(p, b, k);
    if (pr) for (const key of PRED_KEYS) q[`table.${method}.${i}.${key}`] = pr[key];
  });
  return q;
}

export function frontierQuantities(groups: readonly GroupFit[], used: readonly number[], target: number | undefined): Record<string, number> {
  if (used.length < 3) return {};
  const f = fitFrontier(used.map((gi) => groups[gi].budget), used.map((gi) => groups[gi].lossOpt!));
  if (!f) return {};
  const q: Record<string, number> = { 'frontier.E': f.E, 'frontier.A': f.A, 'frontier.gamma': f.gamma };
  if (target !== undefined) q['prediction.frontier.loss'] = frontierLoss(f, target);
  return q;
}
