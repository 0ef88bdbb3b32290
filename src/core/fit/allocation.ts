/**
 * Decision outputs at a target budget: the allocation (N*, D*) of every fitted method, and the
 * compute each one wastes — its "deadweight" — measured with a reference loss model L(N, D)
 * (VPNLS when fitted, else the parametric fit): an allocation (N, D) at budget C reaches loss
 * L(N, D); the reference optimum reaches that loss with C_ref < C, and 1 − C_ref/C of the compute
 * is wasted. Pure TypeScript.
 */
import type { ParametricParams } from './parametric';
import { parametricAllocation, parametricLoss } from './parametric';

export type LossModel = Pick<ParametricParams, 'E' | 'A' | 'B' | 'alpha' | 'beta'>;

function allocation(m: LossModel, C: number, k: number): { nOpt: number; dOpt: number } {
  const s = m.alpha + m.beta;
  return parametricAllocation({ ...m, a: m.beta / s, b: m.alpha / s, G: Math.pow((m.alpha * m.A) / (m.beta * m.B), 1 / s) }, C, k);
}

/** The lowest loss reachable with C FLOPs under the model. */
export function optimalLoss(m: LossModel, C: number, k = 6): number {
  const { nOpt, dOpt } = allocation(m, C, k);
  return parametricLoss(m, nOpt, dOpt);
}

/**
 * The compute the model's optimum needs to reach `loss` (bisection in ln C); undefined when the
 * loss is at or below the floor E.
 */
export function computeForLoss(m: LossModel, loss: number, k = 6, hint = 1e20): number | undefined {
  if (!(loss > m.E)) return undefined;
  let lo = Math.log(hint);
  let hi = lo;
  while (optimalLoss(m, Math.exp(lo), k) < loss && lo > -200) lo -= 2;
  while (optimalLoss(m, Math.exp(hi), k) > loss && hi < 400) hi += 2;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (optimalLoss(m, Math.exp(mid), k) > loss) lo = mid;
    else hi = mid;
  }
  return Math.exp((lo + hi) / 2);
}

/** Fraction of C wasted by allocating (N, D) instead of the model's optimum (0 at the optimum). */
export function deadweight(m: LossModel, N: number, D: number, k = 6): number | undefined {
  const C = k * N * D;
  const loss = parametricLoss(m, N, D);
  const cRef = computeForLoss(m, loss, k, C);
  if (cRef === undefined) return undefined;
  return Math.max(0, 1 - cRef / C);
}

/** A valid loss model has positive A, B, α, β (so it has a compute-optimal allocation). */
export function hasAllocation(m: LossModel | undefined): m is LossModel {
  return !!m && m.A > 0 && m.B > 0 && m.alpha > 0 && m.beta > 0 && [m.E, m.A, m.B, m.alpha, m.beta].every(Number.isFinite);
}
