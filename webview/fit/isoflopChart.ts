/**
 * The IsoFLOP chart's datasets: final loss against N per budget, the optimum estimator's curve
 * (Akima interpolant or parabola) and the optimum (an edge budget's marker says it is not
 * bracketed); before a fit exists, the completed results per budget without curves.
 */
import type { ResultsRow } from '../../src/core/contracts';
import type { FitReport } from '../../src/core/fit/types';
import type { GroupedDataset, Theme } from '../chartKit';
import { budgetKey, logspace, parabolaAt, si, withAlpha } from '../logic';
import { budgetColors, type Pt } from './format';

export function isoflopDatasets(fit: FitReport | null, results: ResultsRow[], theme: Theme): GroupedDataset[] {
  const datasets: GroupedDataset[] = [];
  // a failed IsoFLOP fit still shows its budgets (statuses, edges) from isoflopSkipped
  const groups = fit?.isoflop?.groups ?? fit?.isoflopSkipped?.groups;
  if (groups && groups.length) {
    const colors = budgetColors(groups.map((g) => g.budget), theme.palette);
    for (const g of groups) {
      const color = colors.get(g.budget)!;
      const key = budgetKey(g.budget);
      datasets.push({
        type: 'scatter',
        label: `${key} runs${g.status === 'ok' ? '' : ` (${g.status})`}`,
        group: key,
        data: g.points.map((p) => ({ x: p.N, y: p.loss })),
        borderColor: color,
        backgroundColor: withAlpha(color, 0.6),
        pointRadius: 4,
        pointHoverRadius: 6,
        showLine: false,
      });
      if (g.curve) {
        // the optimum estimator's own curve (Akima interpolant, local or global parabola)
        const method = fit?.isoflop?.optimum?.method ?? 'parabola';
        datasets.push({
          type: 'line',
          label: `${key} ${method === 'akima' ? 'Akima interpolant' : method === 'local-parabola' ? 'local parabola' : 'parabola'}`,
          group: key,
          data: g.curve.N.map((n, i) => ({ x: n, y: g.curve!.loss[i] })),
          borderColor: color,
          backgroundColor: color,
          borderWidth: 1.5,
          borderDash: g.used ? undefined : [4, 4],
          pointRadius: 0,
        });
      } else if (g.parabola) {
        const [lo, hi] = g.nRange;
        const par = g.parabola;
        datasets.push({
          type: 'line',
          label: `${key} parabola`,
          group: key,
          data: logspace(lo / 1.6, hi * 1.6, 64).map((n) => ({ x: n, y: parabolaAt(par, n) })),
          borderColor: color,
          backgroundColor: color,
          borderWidth: 1.5,
          borderDash: g.used ? undefined : [4, 4],
          pointRadius: 0,
        });
      }
      if (g.nOpt !== undefined && g.lossOpt !== undefined) {
        datasets.push({
          type: 'scatter',
          label: `${key} ${g.status === 'edge' ? 'edge (not bracketed) N≈' : 'N_opt='}${si(g.nOpt)}`,
          group: key,
          data: [{ x: g.nOpt, y: g.lossOpt }],
          borderColor: theme.fg,
          backgroundColor: color,
          pointStyle: 'rectRot',
          pointRadius: 7,
          pointHoverRadius: 9,
          borderWidth: 1.5,
          showLine: false,
        });
      }
    }
  } else if (results.length) {
    // no fit yet: the completed runs per budget
    const colors = budgetColors(results.map((r) => r.budget), theme.palette);
    const byBudget = new Map<number, Pt[]>();
    for (const r of results) {
      const list = byBudget.get(r.budget) ?? [];
      list.push({ x: r.params, y: r.loss });
      byBudget.set(r.budget, list);
    }
    for (const [b, pts] of [...byBudget].sort((x, y) => x[0] - y[0])) {
      const color = colors.get(b)!;
      datasets.push({
        type: 'line',
        label: `${budgetKey(b)} runs`,
        group: budgetKey(b),
        data: pts.sort((p, q) => p.x - q.x),
        borderColor: color,
        backgroundColor: color,
        pointRadius: 4,
        borderWidth: 1,
        borderDash: [2, 3],
      });
    }
  }
  return datasets;
}
