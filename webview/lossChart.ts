/**
 * Live loss curves: eval and train loss against tokens, one line pair per experiment coloured by
 * budget. Raw points are kept per experiment; what chart.js gets is the min-max decimated,
 * optionally EMA-smoothed view. New points are appended in place (dataset.data.push through the
 * decimator + chart.update('none')), at most once per animation frame, so zoom, hidden series and
 * toggles are never reset. Zoom, axis, smoothing and resize changes re-decimate everything.
 */
import type { ChartView, SeriesChunk } from '../src/shared/protocol';
import { countRendered, makeChart, type GroupedDataset, type ManagedChart, type Theme } from './chartKit';
import { bucketGeometry, budgetColor, budgetKey, Ema, identityTransform, log10Transform, MinMaxDecimator, si, withAlpha, type XY } from './logic';

export interface ExperimentMeta {
  id: string;
  budget: number;
  budgetIndex: number;
  budgetCount: number;
  params: number;
  tokens: number;
}

interface RawSeries {
  tokens: number[];
  train: (number | null)[];
  eval: (number | null)[];
  /** raw points already fed to the decimators */
  fed: number;
}

interface Line {
  ds: GroupedDataset;
  dec: MinMaxDecimator;
  ema: Ema;
  kind: 'train' | 'eval';
}

export interface LossSettings {
  smoothing: number;
  showTrain: boolean;
  showEval: boolean;
}

function benchNoDecimation(): boolean {
  return (globalThis as { __flopsfitBench?: { noDecimation?: boolean } }).__flopsfitBench?.noDecimation === true;
}

/** Pixels per decimation bucket (min-max keeps ≤ 4 points per bucket). */
const PX_PER_BUCKET = 2;

export class LossChart {
  readonly managed: ManagedChart;
  private readonly raw = new Map<string, RawSeries>();
  private readonly lines = new Map<string, { train: Line; eval: Line }>();
  private meta = new Map<string, ExperimentMeta>();
  private theme: Theme;
  private frame = 0;
  private needsRebuild = true;
  /** bucket domain of the current decimation (data max beyond it forces a rebuild) */
  private domainMax = 0;
  private lastWidth = 0;
  /** chart updates done (the benchmark reads it) */
  flushes = 0;
  flushMs = 0;
  /** of which chart.update (layout, element update, draw) */
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
    this.managed = makeChart({
      id: 'loss',
      canvas,
      view,
      theme,
      xTitle: 'tokens',
      yTitle: 'loss (nats/token)',
      onViewChange,
      onRangeChange: () => this.requestRebuild(),
      tooltipLabel: (ds, x, y) => `${ds.label}: ${y.toPrecision(4)} at ${si(x)} tokens`,
    });
    // re-decimate when the plot width changes
    new ResizeObserver(() => {
      const w = this.managed.chart.chartArea?.width ?? 0;
      if (w > 0 && Math.abs(w - this.lastWidth) > 8) this.requestRebuild();
    }).observe(canvas);
  }

  /** Sets the planned experiments (colour and legend group by budget). */
  setExperiments(metas: ExperimentMeta[]): void {
    this.meta = new Map(metas.map((m) => [m.id, m]));
    let changed = false;
    for (const m of metas) {
      const l = this.lines.get(m.id);
      if (!l) continue;
      const color = budgetColor(m.budgetIndex, m.budgetCount, this.theme.palette);
      if (l.eval.ds.group !== budgetKey(m.budget) || l.eval.ds.borderColor !== color) changed = true;
    }
    if (changed) this.restyle();
  }

  /** Replaces every series (snapshot). */
  setAll(chunks: SeriesChunk[]): void {
    this.raw.clear();
    for (const [, l] of this.lines) {
      this.removeLine(l);
    }
    this.lines.clear();
    this.append(chunks);
    this.requestRebuild();
  }

  /** Appends new points; the chart catches up on the next animation frame (unless paused). */
  append(chunks: SeriesChunk[]): void {
    for (const c of chunks) {
      let r = this.raw.get(c.id);
      if (!r || c.replace) {
        r = { tokens: [], train: [], eval: [], fed: 0 };
        this.raw.set(c.id, r);
        const l = this.lines.get(c.id);
        if (l) {
          this.removeLine(l);
          this.lines.delete(c.id);
        }
      }
      for (let i = 0; i < c.tokens.length; i++) {
        r.tokens.push(c.tokens[i]);
        r.train.push(c.train[i]);
        r.eval.push(c.eval[i]);
      }
      if (!this.lines.has(c.id)) this.addLine(c.id);
    }
    this.schedule();
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.managed.applyTheme(theme);
    this.restyle();
  }

  /** Smoothing, axis or zoom changed: re-decimate everything on the next frame. */
  requestRebuild(): void {
    this.needsRebuild = true;
    this.schedule();
  }

  /** Train/eval toggles and legend groups → dataset.hidden. */
  applyVisibility(): void {
    const s = this.settings();
    for (const l of this.lines.values()) {
      l.train.ds.filtered = !s.showTrain;
      l.eval.ds.filtered = !s.showEval;
    }
    this.managed.applyVisibility();
    this.schedule(true);
  }

  rawPointCount(): number {
    let n = 0;
    for (const r of this.raw.values()) n += r.tokens.length;
    return n;
  }

  /** Draws now (used by the rendered-report hook and after settings changes). */
  flushNow(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.flush(true);
  }

  private forceDraw = false;

  private schedule(force = false): void {
    if (force) this.forceDraw = true;
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.flush(this.forceDraw);
      this.forceDraw = false;
    });
  }

  private lineStyle(id: string, kind: 'train' | 'eval'): { color: string; base: string; group: string; label: string } {
    const m = this.meta.get(id);
    const base = m ? budgetColor(m.budgetIndex, m.budgetCount, this.theme.palette) : this.theme.muted;
    return {
      base,
      color: kind === 'train' ? withAlpha(base, 0.45) : base,
      group: m ? budgetKey(m.budget) : 'unplanned',
      label: `${kind} ${m ? `N=${si(m.params)} ${budgetKey(m.budget)}` : id}`,
    };
  }

  private makeLine(id: string, kind: 'train' | 'eval'): Line {
    const st = this.lineStyle(id, kind);
    const ds: GroupedDataset = {
      label: st.label,
      group: st.group,
      legendColor: st.base,
      data: [],
      borderColor: st.color,
      backgroundColor: st.color,
      borderWidth: kind === 'train' ? 1 : 1.75,
      pointRadius: 0,
      fill: false,
      order: kind === 'train' ? 1 : 0,
    };
    return { ds, dec: new MinMaxDecimator(identityTransform, 0, 0, ds.data as XY[]), ema: new Ema(0), kind };
  }

  private addLine(id: string): void {
    const l = { train: this.makeLine(id, 'train'), eval: this.makeLine(id, 'eval') };
    this.lines.set(id, l);
    const s = this.settings();
    l.train.ds.filtered = !s.showTrain;
    l.eval.ds.filtered = !s.showEval;
    this.managed.chart.data.datasets.push(l.train.ds, l.eval.ds);
    this.managed.applyVisibility();
    this.needsRebuild = true;
  }

  private removeLine(l: { train: Line; eval: Line }): void {
    const dss = this.managed.chart.data.datasets;
    for (const ds of [l.train.ds, l.eval.ds]) {
      const i = dss.indexOf(ds);
      if (i >= 0) dss.splice(i, 1);
    }
  }

  private restyle(): void {
    for (const [id, l] of this.lines) {
      for (const line of [l.train, l.eval]) {
        const st = this.lineStyle(id, line.kind);
        line.ds.borderColor = st.color;
        line.ds.backgroundColor = st.color;
        line.ds.group = st.group;
        line.ds.legendColor = st.base;
        line.ds.label = st.label;
      }
    }
    this.managed.applyVisibility();
    this.schedule(true);
  }

  private domain(): { min: number; max: number } {
    const view = this.managed.view;
    if (view.zoom) return { min: view.zoom.xMin, max: view.zoom.xMax };
    let min = Infinity;
    let max = 0;
    for (const r of this.raw.values()) {
      for (const t of r.tokens) {
        if (t > 0) {
          if (t < min) min = t;
          break; // tokens grow: the first positive one is the smallest
        }
      }
      const last = r.tokens[r.tokens.length - 1];
      if (last > max) max = last;
    }
    for (const m of this.meta.values()) if (m.tokens > max) max = m.tokens;
    if (!Number.isFinite(min)) min = 1;
    if (!view.xLog) min = 0;
    return { min, max: Math.max(max, min + 1) };
  }

  private rebuild(): void {
    const view = this.managed.view;
    const chart = this.managed.chart;
    const transform = view.xLog ? log10Transform : identityTransform;
    const { min, max } = this.domain();
    const width = chart.chartArea?.width || chart.width || 800;
    this.lastWidth = width;
    this.domainMax = max;
    // the benchmark's reference run turns decimation off (every raw point becomes a chart point)
    const g = benchNoDecimation() ? { origin: 0, width: 0 } : bucketGeometry(min, max, width, transform, PX_PER_BUCKET);
    const weight = this.settings().smoothing;
    for (const [id, l] of this.lines) {
      const r = this.raw.get(id);
      for (const line of [l.train, l.eval]) {
        const out: XY[] = [];
        line.dec = new MinMaxDecimator(transform, g.origin, g.width, out);
        line.ema = new Ema(weight);
        line.ds.data = out; // a fresh array: chart.js resyncs it at once instead of per push
      }
      if (r) r.fed = 0;
    }
    this.needsRebuild = false;
  }

  /** raw point counts frozen while live updates are paused (null: live) */
  private pauseLimits: Map<string, number> | null = null;

  /** Pause/resume live updates: while paused the chart keeps showing what it had. */
  setPaused(paused: boolean): void {
    if (paused && !this.pauseLimits) {
      this.pauseLimits = new Map([...this.raw].map(([id, r]) => [id, r.fed]));
    } else if (!paused && this.pauseLimits) {
      this.pauseLimits = null;
      this.schedule(true);
    }
  }

  private feed(): number {
    let fedNow = 0;
    for (const [id, l] of this.lines) {
      const r = this.raw.get(id);
      if (!r) continue;
      const limit = this.pauseLimits ? Math.min(this.pauseLimits.get(id) ?? 0, r.tokens.length) : r.tokens.length;
      if (r.fed >= limit) continue;
      for (let i = r.fed; i < limit; i++) {
        const x = r.tokens[i];
        const tr = r.train[i];
        const ev = r.eval[i];
        if (tr !== null) l.train.dec.push(x, l.train.ema.next(tr));
        if (ev !== null) l.eval.dec.push(x, l.eval.ema.next(ev));
      }
      fedNow += limit - r.fed;
      r.fed = limit;
      if (this.domainMax > 0 && r.tokens[limit - 1] > this.domainMax * 1.5 && !this.managed.view.zoom) this.needsRebuild = true;
    }
    return fedNow;
  }

  private flush(force: boolean): void {
    const t0 = performance.now();
    const rebuilt = this.needsRebuild;
    if (this.needsRebuild) this.rebuild();
    const fed = this.feed();
    if (this.needsRebuild) {
      this.rebuild();
      this.feed();
    }
    if (!fed && !rebuilt && !force) return;
    const t1 = performance.now();
    this.managed.chart.update('none');
    this.updateMs += performance.now() - t1;
    this.flushes++;
    this.flushMs += performance.now() - t0;
    let fedRaw = 0;
    for (const r of this.raw.values()) fedRaw += r.fed;
    const c = countRendered(this.managed, fedRaw);
    this.onRendered(c.datasets, c.points, c.rawPoints);
  }
}
