/**
 * chart.js setup shared by every chart of the panel: registration of only the parts we use,
 * theme colours from the --vscode-* CSS variables, grouped legend toggles, log/linear axes,
 * zoom/pan state that survives updates and reloads, PNG export with the theme background.
 */
import {
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartConfiguration,
  type ChartDataset,
  type LegendItem,
  type Plugin,
  type Scale,
} from 'chart.js';
import zoomPlugin from 'chartjs-plugin-zoom';
import type { ChartId, ChartView } from '../src/shared/protocol';
import { sci, si, withAlpha } from './logic';

Chart.register(LineController, ScatterController, LineElement, PointElement, LinearScale, LogarithmicScale, Legend, Tooltip, Filler, zoomPlugin);

export interface Theme {
  fg: string;
  muted: string;
  grid: string;
  bg: string;
  font: string;
  /** ordered palette for budgets (cool → warm) */
  palette: string[];
  accent: string;
  error: string;
}

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  const v = style.getPropertyValue(name).trim();
  return v || fallback;
}

/** Reads the theme from the computed --vscode-* variables (call again when the theme changes). */
export function readTheme(): Theme {
  const st = getComputedStyle(document.body);
  const fg = cssVar(st, '--vscode-foreground', '#cccccc');
  return {
    fg,
    muted: cssVar(st, '--vscode-descriptionForeground', fg),
    grid: withAlpha(cssVar(st, '--vscode-foreground', '#888888'), 0.12),
    bg: cssVar(st, '--vscode-editor-background', '#1e1e1e'),
    font: cssVar(st, '--vscode-font-family', 'sans-serif'),
    palette: [
      cssVar(st, '--vscode-charts-blue', '#3794ff'),
      cssVar(st, '--vscode-charts-purple', '#b180d7'),
      cssVar(st, '--vscode-charts-green', '#89d185'),
      cssVar(st, '--vscode-charts-yellow', '#cca700'),
      cssVar(st, '--vscode-charts-orange', '#d18616'),
      cssVar(st, '--vscode-charts-red', '#f14c4c'),
    ],
    accent: cssVar(st, '--vscode-charts-foreground', fg),
    error: cssVar(st, '--vscode-errorForeground', '#f14c4c'),
  };
}

/** Datasets carry a legend group (one legend entry toggles all datasets of the group). */
export type GroupedDataset = ChartDataset<'line' | 'scatter', { x: number; y: number }[]> & {
  group: string;
  /** extra visibility rule of the chart (e.g. train/eval toggles), ANDed with the legend */
  filtered?: boolean;
  /** colour of the group's legend entry (default: the first dataset's border colour) */
  legendColor?: string;
};

/** Tick labels: on log axes only 1·10^k (and 2, 5 when the axis spans few decades). */
export type TickFormat = 'si' | 'sci' | 'plain';

function formatTick(format: TickFormat, v: number): string {
  if (format === 'sci') return sci(v, 1);
  if (format === 'si') return si(v);
  return Number(v.toPrecision(4)).toString();
}

function tickCallback(format: TickFormat, log: boolean) {
  return function (this: Scale, value: number | string): string {
    const v = Number(value);
    if (!Number.isFinite(v)) return '';
    if (log) {
      if (v <= 0) return '';
      const decades = Math.log10(this.max / this.min);
      const mant = Math.round(v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9)));
      const keep = decades > 4 ? mant === 1 : decades > 1.5 ? mant === 1 || mant === 3 : decades > 0.8 ? mant === 1 || mant === 2 || mant === 5 : true;
      if (!keep) return '';
    }
    return formatTick(format, v);
  };
}

/** Fills the canvas with the theme background so exported PNGs are legible. */
const backgroundPlugin: Plugin = {
  id: 'flopsfitBackground',
  beforeDraw(chart, _args, opts: { color?: string }) {
    if (!opts.color) return;
    const { ctx } = chart;
    ctx.save();
    ctx.globalCompositeOperation = 'destination-over';
    ctx.fillStyle = opts.color;
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
  },
};

export interface ManagedChart {
  id: ChartId;
  chart: Chart<'line' | 'scatter', { x: number; y: number }[]>;
  view: ChartView;
  /** re-applies hidden groups and filters to dataset.hidden */
  applyVisibility(): void;
  /** sets axes type from view (xLog/yLog), keeps zoom when it stays valid */
  applyAxes(): void;
  applyTheme(theme: Theme): void;
  resetZoom(): void;
  datasets(): GroupedDataset[];
}

export interface MakeChartOptions {
  id: ChartId;
  canvas: HTMLCanvasElement;
  view: ChartView;
  theme: Theme;
  xTitle: string;
  yTitle: string;
  xFormat?: TickFormat;
  yFormat?: TickFormat;
  /** called whenever the user changed the view (zoom, legend) — persist it */
  onViewChange: () => void;
  /** called after zoom/pan/axis changes that need the data recomputed (e.g. decimation) */
  onRangeChange?: () => void;
  tooltipLabel?: (ds: GroupedDataset, x: number, y: number) => string;
  /** chart-local plugins (e.g. the loss chart's own line renderer) */
  plugins?: Plugin[];
  /** false: no chart.js tooltip (a plugin draws its own) */
  tooltip?: boolean;
}

function axisOptions(theme: Theme, title: string, log: boolean, format: TickFormat) {
  return {
    type: log ? ('logarithmic' as const) : ('linear' as const),
    title: { display: true, text: title, color: theme.muted },
    ticks: { color: theme.muted, maxRotation: 0, autoSkipPadding: 12, callback: tickCallback(format, log) },
    grid: { color: theme.grid },
    border: { color: theme.grid },
  };
}

export function makeChart(o: MakeChartOptions): ManagedChart {
  const { view } = o;
  let theme = o.theme;
  const config: ChartConfiguration<'line' | 'scatter', { x: number; y: number }[]> = {
    type: 'line',
    data: { datasets: [] },
    plugins: [backgroundPlugin, ...(o.plugins ?? [])],
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      spanGaps: true,
      interaction: { mode: 'nearest', intersect: false, axis: 'xy' },
      elements: { point: { radius: 0, hoverRadius: 3 }, line: { borderWidth: 1.5, tension: 0 } },
      scales: {
        x: axisOptions(theme, o.xTitle, view.xLog, o.xFormat ?? 'si'),
        y: axisOptions(theme, o.yTitle, view.yLog, o.yFormat ?? 'plain'),
      },
      plugins: {
        // flopsfitBackground is a local plugin: its options are not in chart.js's types
        ...({ flopsfitBackground: { color: theme.bg } } as object),
        legend: {
          position: 'bottom',
          labels: {
            color: theme.fg,
            boxWidth: 12,
            generateLabels: (chart) => {
              const seen = new Map<string, LegendItem>();
              for (const ds of chart.data.datasets as GroupedDataset[]) {
                if (!ds.group || seen.has(ds.group)) continue;
                seen.set(ds.group, {
                  text: ds.group,
                  fillStyle: ds.legendColor ?? (ds.borderColor as string) ?? (ds.backgroundColor as string),
                  strokeStyle: ds.legendColor ?? (ds.borderColor as string) ?? (ds.backgroundColor as string),
                  fontColor: theme.fg,
                  hidden: view.hidden.includes(ds.group),
                  lineWidth: 1,
                  datasetIndex: undefined,
                });
              }
              return [...seen.values()];
            },
          },
          onClick: (_e, item) => {
            const g = item.text;
            const i = view.hidden.indexOf(g);
            if (i >= 0) view.hidden.splice(i, 1);
            else view.hidden.push(g);
            managed.applyVisibility();
            managed.chart.update('none');
            o.onViewChange();
            o.onRangeChange?.();
          },
        },
        tooltip: {
          enabled: o.tooltip !== false,
          callbacks: {
            label: (ctx) => {
              const ds = ctx.dataset as GroupedDataset;
              const p = ctx.raw as { x: number; y: number };
              return o.tooltipLabel ? o.tooltipLabel(ds, p.x, p.y) : `${ds.label ?? ''}: (${p.x.toPrecision(3)}, ${p.y.toPrecision(4)})`;
            },
          },
        },
        zoom: {
          zoom: {
            wheel: { enabled: true },
            pinch: { enabled: true },
            drag: { enabled: true, modifierKey: 'shift' },
            mode: 'xy',
            onZoomComplete: () => saveZoom(),
          },
          pan: { enabled: true, mode: 'xy', onPanComplete: () => saveZoom() },
        },
      },
    },
  };
  const chart = new Chart(o.canvas, config);

  function saveZoom() {
    const x = chart.scales.x;
    const y = chart.scales.y;
    if (x && y) view.zoom = { xMin: x.min, xMax: x.max, yMin: y.min, yMax: y.max };
    o.onViewChange();
    o.onRangeChange?.();
  }

  function applyZoomToOptions() {
    const sx = chart.options.scales!.x!;
    const sy = chart.options.scales!.y!;
    const z = view.zoom;
    const valid = z && (!view.xLog || z.xMin > 0) && (!view.yLog || z.yMin > 0) && z.xMax > z.xMin && z.yMax > z.yMin;
    if (z && !valid) delete view.zoom;
    sx.min = valid ? z!.xMin : undefined;
    sx.max = valid ? z!.xMax : undefined;
    sy.min = valid ? z!.yMin : undefined;
    sy.max = valid ? z!.yMax : undefined;
  }

  const managed: ManagedChart = {
    id: o.id,
    chart,
    view,
    datasets: () => chart.data.datasets as GroupedDataset[],
    applyVisibility() {
      for (const ds of chart.data.datasets as GroupedDataset[]) {
        ds.hidden = view.hidden.includes(ds.group) || ds.filtered === true;
      }
    },
    applyAxes() {
      Object.assign(chart.options.scales!.x!, axisOptions(theme, o.xTitle, view.xLog, o.xFormat ?? 'si'));
      Object.assign(chart.options.scales!.y!, axisOptions(theme, o.yTitle, view.yLog, o.yFormat ?? 'plain'));
      applyZoomToOptions();
    },
    applyTheme(t: Theme) {
      theme = t;
      managed.applyAxes();
      const legend = chart.options.plugins!.legend!;
      legend.labels!.color = t.fg;
      (chart.options.plugins as Record<string, unknown>).flopsfitBackground = { color: t.bg };
    },
    resetZoom() {
      delete view.zoom;
      chart.resetZoom('none');
      applyZoomToOptions();
      chart.update('none');
      o.onViewChange();
      o.onRangeChange?.();
    },
  };
  applyZoomToOptions();
  return managed;
}

/** Counts what a chart draws (visible datasets and their points) for the `rendered` report. */
export function countRendered(m: ManagedChart, rawPoints?: number): { datasets: number; points: number; rawPoints: number } {
  let datasets = 0;
  let points = 0;
  for (const ds of m.datasets()) {
    if (ds.hidden) continue;
    datasets++;
    points += ds.data.length;
  }
  return { datasets, points, rawPoints: rawPoints ?? points };
}
