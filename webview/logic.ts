/**
 * Pure display logic of the results webview: EMA smoothing, incremental min-max decimation,
 * budget colours, number formatting. No DOM, no chart.js: unit-tested in node
 * (test/unit/webview-logic.test.ts).
 */
import { formatCount, formatDuration, formatFlops, formatLoss } from '../src/core/format';

export interface XY {
  x: number;
  y: number;
}

/**
 * Debiased exponential moving average (TensorBoard's): s_t = w·s_{t-1} + (1-w)·y_t, divided by
 * 1 - w^t so the start is not pulled towards 0. Incremental: feed points one by one. Weight 0 is
 * the identity. Changes only what is displayed, never the data the fit reads.
 */
export class Ema {
  private acc = 0;
  private n = 0;
  constructor(readonly weight: number) {}
  next(y: number): number {
    if (this.weight <= 0) return y;
    this.acc = this.weight * this.acc + (1 - this.weight) * y;
    this.n++;
    return this.acc / (1 - Math.pow(this.weight, this.n));
  }
}

export function emaSeries(ys: readonly number[], weight: number): number[] {
  const e = new Ema(weight);
  return ys.map((y) => e.next(y));
}

export type AxisTransform = (x: number) => number;
export const log10Transform: AxisTransform = (x) => Math.log10(x);
export const identityTransform: AxisTransform = (x) => x;

/**
 * Incremental min-max decimation into pixel-wide buckets of the transformed x axis (linear or
 * log — chart.js's own decimation plugin skips logarithmic axes). For each bucket it keeps the
 * first, lowest, highest and last point, in order, so spikes survive and the line stays
 * continuous. Points arrive in x order (metrics are appended as training goes on); the output
 * array is mutated in place: a new bucket pushes, the current bucket rewrites only its own tail.
 */
export class MinMaxDecimator {
  /** the decimated points, given to chart.js as dataset.data */
  readonly out: XY[];
  private bucket = Number.NaN;
  private bucketStart = 0;
  private first: XY | null = null;
  private min: XY | null = null;
  private max: XY | null = null;
  private last: XY | null = null;
  private firstI = 0;
  private minI = 0;
  private maxI = 0;
  private lastI = 0;
  private i = 0;
  /** raw points fed */
  fed = 0;

  constructor(
    private readonly transform: AxisTransform,
    private readonly origin: number,
    private readonly bucketWidth: number,
    out: XY[] = [],
  ) {
    this.out = out;
    this.out.length = 0;
  }

  push(x: number, y: number): void {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    const tx = this.transform(x);
    if (!Number.isFinite(tx)) return; // x ≤ 0 on a log axis
    this.fed++;
    const i = this.i++;
    const b = this.bucketWidth > 0 ? Math.floor((tx - this.origin) / this.bucketWidth) : i;
    if (b !== this.bucket) {
      this.bucket = b;
      this.bucketStart = this.out.length;
      const p = { x, y };
      this.first = this.min = this.max = this.last = p;
      this.firstI = this.minI = this.maxI = this.lastI = i;
      this.out.push(p);
      return;
    }
    const p = { x, y };
    this.last = p;
    this.lastI = i;
    if (y < this.min!.y) {
      this.min = p;
      this.minI = i;
    }
    if (y > this.max!.y) {
      this.max = p;
      this.maxI = i;
    }
    // rewrite this bucket's tail: first, then min/max in the order they came, then last
    const out = this.out;
    out.length = this.bucketStart;
    out.push(this.first!);
    const [a, ai, c, ci] = this.minI <= this.maxI ? [this.min!, this.minI, this.max!, this.maxI] : [this.max!, this.maxI, this.min!, this.minI];
    if (ai !== this.firstI) out.push(a);
    if (ci !== this.firstI && ci !== ai) out.push(c);
    if (this.lastI !== this.firstI && this.lastI !== ai && this.lastI !== ci) out.push(this.last);
  }
}

/** Bucket geometry for a transformed range [t(min), t(max)] drawn over `pixels` pixels. */
export function bucketGeometry(min: number, max: number, pixels: number, transform: AxisTransform, pxPerBucket = 1): { origin: number; width: number } {
  const a = transform(min);
  const b = transform(max);
  if (!Number.isFinite(a) || !Number.isFinite(b) || b <= a || pixels <= 0) return { origin: 0, width: 0 };
  return { origin: a, width: ((b - a) * pxPerBucket) / pixels };
}

/** Min-max decimates a whole series at once (the same as feeding MinMaxDecimator). */
export function decimate(xs: readonly number[], ys: readonly (number | null)[], transform: AxisTransform, origin: number, width: number): XY[] {
  const d = new MinMaxDecimator(transform, origin, width);
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (y !== null && y !== undefined) d.push(xs[i], y);
  }
  return d.out;
}

/** Parses a CSS colour (#rgb, #rrggbb, #rrggbbaa, rgb(), rgba()) into [r, g, b, a 0..1]. */
export function parseColor(c: string): [number, number, number, number] | undefined {
  const s = c.trim();
  let m = /^#([0-9a-f]{3,8})$/i.exec(s);
  if (m) {
    const h = m[1];
    if (h.length === 3 || h.length === 4) {
      const v = h.split('').map((d) => parseInt(d + d, 16));
      return [v[0], v[1], v[2], h.length === 4 ? v[3] / 255 : 1];
    }
    if (h.length === 6 || h.length === 8) {
      const v = [0, 2, 4, 6].map((k) => parseInt(h.slice(k, k + 2), 16));
      return [v[0], v[1], v[2], h.length === 8 ? v[3] / 255 : 1];
    }
    return undefined;
  }
  m = /^rgba?\(([^)]+)\)$/i.exec(s);
  if (m) {
    const parts = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    if (parts.length >= 3 && parts.slice(0, 3).every(Number.isFinite)) return [parts[0], parts[1], parts[2], parts.length > 3 && Number.isFinite(parts[3]) ? parts[3] : 1];
  }
  return undefined;
}

export function withAlpha(c: string, alpha: number): string {
  const p = parseColor(c);
  if (!p) return c;
  return `rgba(${p[0]}, ${p[1]}, ${p[2]}, ${alpha})`;
}

/**
 * Colour of budget `index` of `count`, interpolated along an ordered palette (small budgets
 * cool, large budgets warm). The palette comes from the theme's --vscode-charts-* colours.
 */
export function budgetColor(index: number, count: number, palette: readonly string[]): string {
  if (palette.length === 0) return '#888';
  if (count <= 1) return palette[0];
  if (count <= palette.length) {
    // spread the budgets across the palette
    const k = Math.round((index * (palette.length - 1)) / (count - 1));
    return palette[k];
  }
  const pos = (index * (palette.length - 1)) / (count - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(palette.length - 1, lo + 1);
  const f = pos - lo;
  const a = parseColor(palette[lo]);
  const b = parseColor(palette[hi]);
  if (!a || !b) return palette[lo];
  const mix = (u: number, v: number) => Math.round(u + (v - u) * f);
  return `rgb(${mix(a[0], b[0])}, ${mix(a[1], b[1])}, ${mix(a[2], b[2])})`;
}

// Numbers read the same here as in the CLI, the tree and the plan preview: one home, src/core/format.ts.
/** Counts: 1234567 → "1.23M" (3 significant digits, SI prefixes); "–" when missing. */
export const si = (v: number | null | undefined, digits = 3): string => formatCount(v, digits);
/** FLOPs: 1e18 → "1.0e18". */
export const sci = (v: number | null | undefined, digits = 2): string => formatFlops(v, digits);
export const duration = (seconds: number | null | undefined): string => formatDuration(seconds);
export { formatLoss };

/** Evenly spaced points in log space (inclusive). */
export function logspace(min: number, max: number, n: number): number[] {
  if (!(min > 0) || !(max > 0) || n < 2) return [min, max].filter((v) => v > 0);
  const a = Math.log10(min);
  const b = Math.log10(max);
  return Array.from({ length: n }, (_, i) => Math.pow(10, a + ((b - a) * i) / (n - 1)));
}

/** Stable key of a budget (legend group). */
export function budgetKey(budget: number): string {
  return `C=${sci(budget)}`;
}

/** Parabola of an IsoFLOP group at N (centred form: loss = p0 + p1·t + p2·t², t = ln N − center). */
export function parabolaAt(p: { center: number; p0: number; p1: number; p2: number }, n: number): number {
  const t = Math.log(n) - p.center;
  return p.p0 + p.p1 * t + p.p2 * t * t;
}

/** y = exp(logCoefficient) · c^exponent (natural log, as in fit.json). */
export function powerLawAt(logCoefficient: number, exponent: number, c: number): number {
  return Math.exp(logCoefficient + exponent * Math.log(c));
}
