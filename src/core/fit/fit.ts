/**
 * `fitScalingLaws`: IsoFLOP (Approach 2) and parametric (Approach 3) fits, bootstrap intervals,
 * a prediction at a target budget and a Chinchilla-style table, as one `FitReport`.
 * Pure TypeScript (no I/O; see ./io for files).
 */
import { bootstrapCountWarning, summarise } from './bootstrap';
import { OPTIMUM_METHODS, fitGroup, fitIsoflopLaws, groupByBudget, logLossNoise, type BudgetGroup, type GroupFit, type IsoflopLaws, type OptimumOptions } from './isoflop';
import {
  HUBER_DELTA,
  START_GRID_SIZE,
  besirogluGrid,
  logResiduals,
  makeParametricData,
  fitParametricData,
  paramsFromVector,
  parametricAllocation,
  parametricLoss,
  resampleParametricData,
  type MultiStartOptions,
  type ParametricData,
  type ParametricParams,
  type PolishedFit,
} from './parametric';
import { Rng } from './rng';
import { runVpnls, vpnlsResampleParams, type VpnlsState } from './vpnls';
import {
  DEFAULT_FIT_OPTIONS,
  FIT_METHODS,
  FitInputError,
  type BootstrapReport,
  type FitMethod,
  type FitOptions,
  type FitPoint,
  type FitReport,
  type FitSettings,
  type Interval,
  type IsoflopFit,
  type IsoflopGroup,
  type ParametricFit,
  type Prediction,
  type PredictionValues,
  type TableRow,
} from './types';

/** Distinct runner-up optima of the full-data fit used to warm-start every bootstrap resample. */
export const BOOTSTRAP_WARM_OPTIMA = 4;
/** Evenly strided grid points added to every bootstrap resample's starts. */
export const BOOTSTRAP_GRID_STARTS = 8;
/** How the IsoFLOP bootstrap of the 'akima' and 'local-parabola' optima works, in words. */
export const ISOFLOP_NOISE_BOOTSTRAP =
  'IsoFLOP: each point\'s ln L is perturbed by Gaussian noise of the σ estimated from the scatter of ln L about local parabolas (pooled over budgets) and every budget\'s optimum re-estimated (a used budget whose lowest loss moves to an end size takes that size, counted in the warnings). ';
export const BOOTSTRAP_STRATEGY =
  'IsoFLOP (optimum "parabola"): points are resampled within each budget (redrawn until a budget has 3 distinct sizes); a resample in which a used budget has no bracketed optimum fails. ' +
  `Parametric: rows are resampled; each resample starts L-BFGS from the full-data optimum, the next ${BOOTSTRAP_WARM_OPTIMA - 1} distinct local optima of the ` +
  `full-data multi-start and ${BOOTSTRAP_GRID_STARTS} evenly strided points of the ${START_GRID_SIZE}-point grid, keeping the best and polishing it`;

/** Extrapolating beyond this factor of the fitted budgets gives a warning. */
export const EXTRAPOLATION_WARN_FACTOR = 10;

interface Resolved {
  methods: FitMethod[];
  bootstrap: number;
  confidence: number;
  seed: number;
  target?: number;
  tableBudgets?: number[];
  k: number;
  tolerance: number;
  optimum: OptimumOptions;
  now: () => Date;
}

function resolveOptions(o: FitOptions): Resolved {
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

// ---------------------------------------------------------------------------------------------
// Derived quantities (shared by the point estimate and every bootstrap resample)

function isoPrediction(laws: IsoflopLaws, C: number, k: number): { nOpt: number; dOpt: number; tokensPerParam: number; loss: number } {
  const lc = Math.log(C);
  const nOpt = Math.exp(laws.n.intercept + laws.n.slope * lc);
  const dOpt = C / (k * nOpt);
  return { nOpt, dOpt, tokensPerParam: dOpt / nOpt, loss: Math.exp(laws.loss.intercept + laws.loss.slope * lc) };
}

function paramPrediction(p: ParametricParams, C: number, k: number): { nOpt: number; dOpt: number; tokensPerParam: number; loss: number } | undefined {
  if (!(p.alpha > 0 && p.beta > 0)) return undefined;
  const { nOpt, dOpt } = parametricAllocation(p, C, k);
  const v = { nOpt, dOpt, tokensPerParam: dOpt / nOpt, loss: parametricLoss(p, nOpt, dOpt) };
  return Object.values(v).every((x) => Number.isFinite(x) && x > 0) ? v : undefined;
}

const PRED_KEYS = ['nOpt', 'dOpt', 'tokensPerParam', 'loss'] as const;

function isoQuantities(groups: readonly GroupFit[], used: readonly number[], laws: IsoflopLaws, budgets: readonly number[], target: number | undefined, k: number): Record<string, number> {
  const q: Record<string, number> = {
    'isoflop.a': laws.n.slope,
    'isoflop.b': laws.d.slope,
    'isoflop.logCoefficient': laws.n.intercept,
    'isoflop.dLogCoefficient': laws.d.intercept,
    'isoflop.lossExponent': laws.loss.slope,
    'isoflop.lossLogCoefficient': laws.loss.intercept,
  };
  for (const gi of used) {
    const g = groups[gi];
    q[`isoflop.groups.${gi}.nOpt`] = g.nOpt!;
    q[`isoflop.groups.${gi}.dOpt`] = g.dOpt!;
    q[`isoflop.groups.${gi}.lossOpt`] = g.lossOpt!;
  }
  if (target !== undefined) {
    const p = isoPrediction(laws, target, k);
    for (const key of PRED_KEYS) q[`prediction.isoflop.${key}`] = p[key];
  }
  budgets.forEach((b, i) => {
    const p = isoPrediction(laws, b, k);
    for (const key of PRED_KEYS) q[`table.isoflop.${i}.${key}`] = p[key];
  });
  return q;
}

/** The quantities of an L(N, D) fit, named `<method>.*` (parametric, or vpnls: the same law fitted another way). */
function paramQuantities(p: ParametricParams, budgets: readonly number[], target: number | undefined, k: number, method: 'parametric' | 'vpnls' = 'parametric'): Record<string, number> {
  const q: Record<string, number> = {
    [`${method}.E`]: p.E,
    [`${method}.A`]: p.A,
    [`${method}.B`]: p.B,
    [`${method}.alpha`]: p.alpha,
    [`${method}.beta`]: p.beta,
  };
  if (p.alpha > 0 && p.beta > 0 && p.A > 0 && p.B > 0) {
    q[`${method}.a`] = p.a;
    q[`${method}.b`] = p.b;
    q[`${method}.G`] = p.G;
  }
  if (target !== undefined) {
    const pr = paramPrediction(p, target, k);
    if (pr) for (const key of PRED_KEYS) q[`prediction.${method}.${key}`] = pr[key];
  }
  budgets.forEach((b, i) => {
    const pr = paramPrediction(p, b, k);
    if (pr) for (const key of PRED_KEYS) q[`table.${method}.${i}.${key}`] = pr[key];
  });
  return q;
}

// ---------------------------------------------------------------------------------------------

interface IsoState {
  fit: IsoflopFit;
  groupFits: GroupFit[];
  used: number[];
  laws: IsoflopLaws;
}

function runIsoflop(points: readonly FitPoint[], groups: readonly BudgetGroup[], k: number, opt: OptimumOptions): IsoState | string {
  const groupFits = groups.map((g) => fitGroup(points, g.members, g.budget, k, opt, true));
  const used: number[] = [];
  const outGroups: IsoflopGroup[] = groupFits.map((gf, gi) => {
    const g = groups[gi];
    const warnings: string[] = [];
    const budgetLabel = `budget ${fmt(g.budget)} FLOPs`;
    const isUsed = gf.status === 'ok' || (opt.keepEdges && gf.status === 'edge' && gf.nOpt !== undefined);
    let extend: IsoflopGroup['extend'];
    if (gf.status === 'too-few-sizes') warnings.push(`${budgetLabel}: only ${gf.distinctSizes} distinct model size(s); an optimum needs at least 3`);
    else if (gf.status === 'singular') warnings.push(`${budgetLabel}: the parabola is not determined by these points`);
    else if (gf.status === 'not-convex') warnings.push(`${budgetLabel}: the loss curve is not convex in log N (it bends down), so it has no minimum; the group is left out`);
    else if (gf.status === 'edge') {
      const step = gf.logStep && gf.logStep > 0 ? gf.logStep : Math.log(2);
      const dir = gf.edge ?? (gf.nOpt! < gf.minN ? 'smaller' : 'larger');
      const from = dir === 'smaller' ? gf.minN : gf.maxN;
      const sign = dir === 'smaller' ? -1 : 1;
      extend = { direction: dir, sizes: [1, 2].map((j) => +(from * Math.exp(sign * j * step)).toPrecision(3)) };
      const why =
        gf.bracketed === false
          ? `the lowest loss is at the ${dir === 'smaller' ? 'smallest' : 'largest'} size tried (N = ${fmt(dir === 'smaller' ? gf.minN : gf.maxN)})`
          : `the parabola's vertex N = ${fmt(gf.nOpt!)} lies outside the sizes tried (${fmt(gf.minN)}–${fmt(gf.maxN)})`;
      warnings.push(
        `${budgetLabel}: the optimum is not bracketed: ${why}, so N_opt is only a bound and this budget is ${isUsed ? 'still used (keepEdgeBudgets)' : 'left out of the power laws'}; add ${dir} models (e.g. N = ${extend.sizes.map(fmt).join(', ')})`,
      );
    }
    if (isUsed) used.push(gi);
    const q = gf.quad;
    return {
      index: gi,
      budget: g.budget,
      status: gf.status,
      used: isUsed,
      points: g.members.map((pi) => {
        const p = points[pi];
        const fitted = q ? q.p0 + q.p1 * (Math.log(p.N) - q.center) + q.p2 * (Math.log(p.N) - q.center) ** 2 : undefined;
        return { index: pi, N: p.N, D: p.D, loss: p.loss, ...(fitted !== undefined ? { fitted, residual: p.loss - fitted } : {}) };
      }),
      ...(q ? { parabola: { c0: q.c0, c1: q.c1, c2: q.c2, center: q.center, p0: q.p0, p1: q.p1, p2: q.p2 } } : {}),
      ...(gf.nOpt !== undefined ? { nOpt: gf.nOpt, dOpt: gf.dOpt, lossOpt: gf.lossOpt, interior: gf.interior } : {}),
      ...(gf.curvature !== undefined ? { curvature: gf.curvature, convex: gf.convex } : {}),
      ...(gf.bracketed !== undefined ? { bracketed: gf.bracketed } : {}),
      ...(extend ? { extend } : {}),
      ...(gf.curve ? { curve: { N: gf.curve.x.map(Math.exp), loss: gf.curve.y } } : {}),
      nRange: [gf.minN, gf.maxN] as [number, number],
      warnings,
    };
  });
  const laws = used.length >= 2 ? fitIsoflopLaws(groupFits, used) : undefined;
  if (!laws) {
    const edges = outGroups.filter((g) => g.status === 'edge').length;
    return (
      `IsoFLOP fit needs at least 2 budgets whose optimum is bracketed (3+ distinct model sizes each, the lowest loss at an inner size); found ${used.length} of ${groups.length} budget group(s)` +
      (edges ? ` (${edges} budget(s) have their lowest loss at the smallest or largest size tried: extend the sizes, see the budgets' warnings)` : '')
    );
  }
  // Per-group warnings stay on the groups; the summary lists them, folding the common
  // "too few sizes" case (data not laid out on an IsoFLOP grid) into one line.
  const few = outGroups.filter((g) => g.status === 'too-few-sizes');
  const warnings = outGroups.filter((g) => few.length <= 3 || g.status !== 'too-few-sizes').flatMap((g) => g.warnings);
  if (few.length > 3) {
    warnings.unshift(
      `${few.length} of ${groups.length} budget groups have fewer than 3 distinct model sizes and are left out of the IsoFLOP fit (is the data on an IsoFLOP grid? budgetTolerance is the relative spread allowed within a group)`,
    );
  }
  if (used.length === 2) warnings.push('IsoFLOP power laws rest on only 2 budgets: the line passes exactly through them and its exponent has no error estimate beyond the bootstrap');
  const law = (l: { slope: number; intercept: number; r2?: number }) => ({
    exponent: l.slope,
    logCoefficient: l.intercept,
    coefficient: Math.exp(l.intercept),
    ...(l.r2 !== undefined && Number.isFinite(l.r2) ? { r2: l.r2 } : {}),
  });
  return {
    groupFits,
    used,
    laws,
    fit: {
      groups: outGroups,
      usedGroups: used.length,
      a: laws.n.slope,
      b: laws.d.slope,
      logCoefficient: laws.n.intercept,
      dLogCoefficient: laws.d.intercept,
      nOpt: law(laws.n),
      dOpt: law(laws.d),
      lossOpt: law(laws.loss),
      optimum: { method: opt.method, ...(opt.method === 'local-parabola' ? { window: opt.window } : {}), edgesKept: opt.keepEdges },
      warnings,
    },
  };
}

export interface ParamState {
  fit: ParametricFit;
  params: ParametricParams;
  x: Float64Array;
  warmStarts: Float64Array;
  data: ParametricData;
  warnings: string[];
}

/** One parametric bootstrap resample's optimum, or undefined when it failed. */
export type ResampleFit = (ParametricParams & { objective: number }) | undefined;

/**
 * The expensive, embarrassingly parallel steps of a fit, which the fit yields to its driver: the
 * full-data multi-start (answered with `fitParametricData(data, starts, opts)`) and the parametric
 * bootstrap resamples (answered with `fitParametricResample(base, idx)` for each, in order). The
 * sync driver answers them on this thread; `fitScalingLawsAsync` (./parallel, node only) on a
 * worker pool, with bit-identical answers.
 */
export type FitRequest =
  | { kind: 'multistart'; data: ParametricData; starts: Float64Array; opts: MultiStartOptions }
  | { kind: 'resamples'; base: ParamState; indices: Int32Array[] };
export type FitResponse = PolishedFit | ResampleFit[];
export type FitSteps<T> = Generator<FitRequest, T, FitResponse>;

/** Answers a request on this thread. */
export function serveFitRequest(req: FitRequest): FitResponse {
  if (req.kind === 'multistart') return fitParametricData(req.data, req.starts, req.opts);
  return req.indices.map((idx) => fitParametricResample(req.base, idx));
}

/** Runs fit steps to the end on this thread. */
export function runFitSteps<T>(steps: FitSteps<T>): T {
  let r = steps.next();
  while (!r.done) r = steps.next(serveFitRequest(r.value));
  return r.value;
}

export function runParametric(points: readonly FitPoint[]): ParamState | string {
  return runFitSteps(runParametricSteps(points));
}

export function* runParametricSteps(points: readonly FitPoint[]): FitSteps<ParamState | string> {
  if (points.length < 5) return `the parametric fit has 5 parameters (E, A, B, α, β) and needs at least 5 points; got ${points.length}`;
  const distinctN = new Set(points.map((p) => p.N)).size;
  const distinctD = new Set(points.map((p) => p.D)).size;
  if (distinctN < 2 || distinctD < 2) return `the parametric fit needs at least 2 distinct model sizes and 2 distinct token counts; got ${distinctN} and ${distinctD}`;
  const data = makeParametricData(
    points.map((p) => p.N),
    points.map((p) => p.D),
    points.map((p) => p.loss),
  );
  const ms = (yield { kind: 'multistart', data, starts: besirogluGrid(), opts: { keepOptima: BOOTSTRAP_WARM_OPTIMA + 1 } }) as PolishedFit;
  const x = ms.x;
  const objective = ms.f;
  const params = paramsFromVector(x);
  const res = logResiduals(data, x);
  const warnings: string[] = [];
  let ss = 0;
  for (const r of res) ss += r * r;
  const warm = new Float64Array(5 * (BOOTSTRAP_WARM_OPTIMA + BOOTSTRAP_GRID_STARTS));
  warm.set(x, 0);
  let w = 1;
  for (const o of ms.optima) {
    if (w >= BOOTSTRAP_WARM_OPTIMA) break;
    if (o.f === ms.best.f) continue; // the winner, already in as its polished form
    warm.set(o.x, 5 * w++);
  }
  const grid = besirogluGrid();
  for (let j = 0; j < BOOTSTRAP_GRID_STARTS; j++) {
    const s = Math.floor(((j + 0.5) * START_GRID_SIZE) / BOOTSTRAP_GRID_STARTS);
    warm.set(grid.subarray(5 * s, 5 * s + 5), 5 * w++);
  }
  const localOptima = ms.optima
    .filter((o) => o.f !== ms.best.f)
    .slice(0, BOOTSTRAP_WARM_OPTIMA)
    .map((o) => {
      const p = paramsFromVector(o.x);
      return { objective: o.f, E: p.E, A: p.A, B: p.B, alpha: p.alpha, beta: p.beta };
    })
    .filter((o) => [o.objective, o.E, o.A, o.B, o.alpha, o.beta].every(Number.isFinite) && o.E > 0 && o.A > 0 && o.B > 0);
  if (!(params.alpha > 0 && params.beta > 0)) warnings.push(`parametric fit: α = ${fmt(params.alpha)}, β = ${fmt(params.beta)}; with an exponent ≤ 0 there is no compute-optimal allocation`);
  if (!(params.E > 0 && params.A > 0 && params.B > 0 && Number.isFinite(params.E) && Number.isFinite(params.A) && Number.isFinite(params.B))) {
    return 'the parametric fit did not reach finite parameters from any start';
  }
  const fit: ParametricFit = {
    E: params.E,
    A: params.A,
    B: params.B,
    alpha: params.alpha,
    beta: params.beta,
    ...(params.alpha > 0 && params.beta > 0 ? { a: params.a, b: params.b, G: params.G } : {}),
    objective,
    starts: ms.starts,
    converged: ms.best.converged,
    convergedStarts: ms.convergedStarts,
    localOptima,
    residuals: points.map((p, i) => ({ index: i, predicted: parametricLoss(params, p.N, p.D), residual: res[i] })),
    rmsLogResidual: Math.sqrt(ss / res.length),
  };
  if (!ms.best.converged) warnings.push('parametric fit: the best start stopped before meeting a convergence criterion');
  return { fit, params, x, warmStarts: warm.subarray(0, 5 * w), data, warnings };
}

/** Fits one parametric bootstrap resample from the warm starts. */
export function fitParametricResample(base: Pick<ParamState, 'data' | 'warmStarts'>, indices: Int32Array): ResampleFit {
  const data = resampleParametricData(base.data, indices);
  try {
    const ms = fitParametricData(data, base.warmStarts);
    const p = paramsFromVector(ms.x);
    if (![p.E, p.A, p.B, p.alpha, p.beta].every(Number.isFinite)) return undefined;
    if (!(p.alpha > 0 && p.beta > 0)) return undefined;
    return { ...p, objective: ms.f };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------

/** Fits scaling laws to finished runs. Throws FitInputError on bad input. */
export function fitScalingLaws(points: readonly FitPoint[], options: FitOptions = {}): FitReport {
  return runFitSteps(fitScalingLawsSteps(points, options));
}

/** `fitScalingLaws` as steps: the expensive parts are yielded as FitRequests to the driver. */
export function* fitScalingLawsSteps(points: readonly FitPoint[], options: FitOptions = {}): FitSteps<FitReport> {
  const o = resolveOptions(options);
  validatePoints(points);
  if (points.length === 0) throw new FitInputError('no points to fit');
  const warnings: string[] = [];
  const groups = groupByBudget(points, o.tolerance);
  const groupOf = new Int32Array(points.length);
  groups.forEach((g, gi) => g.members.forEach((m) => (groupOf[m] = gi)));

  let iso: IsoState | undefined;
  let par: ParamState | undefined;
  const failures: string[] = [];
  if (o.methods.includes('isoflop')) {
    const r = runIsoflop(points, groups, o.k, o.optimum);
    if (typeof r === 'string') failures.push(r);
    else iso = r;
  }
  if (o.methods.includes('parametric')) {
    const r = yield* runParametricSteps(points);
    if (typeof r === 'string') failures.push(r);
    else {
      par = r;
      warnings.push(...r.warnings);
    }
  }
  let vp: VpnlsState | undefined;
  if (o.methods.includes('vpnls')) {
    const r = runVpnls(points);
    if (typeof r === 'string') failures.push(r);
    else {
      vp = r;
      warnings.push(...r.warnings);
    }
  }
  if (!iso && !par && !vp) throw new FitInputError(failures.join('; '));
  for (const f of failures) warnings.push(`skipped: ${f}`);
  if (iso) warnings.push(...iso.fit.warnings);

  // Budgets of the table: the chosen ones, else the sweep's own (one per IsoFLOP group).
  const tableBudgets = o.tableBudgets ?? defaultTableBudgets(groups.map((g) => g.budget));
  const fittedBudgets = groups.map((g) => g.budget);
  const minB = Math.min(...fittedBudgets);
  const maxB = Math.max(...fittedBudgets);

  // Point estimates of the derived quantities.
  const estimates: Record<string, number> = {
    ...(iso ? isoQuantities(iso.groupFits, iso.used, iso.laws, tableBudgets, o.target, o.k) : {}),
    ...(par ? paramQuantities(par.params, tableBudgets, o.target, o.k) : {}),
    ...(vp ? paramQuantities(vp.params, tableBudgets, o.target, o.k, 'vpnls') : {}),
  };

  // Bootstrap.
  let bootstrap: BootstrapReport | undefined;
  const summaries = new Map<string, { interval?: Interval; se?: number }>();
  if (o.bootstrap > 0) {
    const samples = new Map<string, number[]>();
    const push = (q: Record<string, number>) => {
      for (const [k, v] of Object.entries(q)) {
        let arr = samples.get(k);
        if (!arr) samples.set(k, (arr = []));
        arr.push(v);
      }
    };
    const succeeded: BootstrapReport['succeeded'] = {};
    const failed: BootstrapReport['failed'] = {};
    const bw: string[] = [];
    if (iso) {
      const rng = new Rng(o.seed, 1);
      let ok = 0;
      let bad = 0;
      const noise = o.optimum.method === 'parabola' ? undefined : logLossNoise(points, groups);
      if (noise) {
        bw.push(`IsoFLOP bootstrap: the losses are perturbed by the noise of ln L estimated from the data, σ = ${fmt(noise.sigma)} (${noise.dof} degrees of freedom)`);
      } else if (o.optimum.method !== 'parabola') {
        bw.push('IsoFLOP bootstrap: no budget has 4 or more sizes, so the loss noise cannot be estimated and the optima get no interval; train more sizes per budget');
      }
      const perturbed: FitPoint[] = points.map((p) => ({ ...p }));
      let edgeHits = 0;
      for (let s = 0; s < (o.optimum.method === 'parabola' || noise ? o.bootstrap : 0); s++) {
        let fits: GroupFit[];
        if (noise) {
          for (let i = 0; i < points.length; i++) perturbed[i].loss = points[i].loss * Math.exp(noise.sigma * rng.normal());
          fits = groups.map((g) => fitGroup(perturbed, g.members, g.budget, o.k, o.optimum));
        } else {
          fits = groups.map((g, gi) => {
            const m = g.members.length;
            const idx = new Int32Array(m);
            const distinct = new Set<number>();
            // Within-budget resampling, conditioned on the resample still having 3 distinct sizes
            // (redrawn up to 50 times) so that it has a parabola at all.
            for (let tries = 0; tries < 50; tries++) {
              distinct.clear();
              for (let j = 0; j < m; j++) {
                idx[j] = g.members[rng.int(m)];
                distinct.add(points[idx[j]].N);
              }
              if (distinct.size >= 3 || !iso!.used.includes(gi)) break;
            }
            return fitGroup(points, idx, g.budget, o.k, o.optimum);
          });
        }
        // A resample fails when a budget used by the full fit loses its optimum (not convex, or
        // no longer bracketed): dropping it would silently change which budgets the law rests on.
        // With perturbed losses, a used budget whose lowest loss moves to an end size keeps that size
        // as its N_opt (counted and reported): failing such resamples would cut off one tail.
        const edgeHit = noise !== undefined && iso.used.some((gi) => fits[gi].status === 'edge' && fits[gi].nOpt !== undefined);
        const lost = iso.used.some((gi) => fits[gi].nOpt === undefined || (fits[gi].status !== 'ok' && !((noise || o.optimum.keepEdges) && fits[gi].status === 'edge')));
        const laws = lost ? undefined : fitIsoflopLaws(fits, iso.used);
        if (laws && edgeHit) edgeHits++;
        if (!laws) {
          bad++;
          continue;
        }
        ok++;
        push(isoQuantities(fits, iso.used, laws, tableBudgets, o.target, o.k));
      }
      if (edgeHits > 0) {
        bw.push(
          `IsoFLOP bootstrap: in ${edgeHits} of ${ok} resamples the noise moved a used budget's lowest loss to its smallest or largest size, where N_opt was taken as that size; the intervals may be too narrow on that side (add sizes beyond the optimum)`,
        );
      }
      succeeded.isoflop = ok;
      failed.isoflop = bad;
      if (bad > 0) {
        bw.push(
          `IsoFLOP bootstrap: ${bad} of ${o.bootstrap} resamples failed (a used budget's resample had no bracketed optimum) and are excluded from the intervals`,
        );
      }
      const rigid = noise ? [] : iso.used.filter((gi) => new Set(groups[gi].members.map((m) => points[m].N)).size === groups[gi].members.length && groups[gi].members.length <= 3);
      if (rigid.length > 0) {
        bw.push(
          `IsoFLOP bootstrap: ${rigid.length} budget(s) have exactly 3 points at 3 sizes, so every usable resample equals the data and they add no uncertainty to the intervals; train more sizes (or seeds) per budget`,
        );
      }
      const cw = o.optimum.method === 'parabola' || noise ? bootstrapCountWarning('IsoFLOP bootstrap', ok, o.confidence) : undefined;
      if (cw) bw.push(cw);
    }
    if (par) {
      const rng = new Rng(o.seed, 2);
      const n = points.length;
      // The draws depend on the rng only, so all of them are made first and fitted as one batch.
      const indices: Int32Array[] = [];
      for (let s = 0; s < o.bootstrap; s++) {
        const idx = new Int32Array(n);
        for (let j = 0; j < n; j++) idx[j] = rng.int(n);
        indices.push(idx);
      }
      const fits = (yield { kind: 'resamples', base: par, indices }) as ResampleFit[];
      let ok = 0;
      let bad = 0;
      for (const p of fits) {
        if (!p) {
          bad++;
          continue;
        }
        ok++;
        push(paramQuantities(p, tableBudgets, o.target, o.k));
      }
      succeeded.parametric = ok;
      failed.parametric = bad;
      if (bad > 0) bw.push(`parametric bootstrap: ${bad} of ${o.bootstrap} resamples failed (no finite optimum with α, β > 0) and are excluded from the intervals`);
      const cw = bootstrapCountWarning('parametric bootstrap', ok, o.confidence);
      if (cw) bw.push(cw);
    }
    if (vp) {
      const rng = new Rng(o.seed, 3);
      const n = points.length;
      let ok = 0;
      let bad = 0;
      for (let s = 0; s < o.bootstrap; s++) {
        const idx = new Int32Array(n);
        for (let j = 0; j < n; j++) idx[j] = rng.int(n);
        const p = vpnlsResampleParams(vp, idx);
        if (!p) {
          bad++;
          continue;
        }
        ok++;
        push(paramQuantities(p, tableBudgets, o.target, o.k, 'vpnls'));
      }
      succeeded.vpnls = ok;
      failed.vpnls = bad;
      if (bad > 0) bw.push(`VPNLS bootstrap: ${bad} of ${o.bootstrap} resamples failed (no allocation: A or B held at 0, or α, β ≤ 0) and are excluded from the intervals`);
      const cw = bootstrapCountWarning('VPNLS bootstrap', ok, o.confidence);
      if (cw) bw.push(cw);
    }
    const intervals: Record<string, Interval> = {};
    const se: Record<string, number | null> = {};
    for (const [name, vals] of samples) {
      const s = summarise(vals, o.confidence);
      // percentiles of finite values are finite unless interpolating between them overflowed
      const interval = s.interval && s.interval.every(Number.isFinite) ? s.interval : undefined;
      if (interval) summaries.set(name, { interval, se: s.se });
      if (name.startsWith('table.')) continue; // table intervals live on the table rows
      if (interval) intervals[name] = interval;
      // fit.json's one representation of a non-finite number is null (see types.ts)
      if (s.se !== undefined) se[name] = Number.isFinite(s.se) ? s.se : null;
    }
    bootstrap = { samples: o.bootstrap, confidence: o.confidence, seed: o.seed, succeeded, failed, intervals, se, warnings: bw };
    warnings.push(...bw);
  }

  const values = (prefix: string): PredictionValues | undefined => {
    const v: Partial<Record<(typeof PRED_KEYS)[number], number>> = {};
    for (const key of PRED_KEYS) {
      const x = estimates[`${prefix}.${key}`];
      if (x === undefined) return undefined;
      v[key] = x;
    }
    const ints: NonNullable<PredictionValues['intervals']> = {};
    for (const key of PRED_KEYS) {
      const s = summaries.get(`${prefix}.${key}`);
      if (s?.interval) ints[key] = s.interval;
    }
    return { ...(v as Record<(typeof PRED_KEYS)[number], number>), ...(Object.keys(ints).length ? { intervals: ints } : {}) };
  };

  let prediction: Prediction | undefined;
  if (o.target !== undefined) {
    const extrapolation = Math.max(o.target / maxB, minB / o.target, 1);
    const pw: string[] = [];
    if (extrapolation > EXTRAPOLATION_WARN_FACTOR) {
      pw.push(
        `target ${fmt(o.target)} FLOPs is ${fmt(extrapolation)}× ${o.target > maxB ? 'beyond the largest' : 'below the smallest'} fitted budget (${fmt(o.target > maxB ? maxB : minB)}); extrapolating more than ${EXTRAPOLATION_WARN_FACTOR}× is unreliable`,
      );
    }
    const isoV = iso ? values('prediction.isoflop') : undefined;
    const parV = par ? values('prediction.parametric') : undefined;
    if (par && !parV) pw.push('parametric prediction unavailable: the fit has no compute-optimal allocation (α or β ≤ 0)');
    const vpV = vp ? values('prediction.vpnls') : undefined;
    if (vp && !vpV) pw.push('VPNLS prediction unavailable: the fit has no compute-optimal allocation (A or B is 0, or α or β ≤ 0)');
    prediction = { budget: o.target, extrapolation, ...(isoV ? { isoflop: isoV } : {}), ...(parV ? { parametric: parV } : {}), ...(vpV ? { vpnls: vpV } : {}), warnings: pw };
    warnings.push(...pw);
  }

  const table: TableRow[] = [];
  tableBudgets.forEach((b, i) => {
    for (const m of o.methods) {
      if ((m === 'isoflop' && !iso) || (m === 'parametric' && !par) || (m === 'vpnls' && !vp)) continue;
      const v = values(`table.${m}.${i}`);
      if (v) table.push({ budget: b, method: m, ...v });
    }
  });

  const settings: FitSettings = {
    methods: o.methods,
    bootstrap: o.bootstrap,
    confidence: o.confidence,
    seed: o.seed,
    ...(o.target !== undefined ? { target: o.target } : {}),
    ...(o.tableBudgets ? { tableBudgets: o.tableBudgets } : {}),
    flopsPerParamPerToken: o.k,
    budgetTolerance: o.tolerance,
    optimum: o.optimum.method,
    ...(o.optimum.method === 'local-parabola' ? { optimumWindow: o.optimum.window } : {}),
    keepEdgeBudgets: o.optimum.keepEdges,
    huberDelta: HUBER_DELTA,
    startGrid: START_GRID_SIZE,
    bootstrapStrategy: o.optimum.method === 'parabola' ? BOOTSTRAP_STRATEGY : ISOFLOP_NOISE_BOOTSTRAP + BOOTSTRAP_STRATEGY.slice(BOOTSTRAP_STRATEGY.indexOf('Parametric:')),
  };
  return {
    version: 1,
    createdAt: o.now().toISOString(),
    settings,
    points: points.map((p, i) => ({
      N: p.N,
      D: p.D,
      C: p.C,
      loss: p.loss,
      ...(p.budget !== undefined ? { budget: p.budget } : {}),
      ...(p.id !== undefined ? { id: p.id } : {}),
      group: groupOf[i],
    })),
    ...(iso ? { isoflop: iso.fit } : {}),
    ...(par ? { parametric: par.fit } : {}),
    ...(vp ? { vpnls: vp.fit } : {}),
    ...(bootstrap ? { bootstrap } : {}),
    ...(prediction ? { prediction } : {}),
    table,
    warnings,
  };
}

/** Compact number formatting for messages. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(3).replace(/\.?0+e/, 'e').replace('e+', 'e');
  return String(+v.toPrecision(4));
}

/**
 * The sweep's own range: one row per IsoFLOP budget when there are at most 10, else 6 budgets
 * spaced evenly in log C from the smallest to the largest (2 significant digits).
 */
export function defaultTableBudgets(budgets: readonly number[]): number[] {
  const sorted = [...new Set(budgets)].sort((a, b) => a - b);
  if (sorted.length <= 10) return sorted;
  const lo = Math.log10(sorted[0]);
  const hi = Math.log10(sorted[sorted.length - 1]);
  const out: number[] = [];
  for (let i = 0; i < 6; i++) out.push(+Math.pow(10, lo + ((hi - lo) * i) / 5).toPrecision(2));
  return [...new Set(out)];
}
