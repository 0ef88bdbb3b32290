/**
 * The whole fit of a run directory on one thread: its results, the fit, the run-directory extras
 * (hyperparameter laws, Approach 1 from the metrics files) and fit.json written (the pooled
 * version is ./parallel's fitRunDirAsync). Its own file so that io.ts (reading and writing) and
 * extras.ts (which reads files through io) do not import each other.
 */
import { addRunDirExtras } from './extras';
import { fitScalingLaws } from './fit';
import { readRunDirPoints, writeRunDirFit } from './io';
import type { FitOptions, FitReport } from './types';

/**
 * Fits a run directory's results and writes `<runDir>/fit.json` atomically. Returns the report
 * (whose warnings include skipped results lines).
 */
export function fitRunDir(runDir: string, options: FitOptions = {}): FitReport {
  if (options.backtest) throw new Error('fitRunDir: a backtest needs the asynchronous fit (fitRunDirAsync)');
  const { points, warnings } = readRunDirPoints(runDir);
  return writeRunDirFit(runDir, addRunDirExtras(fitScalingLaws(points, options), runDir, options), warnings);
}
