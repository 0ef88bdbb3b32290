/**
 * Results panel, browser side. Talks to the host only through src/shared/protocol.ts: every
 * message received is parsed with zod and rejected (and reported to the host log) when it does
 * not match. View settings live in the webview state (vscode.setState) so they survive tab
 * switches and reloads; the data itself always comes from the host's snapshot.
 */
import './zodConfig';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import {
  ChartId,
  defaultWebviewState,
  describeRejection,
  FromWebview,
  PROTOCOL_VERSION,
  TAB_IDS,
  ToWebview,
  WebviewState,
  type Snapshot,
  type TabId,
} from '../src/shared/protocol';
import { readTheme, type ManagedChart } from './chartKit';
import { FitCharts } from './fit/fitCharts';
import { LossChart, type ExperimentMeta } from './loss/lossChart';
import { el, renderPlan } from './planView';

const vscode = acquireVsCodeApi<WebviewState>();

function post(msg: FromWebview): void {
  vscode.postMessage(msg);
}

function loadState(): WebviewState {
  const raw = vscode.getState();
  const p = WebviewState.safeParse(raw);
  if (p.success) return p.data;
  // an older or foreign state: keep what still fits
  const d = defaultWebviewState();
  if (raw && typeof raw === 'object') {
    const r = raw as Partial<WebviewState>;
    if (typeof r.configUri === 'string') d.configUri = r.configUri;
  }
  return d;
}

const state = loadState();
function saveState(): void {
  vscode.setState(state);
}

let model: Snapshot | null = null;

// ------------------------------------------------------------------ layout

const TAB_TITLES: Record<TabId, string> = { plan: 'Plan', loss: 'Loss curves', isoflop: 'IsoFLOP', frontier: 'Frontier', fit: 'Fit' };

const app = document.getElementById('app') ?? document.body;
const title = el('h1', { text: 'FlopsFit results' });
const phaseBadge = el('span', { class: 'badge' });
const progress = el('span', { class: 'muted' });
const exportCsv = document.createElement('vscode-button');
exportCsv.textContent = 'Export CSV';
exportCsv.setAttribute('secondary', '');
exportCsv.title = 'Save all data and fits as CSV';
const exportJson = document.createElement('vscode-button');
exportJson.textContent = 'Export JSON';
exportJson.setAttribute('secondary', '');
exportJson.title = 'Save all data and fits as JSON';
exportCsv.addEventListener('click', () => post({ type: 'exportData', format: 'csv' }));
exportJson.addEventListener('click', () => post({ type: 'exportData', format: 'json' }));
const header = el('header', {}, el('div', { class: 'title' }, title, phaseBadge, progress), el('div', { class: 'actions' }, exportCsv, exportJson));
const notices = el('div', { class: 'notices' });
const problemsBox = el('details', { class: 'problems' });
problemsBox.hidden = true;

const tabs = document.createElement('vscode-tabs');
const panels = {} as Record<TabId, HTMLElement>;
for (const id of TAB_IDS) {
  const h = document.createElement('vscode-tab-header');
  h.setAttribute('slot', 'header');
  h.textContent = TAB_TITLES[id];
  h.id = `tab-${id}`;
  const p = document.createElement('vscode-tab-panel');
  const inner = el('div', { class: `panel panel-${id}` });
  p.append(inner);
  panels[id] = inner;
  tabs.append(h, p);
}
tabs.setAttribute('selected-index', String(TAB_IDS.indexOf(state.tab)));
tabs.addEventListener('vsc-tabs-select', (e) => {
  const i = (e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex;
  const id = TAB_IDS[i];
  if (id) {
    state.tab = id;
    saveState();
  }
});
app.append(header, notices, problemsBox, tabs);

function checkbox(label: string, checked: boolean, onChange: (v: boolean) => void, tip?: string): HTMLElement {
  const c = document.createElement('vscode-checkbox');
  c.setAttribute('label', label);
  c.checked = checked;
  if (tip) c.title = tip;
  c.addEventListener('change', () => onChange(c.checked));
  return c;
}

function button(label: string, onClick: () => void, tip?: string): HTMLElement {
  const b = document.createElement('vscode-button');
  b.textContent = label;
  b.setAttribute('secondary', '');
  if (tip) b.title = tip;
  b.addEventListener('click', onClick);
  return b;
}

/** A chart block: toolbar (axes, zoom reset, PNG) + canvas. Returns the canvas and the toolbar. */
function chartBlock(parent: HTMLElement, id: ChartId, extra: HTMLElement[] = [], cls = ''): { canvas: HTMLCanvasElement; toolbar: HTMLElement } {
  const canvas = el('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${id} chart`);
  const view = state.charts[id];
  const toolbar = el(
    'div',
    { class: 'toolbar' },
    ...extra,
    checkbox('log x', view.xLog, (v) => {
      view.xLog = v;
      axesChanged(id);
    }),
    checkbox('log y', view.yLog, (v) => {
      view.yLog = v;
      axesChanged(id);
    }),
    button('Reset zoom', () => chartOf(id)?.resetZoom(), 'Wheel: zoom; drag: pan; Shift+drag: zoom to a box'),
    button('Save PNG', () => savePng(id)),
  );
  parent.append(toolbar, el('div', { class: `chart-wrap ${cls}` }, canvas));
  return { canvas, toolbar };
}

// ------------------------------------------------------------------ loss chart

let theme = readTheme();
const lossPanel = panels.loss;
const smoothValue = el('span', { class: 'smooth-value', text: state.smoothing.toFixed(2) });
const smoothInput = document.createElement('input');
smoothInput.type = 'range';
smoothInput.min = '0';
smoothInput.max = '0.99';
smoothInput.step = '0.01';
smoothInput.value = String(state.smoothing);
smoothInput.title = 'EMA smoothing of the displayed curves (the fit never sees it)';
smoothInput.addEventListener('input', () => {
  state.smoothing = Math.min(0.99, Math.max(0, Number(smoothInput.value) || 0));
  smoothValue.textContent = state.smoothing.toFixed(2);
  saveState();
  lossChart.requestRebuild();
});
const smoothing = el('label', { class: 'smoothing' }, 'smoothing ', smoothInput, smoothValue);
const lossExtras = [
  checkbox('eval', state.showEval, (v) => {
    state.showEval = v;
    saveState();
    lossChart.applyVisibility();
  }),
  checkbox('train', state.showTrain, (v) => {
    state.showTrain = v;
    saveState();
    lossChart.applyVisibility();
  }),
  smoothing,
  checkbox(
    'pause live updates',
    state.paused,
    (v) => {
      state.paused = v;
      saveState();
      lossChart.setPaused(v);
    },
    'Freeze the curves; new points are kept and shown on resume',
  ),
];
const lossBlock = chartBlock(lossPanel, 'loss', lossExtras, 'tall');
lossPanel.append(el('p', { class: 'muted hint', text: 'Solid: eval loss; faint: train loss. Legend entries toggle a budget. Wheel zooms, drag pans, Shift+drag zooms to a box.' }));

let lossRenderedTimer = 0;
let lossRenderedPending: { datasets: number; points: number; rawPoints: number } | null = null;
const lossChart = new LossChart(
  lossBlock.canvas,
  state.charts.loss,
  theme,
  () => ({ smoothing: state.smoothing, showTrain: state.showTrain, showEval: state.showEval }),
  saveState,
  (datasets, points, rawPoints) => {
    // report at most every 200 ms (with a trailing report), not every frame
    lossRenderedPending = { datasets, points, rawPoints };
    if (lossRenderedTimer) return;
    lossRenderedTimer = window.setTimeout(() => {
      lossRenderedTimer = 0;
      if (lossRenderedPending) post({ type: 'rendered', chart: 'loss', ...lossRenderedPending });
      lossRenderedPending = null;
    }, 200);
  },
);
lossChart.setPaused(state.paused);

// ------------------------------------------------------------------ fit charts

const isoBlock = chartBlock(panels.isoflop, 'isoflop');
panels.isoflop.append(el('p', { class: 'muted hint', text: 'Final eval loss against N per budget, with the curve each budget\'s optimum N_opt was estimated from (Akima interpolant or parabola, per the fit) and N_opt; dashed: a budget whose optimum is not bracketed.' }));
const frontierBlock = chartBlock(panels.frontier, 'frontier');
const frontierNote = el('div', { class: 'frontier-note' });
panels.frontier.append(frontierNote);
const fitTables = el('div', { class: 'fit-tables' });
const residualBlock = chartBlock(panels.fit, 'residuals');
panels.fit.append(fitTables);

const fitCharts = new FitCharts(
  { isoflop: isoBlock.canvas, frontier: frontierBlock.canvas, residuals: residualBlock.canvas, tables: fitTables, frontierNote },
  state.charts,
  theme,
  saveState,
  (chart, c, seq) => post({ type: 'rendered', chart, ...c, ...(seq !== undefined ? { seq } : {}) }),
);

function chartOf(id: ChartId): ManagedChart | undefined {
  return id === 'loss' ? lossChart.managed : fitCharts.managed(id);
}

function axesChanged(id: ChartId): void {
  saveState();
  const m = chartOf(id);
  if (!m) return;
  m.applyAxes();
  if (id === 'loss') lossChart.requestRebuild();
  else m.chart.update('none');
}

function savePng(id: ChartId): void {
  const m = chartOf(id);
  if (!m) return;
  const dataUrl = m.chart.toBase64Image('image/png', 1);
  post({ type: 'savePng', chart: id, dataUrl });
}

// ------------------------------------------------------------------ model → view

function experimentsMeta(s: Snapshot): ExperimentMeta[] {
  const plan = s.plan;
  if (!plan) {
    // no plan: derive budgets from the results so colours still mean something
    const budgets = [...new Set(s.results.map((r) => r.budget))].sort((a, b) => a - b);
    return s.results.map((r) => ({ id: r.id, budget: r.budget, budgetIndex: budgets.indexOf(r.budget), budgetCount: budgets.length, params: r.params, tokens: r.tokens }));
  }
  const budgets = [...new Set(plan.experiments.map((e) => e.budget))].sort((a, b) => a - b);
  return plan.experiments.map((e) => ({ id: e.id, budget: e.budget, budgetIndex: budgets.indexOf(e.budget), budgetCount: budgets.length, params: e.params, tokens: e.tokens }));
}

function renderHeader(s: Snapshot): void {
  title.textContent = s.sweep;
  document.title = `${s.sweep} — FlopsFit`;
  phaseBadge.textContent = s.statusLabel ?? s.phase;
  phaseBadge.className = `badge phase-${s.phase}`;
  const total = s.plan?.experiments.length ?? 0;
  const done = s.manifest ? Object.values(s.manifest.experiments).filter((e) => e.status === 'completed').length : 0;
  progress.textContent = total ? `${done} / ${total} experiments completed` : '';
}

function renderProblems(s: Snapshot): void {
  problemsBox.replaceChildren();
  problemsBox.hidden = s.problems.length === 0;
  if (!s.problems.length) return;
  const config = s.problems.filter((p) => p.source === 'config');
  const runDir = s.problems.filter((p) => p.source !== 'config');
  const parts = [
    config.length ? `${config.length} problem${config.length === 1 ? '' : 's'} in the sweep config` : '',
    runDir.length ? `${runDir.length} problem${runDir.length === 1 ? '' : 's'} reading the run directory` : '',
  ].filter(Boolean);
  problemsBox.append(el('summary', { text: parts.join(' · ') }));
  const ul = el('ul');
  for (const p of [...config, ...runDir].slice(0, 50)) ul.append(el('li', { text: `${p.file}${p.line ? `:${p.line}` : ''}: ${p.message}` }));
  problemsBox.append(ul);
}

function renderAll(): void {
  if (!model) return;
  renderHeader(model);
  renderProblems(model);
  renderPlan(panels.plan, model.plan, model.manifest, model.results, model.phase);
  lossChart.setExperiments(experimentsMeta(model));
  fitCharts.update(model.fit, model.results, model.plan);
}

function notice(level: 'info' | 'warning' | 'error', message: string): void {
  const n = el('div', { class: `notice notice-${level}`, text: message });
  notices.append(n);
  window.setTimeout(() => n.remove(), 8000);
}

function handle(msg: ToWebview): void {
  switch (msg.type) {
    case 'snapshot':
      model = msg.snapshot;
      state.configUri = model.configUri;
      saveState();
      renderAll();
      lossChart.setAll(model.series);
      break;
    case 'append':
      if (!model) return;
      lossChart.append(msg.series);
      break;
    case 'update': {
      if (!model) return;
      const { type: _t, ...parts } = msg;
      void _t;
      for (const [k, v] of Object.entries(parts)) {
        if (v !== undefined) (model as Record<string, unknown>)[k] = v;
      }
      renderAll();
      break;
    }
    case 'notice':
      notice(msg.level, msg.message);
      break;
    case 'showTab':
      state.tab = msg.tab;
      saveState();
      tabs.setAttribute('selected-index', String(TAB_IDS.indexOf(msg.tab)));
      break;
    case 'reportRendered': {
      lossChart.flushNow();
      post({ type: 'rendered', chart: 'loss', ...lossChart.drawnCounts(), ...(msg.seq !== undefined ? { seq: msg.seq } : {}) });
      fitCharts.reportAll(msg.seq);
      break;
    }
  }
}

window.addEventListener('message', (event: MessageEvent) => {
  const parsed = ToWebview.safeParse(event.data);
  if (!parsed.success) {
    const text = describeRejection(parsed.error, event.data);
    console.warn(`[flopsfit] ${text}`);
    post({ type: 'log', level: 'error', message: text });
    return;
  }
  try {
    handle(parsed.data);
  } catch (err) {
    post({ type: 'log', level: 'error', message: `webview failed to handle ${parsed.data.type}: ${err instanceof Error ? err.message : String(err)}` });
  }
});

// theme changes: VS Code swaps the body class (vscode-light / vscode-dark / vscode-high-contrast)
new MutationObserver(() => {
  theme = readTheme();
  lossChart.setTheme(theme);
  fitCharts.setTheme(theme);
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

window.addEventListener('error', (e) => post({ type: 'log', level: 'error', message: `webview error: ${e.message}` }));

// debug/benchmark handle (read-only counters)
(globalThis as Record<string, unknown>).__flopsfit = { lossChart, fitCharts, state };

post({ type: 'ready', protocol: PROTOCOL_VERSION });
