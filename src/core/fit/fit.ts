/**
 * `fitScalingLaws`: runs the chosen methods (IsoFLOP, parametric, VPNLS) on the points, then the
 * frontier, the derived quantities, the bootstrap and the report, as one `FitReport`.
 * Pure TypeScript (no I/O; see ./io for files).
 */
import { assessIdentifiability } from './identifiability';
import { CONVENTIONS, availableConventions, detectConvention, underConvention, type Convention } from './conventions';
import { runBootstrapSteps } from './fitBootstrap';
import { fmt } from './format';
import { groupByBudget } from './isoflop';
import { fitOptimalLossFrontier, runIsoflop, type IsoState } from './isoflopMethod';
import { resolveOptions, validatePoints } from './options';
import { runParametricSteps, type ParamState } from './parametricMethod';
import { frontierQuantities, isoQuantities, paramQuantities } from './quantities';
import { buildReport, defaultTableBudgets } from './report';
import { runFitSteps, type FitSteps } from './steps';
import { FitInputError, type BootstrapReport, type FitOptions, type FitPoint, type FitReport, type FrontierFit, type Interval } from './types';
import { runVpnls, type VpnlsState } from './vpnls';

/** Fits scaling laws to finished runs. Throws FitInputError on bad input. */
export function fitScalingLaws(points: readonly FitPoint[], options: FitOptions = {}): FitReport {
  return runFitSteps(fitScalingLawsSteps(points, options));
}

/** `fitScalingLaws` as steps: the expensive parts are yielded as FitRequests to the driver. */
export function* fitScalingLawsSteps(input: readonly FitPoint[], options: FitOptions = {}): FitSteps<FitReport> {
  const o = resolveOptions(options);
  validatePoints(input);
  if (input.length === 0) throw new FitInputError('no points to fit');
  // the headline convention: as given, or the one asked for when the runs' shapes allow it
  let points = input;
  let convention = detectConvention(input);
  if (options.convention !== undefined) {
    const want = options.convention as Convention;
    if (!CONVENTIONS.includes(want)) throw new FitInputError(`unknown parameter convention '${options.convention}' (expected ${CONVENTIONS.join(', ')})`);
    const avail = availableConventions(input);
    if (!avail.includes(want)) {
      throw new FitInputError(
        `convention '${want}' needs N under that convention for every run (the built-in transformer's shapes, or N_<convention> columns); ${avail.length ? `available: ${avail.join(', ')}` : 'these runs carry none'}`,
      );
    }
    if (want !== convention) points = underConvention(input, want, o.k, o.tolerance);
    convention = want;
  }
  const warnings: string[] = [];
  const groups = groupByBudget(points, o.tolerance);
  const groupOf = new Int32Array(points.length);
  groups.forEach((g, gi) => g.members.forEach((m) => (groupOf[m] = gi)));

  let iso: IsoState | undefined;
  let isoflopSkipped: FitReport['isoflopSkipped'];
  let par: ParamState | undefined;
  const failures: string[] = [];
  if (o.methods.includes('isoflop')) {
    const r = runIsoflop(points, groups, o.k, o.optimum);
    if ('error' in r) {
      failures.push(r.error);
      isoflopSkipped = { reason: r.error, groups: r.groups };
    }
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
  if (!iso && !par && !vp) {
    // name the budgets to extend when none of them is bracketed
    const edges = isoflopSkipped?.groups.filter((g) => g.extend) ?? [];
    const hint = edges.length ? `; ${edges.map((g) => `budget ${fmt(g.budget)}: add ${g.extend!.direction} models (N ≈ ${g.extend!.sizes.map(fmt).join(', ')})`).join('; ')}` : '';
    throw new FitInputError(failures.join('; ') + hint);
  }
  for (const f of failures) warnings.push(`skipped: ${f}`);
  if (iso) warnings.push(...iso.fit.warnings);

  let frontier: FrontierFit | undefined;
  if (iso) {
    const r = fitOptimalLossFrontier(iso);
    frontier = r.frontier;
    warnings.push(...r.warnings);
  }

  // Budgets of the table: the chosen ones, else the sweep's own (one per IsoFLOP group).
  const tableBudgets = o.tableBudgets ?? defaultTableBudgets(groups.map((g) => g.budget));
  const fittedBudgets = groups.map((g) => g.budget);
  const minB = Math.min(...fittedBudgets);
  const maxB = Math.max(...fittedBudgets);

  // Point estimates of the derived quantities.
  const estimates: Record<string, number> = {
    ...(iso ? isoQuantities(iso.groupFits, iso.used, iso.laws, tableBudgets, o.target, o.k) : {}),
    ...(frontier && iso ? frontierQuantities(iso.groupFits, iso.used, o.target) : {}),
    ...(par ? paramQuantities(par.params, tableBudgets, o.target, o.k) : {}),
    ...(vp ? paramQuantities(vp.params, tableBudgets, o.target, o.k, 'vpnls') : {}),
  };

  // Bootstrap.
  let bootstrap: BootstrapReport | undefined;
  const summaries = new Map<string, { interval?: Interval; se?: number }>();
  if (o.bootstrap > 0) {
    bootstrap = yield* runBootstrapSteps({ o, points, groups, iso, par, vp, frontier, tableBudgets, estimates, summaries });
    warnings.push(...bootstrap.warnings);
  }

  if (o.weighted && o.bootstrap === 0 && iso) warnings.push('IsoFLOP: weighted power laws need the bootstrap (their weights are its variances of ln N*); with --bootstrap 0 they are unweighted');

  if (par) {
    const id = assessIdentifiability(par.fit, bootstrap, points.length);
    par.fit.identifiability = id;
    if (Object.values(id.parameters).some((v) => !v)) warnings.push(id.summary);
  }

  return buildReport({ o, points, convention, groupOf, iso, isoflopSkipped, frontier, par, vp, bootstrap, estimates, summaries, tableBudgets, minB, maxB, warnings });
}
