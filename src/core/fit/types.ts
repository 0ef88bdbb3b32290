/**
 * Types of the scaling-law fit: its inputs (FitPoint, FitOptions) and `fit.json` (FitReport), the
 * file the results panel reads. Pure TypeScript.
 *
 * Conventions used throughout fit.json:
 *   - N = parameters, D = training tokens, C = k·N·D training FLOPs (k = flopsPerParamPerToken, 6)
 *   - ln is the natural logarithm; every "log…" field is a natural log
 *   - bootstrap names are dotted paths: "parametric.alpha", "isoflop.a", "isoflop.groups.2.nOpt",
 *     "prediction.parametric.loss", …; an interval is [lo, hi]
 *   - non-finite numbers: fit.json never holds NaN or ±Infinity (JSON cannot). A field whose value
 *     can be non-finite is typed `number | null` here, and null means "not a finite number" (today:
 *     a bootstrap standard error that overflowed because the resamples span hundreds of orders of
 *     magnitude). Every other number is finite. The writer (`serializeFitReport`) checks the report
 *     against this schema before writing, and every reader (CLI, results panel, demo) parses it with
 *     the same schema, so writer and readers cannot disagree.
 */
import { z } from 'zod';
import { Approach1Fit, Decision, HyperFit, PresetCurve, VpnlsFit } from './extraTypes';
import type { ExtraOptions } from './extraTypes';
import { OPTIMUM_METHODS, type OptimumMethod } from './isoflop';

export const OptimumMethodSchema = z.enum(OPTIMUM_METHODS);

/** vpnls: L(N, D) by variable projection, least squares on raw loss (./vpnls); not run by default */
export const FIT_METHODS = ['isoflop', 'parametric', 'vpnls'] as const;
/** the methods run when none are chosen */
export const DEFAULT_FIT_METHODS = ['isoflop', 'parametric'] as const;
export const FitMethod = z.enum(FIT_METHODS);
export type FitMethod = z.infer<typeof FitMethod>;

const pos = z.number().positive();
const num = z.number();
export const Interval = z.tuple([num, num]);
export type Interval = z.infer<typeof Interval>;

/** One finished run as the fit sees it. */
export const FitPoint = z.object({
  /** parameters */
  N: pos,
  /** training tokens */
  D: pos,
  /** training FLOPs (k·N·D) */
  C: pos,
  /** final (held-out) loss, nats/token */
  loss: pos,
  /** nominal budget of the run's IsoFLOP group, when known (grouping uses it instead of C) */
  budget: pos.optional(),
  id: z.string().optional(),
  /** N under each parameter-counting convention, when known (src/core/fit/conventions.ts) */
  nBy: z.record(z.string(), pos).optional(),
});
export type FitPoint = z.infer<typeof FitPoint>;

export interface FitOptions {
  /** default: both */
  methods?: readonly FitMethod[];
  /** number of bootstrap resamples (0: none); default 200 */
  bootstrap?: number;
  /** confidence of the percentile intervals, in (0, 1); default 0.95 */
  confidence?: number;
  /** seed of the bootstrap PRNG; default 0 */
  seed?: number;
  /** compute budget (FLOPs) to predict the optimum at */
  target?: number;
  /** budgets of the Chinchilla-style table; default: the fitted IsoFLOP budgets */
  tableBudgets?: readonly number[];
  /** k in C = k·N·D; default 6 */
  flopsPerParamPerToken?: number;
  /** relative tolerance under which budgets form one IsoFLOP group; default 0.05 */
  budgetTolerance?: number;
  /** how each budget's optimum is estimated (IsoFLOP); default 'akima' */
  optimum?: OptimumMethod;
  /** sizes on each side of the lowest loss for optimum 'local-parabola'; default 2 */
  optimumWindow?: number;
  /** use budgets whose optimum is not bracketed in the IsoFLOP power laws; default false */
  keepEdgeBudgets?: boolean;
  /** IsoFLOP power laws weighted by 1 / the bootstrap variance of each budget's ln N* (needs a bootstrap); default false */
  weighted?: boolean;
  /** the headline parameter-counting convention, when the points carry `nBy`; default: as given */
  convention?: string;
  /** clock for `createdAt` (tests) */
  now?: () => Date;
  /** hyperparameter laws, Approach 1 and presets (run directories and files with lr / batch columns) */
  extras?: ExtraOptions;
  /**
   * also fit on the smaller budgets and score the predictions of the held-out runs (`withBacktest`;
   * the run-directory fit `fitRunDirAsync` and `flopsfit fit` run it)
   */
  backtest?: BacktestSplit;
}

export const DEFAULT_FIT_OPTIONS = {
  methods: DEFAULT_FIT_METHODS,
  bootstrap: 200,
  confidence: 0.95,
  seed: 0,
  flopsPerParamPerToken: 6,
  budgetTolerance: 0.05,
  optimum: 'akima',
  optimumWindow: 2,
  keepEdgeBudgets: false,
} as const;

export const FitSettings = z.object({
  methods: z.array(FitMethod),
  bootstrap: z.number().int().min(0),
  confidence: z.number().gt(0).lt(1),
  seed: z.number().int(),
  target: pos.optional(),
  tableBudgets: z.array(pos).optional(),
  flopsPerParamPerToken: pos,
  budgetTolerance: z.number().min(0),
  /** Huber δ of the parametric objective (1e-3) */
  huberDelta: pos,
  /** number of L-BFGS starts of the full-data parametric fit (the 4500-point grid) */
  startGrid: z.number().int().positive(),
  /** how each parametric bootstrap resample is started, in words */
  bootstrapStrategy: z.string(),
  /** IsoFLOP: how each budget's optimum is estimated (absent in reports before it was chosen: 'parabola') */
  optimum: OptimumMethodSchema.optional(),
  /** IsoFLOP: sizes on each side of the lowest loss for 'local-parabola' */
  optimumWindow: z.number().int().positive().optional(),
  /** IsoFLOP: whether budgets whose optimum is not bracketed enter the power laws */
  keepEdgeBudgets: z.boolean().optional(),
  /** the parameter-counting convention N and C are in (when known) */
  convention: z.string().optional(),
  /** IsoFLOP power laws weighted by 1 / the bootstrap variance of ln N* */
  weighted: z.boolean().optional(),
});
export type FitSettings = z.infer<typeof FitSettings>;

export const ReportPoint = FitPoint.extend({
  /** index of the IsoFLOP group the point belongs to */
  group: z.number().int().min(0),
});
export type ReportPoint = z.infer<typeof ReportPoint>;

/**
 * ok: the optimum is bracketed and estimated; too-few-sizes: fewer than 3 distinct sizes;
 * singular / not-convex: the chosen parabola has no vertex; edge: the lowest loss is at the
 * smallest or largest size tried (or the parabola's vertex lies outside them), so the optimum is
 * not bracketed: N_opt is then only a bound, and the budget is left out of the power laws unless
 * keepEdgeBudgets.
 */
export const GROUP_STATUSES = ['ok', 'too-few-sizes', 'singular', 'not-convex', 'edge'] as const;

export const IsoflopGroupPoint = z.object({
  /** index into FitReport.points */
  index: z.number().int().min(0),
  N: pos,
  D: pos,
  loss: pos,
  /** parabola value at this N (when the group has a parabola) */
  fitted: num.optional(),
  /** loss − fitted */
  residual: num.optional(),
});

export const IsoflopGroup = z.object({
  index: z.number().int().min(0),
  /** nominal budget (C) of the group */
  budget: pos,
  status: z.enum(GROUP_STATUSES),
  /** whether the group's vertex enters the power-law fits */
  used: z.boolean(),
  points: z.array(IsoflopGroupPoint),
  /** loss ≈ c0 + c1·ln N + c2·(ln N)²; also the centred form p0 + p1·t + p2·t², t = ln N − center */
  parabola: z
    .object({ c0: num, c1: num, c2: num, center: num, p0: num, p1: num, p2: num })
    .optional(),
  nOpt: pos.optional(),
  dOpt: pos.optional(),
  /** loss at the vertex */
  lossOpt: pos.optional(),
  /** d²L/d(ln N)² = 2·c2 */
  curvature: num.optional(),
  convex: z.boolean().optional(),
  /** whether N_opt lies within the sizes tried */
  interior: z.boolean().optional(),
  /** whether the lowest loss is at an inner size, i.e. the sizes tried bracket the optimum */
  bracketed: z.boolean().optional(),
  /** when not bracketed: which way to extend the sizes, and the next sizes on the grid's own spacing */
  extend: z.object({ direction: z.enum(['smaller', 'larger']), sizes: z.array(pos) }).optional(),
  /** the optimum estimator's curve through the points (N, loss), for the chart */
  curve: z.object({ N: z.array(pos), loss: z.array(pos) }).optional(),
  /** [smallest, largest] N tried */
  nRange: z.tuple([pos, pos]),
  warnings: z.array(z.string()),
});
export type IsoflopGroup = z.infer<typeof IsoflopGroup>;

export const PowerLaw = z.object({
  /** y = coefficient · C^exponent, i.e. ln y = logCoefficient + exponent · ln C */
  exponent: num,
  logCoefficient: num,
  coefficient: num,
  r2: num.optional(),
});
export type PowerLaw = z.infer<typeof PowerLaw>;

export const IsoflopFit = z.object({
  groups: z.array(IsoflopGroup),
  usedGroups: z.number().int().min(0),
  /** N_opt ∝ C^a */
  a: num,
  /** D_opt ∝ C^b (= 1 − a since D_opt = C/(k·N_opt)) */
  b: num,
  /** ln k_N in N_opt = k_N·C^a */
  logCoefficient: num,
  /** ln k_D in D_opt = k_D·C^b */
  dLogCoefficient: num,
  nOpt: PowerLaw,
  dOpt: PowerLaw,
  /** L_opt = coefficient·C^exponent (a pure power law through the vertex losses) */
  lossOpt: PowerLaw,
  /** with `weighted`: each used budget's weight in the power laws (1 / bootstrap variance of ln N*) */
  weights: z.array(z.object({ budget: pos, weight: pos })).optional(),
  /** how each budget's optimum was estimated (absent: the global parabola of older reports) */
  optimum: z.object({ method: OptimumMethodSchema, window: z.number().int().positive().optional(), edgesKept: z.boolean() }).optional(),
  warnings: z.array(z.string()),
});
export type IsoflopFit = z.infer<typeof IsoflopFit>;

export const ParametricResidual = z.object({
  /** index into FitReport.points */
  index: z.number().int().min(0),
  /** L̂(N, D) */
  predicted: pos,
  /** ln L − ln L̂ (what the Huber loss sees) */
  residual: num,
});

/** Whether the parametric fit is identified by the data (src/core/fit/identifiability.ts). */
export const Identifiability = z.object({
  /** every parameter identified and no reason for doubt */
  identified: z.boolean(),
  /** per quantity (E, A, B, alpha, beta, a, b): whether it is identified */
  parameters: z.record(z.string(), z.boolean()),
  /** why not, in words */
  reasons: z.array(z.string()),
  /** one sentence for the CLI and the Fit tab */
  summary: z.string(),
});
export type Identifiability = z.infer<typeof Identifiability>;

export const ParametricFit = z.object({
  E: pos,
  A: pos,
  B: pos,
  alpha: num,
  beta: num,
  /** N_opt ∝ C^a, a = β/(α+β) (absent when α or β ≤ 0) */
  a: num.optional(),
  /** D_opt ∝ C^b, b = α/(α+β) */
  b: num.optional(),
  /** G = (αA/(βB))^(1/(α+β)); N_opt = G·(C/k)^a */
  G: pos.optional(),
  /** Σ Huber_δ(ln L − ln L̂) at the optimum */
  objective: z.number().min(0),
  /** E is constrained to at most the lowest observed loss; true when that bound is active */
  eCapped: z.boolean().optional(),
  /** number of L-BFGS starts */
  starts: z.number().int().positive(),
  /** whether the best start met a convergence criterion */
  converged: z.boolean(),
  convergedStarts: z.number().int().min(0),
  /** the next-best distinct local optima (same parameters), best first */
  localOptima: z.array(z.object({ objective: z.number().min(0), E: pos, A: pos, B: pos, alpha: num, beta: num })),
  residuals: z.array(ParametricResidual),
  /** root mean square of ln L − ln L̂ */
  rmsLogResidual: z.number().min(0),
  /** whether the data identify the parameters (judged after the bootstrap) */
  identifiability: Identifiability.optional(),
});
export type ParametricFit = z.infer<typeof ParametricFit>;

export const PredictionValues = z.object({
  nOpt: pos,
  dOpt: pos,
  /** D_opt / N_opt */
  tokensPerParam: pos,
  loss: pos,
  intervals: z
    .object({ nOpt: Interval.optional(), dOpt: Interval.optional(), tokensPerParam: Interval.optional(), loss: Interval.optional() })
    .optional(),
});
export type PredictionValues = z.infer<typeof PredictionValues>;

/** L*(C) = E + A·C^(−γ) through the IsoFLOP budgets' optimal losses (src/core/fit/frontier.ts). */
export const FrontierFit = z.object({
  E: pos,
  A: pos,
  gamma: pos,
  /** budgets it rests on */
  usedGroups: z.number().int().min(0),
  /** Σ Huber_δ(ln L* − ln L̂*) */
  objective: z.number().min(0),
  rmsLogResidual: z.number().min(0),
  /** E held at the lowest optimal loss (its upper bound) */
  eCapped: z.boolean(),
  /** the fitted L* at each used budget: [budget, observed L*, fitted] */
  points: z.array(z.tuple([pos, pos, pos])),
  warnings: z.array(z.string()),
});
export type FrontierFit = z.infer<typeof FrontierFit>;

export const Prediction = z.object({
  budget: pos,
  /** how far beyond the fitted budgets: max(target / largest, smallest / target), ≥ 1 */
  extrapolation: z.number().min(0),
  isoflop: PredictionValues.optional(),
  parametric: PredictionValues.optional(),
  vpnls: PredictionValues.optional(),
  /** the loss at the target from the optimal-loss frontier L*(C), with its bootstrap interval */
  frontier: z.object({ loss: pos, interval: Interval.optional() }).optional(),
  warnings: z.array(z.string()),
});
export type Prediction = z.infer<typeof Prediction>;

export const TableRow = PredictionValues.extend({
  budget: pos,
  method: FitMethod,
});
export type TableRow = z.infer<typeof TableRow>;

export const BootstrapReport = z.object({
  /** resamples requested */
  samples: z.number().int().min(0),
  confidence: z.number().gt(0).lt(1),
  seed: z.number().int(),
  /** successful resamples per method */
  succeeded: z.object({ isoflop: z.number().int().min(0).optional(), parametric: z.number().int().min(0).optional(), vpnls: z.number().int().min(0).optional() }),
  /** failed resamples per method (counted, never silently dropped) */
  failed: z.object({ isoflop: z.number().int().min(0).optional(), parametric: z.number().int().min(0).optional(), vpnls: z.number().int().min(0).optional() }),
  /** percentile intervals by name (absent where fewer than 2 resamples succeeded) */
  intervals: z.record(z.string(), Interval),
  /** standard errors by name; null where the standard error is not a finite number (it overflowed) */
  se: z.record(z.string(), z.number().min(0).nullable()),
  warnings: z.array(z.string()),
});
export type BootstrapReport = z.infer<typeof BootstrapReport>;

export const BacktestSplit = z.discriminatedUnion('kind', [
  /** the largest k budget groups are held out */
  z.object({ kind: z.literal('budgets'), k: z.number().int().positive() }),
  /** every point with C ≥ above is held out */
  z.object({ kind: z.literal('above'), above: pos }),
]);
export type BacktestSplit = z.infer<typeof BacktestSplit>;

/** Fit on the smaller budgets, predict the held-out larger ones (src/core/fit/backtest.ts). */
export const Backtest = z.object({
  split: BacktestSplit,
  train: z.object({ points: z.number().int().min(0), largestC: pos }),
  test: z.object({ points: z.number().int().min(0), smallestC: pos }),
  /** the parametric fit's prediction of each held-out point's loss; relError = (predicted − loss)/loss */
  parametric: z
    .object({
      meanAbsRelError: z.number().min(0),
      worstAbsRelError: z.number().min(0),
      /** mean signed relative error (> 0: the fit predicts too high a loss) */
      bias: num,
      points: z.array(z.object({ index: z.number().int().min(0), loss: pos, predicted: pos, relError: num })),
    })
    .optional(),
  /** the IsoFLOP power laws' N_opt and L_opt at each held-out budget, against the budget's own optimum */
  isoflop: z
    .object({
      budgets: z.array(
        z.object({
          budget: pos,
          predictedNOpt: pos,
          predictedLossOpt: pos,
          observedNOpt: pos.optional(),
          /** predicted / observed N_opt */
          nOptRatio: pos.optional(),
          observedLossOpt: pos.optional(),
          lossOptRelError: num.optional(),
        }),
      ),
    })
    .optional(),
  warnings: z.array(z.string()),
});
export type Backtest = z.infer<typeof Backtest>;

/** The IsoFLOP exponents under one parameter-counting convention (src/core/fit/conventions.ts). */
export const ConventionFit = z.object({
  convention: z.string(),
  /** the convention of the rest of the report */
  headline: z.boolean(),
  nRange: z.tuple([pos, pos]),
  usedGroups: z.number().int().min(0),
  /** N_opt ∝ C^a, D_opt ∝ C^b in this convention (absent: fewer than 2 bracketed budgets) */
  a: num.optional(),
  b: num.optional(),
});
export type ConventionFit = z.infer<typeof ConventionFit>;

export const FitReport = z.object({
  version: z.literal(1),
  createdAt: z.string(),
  settings: FitSettings,
  points: z.array(ReportPoint),
  isoflop: IsoflopFit.optional(),
  /** when the IsoFLOP fit could not be made: why, and its budgets (their statuses and which way to extend) */
  isoflopSkipped: z.object({ reason: z.string(), groups: z.array(IsoflopGroup) }).optional(),
  /** the optimal-loss frontier L*(C) through the IsoFLOP optima (needs 3+ used budgets) */
  frontier: FrontierFit.optional(),
  parametric: ParametricFit.optional(),
  /** L(N, D) by variable projection (least squares on raw loss) */
  vpnls: VpnlsFit.optional(),
  /** hyperparameter scaling laws (learning rate, batch size) from the near-optimal band */
  hyper: HyperFit.optional(),
  /** Chinchilla Approach 1: the lower envelope of the training curves */
  approach1: Approach1Fit.optional(),
  /** allocations at the target budget and the compute a different allocation wastes */
  decision: Decision.optional(),
  /** published laws evaluated at the table budgets, for comparison */
  presets: z.array(PresetCurve).optional(),
  bootstrap: BootstrapReport.optional(),
  prediction: Prediction.optional(),
  /** Chinchilla-style table: one row per budget and fitted method */
  table: z.array(TableRow),
  /** the IsoFLOP exponents under every parameter-counting convention the runs allow, side by side */
  conventions: z.array(ConventionFit).optional(),
  /** `--backtest`: the fit on the smaller budgets scored on the held-out larger ones */
  backtest: Backtest.optional(),
  warnings: z.array(z.string()),
});
export type FitReport = z.infer<typeof FitReport>;

/**
 * fit.json's text for a report: the report is checked against the FitReport schema first (so a
 * file the readers would reject is never written); throws, naming the field, when it breaks it.
 */
export function serializeFitReport(report: FitReport): string {
  const checked = FitReport.safeParse(report);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new Error(`refusing to write a fit report that breaks the fit.json schema: ${issue.path.join('.') || 'report'}: ${issue.message}`);
  }
  return JSON.stringify(report, null, 2) + '\n';
}

/** Parses fit.json's content (already JSON-decoded) with the same schema the writer checked. */
export function parseFitReport(raw: unknown): ReturnType<typeof FitReport.safeParse> {
  return FitReport.safeParse(raw);
}

/** Bad input to the fit (the message names the row); the CLI prints it as a user error. */
export class FitInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FitInputError';
  }
}
