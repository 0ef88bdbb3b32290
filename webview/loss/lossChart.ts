/**
 * Live loss curves: eval and train loss against tokens, one line pair per experiment coloured by
 * budget. This is the chart itself: its chart.js setup, styling and legend, and the per-frame
 * scheduling of updates. The raw points and their decimated lines live in ./seriesStore; what is
 * drawn is appended in place as points arrive (at most one chart update per animation frame), so
 * zoom, hidden series and toggles are never reset.
 *
 * chart.js provides the axes, legend, zoom/pan and layout; the curves themselves are stroked by a
 * chart-local plugin (./linePlugin) straight from the decimated arrays. chart.js's per-point
 * elements cost ~1 µs per point per update (≈ 100 ms for 100 curves), the direct stroke ~0.07 µs;
 * a tiny "bounds" dataset keeps chart.js's autoscaling and the zoom plugin working on the real
 * data range.
 */
import type { ChartView, SeriesChunk } from '../../src/shared/protocol';
import { makeChart, type GroupedDataset, type ManagedChart, type Theme } from '../chartKit';
import { budgetColor, budgetKey, si, withAlpha, type XY } from '../logic';
import { lossLinePlugin } from './linePlugin';
import { LossSeries, type ExperimentMeta, type Line, type LineKind, type LinePair, type LossSettings } from './seriesStore';

export type { ExperimentMeta, LossSettings } from './seriesStore';

export class LossChart {
  readonly managed: ManagedChart;
  private readonly series: LossSeries;
  private meta = new Map<string, ExperimentMeta>();
  private theme: Theme;
  private frame = 0;
  private forceDraw = false;
  private readonly boundsDs: GroupedDataset;
  private readonly clearHover: () => void;
  /** chart updates done, and time spent (the benchmark reads them) */
  flushes = 0;
  flushMs = 0;
  updateMs = 0;

  constructor(
    canvas: HTMLCanvasElement,
    view: ChartView,
    theme: Theme,
    private readonly settings: () => LossSettings,
    onViewChange: () => void,
    private readonly onRendered: (datasets: number, points: number, rawPoints: number) => void,
  ) {
    this.theme = theme;
    this.series = new LossSeries((l) => this.isVisible(l));
    this.boundsDs = { label: '', group: '', data: [], pointRadius: 0, pointHoverRadius: 0, borderWidth: 0, showLine: false };
    const lines = lossLinePlugin({ series: this.series, isVisible: (l) => this.isVisible(l), theme: () => this.theme });
    this.clearHover = lines.clearHover;
    this.managed = makeChart({
      id: 'loss',
      canvas,
      view,
      theme,
      xTitle: 'tokens',
      yTitle: 'loss (nats/token)',
      onViewChange,
      onRangeChange: () => this.requestRebuild(),
      tooltip: false,
      plugins: [lines.plugin],
    });
    this.managed.chart.data.datasets.push(this.boundsDs);
    new ResizeObserver(() => {
      const w = this.managed.chart.chartArea?.width ?? 0;
      if (w > 0 && Math.abs(w - this.series.lastWidth) > 8) this.requestRebuild();
    }).observe(canvas);
  }

  /** Sets the planned experiments (colour and legend group by budget). */
  setExperiments(metas: ExperimentMeta[]): void {
    this.meta = new Map(metas.map((m) => [m.id, m]));
    this.restyle();
  }

  /** Replaces every series (snapshot). */
  setAll(chunks: SeriesChunk[]): void {
    this.series.clear();
    this.clearHover();
    this.append(chunks);
    this.requestRebuild();
  }

  /** Appends new points; the chart catches up on the next animation frame (unless paused). */
  append(chunks: SeriesChunk[]): void {
    const added = this.series.append(chunks, (id, kind) => this.makeLine(id, kind));
    if (added) this.syncLegend();
    this.schedule();
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.managed.applyTheme(theme);
    this.restyle();
  }

  /** Smoothing, axis or zoom changed: re-decimate everything on the next frame. */
  requestRebuild(): void {
    this.series.needsRebuild = true;
    this.schedule();
  }

  /** Train/eval toggles changed. */
  applyVisibility(): void {
    this.managed.applyVisibility();
    this.series.recomputeBounds();
    this.schedule(true);
  }

  /** Pause/resume live updates: while paused the chart keeps showing what it had. */
  setPaused(paused: boolean): void {
    if (this.series.setPaused(paused)) this.schedule(true);
  }

  /** Every experiment's drawn lines (the webview tests read them). */
  get lines(): ReadonlyMap<string, LinePair> {
    return this.series.lines;
  }

  rawPointCount(): number {
    return this.series.rawPointCount();
  }

  /** What is drawn: visible lines and their (decimated) points. */
  drawnCounts(): { datasets: number; points: number; rawPoints: number } {
    return this.series.drawnCounts();
  }

  /** Draws now (used by the rendered-report hook). */
  flushNow(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.flush(true);
  }

  // ------------------------------------------------------------------ internals

  private isVisible(l: Line): boolean {
    const s = this.settings();
    if (l.kind === 'train' ? !s.showTrain : !s.showEval) return false;
    return !this.managed.view.hidden.includes(l.group);
  }

  private schedule(force = false): void {
    if (force) this.forceDraw = true;
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const f = this.forceDraw;
      this.forceDraw = false;
      this.flush(f);
    });
  }

  private style(id: string, kind: LineKind): { color: string; base: string; group: string; label: string } {
    const m = this.meta.get(id);
    const base = m ? budgetColor(m.budgetIndex, m.budgetCount, this.theme.palette) : this.theme.muted;
    return {
      base,
      color: kind === 'train' ? withAlpha(base, 0.4) : base,
      group: m ? budgetKey(m.budget) : 'unplanned',
      label: `${kind} · N=${m ? si(m.params) : '?'} · ${m ? budgetKey(m.budget) : id}`,
    };
  }

  private makeLine(id: string, kind: LineKind): Line {
    return this.series.makeLine(id, kind, this.style(id, kind), this.settings().smoothing);
  }

  private restyle(): void {
    for (const [id, l] of this.series.lines) {
      for (const line of [l.train, l.eval]) {
        const st = this.style(id, line.kind);
        line.color = st.color;
        line.group = st.group;
        line.label = st.label;
      }
    }
    this.syncLegend();
    this.series.recomputeBounds();
    this.schedule(true);
  }

  /** One empty dataset per budget group: the legend entries (toggle a whole budget). */
  private syncLegend(): void {
    const groups = new Map<string, string>();
    const metas = [...this.meta.values()].sort((a, b) => a.budget - b.budget);
    for (const m of metas) {
      const key = budgetKey(m.budget);
      if (!groups.has(key)) groups.set(key, budgetColor(m.budgetIndex, m.budgetCount, this.theme.palette));
    }
    for (const id of this.series.lines.keys()) if (!this.meta.has(id)) groups.set('unplanned', this.theme.muted);
    const ds: GroupedDataset[] = [this.boundsDs];
    for (const [group, color] of groups) ds.push({ label: group, group, legendColor: color, borderColor: color, backgroundColor: color, data: [], pointRadius: 0 });
    this.managed.chart.data.datasets = ds;
    this.managed.applyVisibility();
    this.boundsDs.hidden = false;
  }

  private rebuild(): void {
    const chart = this.managed.chart;
    const width = chart.chartArea?.width || chart.width || 800;
    this.series.rebuild(this.managed.view, width, this.settings().smoothing, this.meta);
  }

  private flush(force: boolean): void {
    const t0 = performance.now();
    const s = this.series;
    const rebuilt = s.needsRebuild;
    if (s.needsRebuild) this.rebuild();
    const fed = s.feed(this.managed.view);
    if (s.needsRebuild) {
      this.rebuild();
      s.feed(this.managed.view);
    }
    if (!fed && !rebuilt && !force) return;
    s.writeBounds(this.boundsDs.data as XY[], this.managed.view);
    const t1 = performance.now();
    this.managed.chart.update('none');
    this.updateMs += performance.now() - t1;
    this.flushes++;
    this.flushMs += performance.now() - t0;
    const c = this.drawnCounts();
    this.onRendered(c.datasets, c.points, c.rawPoints);
  }
}
