/** Scaling-law fits (Chinchilla Approaches 2 and 3) — the public surface of src/core/fit. */
export { fitScalingLaws, validatePoints, BOOTSTRAP_STRATEGY, EXTRAPOLATION_WARN_FACTOR } from './fit';
export { fitRunDir } from './runDirFit';
export { readResultsRows, readPointsFile, recordsToPoints, parseCsv } from './io';
export { parametricAllocation, parametricLoss, paramsFromVector, HUBER_DELTA, START_GRID_SIZE } from './parametric';
export * from './types';
export { backtest, splitPoints } from './backtest';
export { fitOptionsFromConfig } from './configOptions';
