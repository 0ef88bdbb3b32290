/**
 * The loss chart's series store and decimation driver: the raw points of every experiment, and the
 * min-max decimated, optionally EMA-smoothed lines drawn from them, fed incrementally as points
 * arrive and rebuilt when the axis, zoom, width or smoothing changes.
 */
import type { ChartView, SeriesChunk } from '../../src/shared/protocol';
import { bucketGeometry, Ema, identityTransform, log10Transform, MinMaxDecimator, type XY } from '../logic';

export interface ExperimentMeta {
  id: string;
  budget: number;
  budgetIndex: number;
  budgetCount: number;
  params: number;
  tokens: number;
}

export interface LossSettings {
  smoothing: number;
  showTrain: boolean;
  showEval: boolean;
}

interface RawSeries {
  tokens: number[];
  train: (number | null)[];
  eval: (number | null)[];
  /** raw points already fed to the decimators */
  fed: number;
}

export type LineKind = 'train' | 'eval';

/** One drawn curve: its style and its decimated points. */
export interface Line {
  id: string;
  kind: LineKind;
  label: string;
  group: string;
  color: string;
  width: number;
  out: XY[];
  dec: MinMaxDecimator;
  ema: Ema;
}

export interface LinePair {
  train: Line;
  eval: Line;
}

export interface Bounds {
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
}

function emptyBounds(): Bounds {
  return { xMin: Infinity, xMax: -Infinity, yMin: Infinity, yMax: -Infinity };
}

function extend(b: Bounds, x: number, y: number): void {
  if (x < b.xMin) b.xMin = x;
  if (x > b.xMax) b.xMax = x;
  if (y < b.yMin) b.yMin = y;
  if (y > b.yMax) b.yMax = y;
}

function benchNoDecimation(): boolean {
  return (globalThis as { __flopsfitBench?: { noDecimation?: boolean } }).__flopsfitBench?.noDecimation === true;
}

/** Pixels per decimation bucket (min-max keeps ≤ 4 points per bucket). */
const PX_PER_BUCKET = 3;

export class LossSeries {
  readonly raw = new Map<string, RawSeries>();
  readonly lines = new Map<string, LinePair>();
  needsRebuild = true;
  /** plot width of the last rebuild */
  lastWidth = 0;
  /** data bounds of the visible lines (drives the axes through the bounds dataset) */
  private bounds = emptyBounds();
  /** bucket domain of the current decimation (data beyond it forces a rebuild) */
  private domainMax = 0;
  /** decimation grid of the last rebuild (new lines join it) */
  private geometry = { transform: identityTransform, origin: 0, width: 0 };
  /** raw point counts frozen while live updates are paused (null: live) */
  private pauseLimits: Map<string, number> | null = null;

  constructor(private readonly isVisible: (l: Line) => boolean) {}

  clear(): void {
    this.raw.clear();
    this.lines.clear();
  }

  /** A new line on the current decimation grid. */
  makeLine(id: string, kind: LineKind, style: { label: string; group: string; color: string }, smoothing: number): Line {
    const out: XY[] = [];
    const g = this.geometry;
    return { id, kind, label: style.label, group: style.group, color: style.color, width: kind === 'train' ? 1 : 1.6, out, dec: new MinMaxDecimator(g.transform, g.origin, g.width, out), ema: new Ema(smoothing) };
  }

  /** Appends new points; a new or restarted experiment gets fresh lines (no rebuild). True when an experiment was added. */
  append(chunks: SeriesChunk[], makeLine: (id: string, kind: LineKind) => Line): boolean {
    let added = false;
    for (const c of chunks) {
      let r = this.raw.get(c.id);
      if (!r || c.replace) {
        // new or restarted experiment: fresh lines on the current decimation grid (no rebuild)
        r = { tokens: [], train: [], eval: [], fed: 0 };
        this.raw.set(c.id, r);
        if (!this.lines.has(c.id)) added = true;
        this.lines.set(c.id, { train: makeLine(c.id, 'train'), eval: makeLine(c.id, 'eval') });
        if (this.pauseLimits) this.pauseLimits.set(c.id, 0);
      }
      for (let i = 0; i < c.tokens.length; i++) {
        r.tokens.push(c.tokens[i]);
        r.train.push(c.train[i]);
        r.eval.push(c.eval[i]);
      }
    }
    return added;
  }

  /** Pause/resume: while paused the lines keep what they had. True when live updates resumed. */
  setPaused(paused: boolean): boolean {
    if (paused && !this.pauseLimits) {
      this.pauseLimits = new Map([...this.raw].map(([id, r]) => [id, r.fed]));
    } else if (!paused && this.pauseLimits) {
      this.pauseLimits = null;
      return true;
    }
    return false;
  }

  rawPointCount(): number {
    let n = 0;
    for (const r of this.raw.values()) n += r.fed;
    return n;
  }

  *visibleLines(): Generator<Line> {
    for (const l of this.lines.values()) {
      if (this.isVisible(l.train)) yield l.train;
      if (this.isVisible(l.eval)) yield l.eval;
    }
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

  private domain(view: ChartView, meta: ReadonlyMap<string, ExperimentMeta>): { min: number; max: number } {
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
    for (const m of meta.values()) if (m.tokens > max) max = m.tokens;
    if (!Number.isFinite(min)) min = 1;
    if (!view.xLog) min = 0;
    return { min, max: Math.max(max, min + 1) };
  }

  /** New decimators on a grid for this view and plot width; every raw point is fed again. */
  rebuild(view: ChartView, width: number, smoothing: number, meta: ReadonlyMap<string, ExperimentMeta>): void {
    const transform = view.xLog ? log10Transform : identityTransform;
    const { min, max } = this.domain(view, meta);
    this.lastWidth = width;
    this.domainMax = max;
    // the benchmark's reference run turns decimation off (every raw point is drawn)
    const g = benchNoDecimation() ? { origin: 0, width: 0 } : bucketGeometry(min, max, width, transform, PX_PER_BUCKET);
    this.geometry = { transform, origin: g.origin, width: g.width };
    for (const [id, l] of this.lines) {
      for (const line of [l.train, l.eval]) {
        line.dec = new MinMaxDecimator(transform, g.origin, g.width, line.out);
        line.ema = new Ema(smoothing);
      }
      const r = this.raw.get(id);
      if (r) r.fed = 0;
    }
    this.bounds = emptyBounds();
    this.needsRebuild = false;
  }

  /** Feeds the raw points not yet fed (up to the pause limits); the number fed. */
  feed(view: ChartView): number {
    let fedNow = 0;
    const b = this.bounds;
    for (const [id, l] of this.lines) {
      const r = this.raw.get(id);
      if (!r) continue;
      const limit = this.pauseLimits ? Math.min(this.pauseLimits.get(id) ?? 0, r.tokens.length) : r.tokens.length;
      if (r.fed >= limit) continue;
      const showT = this.isVisible(l.train);
      const showE = this.isVisible(l.eval);
      const xLog = view.xLog;
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
      if (this.domainMax > 0 && r.tokens[limit - 1] > this.domainMax * 1.5 && !view.zoom) this.needsRebuild = true;
    }
    return fedNow;
  }

  /** Bounds over the visible lines' drawn points (after a visibility change). */
  recomputeBounds(): void {
    const b = emptyBounds();
    for (const l of this.visibleLines()) for (const p of l.out) extend(b, p.x, p.y);
    this.bounds = b;
  }

  /** Writes the data range into the bounds dataset's two points (empty when there is none). */
  writeBounds(data: XY[], view: ChartView): void {
    const b = this.bounds;
    if (!Number.isFinite(b.xMin) || !Number.isFinite(b.yMin)) {
      data.length = 0;
      return;
    }
    const xMin = view.xLog ? Math.max(b.xMin, Number.MIN_VALUE) : b.xMin;
    const yPad = view.yLog ? 1 : 0;
    data.length = 0;
    data.push({ x: xMin, y: b.yMin * (yPad ? 0.98 : 1) }, { x: b.xMax, y: b.yMax * (yPad ? 1.02 : 1) });
  }
}
