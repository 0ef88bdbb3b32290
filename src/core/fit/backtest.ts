/**
 * Backtests: fit on the smaller budgets, predict the held-out larger ones, and report the errors
 * (held-out points' loss from the parametric fit; held-out budgets' N_opt and L_opt from the
 * IsoFLOP power laws). Pure TypeScript; the fitter is passed in (sync or on workers).
 */
import { fitGroup, groupByBudget } from './isoflop';
import { DEFAULT_FIT_OPTIONS, FitInputError, type Backtest, type BacktestSplit, type FitOptions, type FitPoint, type FitReport } from './types';
import { parametricLoss } from './parametric';
import { fmt } from './format';

export type Fitter = (points: readonly FitPoint[], options: FitOptions) => FitReport | Promise<FitReport>;

/** Which points are held out: the largest k budget groups, or every point with C ≥ a threshold. */
export function splitPoints(points: readonly FitPoint[], split: BacktestSplit, tolerance: number = DEFAULT_FIT_OPTIONS.budgetTolerance): { train: number[]; test: number[] } {
  const test = new Set<number>();
  if (split.kind === 'budgets') {
    const groups = groupByBudget(points, tolerance);
    if (!(split.k >= 1 && split.k < groups.length)) {
      throw new FitInputError(`backtest: cannot hold out ${split.k} of ${groups.length} budget(s); at least one budget must remain to fit (and one to predict)`);
    }
    for (const g of groups.slice(groups.length - split.k)) for (const m of g.members) test.add(m);
  } else {
    points.forEach((p, i) => {
      if (p.C >= split.above) test.add(i);
    });
    if (test.size === 0 || test.size === points.length) {
      throw new FitInputError(`backtest: C ≥ ${fmt(split.above)} holds out ${test.size} of ${points.length} points; both sides need points`);
    }
  }
  const train = points.map((_, i) => i).filter((i) => !test.has(i));
  return { train, test: [...test] };
}

function stats(rel: number[]): { meanAbs: number; worstAbs: number; bias: number } {
  const abs = rel.map(Math.abs);
  return { meanAbs: abs.reduce((s, v) => s + v, 0) / abs.length, worstAbs: Math.max(...abs), bias: rel.reduce((s, v) => s + v, 0) / rel.length };
}

/** Fits the training side with `fitter` (no bootstrap) and scores its predictions of the held-out side. */
/**
 * The report with `options.backtest` added (unchanged without one). A split the points cannot
 * support (too few budgets, nothing held out) becomes a warning: the fit itself stands.
 */
export async function withBacktest(report: FitReport, points: readonly FitPoint[], options: FitOptions, fitter: Fitter): Promise<FitReport> {
  if (!options.backtest) return report;
  try {
    report.backtest = await backtest(points, options, options.backtest, fitter);
  } catch (err) {
    if (!(err instanceof FitInputError)) throw err;
    report.warnings.push(`backtest not run: ${err.message}`);
  }
  return report;
}

export async function backtest(points: readonly FitPoint[], options: FitOptions, split: BacktestSplit, fitter: Fitter): Promise<Backtest> {
  const { train, test } = splitPoints(points, split, options.budgetTolerance);
  const trainPts = train.map((i) => points[i]);
  const testPts = test.map((i) => points[i]);
  const report = await fitter(trainPts, { ...options, bootstrap: 0, target: undefined, tableBudgets: undefined });
  const k = options.flopsPerParamPerToken ?? DEFAULT_FIT_OPTIONS.flopsPerParamPerToken;
  const warnings: string[] = [];
  const out: Backtest = {
    split,
    train: { points: train.length, largestC: Math.max(...trainPts.map((p) => p.C)) },
    test: { points: test.length, smallestC: Math.min(...testPts.map((p) => p.C)) },
    warnings,
  };
  const par = report.parametric;
  if (par) {
    const rows = test.map((i) => {
      const p = points[i];
      const predicted = parametricLoss(par, p.N, p.D);
      return { index: i, loss: p.loss, predicted, relError: (predicted - p.loss) / p.loss };
    });
    const s = stats(rows.map((r) => r.relError));
    out.parametric = { meanAbsRelError: s.meanAbs, worstAbsRelError: s.worstAbs, bias: s.bias, points: rows };
  }
  const iso = report.isoflop;
  if (iso) {
    // each held-out budget's own optimum (from its points alone) against the power law's prediction
    const groups = groupByBudget(testPts, options.budgetTolerance ?? DEFAULT_FIT_OPTIONS.budgetTolerance);
    const opt = { method: options.optimum ?? DEFAULT_FIT_OPTIONS.optimum, window: options.optimumWindow ?? DEFAULT_FIT_OPTIONS.optimumWindow, keepEdges: false };
    const budgets = groups.map((g) => {
      const predictedN = Math.exp(iso.nOpt.logCoefficient + iso.nOpt.exponent * Math.log(g.budget));
      const predictedL = Math.exp(iso.lossOpt.logCoefficient + iso.lossOpt.exponent * Math.log(g.budget));
      const gf = fitGroup(testPts, g.members, g.budget, k, opt);
      const observed = gf.status === 'ok' ? { observedNOpt: gf.nOpt!, nOptRatio: predictedN / gf.nOpt!, observedLossOpt: gf.lossOpt!, lossOptRelError: (predictedL - gf.lossOpt!) / gf.lossOpt! } : {};
      if (gf.status !== 'ok') warnings.push(`held-out budget ${fmt(g.budget)}: no bracketed optimum of its own (${gf.status}), so its N_opt is not scored`);
      return { budget: g.budget, predictedNOpt: predictedN, predictedLossOpt: predictedL, ...observed };
    });
    out.isoflop = { budgets };
  }
  for (const w of report.warnings) if (/^skipped: /.test(w)) warnings.push(`training fit: ${w}`);
  return out;
}
