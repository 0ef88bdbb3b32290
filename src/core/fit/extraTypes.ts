/**
 * The fit.json sections beyond Approaches 2 and 3 (each optional in FitReport, see ./types):
 * `vpnls` (variable projection), `hyper` (hyperparameter scaling laws), `approach1` (the lower
 * envelope of training curves), `decision` (allocations at the target budget and the compute a
 * different allocation wastes) and `presets` (published laws evaluated for comparison).
 * Self-contained zod schemas (./types imports this file, not the other way round). Pure TypeScript.
 */
import { z } from 'zod';

const pos = z.number().positive();
const num = z.number();
const Interval = z.tuple([num, num]);

/** Options of the sections beyond Approaches 2 and 3 (FitOptions.extras; applied by ./extras). */
export interface ExtraOptions {
  /** hyperparameter laws: false to skip; default: fitted whenever a numeric hyperparameter was swept */
  hyper?: false | { band?: number; form?: HyperForm };
  /** Approach 1: false to skip; default: fitted whenever ≥ 2 runs have evaluation curves */
  approach1?: false | { restrict?: 'final' | 'after' | 'all'; afterFraction?: number };
  /** evaluate the published laws (default true) */
  presets?: boolean;
}

export const VpnlsFit = z.object({
  E: z.number().min(0),
  A: z.number().min(0),
  B: z.number().min(0),
  alpha: num,
  beta: num,
  /** N_opt ∝ C^a, a = β/(α+β) (absent when A or B is 0 or α, β ≤ 0) */
  a: num.optional(),
  b: num.optional(),
  G: pos.optional(),
  /** Σ (L − L̂)² on the raw loss */
  rss: z.number().min(0),
  /** root mean square of L − L̂ */
  rmsResidual: z.number().min(0),
  /** best point of the (α, β) grid before the L-BFGS refinement */
  grid: z.object({ alpha: num, beta: num, rss: z.number().min(0), points: z.number().int().positive() }),
  converged: z.boolean(),
  /** linear coefficients held at 0 by the non-negativity constraints */
  atBound: z.array(z.enum(['E', 'A', 'B'])),
  /** residual L − L̂ per point (index into FitReport.points) */
  residuals: z.array(z.object({ index: z.number().int().min(0), predicted: num, residual: num })),
});
export type VpnlsFit = z.infer<typeof VpnlsFit>;

export const HYPER_FORMS = ['C', 'ND', 'N'] as const;
export const HyperForm = z.enum(HYPER_FORMS);
export type HyperForm = z.infer<typeof HyperForm>;

/** y = coefficient · C^cExp, or coefficient · N^nExp · D^dExp, or coefficient · N^nExp. */
export const HyperLaw = z.object({
  /** the hyperparameter's name in the sweep (e.g. learningRate) */
  name: z.string(),
  form: HyperForm,
  coefficient: pos,
  logCoefficient: num,
  /** exponents by variable: { C } | { N, D } | { N } */
  exponents: z.record(z.string(), num),
  /** runs in the near-optimal band the law was fitted on */
  bandRuns: z.number().int().min(0),
  /** (budget / N / D) cells that contributed */
  cells: z.number().int().min(0),
  r2: num.optional(),
  /** cells whose best value is the smallest or largest value tried there (the optimum may lie outside the grid) */
  edgeCells: z.number().int().min(0).optional(),
  /** percentile intervals by "coefficient" / "exponents.C" / "exponents.N" / … */
  intervals: z.record(z.string(), Interval).optional(),
  /** prediction at the target budget (N and D from the parametric or IsoFLOP allocation for ND/N) */
  prediction: z.object({ budget: pos, N: pos.optional(), D: pos.optional(), value: pos, interval: Interval.optional(), basis: z.string() }).optional(),
  warnings: z.array(z.string()),
});
export type HyperLaw = z.infer<typeof HyperLaw>;

export const HyperRunPoint = z.object({
  cell: z.number().int().min(0),
  N: pos,
  D: pos,
  C: pos,
  loss: pos,
  values: z.record(z.string(), pos),
  inBand: z.boolean(),
  best: z.boolean(),
});

export const HyperCell = z.object({
  index: z.number().int().min(0),
  budget: pos,
  N: pos,
  D: pos,
  bestLoss: pos,
  /** the cell's best value of each hyperparameter */
  best: z.record(z.string(), pos),
});

export const HyperFit = z.object({
  /** fraction of the cell's best loss that defines the near-optimal band (0.0025) */
  band: z.number().min(0),
  form: HyperForm,
  /** the hyperparameters fitted (those swept with ≥ 2 positive numeric values) */
  names: z.array(z.string()),
  cells: z.array(HyperCell),
  runs: z.array(HyperRunPoint),
  laws: z.array(HyperLaw),
  bootstrap: z.object({ samples: z.number().int().min(0), succeeded: z.number().int().min(0), confidence: z.number() }).optional(),
  warnings: z.array(z.string()),
});
export type HyperFit = z.infer<typeof HyperFit>;

export const Approach1Fit = z.object({
  /** 'final': each run's last evaluation only; 'after': points after `afterFraction` of the run */
  restrict: z.enum(['final', 'after', 'all']),
  afterFraction: z.number().min(0).max(1).optional(),
  /**
   * the envelope fitted: at each log-spaced C, the lowest loss over all runs and the run attaining
   * it (points attained by the smallest or largest model are left out, see the warnings)
   */
  envelope: z.array(z.object({ C: pos, loss: pos, N: pos, D: pos, run: z.string() })),
  runs: z.number().int().min(0),
  nOpt: z.object({ exponent: num, logCoefficient: num, coefficient: pos, r2: num.optional() }),
  dOpt: z.object({ exponent: num, logCoefficient: num, coefficient: pos, r2: num.optional() }),
  intervals: z.record(z.string(), Interval).optional(),
  warnings: z.array(z.string()),
});
export type Approach1Fit = z.infer<typeof Approach1Fit>;

export const DecisionRow = z.object({
  method: z.string(),
  N: pos,
  D: pos,
  intervals: z.object({ N: Interval.optional(), D: Interval.optional() }).optional(),
  /** loss of this allocation under the reference loss model */
  loss: pos.optional(),
  /** fraction of C wasted against the reference optimum: 1 − C_ref(L)/C (≥ 0) */
  deadweight: z.number().optional(),
  /** D / D_ref − 1 */
  tokensVsReference: num.optional(),
});

export const Decision = z.object({
  budget: pos,
  /** the loss model the deadweight is measured with (vpnls or parametric) */
  reference: z.string(),
  rows: z.array(DecisionRow),
  hyper: z.array(z.object({ name: z.string(), value: pos, interval: Interval.optional(), basis: z.string() })),
  /** one line per pair of methods that disagree by more than 1 % of compute */
  gaps: z.array(z.string()),
});
export type Decision = z.infer<typeof Decision>;

export const PresetCurve = z.object({
  id: z.string(),
  name: z.string(),
  source: z.string(),
  kind: z.enum(['allocation', 'hyper']),
  /** the law of each quantity as text, e.g. { learningRate: '0.3118·C^-0.125' } */
  formulas: z.record(z.string(), z.string()).optional(),
  /** evaluated at the report's table budgets and target: { C, N?, D?, learningRate?, batchSize? } */
  points: z.array(z.record(z.string(), num)),
});
export type PresetCurve = z.infer<typeof PresetCurve>;
