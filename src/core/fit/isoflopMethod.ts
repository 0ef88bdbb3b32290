/** The IsoFLOP method (Approach 2): budget groups, their optima, the power laws, and the optimal-loss frontier through them. */
import { fitFrontier, frontierLoss } from './frontier';
import { fitGroup, fitIsoflopLaws, type BudgetGroup, type GroupFit, type IsoflopLaws, type OptimumOptions } from './isoflop';
import { fmt } from './format';
import type { FitPoint, FrontierFit, IsoflopFit, IsoflopGroup } from './types';

export interface IsoState {
  fit: IsoflopFit;
  groupFits: GroupFit[];
  used: number[];
  laws: IsoflopLaws;
}

/** The IsoFLOP fit, or why it could not be made with its budget groups (so that a report can still show them). */
export function runIsoflop(points: readonly FitPoint[], groups: readonly BudgetGroup[], k: number, opt: OptimumOptions): IsoState | { error: string; groups: IsoflopGroup[] } {
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
    const most = Math.max(...groupFits.map((g) => g.distinctSizes));
    if (most < 3) {
      return {
        error: `IsoFLOP fit needs budgets with at least 3 distinct model sizes; no budget has 3 (${groups.length} budget group(s), the most sizes in one is ${most}; runs are grouped by budget, or by C within --tolerance)`,
        groups: outGroups,
      };
    }
    return {
      error:
        `IsoFLOP fit needs at least 2 budgets whose optimum is bracketed (3+ distinct model sizes each, the lowest loss at an inner size); found ${used.length} of ${groups.length} budget group(s)` +
        (edges ? ` (${edges} budget(s) have their lowest loss at the smallest or largest size tried: extend the sizes, see the budgets' warnings)` : ''),
      groups: outGroups,
    };
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

/** Sets an IsoflopFit's law fields from (re)fitted power laws. */
export function applyLaws(fit: IsoflopFit, laws: IsoflopLaws): void {
  const law = (l: { slope: number; intercept: number; r2?: number }) => ({
    exponent: l.slope,
    logCoefficient: l.intercept,
    coefficient: Math.exp(l.intercept),
    ...(l.r2 !== undefined && Number.isFinite(l.r2) ? { r2: l.r2 } : {}),
  });
  fit.a = laws.n.slope;
  fit.b = laws.d.slope;
  fit.logCoefficient = laws.n.intercept;
  fit.dLogCoefficient = laws.d.intercept;
  fit.nOpt = law(laws.n);
  fit.dOpt = law(laws.d);
  fit.lossOpt = law(laws.loss);
}

/** The optimal-loss frontier L*(C) through the used budgets' optimal losses (with 3 or more), and its warnings. */
export function fitOptimalLossFrontier(iso: IsoState): { frontier?: FrontierFit; warnings: string[] } {
  const warnings: string[] = [];
  let frontier: FrontierFit | undefined;
  if (iso.used.length >= 3) {
    const budgetsUsed = iso.used.map((gi) => iso.groupFits[gi].budget);
    const losses = iso.used.map((gi) => iso.groupFits[gi].lossOpt!);
    const f = fitFrontier(budgetsUsed, losses);
    if (f) {
      const fw: string[] = [];
      if (iso.used.length === 3) fw.push('the optimal-loss frontier L*(C) has 3 parameters and rests on only 3 budgets: it passes through them exactly');
      if (f.eCapped) fw.push('frontier L*(C): E is held at the lowest optimal loss (its upper bound): the optima do not show where the loss levels off');
      frontier = {
        E: f.E,
        A: f.A,
        gamma: f.gamma,
        usedGroups: iso.used.length,
        objective: f.objective,
        rmsLogResidual: f.rmsLogResidual,
        eCapped: f.eCapped,
        points: budgetsUsed.map((b, i) => [b, losses[i], frontierLoss(f, b)] as [number, number, number]),
        warnings: fw,
      };
      warnings.push(...fw);
    } else warnings.push('the optimal-loss frontier L*(C) could not be fitted (no optimum with γ > 0)');
  }
  return { frontier, warnings };
}
