/**
 * Evaluates the rules a config may give for `training.learningRate` / `training.batchSize`
 * (src/core/config/hyperRule.ts) at each experiment's budget C, size N and tokens D. A
 * `{ fromFit: <run dir> }` rule reads that directory's fit.json (checked by the FitReport schema,
 * the one the fit writes it with) and uses its fitted law for the setting. Rules that cannot be
 * resolved give a located message and no experiments. Pure TypeScript apart from reading fit.json.
 */
import * as path from 'node:path';
import type { TrainingSpec } from '../contracts';
import { isHyperRule, type HyperRuleConfig } from '../config/hyperRule';
import type { SweepConfig } from '../config/schema';
import { FitReport } from '../fit/types';
import { readJsonFile } from '../manifest';
import { RUN_FILES } from '../contracts';

export const RULE_SETTINGS = ['learningRate', 'batchSize'] as const;
export type RuleSetting = (typeof RULE_SETTINGS)[number];

export type RulePoint = { C: number; N: number; D: number };

export interface ResolvedRules {
  /** settings given by a rule, with their evaluators */
  evaluators: Partial<Record<RuleSetting, (at: RulePoint) => number>>;
  /** human-readable form of each rule (for the plan) */
  describe: Partial<Record<RuleSetting, string>>;
  errors: { path: (string | number)[]; message: string }[];
  active: boolean;
}

const fmt = (v: number) => Number(v.toPrecision(4)).toString();

/** Resolves the config's rules; `resolvePath` turns a config-relative path into an absolute one. */
export function resolveHyperRules(config: SweepConfig, resolvePath: (p: string) => string): ResolvedRules {
  const out: ResolvedRules = { evaluators: {}, describe: {}, errors: [], active: false };
  for (const name of RULE_SETTINGS) {
    const v = (config.training as Record<string, unknown>)[name];
    if (!isHyperRule(v)) continue;
    out.active = true;
    const rule = v as HyperRuleConfig;
    const where = ['training', name];
    if ('rule' in rule) {
      out.evaluators[name] = (at) => rule.coefficient * Math.pow(at[rule.of], rule.exponent);
      out.describe[name] = `${fmt(rule.coefficient)}·${rule.of}^${fmt(rule.exponent)}`;
      continue;
    }
    const dir = resolvePath(rule.fromFit);
    const file = path.join(dir, RUN_FILES.fit);
    const r = readJsonFile(file, FitReport);
    if (!r.ok) {
      out.errors.push({ path: [...where, 'fromFit'], message: r.missing ? `${file} does not exist: run \`flopsfit fit\` on that sweep first` : `cannot use ${file}: ${r.error}` });
      continue;
    }
    const law = r.value.hyper?.laws.find((l) => l.name === name);
    if (!law) {
      const have = r.value.hyper?.laws.map((l) => l.name) ?? [];
      out.errors.push({
        path: [...where, 'fromFit'],
        message: `${file} has no fitted law for ${name}${have.length ? ` (it has: ${have.join(', ')})` : ' (that sweep did not vary it: give it a sweep.hyperparameters axis)'}`,
      });
      continue;
    }
    out.evaluators[name] = (at) => {
      let y = law.logCoefficient;
      for (const [x, e] of Object.entries(law.exponents)) y += e * Math.log(at[x as keyof RulePoint]);
      return Math.exp(y);
    };
    out.describe[name] = `${fmt(law.coefficient)}·${Object.entries(law.exponents)
      .map(([x, e]) => `${x}^${fmt(e)}`)
      .join('·')} (fitted in ${rule.fromFit})`;
  }
  return out;
}

/**
 * The training settings of one experiment with its rules evaluated (a hyperparameter axis of the
 * same name, already applied, wins). Undefined, with a message, when a value is out of range.
 */
export function applyHyperRules(training: TrainingSpec, rules: ResolvedRules, at: RulePoint): { training?: TrainingSpec; error?: { path: (string | number)[]; message: string } } {
  if (rules.errors.length) return {};
  const t = { ...training } as Record<string, unknown>;
  for (const name of RULE_SETTINGS) {
    if (!isHyperRule(t[name])) continue;
    const f = rules.evaluators[name];
    if (!f) return {};
    const raw = f(at);
    if (name === 'learningRate') {
      if (!(raw > 0 && raw <= 10 && Number.isFinite(raw))) return { error: { path: ['training', name], message: `the rule gives learningRate ${fmt(raw)} at C=${fmt(at.C)}, N=${fmt(at.N)}: outside (0, 10]` } };
      t[name] = raw;
    } else {
      const b = Math.round(raw);
      if (!(b >= 1 && b <= 1 << 20 && Number.isFinite(raw))) return { error: { path: ['training', name], message: `the rule gives batchSize ${fmt(raw)} at C=${fmt(at.C)}, N=${fmt(at.N)}: outside 1…${1 << 20} sequences` } };
      t[name] = b;
    }
  }
  return { training: t as TrainingSpec };
}
