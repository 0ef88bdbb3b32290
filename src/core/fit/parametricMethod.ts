/**
 * The parametric method (Approach 3) as fit steps: the full-data multi-start of L(N, D), with E
 * capped at the lowest loss, and the fit of one bootstrap resample from its warm starts.
 */
import { fmt } from './format';
import { capLogE, maxLogE, fitParametricData, type PolishedFit } from './multiStart';
import {
  START_GRID_SIZE,
  besirogluGrid,
  lawFitProblem,
  logResiduals,
  makeParametricData,
  paramsFromVector,
  parametricLoss,
  resampleParametricData,
  type ParametricData,
  type ParametricParams,
} from './parametric';
import type { FitSteps } from './steps';
import type { FitPoint, ParametricFit } from './types';

/** Distinct runner-up optima of the full-data fit used to warm-start every bootstrap resample. */
export const BOOTSTRAP_WARM_OPTIMA = 4;
/** Evenly strided grid points added to every bootstrap resample's starts. */
export const BOOTSTRAP_GRID_STARTS = 8;

export interface ParamState {
  fit: ParametricFit;
  params: ParametricParams;
  x: Float64Array;
  warmStarts: Float64Array;
  data: ParametricData;
  warnings: string[];
}

/** One parametric bootstrap resample's optimum, or undefined when it failed. */
export type ResampleFit = (ParametricParams & { objective: number }) | undefined;

export function* runParametricSteps(points: readonly FitPoint[]): FitSteps<ParamState | string> {
  const problem = lawFitProblem(points, 'parametric');
  if (problem) return problem;
  const data = makeParametricData(
    points.map((p) => p.N),
    points.map((p) => p.D),
    points.map((p) => p.loss),
  );
  const ms = (yield { kind: 'multistart', data, starts: besirogluGrid(), opts: { keepOptima: BOOTSTRAP_WARM_OPTIMA + 1 } }) as PolishedFit;
  // E ≤ the lowest observed loss: a floor above a measured loss is not a floor
  const cap = capLogE(data, { x: ms.x, f: ms.f }, maxLogE(data), ms.optima.map((o) => o.x));
  const x = cap.x;
  const objective = cap.f;
  const params = paramsFromVector(x);
  const res = logResiduals(data, x);
  const warnings: string[] = [];
  if (cap.capped) {
    warnings.push(
      `parametric fit: the unconstrained optimum put the irreducible loss E = ${fmt(paramsFromVector(ms.x).E)} above the lowest observed loss; E is held at that loss (${fmt(params.E)}), the upper bound the data allow`,
    );
  }
  let ss = 0;
  for (const r of res) ss += r * r;
  const warm = new Float64Array(5 * (BOOTSTRAP_WARM_OPTIMA + BOOTSTRAP_GRID_STARTS));
  warm.set(x, 0);
  let w = 1;
  for (const o of ms.optima) {
    if (w >= BOOTSTRAP_WARM_OPTIMA) break;
    if (o.f === ms.best.f) continue; // the winner, already in as its polished form
    warm.set(o.x, 5 * w++);
  }
  const grid = besirogluGrid();
  for (let j = 0; j < BOOTSTRAP_GRID_STARTS; j++) {
    const s = Math.floor(((j + 0.5) * START_GRID_SIZE) / BOOTSTRAP_GRID_STARTS);
    warm.set(grid.subarray(5 * s, 5 * s + 5), 5 * w++);
  }
  const localOptima = ms.optima
    .filter((o) => o.f !== ms.best.f)
    .slice(0, BOOTSTRAP_WARM_OPTIMA)
    .map((o) => {
      const p = paramsFromVector(o.x);
      return { objective: o.f, E: p.E, A: p.A, B: p.B, alpha: p.alpha, beta: p.beta };
    })
    .filter((o) => [o.objective, o.E, o.A, o.B, o.alpha, o.beta].every(Number.isFinite) && o.E > 0 && o.A > 0 && o.B > 0);
  if (!(params.alpha > 0 && params.beta > 0)) warnings.push(`parametric fit: α = ${fmt(params.alpha)}, β = ${fmt(params.beta)}; with an exponent ≤ 0 there is no compute-optimal allocation`);
  if (!(params.E > 0 && params.A > 0 && params.B > 0 && Number.isFinite(params.E) && Number.isFinite(params.A) && Number.isFinite(params.B))) {
    return 'the parametric fit did not reach finite parameters from any start';
  }
  const fit: ParametricFit = {
    E: params.E,
    A: params.A,
    B: params.B,
    alpha: params.alpha,
    beta: params.beta,
    ...(params.alpha > 0 && params.beta > 0 ? { a: params.a, b: params.b, G: params.G } : {}),
    objective,
    ...(cap.capped ? { eCapped: true } : {}),
    starts: ms.starts,
    converged: ms.best.converged,
    convergedStarts: ms.convergedStarts,
    localOptima,
    residuals: points.map((p, i) => ({ index: i, predicted: parametricLoss(params, p.N, p.D), residual: res[i] })),
    rmsLogResidual: Math.sqrt(ss / res.length),
  };
  if (!ms.best.converged) warnings.push('parametric fit: the best start stopped before meeting a convergence criterion');
  return { fit, params, x, warmStarts: warm.subarray(0, 5 * w), data, warnings };
}

/** Fits one parametric bootstrap resample from the warm starts. */
export function fitParametricResample(base: Pick<ParamState, 'data' | 'warmStarts'>, indices: Int32Array): ResampleFit {
  const data = resampleParametricData(base.data, indices);
  try {
    const ms = capLogE(data, fitParametricData(data, base.warmStarts), maxLogE(data));
    const p = paramsFromVector(ms.x);
    if (![p.E, p.A, p.B, p.alpha, p.beta].every(Number.isFinite)) return undefined;
    if (!(p.alpha > 0 && p.beta > 0)) return undefined;
    return { ...p, objective: ms.f };
  } catch {
    return undefined;
  }
}
