/** The fit's options resolved against the defaults and checked, and the input points checked. */
import { OPTIMUM_METHODS, type OptimumOptions } from './isoflop';
import { DEFAULT_FIT_OPTIONS, FIT_METHODS, FitInputError, type FitMethod, type FitOptions, type FitPoint } from './types';

export interface Resolved {
  methods: FitMethod[];
  bootstrap: number;
  confidence: number;
  seed: number;
  target?: number;
  tableBudgets?: number[];
  k: number;
  tolerance: number;
  optimum: OptimumOptions;
  weighted: boolean;
  now: () => Date;
}

export function resolveOptions(o: FitOptions): Resolved {
  const methods = [...new Set(o.methods ?? DEFAULT_FIT_OPTIONS.methods)];
  if (methods.length === 0) throw new FitInputError('no fit method selected');
  for (const m of methods) if (!FIT_METHODS.includes(m)) throw new FitInputError(`unknown fit method '${String(m)}' (expected ${FIT_METHODS.join(' or ')})`);
  const bootstrap = o.bootstrap ?? DEFAULT_FIT_OPTIONS.bootstrap;
  if (!Number.isInteger(bootstrap) || bootstrap < 0) throw new FitInputError(`bootstrap must be a whole number ≥ 0, got ${bootstrap}`);
  const confidence = o.confidence ?? DEFAULT_FIT_OPTIONS.confidence;
  if (!(confidence > 0 && confidence < 1)) throw new FitInputError(`confidence must be between 0 and 1 (exclusive), got ${confidence}`);
  const seed = o.seed ?? DEFAULT_FIT_OPTIONS.seed;
  if (!Number.isSafeInteger(seed)) throw new FitInputError(`seed must be an integer, got ${seed}`);
  const k = o.flopsPerParamPerToken ?? DEFAULT_FIT_OPTIONS.flopsPerParamPerToken;
  if (!(k > 0 && Number.isFinite(k))) throw new FitInputError(`flopsPerParamPerToken must be positive, got ${k}`);
  const tolerance = o.budgetTolerance ?? DEFAULT_FIT_OPTIONS.budgetTolerance;
  if (!(tolerance >= 0 && Number.isFinite(tolerance))) throw new FitInputError(`budgetTolerance must be ≥ 0, got ${tolerance}`);
  if (o.target !== undefined && !(o.target > 0 && Number.isFinite(o.target))) throw new FitInputError(`target budget must be a positive number of FLOPs, got ${o.target}`);
  if (o.tableBudgets) {
    for (const b of o.tableBudgets) if (!(b > 0 && Number.isFinite(b))) throw new FitInputError(`table budgets must be positive numbers of FLOPs, got ${b}`);
  }
  const method = o.optimum ?? DEFAULT_FIT_OPTIONS.optimum;
  if (!OPTIMUM_METHODS.includes(method)) throw new FitInputError(`unknown optimum estimator '${String(method)}' (expected ${OPTIMUM_METHODS.join(', ')})`);
  const window = o.optimumWindow ?? DEFAULT_FIT_OPTIONS.optimumWindow;
  if (!(Number.isInteger(window) && window >= 1)) throw new FitInputError(`optimumWindow must be a whole number ≥ 1, got ${window}`);
  return {
    optimum: { method, window, keepEdges: o.keepEdgeBudgets ?? DEFAULT_FIT_OPTIONS.keepEdgeBudgets },
    weighted: o.weighted ?? false,
    methods: FIT_METHODS.filter((m) => methods.includes(m)),
    bootstrap,
    confidence,
    seed,
    target: o.target,
    tableBudgets: o.tableBudgets ? [...o.tableBudgets] : undefined,
    k,
    tolerance,
    now: o.now ?? (() => new Date()),
  };
}

function label(p: FitPoint, i: number): string {
  return p.id !== undefined ? `point ${i + 1} (id ${p.id})` : `point ${i + 1}`;
}

/** Checks every point; the error names the first bad one. */
export function validatePoints(points: readonly FitPoint[]): void {
  points.forEach((p, i) => {
    for (const key of ['N', 'D', 'C', 'loss'] as const) {
      const v = p[key];
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
        throw new FitInputError(`${label(p, i)}: ${key} must be a positive finite number, got ${v === undefined ? 'nothing' : String(v)}`);
      }
    }
    if (p.budget !== undefined && !(typeof p.budget === 'number' && Number.isFinite(p.budget) && p.budget > 0)) {
      throw new FitInputError(`${label(p, i)}: budget must be a positive finite number, got ${String(p.budget)}`);
    }
  });
}
