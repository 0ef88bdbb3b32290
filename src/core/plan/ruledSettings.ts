/**
 * Which training settings a plan's experiments take from a rule (training.learningRate /
 * batchSize given as a law, see ./hyperRules): those that vary across experiments without a
 * hyperparameter axis of the same name. The plan table, the plan preview and the results panel show
 * them beside the hyperparameters, through this one function. Pure TypeScript (no Node imports:
 * the webview uses it too).
 */
import type { ExperimentSpec } from '../contracts';

export const RULABLE_SETTINGS = ['learningRate', 'batchSize'] as const;

export function ruledSettings(experiments: readonly Pick<ExperimentSpec, 'training' | 'hyperparameters'>[]): ('learningRate' | 'batchSize')[] {
  return RULABLE_SETTINGS.filter((k) => new Set(experiments.map((e) => e.training[k])).size > 1 && !experiments.some((e) => k in e.hyperparameters));
}

/** An experiment's hyperparameters with its ruled settings added (for display). */
export function displayedSettings(e: Pick<ExperimentSpec, 'training' | 'hyperparameters'>, ruled: readonly ('learningRate' | 'batchSize')[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = { ...e.hyperparameters };
  for (const k of ruled) out[k] = e.training[k];
  return out;
}
