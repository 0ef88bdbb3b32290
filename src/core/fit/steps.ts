/**
 * The fit as steps: the requests a fit yields to its driver for its expensive, parallel parts, and
 * the driver that answers them on this thread.
 */
import { fitParametricData, type MultiStartOptions, type PolishedFit } from './multiStart';
import { type ParametricData } from './parametric';
import { fitParametricResample, runParametricSteps, type ParamState, type ResampleFit } from './parametricMethod';
import type { FitPoint } from './types';

/**
 * The expensive, embarrassingly parallel steps of a fit, which the fit yields to its driver: the
 * full-data multi-start (answered with `fitParametricData(data, starts, opts)`) and the parametric
 * bootstrap resamples (answered with `fitParametricResample(base, idx)` for each, in order). The
 * sync driver answers them on this thread; `fitScalingLawsAsync` (./parallel, node only) on a
 * worker pool, with bit-identical answers.
 */
export type FitRequest =
  | { kind: 'multistart'; data: ParametricData; starts: Float64Array; opts: MultiStartOptions }
  | { kind: 'resamples'; base: ParamState; indices: Int32Array[] };
export type FitResponse = PolishedFit | ResampleFit[];
export type FitSteps<T> = Generator<FitRequest, T, FitResponse>;

/** Answers a request on this thread. */
export function serveFitRequest(req: FitRequest): FitResponse {
  if (req.kind === 'multistart') return fitParametricData(req.data, req.starts, req.opts);
  return req.indices.map((idx) => fitParametricResample(req.base, idx));
}

/** Runs fit steps to the end on this thread. */
export function runFitSteps<T>(steps: FitSteps<T>): T {
  let r = steps.next();
  while (!r.done) r = steps.next(serveFitRequest(r.value));
  return r.value;
}

/** The parametric fit alone, run on this thread. */
export function runParametric(points: readonly FitPoint[]): ParamState | string {
  return runFitSteps(runParametricSteps(points));
}

