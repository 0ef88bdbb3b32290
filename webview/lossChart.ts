/**
 * Live loss curves: eval and train loss against tokens, one line pair per experiment coloured by
 * budget. Raw points are kept per experiment; what is drawn is the min-max decimated, optionally
 * EMA-smoothed view, appended in place as points arrive (at most one chart update per animation
 * frame), so zoom, hidden series and toggles are never reset.
 *
 * chart.js provides the axes, legend, zoom/pan and layout; the curves themselves are stroked by a
 * chart-local plugin straight from the decimated arrays. chart.js's per-point elements cost ~1 µs
 * per point per update (≈ 100 ms for 100 curves), the direct stroke ~0.07 µs; a tiny "bounds"
 * dataset keeps chart.js's autoscaling and the zoom plugin working on the real data range.
 */
import type { Plugin } from 'chart.js';
import type { ChartView, SeriesChunk } from '../src/shared/protocol';
import { makeChart, type GroupedDataset, type ManagedChart, type Theme } from './chartKit';
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
  id: string;
  kind: 'train' | 'eval';
  label: string;
  group: string;
  color: string;
  width: number;
  out: XY[];
  dec: MinMaxDecimator;
  ema: Ema;
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
const PX_PER_BUCKET = 3;

export class LossChart {
  readonly managed: ManagedChart;
  private readonly raw = new Map<string, RawSeries>();
  private readonly lines = new Map<string, { train: Line; eval: Line }>();
  private meta = new Map<string, ExperimentMeta>();
  private theme: Theme;
  private frame = 0;
  private forceDraw = false;
  private needsRebuild = true;
  /** bucket domain of the current decimation (data beyond it forces a rebuild) */
  private domainMax = 0;
  private lastWidth = 0;
  /** data bounds of the visible lines (drives the axes through the bounds dataset) */
  private bounds = { xMin: Infinity, xMax: -Infinity, yMin: Infinity, yMax: -Infinity };
  private readonly boundsDs: GroupedDataset;
  private hover: { line: Line; p: XY } | null = null;
  /** decimation grid of the last rebuild (new lines join it) */
  private geometry = { transform: identityTransform, origin: 0, width: 0 };
  /** raw point counts frozen while live updates are paused (null: live) */
  private pauseLimits: Map<string, number> | null = null;
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
    this.boundsDs = { label: '', group: '', data: [], pointRadius: 0, pointHoverRadius: 0, borderWidth: 0, showLine: false };
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
      plugins: [this.linePlugin()],
    });
    this.managed.chart.data.datasets.push(this.boundsDs);
    new ResizeObserver(() => {
      const w = this.managed.chart.chartArea?.width ?? 0;
      if (w > 0 && Math.abs(w - this.lastWidth) > 8) this.requestRebuild();
    }).observe(canvas);
  }

  /** Sets the planned experiments (colour and legend group by budget). */
  setExperiments(metas: ExperimentMeta[]): void {
    this.meta = new Map(metas.map((m) => [m.id, m]));
    this.restyle();
  }

  /** Replaces every series (snapshot). */
  setAll(chunks: SeriesChunk[]): void {
    this.raw.clear();
    this.lines.clear();
    this.hover = null;
    this.append(chunks);
    this.requestRebuild();
  }

  /** Appends new points; the chart catches up on the next animation frame (unless paused). */
  append(chunks: SeriesChunk[]): void {
    let added = false;
    for (const c of chunks) {
      let r = this.raw.get(c.id);
      if (!r || c.replace) {
        // new or restarted experiment: fresh lines on the current decimation grid (no rebuild)
        r = { tokens: [], train: [], eval: [], fed: 0 };
        this.raw.set(c.id, r);
        if (!this.lines.has(c.id)) added = true;
        this.lines.set(c.id, { train: this.makeLine(c.id, 'train'), eval: this.makeLine(c.id, 'eval') });
        if (this.pauseLimits) this.pauseLimits.set(c.id, 0);
      }
      for (let i = 0; i < c.tokens.length; i++) {
        r.tokens.push(c.tokens[i]);
        r.train.push(c.train[i]);
        r.eval.push(c.eval[i]);
      }
    }
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
    this.needsRebuild = true;
    this.schedule();
  }

  /** Train/eval toggles changed. */
  applyVisibility(): void {
    this.managed.applyVisibility();
    this.recomputeBounds();
    this.schedule(true);
  }

  /** Pause/resume live updates: while paused the chart keeps showing what it had. */
  setPaused(paused: boolean): void {
    if (paused && !this.pauseLimits) {
      this.pauseLimits = new Map([...this.raw].map(([id, r]) => [id, r.fed]));
    } else if (!paused && this.pauseLimits) {
      this.pauseLimits = null;
      this.schedule(true);
    }
  }

  rawPointCount(): number {
    let n = 0;
    for (const r of this.raw.values()) n += r.fed;
    return n;
  }

  /** What is drawn: visible lines and their (decimated) points. */
  drawnCounts(): { datasets: number; points: number; rawPoints: number } {
    let datasets = 0;
    let points = 0;
    for (const l of this.visibleLines()) {
      if (l.out.length === 0) continue;
      datasets++;
      points += l.out.length;
    }
    return { datasets, points, rawPoints: this.rawPointCount() };
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

  private *visibleLines(): Generator<Line> {
    for (const l of this.lines.values()) {
      if (this.isVisible(l.train)) yield l.train;
      if (this.isVisible(l.eval)) yield l.eval;
    }
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

  private style(id: string, kind: 'train' | 'eval'): { color: string; base: string; group: string; label: string } {
    const m = this.meta.get(id);
    const base = m ? budgetColor(m.budgetIndex, m.budgetCount, this.theme.palette) : this.theme.muted;
    return {
      base,
      color: kind === 'train' ? withAlpha(base, 0.4) : base,
      group: m ? budgetKey(m.budget) : 'unplanned',
      label: `${kind} · N=${m ? si(m.params) : '?'} · ${m ? budgetKey(m.budget) : id}`,
    };
  }

  private makeLine(id: string, kind: 'train' | 'eval'): Line {
    const st = this.style(id, kind);
    const out: XY[] = [];
    const g = this.geometry;
    return { id, kind, label: st.label, group: st.group, color: st.color, width: kind === 'train' ? 1 : 1.6, out, dec: new MinMaxDecimator(g.transform, g.origin, g.width, out), ema: new Ema(this.settings().smoothing) };
  }

  private restyle(): void {
    for (const [id, l] of this.lines) {
      for (const line of [l.train, l.eval]) {
        const st = this.style(id, line.kind);
        line.color = st.color;
        line.group = st.group;
        line.label = st.label;
      }
    }
    this.syncLegend();
    this.recomputeBounds();
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
    for (const id of this.lines.keys()) if (!this.meta.has(id)) groups.set('unplanned', this.theme.muted);
    const ds: GroupedDataset[] = [this.boundsDs];
    for (const [group, color] of groups) ds.push({ label: group, group, legendColor: color, borderColor: color, backgroundColor: color, data: [], pointRadius: 0 });
    this.managed.chart.data.datasets = ds;
    this.managed.applyVisibility();
    this.boundsDs.hidden = false;
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
    // the benchmark's reference run turns decimation off (every raw point is drawn)
    const g = benchNoDecimation() ? { origin: 0, width: 0 } : bucketGeometry(min, max, width, transform, PX_PER_BUCKET);
    const weight = this.settings().smoothing;
    this.geometry = { transform, origin: g.origin, width: g.width };
    for (const [id, l] of this.lines) {
      for (const line of [l.train, l.eval]) {
        line.dec = new MinMaxDecimator(transform, g.origin, g.width, line.out);
        line.ema = new Ema(weight);
      }
      const r = this.raw.get(id);
      if (r) r.fed = 0;
    }
    this.bounds = { xMin: Infinity, xMax: -Infinity, yMin: Infinity, yMax: -Infinity };
    this.needsRebuild = false;
  }

  private feed(): number {
    let fedNow = 0;
    const b = this.bounds;
    for (const [id, l] of this.lines) {
      const r = this.raw.get(id);
      if (!r) continue;
      const limit = this.pauseLimits ? Math.min(this.pauseLimits.get(id) ?? 0, r.tokens.length) : r.tokens.length;
      if (r.fed >= limit) continue;
      const showT = this.isVisible(l.train);
      const showE = this.isVisible(l.eval);
      const xLog = this.managed.view.xLog;
      for (let i = r.fed; i < limit; i++) {
        const x = r.tokens[i];
        const tr = r.train[i];
        const ev = r.eval[i];
        if (tr !== null) {
          const y = l.train.ema.next(tr);
          l.train.dec.push(x, y);
          if (showT && (x > 0 || !xLog)) extend(b, x, y);
        }
        if (ev !== null) {
          const y = l.eval.ema.next(ev);
          l.eval.dec.push(x, y);
          if (showE && (x > 0 || !xLog)) extend(b, x, y);
        }
      }
      fedNow += limit - r.fed;
      r.fed = limit;
      if (this.domainMax > 0 && r.tokens[limit - 1] > this.domainMax * 1.5 && !this.managed.view.zoom) this.needsRebuild = true;
    }
    return fedNow;
  }

  /** Bounds over the visible lines' drawn points (after a visibility change). */
  private recomputeBounds(): void {
    const b = { xMin: Infinity, xMax: -Infinity, yMin: Infinity, yMax: -Infinity };
    for (const l of this.visibleLines()) for (const p of l.out) extend(b, p.x, p.y);
    this.bounds = b;
  }

  private syncBoundsDataset(): void {
    const b = this.bounds;
    const view = this.managed.view;
    const data = this.boundsDs.data as XY[];
    if (!Number.isFinite(b.xMin) || !Number.isFinite(b.yMin)) {
      data.length = 0;
      return;
    }
    const xMin = view.xLog ? Math.max(b.xMin, Number.MIN_VALUE) : b.xMin;
    const yPad = view.yLog ? 1 : 0;
    data.length = 0;
    data.push({ x: xMin, y: b.yMin * (yPad ? 0.98 : 1) }, { x: b.xMax, y: b.yMax * (yPad ? 1.02 : 1) });
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
    this.syncBoundsDataset();
    const t1 = performance.now();
    this.managed.chart.update('none');
    this.updateMs += performance.now() - t1;
    this.flushes++;
    this.flushMs += performance.now() - t0;
    const c = this.drawnCounts();
    this.onRendered(c.datasets, c.points, c.rawPoints);
  }

  /** Strokes the decimated curves inside the plot area, then the hover label. */
  private linePlugin(): Plugin {
    return {
      id: 'flopsfitLossLines',
      afterDatasetsDraw: (chart) => {
        const { ctx, chartArea: area } = chart;
        const xs = chart.scales.x;
        const ys = chart.scales.y;
        if (!area || !xs || !ys) return;
        ctx.save();
        ctx.beginPath();
        ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
        ctx.clip();
        ctx.lineJoin = 'round';
        // pixel = a + b·T(value), T = log10 on a logarithmic scale (both chart.js scales are
        // affine in T): two calls per axis instead of one getPixelForValue per point
        const xLog = xs.type === 'logarithmic';
        const yLog = ys.type === 'logarithmic';
        const affine = (scale: typeof xs, log: boolean) => {
          const v1 = log ? Math.max(scale.min, Number.MIN_VALUE) : scale.min;
          const v2 = log ? v1 * 10 : scale.min + 1;
          const t1 = log ? Math.log10(v1) : v1;
          const t2 = log ? Math.log10(v2) : v2;
          const p1 = scale.getPixelForValue(v1);
          const b = (scale.getPixelForValue(v2) - p1) / (t2 - t1);
          return { a: p1 - b * t1, b };
        };
        const fx = affine(xs, xLog);
        const fy = affine(ys, yLog);
        // train (faint) first, eval on top
        for (const kind of ['train', 'eval'] as const) {
          for (const l of this.lines.values()) {
            const line = l[kind];
            const pts = line.out;
            if (pts.length < 1 || !this.isVisible(line)) continue;
            ctx.strokeStyle = line.color;
            ctx.lineWidth = line.width;
            ctx.beginPath();
            let started = false;
            for (let i = 0; i < pts.length; i++) {
              const p = pts[i];
              const px = fx.a + fx.b * (xLog ? Math.log10(p.x) : p.x);
              const py = fy.a + fy.b * (yLog ? Math.log10(p.y) : p.y);
              if (!Number.isFinite(px) || !Number.isFinite(py)) continue;
              if (started) ctx.lineTo(px, py);
              else {
                ctx.moveTo(px, py);
                ctx.lineTo(px + 0.5, py);
                started = true;
              }
            }
            ctx.stroke();
          }
        }
        const h = this.hover;
        if (h && this.isVisible(h.line)) {
          const px = xs.getPixelForValue(h.p.x);
          const py = ys.getPixelForValue(h.p.y);
          ctx.fillStyle = h.line.color;
          ctx.beginPath();
          ctx.arc(px, py, 4, 0, Math.PI * 2);
          ctx.fill();
          ctx.restore();
          ctx.save();
          const text = `${h.line.label}: ${h.p.y.toPrecision(4)} at ${si(h.p.x)} tokens`;
          ctx.font = `12px ${this.theme.font}`;
          const w = ctx.measureText(text).width + 12;
          const bx = Math.min(px + 10, area.right - w);
          const by = Math.max(py - 30, area.top);
          ctx.fillStyle = withAlpha(this.theme.bg, 0.92);
          ctx.strokeStyle = withAlpha(this.theme.fg, 0.3);
          ctx.lineWidth = 1;
          ctx.fillRect(bx, by, w, 22);
          ctx.strokeRect(bx, by, w, 22);
          ctx.fillStyle = this.theme.fg;
          ctx.textBaseline = 'middle';
          ctx.fillText(text, bx + 6, by + 11);
        }
        ctx.restore();
      },
      afterEvent: (chart, args) => {
        const e = args.event;
        if (e.type === 'mouseout') {
          if (this.hover) {
            this.hover = null;
            args.changed = true;
          }
          return;
        }
        if (e.type !== 'mousemove' || e.x === null || e.y === null) return;
        const xs = chart.scales.x;
        const ys = chart.scales.y;
        let best: { line: Line; p: XY } | null = null;
        let bestD = 64; // (8 px)²
        for (const line of this.visibleLines()) {
          for (const p of line.out) {
            const dx = xs.getPixelForValue(p.x) - e.x;
            if (dx * dx > bestD) continue;
            const dy = ys.getPixelForValue(p.y) - e.y;
            const d = dx * dx + dy * dy;
            if (d < bestD) {
              bestD = d;
              best = { line, p };
            }
          }
        }
        if (best?.p !== this.hover?.p) {
          this.hover = best;
          args.changed = true;
        }
      },
    };
  }
}

function extend(b: { xMin: number; xMax: number; yMin: number; yMax: number }, x: number, y: number): void {
  if (x < b.xMin) b.xMin = x;
  if (x > b.xMax) b.xMax = x;
  if (y < b.yMin) b.yMin = y;
  if (y > b.yMax) b.yMax = y;
}
