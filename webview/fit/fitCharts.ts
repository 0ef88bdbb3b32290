/**
 * The fit charts and tables, drawn from fit.json (FitReport, src/core/fit/types.ts): this class
 * owns the three fit charts (IsoFLOP, frontier, residuals), the messages above them and the
 * redraw on a new fit or theme; what each shows is built in ./isoflopChart, ./frontierChart,
 * ./residualsChart and ./tables (with ./hyperCharts for the sections beyond Approaches 2 and 3).
 * Before a fit exists, the IsoFLOP chart shows the completed results without parabolas.
 */
import type { Plan, ResultsRow } from '../../src/core/contracts';
import type { FitReport } from '../../src/core/fit/types';
import type { ChartId, ChartView } from '../../src/shared/protocol';
import { countRendered, makeChart, type GroupedDataset, type ManagedChart, type Theme } from '../chartKit';
import { formatLoss, sci, si } from '../logic';
import { el } from '../planView';
import { frontierMessage, isoflopMessage, residualsMessage } from './fitEmpty';
import { frontierDatasets, frontierNote } from './frontierChart';
import { extraSection } from './hyperCharts';
import { isoflopDatasets } from './isoflopChart';
import { residualDatasets } from './residualsChart';
import { renderFitTables } from './tables';

type FitChartId = Exclude<ChartId, 'loss'>;

export interface FitContainers {
  isoflop: HTMLCanvasElement;
  frontier: HTMLCanvasElement;
  residuals: HTMLCanvasElement;
  tables: HTMLElement;
  frontierNote: HTMLElement;
}


export class FitCharts {
  private readonly charts: Record<FitChartId, ManagedChart>;
  private theme: Theme;
  private last: { fit: FitReport | null; results: ResultsRow[]; plan: Plan | null } = { fit: null, results: [], plan: null };

  constructor(
    private readonly c: FitContainers,
    views: Record<ChartId, ChartView>,
    theme: Theme,
    onViewChange: () => void,
    private readonly onRendered: (chart: ChartId, counts: { datasets: number; points: number; rawPoints: number }, seq?: number) => void,
  ) {
    this.theme = theme;
    this.charts = {
      isoflop: makeChart({
        id: 'isoflop',
        canvas: c.isoflop,
        view: views.isoflop,
        theme,
        xTitle: 'N (parameters)',
        yTitle: 'final eval loss',
        onViewChange,
        tooltipLabel: (ds, x, y) => `${ds.label}: N=${si(x)}, loss ${formatLoss(y)}`,
      }),
      frontier: makeChart({
        id: 'frontier',
        canvas: c.frontier,
        view: views.frontier,
        theme,
        xTitle: 'C (training FLOPs)',
        yTitle: 'N_opt (parameters), D_opt (tokens)',
        xFormat: 'sci',
        yFormat: 'si',
        onViewChange,
        tooltipLabel: (ds, x, y) => `${ds.label}: C=${sci(x)}, ${si(y)}`,
      }),
      residuals: makeChart({
        id: 'residuals',
        canvas: c.residuals,
        view: views.residuals,
        theme,
        xTitle: 'N (parameters)',
        yTitle: 'ln L − ln L̂ (parametric)',
        onViewChange,
        tooltipLabel: (ds, x, y) => `${ds.label}: N=${si(x)}, residual ${formatLoss(y)}`,
      }),
    };
  }

  managed(id: ChartId): ManagedChart | undefined {
    return id === 'loss' ? undefined : this.charts[id];
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    for (const m of Object.values(this.charts)) m.applyTheme(theme);
    this.update(this.last.fit, this.last.results, this.last.plan);
  }

  update(fit: FitReport | null, results: ResultsRow[], plan: Plan | null): void {
    this.last = { fit, results, plan };
    this.drawIsoflop(fit, results, plan);
    this.drawFrontier(fit);
    this.drawResiduals(fit);
    this.drawTables(fit);
    if (fit) this.c.tables.append(extraSection(fit));
    this.reportAll();
  }

  /** Reports every fit chart; `seq`: the report request this answers. */
  reportAll(seq?: number): void {
    for (const id of ['isoflop', 'frontier', 'residuals'] as const) this.onRendered(id, countRendered(this.charts[id]), seq);
  }

  /** A message above a chart (or instead of it, when there is nothing to draw). */
  private explain(id: FitChartId, text: string, hideChart: boolean): void {
    const canvas = id === 'isoflop' ? this.c.isoflop : id === 'frontier' ? this.c.frontier : this.c.residuals;
    const wrap = canvas.parentElement;
    if (!wrap) return;
    let p = wrap.previousElementSibling as HTMLElement | null;
    if (!p || !p.classList.contains('chart-explain')) {
      p = el('p', { class: 'empty chart-explain' });
      wrap.before(p);
    }
    p.textContent = text;
    p.hidden = text === '';
    wrap.classList.toggle('chart-hidden', hideChart);
  }

  private setData(id: FitChartId, datasets: GroupedDataset[]): void {
    const m = this.charts[id];
    m.chart.data.datasets = datasets;
    m.applyVisibility();
    m.chart.update('none');
  }

  private drawIsoflop(fit: FitReport | null, results: ResultsRow[], plan: Plan | null): void {
    const datasets = isoflopDatasets(fit, results, this.theme);
    void plan;
    const m = isoflopMessage(fit, results);
    this.explain('isoflop', m.text, m.hideChart || datasets.length === 0);
    this.setData('isoflop', datasets);
  }

  private drawFrontier(fit: FitReport | null): void {
    const iso = fit?.isoflop;
    const note = this.c.frontierNote;
    note.replaceChildren();
    if (!fit || !iso) {
      this.explain('frontier', frontierMessage(fit), true);
      this.setData('frontier', []);
      return;
    }
    this.explain('frontier', '', false);
    const datasets = frontierDatasets(fit, iso, this.theme);
    frontierNote(note, fit, iso);
    this.setData('frontier', datasets);
  }

  private drawResiduals(fit: FitReport | null): void {
    const datasets = residualDatasets(fit, this.theme);
    const rm = residualsMessage(fit);
    this.explain('residuals', rm, rm !== '');
    this.setData('residuals', datasets);
  }

  private drawTables(fit: FitReport | null): void {
    renderFitTables(this.c.tables, fit);
  }
}
