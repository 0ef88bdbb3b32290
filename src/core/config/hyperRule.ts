/**
 * A training setting given by a rule instead of a number, so that a follow-up sweep uses the laws
 * fitted on an earlier one ("closing the loop"): `training.learningRate` / `training.batchSize`
 * may be
 *   { rule: power, coefficient, exponent, of: C | N | D }   value = coefficient · x^exponent
 *   { fromFit: <run dir> }                                  the law in <run dir>/fit.json → hyper
 * where x is the experiment's budget C (FLOPs), N (parameters) or D (tokens). The planner evaluates
 * it per experiment (src/core/plan/hyperRules.ts). Pure TypeScript.
 */
import { z } from 'zod';

export const HYPER_RULE_VARIABLES = ['C', 'N', 'D'] as const;

export const PowerRuleConfig = z
  .strictObject({
    rule: z.literal('power').describe('value = coefficient · x^exponent'),
    coefficient: z.number().positive().describe('k in k·x^e'),
    exponent: z.number().min(-5).max(5).describe('e in k·x^e'),
    of: z.enum(HYPER_RULE_VARIABLES).describe("x: the experiment's budget C (FLOPs), N (parameters) or D (training tokens)"),
  })
  .describe('A power law of the budget, the model size or the tokens, e.g. DeepSeek LLM: {rule: power, coefficient: 0.3118, exponent: -0.125, of: C}.');

export const FromFitRuleConfig = z
  .strictObject({
    fromFit: z.string().min(1).describe("Run directory (relative to the config's folder, or absolute) whose fit.json holds a fitted law for this setting (`hyper`)."),
  })
  .describe('The law fitted by `flopsfit fit` on an earlier sweep, evaluated at each experiment.');

export const HyperRuleConfig = z.union([PowerRuleConfig, FromFitRuleConfig]);
export type HyperRuleConfig = z.infer<typeof HyperRuleConfig>;

/** Whether a training setting is a rule rather than a number. */
export function isHyperRule(v: unknown): v is HyperRuleConfig {
  return typeof v === 'object' && v !== null && ('rule' in v || 'fromFit' in v);
}
