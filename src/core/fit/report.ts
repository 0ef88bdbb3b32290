/**
 * The fit's report: the prediction at the target budget, the Chinchilla-style table, the settings
 * and the points, assembled with the methods' fits into one `FitReport`.
 */
import { availableConventions, conventionFits, type Convention } from './conventions';
import { BOOTSTRAP_STRATEGY, ISOFLOP_NOISE_BOOTSTRAP } from './fitBootstrap';
import { fmt } from './format';
import type { IsoState } from './isoflopMethod';
import type { Resolved } from './options';
import { HUBER_DELTA, START_GRID_SIZE } from './parametric';
import type { ParamState } from './parametricMethod';
import { PRED_KEYS } from './quantities';
import type { BootstrapReport, FitPoint, FitReport, FitSettings, FrontierFit, Interval, Prediction, PredictionValues, TableRow } from './types';
import type { VpnlsState } from './vpnls';

/** Extrapolating beyond this factor of the fitted budgets gives a warning. */
export const EXTRAPOLATION_WARN_FACTOR = 10;

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

export interface ReportInput {
  o: Resolved;
  points: readonly FitPoint[];
  convention?: Convention;
  /** Each point's budget group. */
  groupOf: Int32Array;
  iso?: IsoState;
  isoflopSkipped?: FitReport['isoflopSkipped'];
  frontier?: FrontierFit;
  par?: ParamState;
  vp?: VpnlsState;
  bootstrap?: BootstrapReport;
  estimates: Record<string, number>;
  summaries: Map<string, { interval?: Interval; se?: number }>;
  tableBudgets: readonly number[];
  /** The smallest and largest fitted budgets. */
  minB: number;
  maxB: number;
  /** The fit's warnings so far; the prediction's are added. */
  warnings: string[];
}

/** Assembles the report (the prediction's warnings are added to `warnings`). */
export function buildReport(input: ReportInput): FitReport {
  const { o, points, convention, groupOf, iso, isoflopSkipped, frontier, par, vp, bootstrap, estimates, summaries, tableBudgets, minB, maxB, warnings } = input;
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
    const fl = estimates['prediction.frontier.loss'];
    const fiv = summaries.get('prediction.frontier.loss')?.interval;
    const frontierPred = fl !== undefined && fl > 0 ? { loss: fl, ...(fiv ? { interval: fiv } : {}) } : undefined;
    prediction = {
      budget: o.target,
      extrapolation,
      ...(isoV ? { isoflop: isoV } : {}),
      ...(parV ? { parametric: parV } : {}),
      ...(vpV ? { vpnls: vpV } : {}),
      ...(frontierPred ? { frontier: frontierPred } : {}),
      warnings: pw,
    };
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
    ...(o.weighted ? { weighted: true } : {}),
    ...(convention ? { convention } : {}),
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
      ...(p.nBy ? { nBy: p.nBy } : {}),
      group: groupOf[i],
    })),
    ...(iso ? { isoflop: iso.fit } : {}),
    ...(isoflopSkipped ? { isoflopSkipped } : {}),
    ...(frontier ? { frontier } : {}),
    ...(par ? { parametric: par.fit } : {}),
    ...(vp ? { vpnls: vp.fit } : {}),
    ...(bootstrap ? { bootstrap } : {}),
    ...(prediction ? { prediction } : {}),
    ...(availableConventions(points).length >= 2 ? { conventions: conventionFits(points, convention, o.k, o.tolerance, o.optimum) } : {}),
    table,
    warnings,
  };
}
