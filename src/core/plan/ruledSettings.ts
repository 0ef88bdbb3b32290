/**
 * Which training settings a plan's experiments take from a rule (training.learningRate /
 * batchSize given as a law, see ./hyperRules; recorded in `plan.rules`), unless a hyperparameter
 * axis of the same name overrides it. The plan table, the plan preview and the results panel show
 * them beside the hyperparameters, through this one function. Pure TypeScript (no Node imports:
 * the webview uses it too).
 */
import type { ExperimentSpec, Plan } from '../contracts';

export const RULABLE_SETTINGS = ['learningRate', 'batchSize'] as const;

export function ruledSettings(plan: Pick<Plan, 'rules'> & { experiments: readonly Pick<ExperimentSpec, 'training' | 'hyperparameters'>[] }): ('learningRate' | 'batchSize')[] {
  return RULABLE_SETTINGS.filter((k) => plan.rules?.[k] !== undefined && !plan.experiments.some((e) => k in e.hyperparameters));
}

/** An experiment's hyperparameters with its ruled settings added (for display). */
export function displayedSettings(e: Pick<ExperimentSpec, 'training' | 'hyperparameters'>, ruled: readonly ('learningRate' | 'batchSize')[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = { ...e.hyperparameters };
  for (const k of ruled) out[k] = e.training[k];
  return out;
}
