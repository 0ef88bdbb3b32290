/** Scaling-law fits (Chinchilla Approaches 2 and 3) — the public surface of src/core/fit. */
export { fitScalingLaws } from './fit';
export { validatePoints } from './options';
export { BOOTSTRAP_STRATEGY } from './fitBootstrap';
export { EXTRAPOLATION_WARN_FACTOR } from './report';
export { fitRunDir } from './runDirFit';
export { readResultsRows, readPointsFile, recordsToPoints, parseCsv } from './io';
export { parametricAllocation, parametricLoss, paramsFromVector, HUBER_DELTA, START_GRID_SIZE } from './parametric';
export * from './types';
export { backtest, splitPoints } from './backtest';
export { fitOptionsFromConfig } from './configOptions';
