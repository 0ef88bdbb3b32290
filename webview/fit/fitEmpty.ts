/**
 * What the IsoFLOP, Frontier and Fit tabs say when they have nothing to draw, instead of an empty
 * chart with "1e0" ticks. Pure (unit-tested in test/unit/webview-fitEmpty.test.ts).
 */
import type { ResultsRow } from '../../src/core/contracts';
import type { FitReport } from '../../src/core/fit/types';

const NO_FIT = 'No fit yet: run `FlopsFit: Fit Scaling Laws` once experiments have completed (a finished sweep fits itself).';

/** The reason the fit gives for skipping a method (its "skipped: …" warning), or that it was not asked for. */
function skipped(fit: FitReport, method: 'isoflop' | 'parametric'): string {
  if (!fit.settings.methods.includes(method)) return `the ${method === 'isoflop' ? 'IsoFLOP' : 'parametric'} fit was not requested (fit.methods: ${fit.settings.methods.join(', ')})`;
  const w = fit.warnings.find((x) => x.startsWith('skipped: ') && (method === 'isoflop' ? /IsoFLOP/.test(x) : /parametric/.test(x)));
  return w ? w.slice('skipped: '.length) : `the ${method} fit gave no result`;
}

/** Why the IsoFLOP budgets got no optimum curves: the budgets' own statuses in words. */
function isoflopWhy(fit: FitReport): string {
  const groups = fit.isoflop?.groups;
  if (!groups) {
    // count sizes per budget from the points
    const sizes = new Map<number, Set<number>>();
    for (const p of fit.points) {
      const b = p.budget ?? p.C;
      if (!sizes.has(b)) sizes.set(b, new Set());
      sizes.get(b)!.add(p.N);
    }
    const most = Math.max(0, ...[...sizes.values()].map((s) => s.size));
    if (most < 3) return `No optimum curves: no budget has 3 model sizes (the most any budget has is ${most}); an optimum needs at least 3 sizes per budget.`;
    if (fit.isoflopSkipped) return `No IsoFLOP power law: ${fit.isoflopSkipped.reason}.`;
    return `No optimum curves: ${skipped(fit, 'isoflop')}.`;
  }
  return '';
}

/** The IsoFLOP tab's message; '' when there is something to draw and nothing to explain. */
export function isoflopMessage(fit: FitReport | null, results: readonly ResultsRow[]): { text: string; hideChart: boolean } {
  if (!fit) return results.length ? { text: `${NO_FIT} The completed runs are shown without optimum curves.`, hideChart: false } : { text: 'No completed runs yet: each budget\'s final losses appear here as its runs finish.', hideChart: true };
  if (!fit.isoflop) return { text: fit.isoflopSkipped ? isoflopWhy(fit) : `${isoflopWhy(fit)} The runs are shown without optimum curves.`, hideChart: !results.length && !fit.isoflopSkipped };
  const edge = fit.isoflop.groups.filter((g) => g.status === 'edge');
  const few = fit.isoflop.groups.filter((g) => g.status === 'too-few-sizes');
  const parts: string[] = [];
  if (edge.length) parts.push(`${edge.length} budget(s) have their lowest loss at the smallest or largest size tried (dashed, not used): extend their sizes`);
  if (few.length) parts.push(`${few.length} budget(s) have fewer than 3 sizes and get no curve`);
  return { text: parts.length ? `${parts.join('; ')}.` : '', hideChart: false };
}

/** The Frontier tab's message when it has no IsoFLOP result to draw. */
export function frontierMessage(fit: FitReport | null): string {
  if (!fit) return NO_FIT;
  if (!fit.isoflop) return `No frontier: ${fit.settings.methods.includes('isoflop') ? isoflopWhy(fit).replace(/^No (optimum curves|IsoFLOP power law): /, '') : skipped(fit, 'isoflop')}`;
  return '';
}

/** The Fit tab's residual chart message when there is no parametric fit. */
export function residualsMessage(fit: FitReport | null): string {
  if (!fit) return NO_FIT;
  if (!fit.parametric) return `No parametric fit, so no residuals: ${skipped(fit, 'parametric')}.`;
  return '';
}
