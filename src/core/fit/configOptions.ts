/**
 * The fit options of a sweep config: the one function `flopsfit run` (its post-sweep fit) and
 * `flopsfit fit <config>` (and so the editor's Fit Scaling Laws) use, so that both fit a config the
 * same way. Pure TypeScript.
 */
import type { SweepConfig } from '../config';
import type { ExtraOptions, HyperForm } from './extraTypes';
import type { FitOptions } from './types';

/** The default prediction target: this many times the sweep's largest budget. */
export const DEFAULT_TARGET_FACTOR = 10;

/** The largest budget a config plans (its list's maximum, or the range's max). */
export function largestBudget(config: Pick<SweepConfig, 'budgets'>): number {
  const b = config.budgets;
  return Array.isArray(b) ? Math.max(...b) : b.max;
}

/**
 * Fit options from a config's `fit` section and its FLOP convention (`planning.flopsPerParamPerToken`).
 * The prediction target is `fit.target`, else 10× the largest budget.
 */
export function fitOptionsFromConfig(config: Pick<SweepConfig, 'fit' | 'budgets' | 'planning'>): FitOptions {
  const f = config.fit;
  const extras = extraOptionsFromConfig(f);
  return {
    methods: f.methods,
    bootstrap: f.bootstrap,
    confidence: f.confidence,
    seed: f.seed,
    target: f.target ?? DEFAULT_TARGET_FACTOR * largestBudget(config),
    ...(f.tableBudgets !== undefined ? { tableBudgets: f.tableBudgets } : {}),
    flopsPerParamPerToken: config.planning.flopsPerParamPerToken,
    ...(Object.keys(extras).length ? { extras } : {}),
    ...(f.backtest !== undefined ? { backtest: { kind: 'budgets' as const, k: f.backtest } } : {}),
  };
}

/** ExtraOptions from a config's `fit` section (`fit.hyper`, `fit.approach1`). */
export function extraOptionsFromConfig(f: { hyper?: { form: HyperForm | 'off'; band: number }; approach1?: { points: 'all' | 'final' | 'after' | 'off'; afterFraction: number } }): ExtraOptions {
  const o: ExtraOptions = {};
  if (f.hyper) o.hyper = f.hyper.form === 'off' ? false : { form: f.hyper.form, band: f.hyper.band };
  if (f.approach1) o.approach1 = f.approach1.points === 'off' ? false : { restrict: f.approach1.points, ...(f.approach1.points === 'after' ? { afterFraction: f.approach1.afterFraction } : {}) };
  return o;
}

