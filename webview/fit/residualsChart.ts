/** The residuals chart's datasets: the parametric fit's ln-residuals against N, coloured by budget. */
import type { FitReport } from '../../src/core/fit/types';
import type { GroupedDataset, Theme } from '../chartKit';
import { budgetKey, withAlpha } from '../logic';
import { budgetColors, type Pt } from './format';

export function residualDatasets(fit: FitReport | null, theme: Theme): GroupedDataset[] {
  const datasets: GroupedDataset[] = [];
  const par = fit?.parametric;
  if (fit && par && par.residuals.length) {
    const budgetOf = (i: number) => fit.points[i]?.budget ?? fit.isoflop?.groups[fit.points[i]?.group ?? -1]?.budget ?? fit.points[i]?.C;
    const budgets = par.residuals.map((r) => budgetOf(r.index)).filter((b): b is number => b !== undefined);
    const colors = budgetColors(budgets, theme.palette);
    const byBudget = new Map<number, Pt[]>();
    for (const r of par.residuals) {
      const pt = fit.points[r.index];
      const b = budgetOf(r.index);
      if (!pt || b === undefined) continue;
      const list = byBudget.get(b) ?? [];
      list.push({ x: pt.N, y: r.residual });
      byBudget.set(b, list);
    }
    for (const [b, pts] of [...byBudget].sort((x, y) => x[0] - y[0])) {
      const color = colors.get(b)!;
      datasets.push({
        type: 'scatter',
        label: `${budgetKey(b)} residuals`,
        group: budgetKey(b),
        data: pts,
        borderColor: color,
        backgroundColor: withAlpha(color, 0.7),
        pointRadius: 4,
        showLine: false,
      });
    }
    const ns = fit.points.map((p) => p.N);
    datasets.push({
      type: 'line',
      label: 'zero',
      group: 'zero',
      data: [
        { x: Math.min(...ns) / 1.3, y: 0 },
        { x: Math.max(...ns) * 1.3, y: 0 },
      ],
      borderColor: withAlpha(theme.fg, 0.4),
      borderWidth: 1,
      borderDash: [4, 4],
      pointRadius: 0,
    });
  }
  return datasets;
}
