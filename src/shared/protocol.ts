/**
 * The one message protocol between the extension host (src/extension/results/panel.ts) and the
 * results webview (webview/). Both directions are zod schemas; every receiver parses with them and
 * rejects (and logs) anything that does not match, so a malformed message is never rendered.
 *
 * Handshake: the webview posts `ready` once its script runs; the host queues what it would send
 * until then and answers with a `snapshot` of its in-memory model, followed by incremental
 * messages (`append`, `update`). The webview is rebuilt every time its tab is shown again
 * (retainContextWhenHidden is off), so it sends `ready` again and gets a fresh snapshot.
 *
 * Browser-safe: imports only zod and the pure on-disk contracts, never `vscode` or node modules.
 */
import { z } from 'zod';
import { Manifest, Plan, ResultsRow } from '../core/contracts';
import { FitReport } from '../core/fit/types';

export const PROTOCOL_VERSION = 1;

/** The charts the webview draws; `plan` is the plan-preview table. */
export const CHART_IDS = ['loss', 'isoflop', 'frontier', 'residuals'] as const;
export const ChartId = z.enum(CHART_IDS);
export type ChartId = z.infer<typeof ChartId>;

export const TAB_IDS = ['plan', 'loss', 'isoflop', 'frontier', 'fit'] as const;
export const TabId = z.enum(TAB_IDS);
export type TabId = z.infer<typeof TabId>;

/**
 * Metrics points of one experiment in columnar form (much smaller than one object per line).
 * `train`/`eval` hold null where that metrics line had no such loss.
 */
/*
 * Metrics arrays are checked with one tight loop each instead of a zod schema per element: the
 * same rule (finite numbers, or null where allowed) at ~50× the speed, which matters for a
 * snapshot of 100 experiments × 10 000 points.
 */
const finiteNumbers = z.custom<number[]>((v) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x)), {
  message: 'expected an array of finite numbers',
});
const finiteOrNull = z.custom<(number | null)[]>((v) => Array.isArray(v) && v.every((x) => x === null || (typeof x === 'number' && Number.isFinite(x))), {
  message: 'expected an array of finite numbers or null',
});

export const SeriesChunk = z
  .object({
    id: z.string().min(1),
    /** when true the webview drops what it has for this id first (the file was truncated/rewritten) */
    replace: z.boolean().optional(),
    tokens: finiteNumbers,
    step: finiteNumbers,
    train: finiteOrNull,
    eval: finiteOrNull,
  })
  .refine(
    (c) => c.step.length === c.tokens.length && c.train.length === c.tokens.length && c.eval.length === c.tokens.length,
    { message: 'tokens, step, train and eval must have the same length' },
  );
export type SeriesChunk = z.infer<typeof SeriesChunk>;

/** A located problem with one of the run-directory files (shown in the panel, never thrown). */
export const Problem = z.object({
  /** config: the sweep config itself; runDir (default): a file of the run directory */
  source: z.enum(['config', 'runDir']).optional(),
  file: z.string(),
  line: z.number().int().optional(),
  message: z.string(),
});
export type Problem = z.infer<typeof Problem>;

/** fit.json (the fit's FitReport, src/core/fit/types.ts), validated on the host and again here. */
export const FitPayload = FitReport;
export type FitPayload = z.infer<typeof FitPayload>;

export const Snapshot = z.object({
  sweep: z.string(),
  /** the config file, as a URI string (kept in webview state so a reload can revive the panel) */
  configUri: z.string(),
  runDir: z.string().optional(),
  /** preview: computed from the config, nothing run yet */
  phase: z.enum(['preview', 'idle', 'running', 'finished']),
  /** the sweep's status in words, as the explorer shows it (e.g. "interrupted — resumable") */
  statusLabel: z.string().optional(),
  plan: Plan.nullable(),
  manifest: Manifest.nullable(),
  results: z.array(ResultsRow),
  fit: FitPayload.nullable(),
  series: z.array(SeriesChunk),
  problems: z.array(Problem),
});
export type Snapshot = z.infer<typeof Snapshot>;

export const ToWebview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('snapshot'), snapshot: Snapshot }),
  /** new metrics points, appended in place */
  z.object({ type: z.literal('append'), series: z.array(SeriesChunk) }),
  /** one or more model parts changed (only the keys present) */
  z.object({
    type: z.literal('update'),
    phase: Snapshot.shape.phase.optional(),
    statusLabel: z.string().optional(),
    plan: Plan.nullable().optional(),
    manifest: Manifest.nullable().optional(),
    results: z.array(ResultsRow).optional(),
    fit: FitPayload.nullable().optional(),
    problems: z.array(Problem).optional(),
  }),
  z.object({ type: z.literal('notice'), level: z.enum(['info', 'warning', 'error']), message: z.string() }),
  /** switches the panel to a tab (e.g. a command that opens the results on the loss curves) */
  z.object({ type: z.literal('showTab'), tab: TabId }),
  /**
   * test hook: asks the webview to report what it has drawn, for every chart; the answers carry
   * `seq`, so a reader never mistakes an earlier (throttled) report for the answer
   */
  z.object({ type: z.literal('reportRendered'), seq: z.number().int().optional() }),
]);
export type ToWebview = z.infer<typeof ToWebview>;

const PNG_DATA_URL = /^data:image\/png;base64,[A-Za-z0-9+/=]+$/;

export const FromWebview = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), protocol: z.number().int() }),
  /** what a chart drew after an update (used by tests and for diagnostics) */
  z.object({
    type: z.literal('rendered'),
    chart: ChartId,
    datasets: z.number().int().min(0),
    /** data points of all visible datasets, as given to chart.js (after decimation) */
    points: z.number().int().min(0),
    /** raw points behind them (before decimation) */
    rawPoints: z.number().int().min(0),
    /** the `reportRendered` request this answers (absent: a report after a redraw) */
    seq: z.number().int().optional(),
  }),
  z.object({ type: z.literal('savePng'), chart: ChartId, dataUrl: z.string().regex(PNG_DATA_URL).max(64 * 1024 * 1024) }),
  z.object({ type: z.literal('exportData'), format: z.enum(['csv', 'json']) }),
  z.object({ type: z.literal('log'), level: z.enum(['info', 'warn', 'error']), message: z.string().max(10_000) }),
]);
export type FromWebview = z.infer<typeof FromWebview>;

/** Short, readable description of a rejected message (for logs). */
export function describeRejection(error: z.ZodError, raw: unknown): string {
  const type = raw && typeof raw === 'object' && 'type' in raw ? String((raw as { type: unknown }).type) : '?';
  const issues = error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
  return `rejected malformed message (type ${JSON.stringify(type)}): ${issues}`;
}

/** View settings the webview keeps with setState (restored after reload and tab switches). */
export const ChartView = z.object({
  xLog: z.boolean(),
  yLog: z.boolean(),
  /** groups (legend entries) the user hid */
  hidden: z.array(z.string()),
  /** zoomed range, absent when not zoomed */
  zoom: z.object({ xMin: z.number(), xMax: z.number(), yMin: z.number(), yMax: z.number() }).optional(),
});
export type ChartView = z.infer<typeof ChartView>;

export const WebviewState = z.object({
  configUri: z.string().optional(),
  tab: TabId,
  smoothing: z.number().min(0).max(0.999),
  paused: z.boolean(),
  showTrain: z.boolean(),
  showEval: z.boolean(),
  charts: z.object({ loss: ChartView, isoflop: ChartView, frontier: ChartView, residuals: ChartView }),
});
export type WebviewState = z.infer<typeof WebviewState>;

export function defaultWebviewState(): WebviewState {
  return {
    tab: 'plan',
    smoothing: 0,
    paused: false,
    showTrain: true,
    showEval: true,
    charts: {
      loss: { xLog: true, yLog: true, hidden: [] },
      isoflop: { xLog: true, yLog: false, hidden: [] },
      frontier: { xLog: true, yLog: true, hidden: [] },
      residuals: { xLog: true, yLog: false, hidden: [] },
    },
  };
}
