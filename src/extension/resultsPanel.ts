/**
 * The results webview panel: one panel per sweep (title = sweep name), showing the plan preview,
 * live loss curves and the fit charts of the sweep's run directory.
 *
 * - Strict CSP with a per-load nonce from crypto.randomBytes; scripts and styles only from dist/
 *   and media/ (localResourceRoots); nothing from the network.
 * - One typed protocol (src/shared/protocol.ts), parsed with zod on receipt in both directions.
 *   The webview posts `ready`; until then the host queues what it sends, then answers with a
 *   snapshot of its in-memory model (RunDirModel) — a tab switch rebuilds the webview
 *   (retainContextWhenHidden is off) and gets the snapshot without re-reading files.
 * - File watchers on the run directory (debounced, no polling) feed RunDirModel, which tails
 *   metrics files incrementally; the webview gets only the new points.
 * - A WebviewPanelSerializer revives the panel after a reload from the config URI the webview
 *   keeps in its state.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { loadSweepConfig } from '../core/config';
import type { Plan } from '../core/contracts';
import { buildPlan, resolveRunDir } from '../core/plan';
import {
  describeRejection,
  FromWebview,
  PROTOCOL_VERSION,
  TabId,
  type ChartId,
  type Problem,
  type SeriesChunk,
  type Snapshot,
  type ToWebview,
} from '../shared/protocol';
import { Disposable } from './dispose';
import { log } from './log';
import { buildExport, RunDirModel } from './resultsModel';

export const RESULTS_VIEW_TYPE = 'flopsfit.results';

/** Delay that coalesces bursts of file events (a training step appends, the manifest is rewritten). */
const WATCH_DEBOUNCE_MS = 50;

interface Resolved {
  sweep: string;
  runDir?: string;
  previewPlan: Plan | null;
  configProblems: Problem[];
}

/** Reads the config and finds the run directory; computes the plan preview. Never throws. */
function resolveConfig(configUri: vscode.Uri): Resolved {
  const configPath = configUri.fsPath;
  const fallbackName = path.basename(configPath).replace(/\.sweep\.(ya?ml|jsonc?)$/i, '');
  const loaded = loadSweepConfig(configPath);
  const configProblems: Problem[] = loaded.diagnostics
    .filter((d) => d.severity === 'error')
    .slice(0, 20)
    .map((d) => ({ file: path.basename(configPath), line: d.range.start.line + 1, message: d.message }));
  if (!loaded.config) return { sweep: fallbackName, previewPlan: null, configProblems };
  const workspaceRoot = vscode.workspace.getWorkspaceFolder(configUri)?.uri.fsPath;
  let runDir: string | undefined;
  let previewPlan: Plan | null = null;
  try {
    runDir = resolveRunDir(loaded.config, configPath, workspaceRoot);
    previewPlan = buildPlan(loaded.config, { configPath, workspaceRoot });
  } catch (err) {
    configProblems.push({ file: path.basename(configPath), message: `cannot plan: ${err instanceof Error ? err.message : String(err)}` });
  }
  return { sweep: loaded.config.name, runDir, previewPlan, configProblems };
}

export class ResultsPanel extends Disposable {
  static readonly panels = new Map<string, ResultsPanel>();

  private ready = false;
  private queue: ToWebview[] = [];
  private model: RunDirModel | undefined;
  private resolved: Resolved;
  private watchers: vscode.Disposable[] = [];
  private pendingPaths = new Set<string>();
  private pendingTimer: NodeJS.Timeout | undefined;
  private configTimer: NodeJS.Timeout | undefined;

  // ---- observed by the integration tests (through resultsTestHook)
  readonly rendered = new Map<ChartId, { datasets: number; points: number; rawPoints: number; at: number }>();
  readonly webviewErrors: string[] = [];
  readonly rejected: string[] = [];
  private readonly renderedEmitter = this._register(new vscode.EventEmitter<ChartId>());
  readonly onRendered = this.renderedEmitter.event;

  static async createOrShow(extensionUri: vscode.Uri, configUri: vscode.Uri): Promise<ResultsPanel> {
    const key = configUri.toString();
    const existing = ResultsPanel.panels.get(key);
    if (existing) {
      existing.panel.reveal(undefined, false);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(RESULTS_VIEW_TYPE, path.basename(configUri.fsPath), vscode.ViewColumn.Active, webviewOptions(extensionUri));
    return new ResultsPanel(extensionUri, panel, configUri);
  }

  static revive(extensionUri: vscode.Uri, panel: vscode.WebviewPanel, configUri: vscode.Uri): ResultsPanel {
    const key = configUri.toString();
    ResultsPanel.panels.get(key)?.dispose();
    // the stored options may hold an older extension location: reset them (VS Code's sample does)
    panel.webview.options = webviewOptions(extensionUri);
    return new ResultsPanel(extensionUri, panel, configUri);
  }

  private constructor(
    private readonly extensionUri: vscode.Uri,
    readonly panel: vscode.WebviewPanel,
    readonly configUri: vscode.Uri,
  ) {
    super();
    ResultsPanel.panels.set(configUri.toString(), this);
    this.resolved = resolveConfig(configUri);
    this.loadModel();
    this.panel.title = this.resolved.sweep;
    this.panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'flopsfit.svg');
    this._register(this.panel.onDidDispose(() => this.dispose()));
    this._register(this.panel.webview.onDidReceiveMessage((m) => this.receive(m)));
    this._register(
      this.panel.onDidChangeViewState(() => {
        // hidden: the webview's document is gone (no retainContextWhenHidden); shown again it
        // posts `ready` and gets a snapshot of the in-memory model
        if (!this.panel.visible) this.ready = false;
      }),
    );
    this.watchConfig();
    this.panel.webview.html = this.html();
  }

  override dispose(): void {
    if (ResultsPanel.panels.get(this.configUri.toString()) === this) ResultsPanel.panels.delete(this.configUri.toString());
    this.disposeWatchers();
    clearTimeout(this.pendingTimer);
    clearTimeout(this.configTimer);
    super.dispose();
    this.panel.dispose();
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** The model as the webview sees it (also what Export writes). */
  snapshot(): Snapshot {
    const meta = { sweep: this.resolved.sweep, configUri: this.configUri.toString() };
    const base: Snapshot = this.model
      ? this.model.snapshot(meta)
      : { ...meta, phase: 'preview', plan: null, manifest: null, results: [], fit: null, series: [], problems: [] };
    if (!base.plan) base.plan = this.resolved.previewPlan;
    base.problems = [...this.resolved.configProblems, ...base.problems];
    return base;
  }

  /** Sends a message, queued until the webview is ready. */
  post(msg: ToWebview): void {
    if (!this.ready) {
      // data messages are covered by the snapshot sent on `ready`; keep the rest in order
      if (msg.type !== 'append' && msg.type !== 'update' && msg.type !== 'snapshot') this.queue.push(msg);
      return;
    }
    void this.panel.webview.postMessage(msg);
  }

  /** Test hook: posts anything, unvalidated, as if the host had a bug. */
  postRaw(raw: unknown): Thenable<boolean> {
    return this.panel.webview.postMessage(raw);
  }

  /** Handles a message from the webview (public for the test hook). */
  receive(raw: unknown): void {
    const parsed = FromWebview.safeParse(raw);
    if (!parsed.success) {
      const text = describeRejection(parsed.error, raw);
      this.rejected.push(text);
      log().warn(`[results] ${text}`);
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case 'ready':
        if (msg.protocol !== PROTOCOL_VERSION) log().warn(`[results] webview protocol ${msg.protocol}, host ${PROTOCOL_VERSION}`);
        this.ready = true;
        void this.panel.webview.postMessage({ type: 'snapshot', snapshot: this.snapshot() } satisfies ToWebview);
        for (const q of this.queue.splice(0)) void this.panel.webview.postMessage(q);
        break;
      case 'rendered':
        this.rendered.set(msg.chart, { datasets: msg.datasets, points: msg.points, rawPoints: msg.rawPoints, at: Date.now() });
        this.renderedEmitter.fire(msg.chart);
        break;
      case 'log': {
        const text = `[results webview] ${msg.message}`;
        if (msg.level === 'error') {
          this.webviewErrors.push(msg.message);
          log().error(text);
        } else if (msg.level === 'warn') log().warn(text);
        else log().info(text);
        break;
      }
      case 'savePng':
        void this.savePng(msg.chart, msg.dataUrl);
        break;
      case 'exportData':
        void exportSnapshot(this.snapshot(), msg.format, this.defaultExportDir()).then((r) => r && this.post({ type: 'notice', level: 'info', message: r }));
        break;
    }
  }

  private defaultExportDir(): string {
    return this.resolved.runDir && fs.existsSync(this.resolved.runDir) ? this.resolved.runDir : path.dirname(this.configUri.fsPath);
  }

  private async savePng(chart: ChartId, dataUrl: string): Promise<void> {
    const name = `${this.resolved.sweep}-${chart}.png`.replace(/[^\w.-]+/g, '_');
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(this.defaultExportDir(), name)),
      filters: { 'PNG image': ['png'] },
      title: `Save the ${chart} chart as PNG`,
    });
    if (!target) return;
    try {
      const bytes = Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64');
      await vscode.workspace.fs.writeFile(target, bytes);
      this.post({ type: 'notice', level: 'info', message: `Saved ${target.fsPath}` });
    } catch (err) {
      void vscode.window.showErrorMessage(`FlopsFit: could not save ${target.fsPath}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  // ------------------------------------------------------------------ model and watchers

  private loadModel(): void {
    this.disposeWatchers();
    this.model = undefined;
    const runDir = this.resolved.runDir;
    if (!runDir) return;
    this.model = new RunDirModel(runDir);
    this.model.loadAll();
    this.watchRunDir(runDir);
  }

  /** true once the run directory has its own (recursive) watcher */
  private dedicatedWatcher = false;

  private watchRunDir(runDir: string): void {
    this.disposeWatchers();
    const on = (uri: vscode.Uri) => this.fileEvent(uri.fsPath);
    let pattern: vscode.RelativePattern;
    if (fs.existsSync(runDir)) {
      // a watcher of the run directory itself (reliable for files written by other processes)
      pattern = new vscode.RelativePattern(vscode.Uri.file(runDir), '**/*.{json,jsonl}');
      this.dedicatedWatcher = true;
    } else {
      // not created yet: follow it through the workspace folder's watcher (or its parent folder),
      // and switch to a dedicated watcher at its first event
      const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(runDir));
      const rel = folder ? path.relative(folder.uri.fsPath, runDir).split(path.sep).join('/') : '';
      pattern = folder
        ? new vscode.RelativePattern(folder, `${rel ? `${rel}/` : ''}**/*.{json,jsonl}`)
        : new vscode.RelativePattern(vscode.Uri.file(path.dirname(runDir)), `${path.basename(runDir)}/**/*.{json,jsonl}`);
      this.dedicatedWatcher = false;
    }
    const w = vscode.workspace.createFileSystemWatcher(pattern);
    this.watchers.push(w, w.onDidChange(on), w.onDidCreate(on), w.onDidDelete(on));
    if (this.dedicatedWatcher) this.watchRunDirNatively(runDir);
  }

  /**
   * A second event source: Node's own (inotify) watcher on the run directory. VS Code's watcher
   * starts asynchronously and was seen to miss an append made right after the panel opened (in
   * code-server); events from both feed the same debounced, offset-based reader, so a duplicate
   * costs one stat. Where recursive fs.watch is unsupported, VS Code's watcher stands alone.
   */
  private watchRunDirNatively(runDir: string): void {
    try {
      const nw = fs.watch(runDir, { recursive: true, persistent: false }, (_event, name) => {
        if (name && /\.jsonl?$/.test(name.toString())) this.fileEvent(path.join(runDir, name.toString()));
      });
      nw.on('error', () => nw.close());
      this.watchers.push({ dispose: () => nw.close() });
    } catch (err) {
      log().debug(`[results] no native watcher for ${runDir}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private disposeWatchers(): void {
    for (const w of this.watchers.splice(0)) w.dispose();
  }

  private fileEvent(fsPath: string): void {
    if (!this.dedicatedWatcher && this.resolved.runDir && fs.existsSync(this.resolved.runDir)) this.watchRunDir(this.resolved.runDir);
    this.pendingPaths.add(fsPath);
    this.pendingTimer ??= setTimeout(() => this.flushFileEvents(), WATCH_DEBOUNCE_MS);
  }

  /** Applies the debounced file events to the model and sends only what changed. */
  flushFileEvents(): void {
    clearTimeout(this.pendingTimer);
    this.pendingTimer = undefined;
    const model = this.model;
    const paths = [...this.pendingPaths];
    this.pendingPaths.clear();
    if (!model) return;
    const chunks: SeriesChunk[] = [];
    const kinds = new Set<string>();
    for (const p of paths) {
      let change;
      try {
        change = model.fileChanged(p);
      } catch (err) {
        log().error(`[results] reading ${p}: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      if (!change) continue;
      kinds.add(change.kind);
      if (change.chunk) chunks.push(change.chunk);
    }
    if (chunks.length) this.post({ type: 'append', series: chunks });
    const parts: Extract<ToWebview, { type: 'update' }> = { type: 'update' };
    if (kinds.has('plan')) parts.plan = model.plan ?? this.resolved.previewPlan;
    if (kinds.has('manifest')) parts.manifest = model.manifest;
    if (kinds.has('results')) parts.results = model.results;
    if (kinds.has('fit')) parts.fit = model.fit;
    if (kinds.size) {
      parts.phase = this.snapshot().phase;
      parts.problems = [...this.resolved.configProblems, ...model.allProblems()];
      this.post(parts);
    }
  }

  private watchConfig(): void {
    const folder = vscode.workspace.getWorkspaceFolder(this.configUri);
    const pattern = folder
      ? new vscode.RelativePattern(folder, path.relative(folder.uri.fsPath, this.configUri.fsPath).split(path.sep).join('/'))
      : new vscode.RelativePattern(vscode.Uri.file(path.dirname(this.configUri.fsPath)), path.basename(this.configUri.fsPath));
    const w = this._register(vscode.workspace.createFileSystemWatcher(pattern));
    const changed = () => {
      clearTimeout(this.configTimer);
      this.configTimer = setTimeout(() => this.configChanged(), 200);
    };
    this._register(w.onDidChange(changed));
    this._register(w.onDidCreate(changed));
  }

  private configChanged(): void {
    const before = this.resolved.runDir;
    this.resolved = resolveConfig(this.configUri);
    this.panel.title = this.resolved.sweep;
    if (this.resolved.runDir !== before) this.loadModel();
    if (this.ready) void this.panel.webview.postMessage({ type: 'snapshot', snapshot: this.snapshot() } satisfies ToWebview);
  }

  // ------------------------------------------------------------------ html

  private html(): string {
    const webview = this.panel.webview;
    const nonce = crypto.randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'results.css'));
    const csp = [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src ${webview.cspSource}`,
      `img-src ${webview.cspSource} data: blob:`,
      `font-src ${webview.cspSource}`,
    ].join('; ');
    const title = this.resolved.sweep.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>${title}</title>
</head>
<body>
<div id="app"></div>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    retainContextWhenHidden: false,
    enableFindWidget: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

/** Asks where to save (CSV or JSON by the chosen extension) and writes the export. */
async function exportSnapshot(s: Snapshot, format: 'csv' | 'json' | undefined, dir: string): Promise<string | undefined> {
  const base = s.sweep.replace(/[^\w.-]+/g, '_') || 'flopsfit';
  const filters: Record<string, string[]> = format === 'json' ? { JSON: ['json'] } : format === 'csv' ? { CSV: ['csv'] } : { CSV: ['csv'], JSON: ['json'] };
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(dir, `${base}-results.${format ?? 'csv'}`)),
    filters,
    title: `Export ${s.sweep}: all data and fits`,
  });
  if (!target) return undefined;
  const fmt: 'csv' | 'json' = format ?? (target.path.toLowerCase().endsWith('.json') ? 'json' : 'csv');
  const stem = target.path.replace(/\.(csv|json)$/i, '');
  const files = buildExport(s, fmt);
  const written: string[] = [];
  try {
    for (const [suffix, text] of Object.entries(files)) {
      const uri = target.with({ path: `${stem}${suffix}` });
      await vscode.workspace.fs.writeFile(uri, Buffer.from(text, 'utf8'));
      written.push(uri.fsPath);
    }
  } catch (err) {
    void vscode.window.showErrorMessage(`FlopsFit: export failed: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
  const msg = `Exported ${written.map((w) => path.basename(w)).join(', ')} to ${path.dirname(written[0])}`;
  log().info(`[results] ${msg}`);
  return msg;
}

// ------------------------------------------------------------------ public API

let extensionUriRef: vscode.Uri | undefined;

/** Opens (or reveals) the results panel of a sweep config. */
export async function openResults(configUri: vscode.Uri): Promise<void> {
  if (!extensionUriRef) throw new Error('FlopsFit results panel is not registered');
  await ResultsPanel.createOrShow(extensionUriRef, configUri);
}

/** Exports all data and fits of a sweep (CSV or JSON, chosen in the save dialog), with or without the panel. */
export async function exportResults(configUri: vscode.Uri): Promise<void> {
  const open = ResultsPanel.panels.get(configUri.toString());
  let snapshot: Snapshot;
  let dir: string;
  if (open) {
    snapshot = open.snapshot();
    dir = snapshot.runDir && fs.existsSync(snapshot.runDir) ? snapshot.runDir : path.dirname(configUri.fsPath);
  } else {
    const r = resolveConfig(configUri);
    const model = r.runDir ? new RunDirModel(r.runDir) : undefined;
    model?.loadAll();
    snapshot = model
      ? model.snapshot({ sweep: r.sweep, configUri: configUri.toString() })
      : { sweep: r.sweep, configUri: configUri.toString(), phase: 'preview', plan: null, manifest: null, results: [], fit: null, series: [], problems: [] };
    snapshot.plan ??= r.previewPlan;
    dir = r.runDir && fs.existsSync(r.runDir) ? r.runDir : path.dirname(configUri.fsPath);
  }
  const msg = await exportSnapshot(snapshot, undefined, dir);
  if (msg) void vscode.window.showInformationMessage(`FlopsFit: ${msg}`);
}

/** Test hook (integration tests): the open panel of a config, if any. */
export function resultsPanelFor(configUri: vscode.Uri): ResultsPanel | undefined {
  return ResultsPanel.panels.get(configUri.toString());
}

export function registerResultsPanel(context: vscode.ExtensionContext): void {
  extensionUriRef = context.extensionUri;
  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(RESULTS_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        const uri = state && typeof state === 'object' && typeof (state as { configUri?: unknown }).configUri === 'string' ? (state as { configUri: string }).configUri : undefined;
        if (!uri) {
          log().warn('[results] cannot restore a results panel without its config; closing it');
          panel.dispose();
          return;
        }
        ResultsPanel.revive(context.extensionUri, panel, vscode.Uri.parse(uri));
      },
    }),
    { dispose: () => [...ResultsPanel.panels.values()].forEach((p) => p.dispose()) },
  );
  if (context.extensionMode === vscode.ExtensionMode.Test || process.env.FLOPSFIT_INTEGRATION === '1') {
    // lets the integration tests (a separate bundle) reach the panel
    context.subscriptions.push(
      vscode.commands.registerCommand('flopsfit._test.results', (op: string, configUri: string, arg?: unknown) => resultsTestHook(op, vscode.Uri.parse(configUri), arg)),
    );
  }
}

/**
 * Integration-test hook, also reachable as the command `flopsfit._test.results` in test mode:
 *   open → opens the panel; state → { ready, rendered, rejected, webviewErrors, problems };
 *   postRaw → posts `arg` to the webview unvalidated; receiveRaw → handles `arg` as if the webview
 *   sent it; report → asks the webview to report what it drew; flush → applies pending file events.
 */
export async function resultsTestHook(op: string, configUri: vscode.Uri, arg?: unknown): Promise<unknown> {
  if (op === 'open') {
    await openResults(configUri);
    return true;
  }
  const p = resultsPanelFor(configUri);
  if (!p) return undefined;
  switch (op) {
    case 'state':
      return {
        ready: p.isReady,
        rendered: Object.fromEntries(p.rendered),
        rejected: [...p.rejected],
        webviewErrors: [...p.webviewErrors],
        problems: p.snapshot().problems,
        phase: p.snapshot().phase,
        planExperiments: p.snapshot().plan?.experiments.length,
        hostPoints: p.snapshot().series.reduce((n, c) => n + c.tokens.length, 0),
        title: p.panel.title,
      };
    case 'postRaw':
      return p.postRaw(arg);
    case 'receiveRaw':
      p.receive(arg);
      return true;
    case 'report':
      p.post({ type: 'reportRendered' });
      return true;
    case 'showTab':
      p.post({ type: 'showTab', tab: TabId.parse(arg) });
      return true;
    case 'reveal':
      p.panel.reveal(undefined, false);
      return true;
    case 'flush':
      p.flushFileEvents();
      return true;
    case 'close':
      p.dispose();
      return true;
    default:
      throw new Error(`unknown results test op ${op}`);
  }
}
