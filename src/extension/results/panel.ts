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
 * - The sweep service's run-directory events (onDidChangeRunFiles; no watchers of its own) feed
 *   RunDirModel, which tails metrics files incrementally; the webview gets only the new points.
 * - A WebviewPanelSerializer (./index.ts) revives the panel after a reload from the config URI the
 *   webview keeps in its state.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Plan } from '../../core/contracts';
import {
  describeRejection,
  FromWebview,
  PROTOCOL_VERSION,
  type ChartId,
  type Problem,
  type SeriesChunk,
  type Snapshot,
  type ToWebview,
} from '../../shared/protocol';
import { Disposable } from '../dispose';
import { log } from '../log';
import { RunDirModel } from './model';
import { exportSnapshot } from './export';
import type { Sweep, SweepStore } from '../sweeps';

export const RESULTS_VIEW_TYPE = 'flopsfit.results';

export interface Resolved {
  sweep: string;
  runDir?: string;
  previewPlan: Plan | null;
  configProblems: Problem[];
}

/**
 * What the sweep service knows of the config: name, run directory, plan and problems (the panel
 * never parses or plans on its own: one planner per config in the extension host).
 */
export function resolveFrom(sweep: Sweep): Resolved {
  const file = path.basename(sweep.uri.fsPath);
  const configProblems: Problem[] = sweep.problems
    .slice(0, 20)
    .map((p) => ({ source: 'config' as const, file, ...(p.line !== undefined ? { line: p.line + 1 } : {}), message: p.message }));
  if (sweep.planError) configProblems.push({ source: 'config', file, message: sweep.planError });
  return { sweep: sweep.name, runDir: sweep.runDir, previewPlan: sweep.plan ?? null, configProblems };
}

export class ResultsPanel extends Disposable {
  static readonly panels = new Map<string, ResultsPanel>();

  private ready = false;
  private queue: ToWebview[] = [];
  private model: RunDirModel | undefined;
  private resolved: Resolved;
  private readonly sweep: Sweep;

  // ---- observed by the integration tests (through resultsTestHook)
  readonly rendered = new Map<ChartId, { datasets: number; points: number; rawPoints: number; at: number }>();
  readonly webviewErrors: string[] = [];
  readonly rejected: string[] = [];
  private readonly renderedEmitter = this._register(new vscode.EventEmitter<ChartId>());
  readonly onRendered = this.renderedEmitter.event;

  static async createOrShow(extensionUri: vscode.Uri, store: SweepStore, configUri: vscode.Uri): Promise<ResultsPanel> {
    const key = configUri.toString();
    const existing = ResultsPanel.panels.get(key);
    if (existing) {
      existing.panel.reveal(undefined, false);
      return existing;
    }
    const sweep = await sweepOf(store, configUri);
    const panel = vscode.window.createWebviewPanel(RESULTS_VIEW_TYPE, path.basename(configUri.fsPath), vscode.ViewColumn.Active, webviewOptions(extensionUri));
    return new ResultsPanel(extensionUri, store, sweep, panel, configUri);
  }

  static async revive(extensionUri: vscode.Uri, store: SweepStore, panel: vscode.WebviewPanel, configUri: vscode.Uri): Promise<ResultsPanel> {
    const key = configUri.toString();
    ResultsPanel.panels.get(key)?.dispose();
    // the stored options may hold an older extension location: reset them (VS Code's sample does)
    panel.webview.options = webviewOptions(extensionUri);
    return new ResultsPanel(extensionUri, store, await sweepOf(store, configUri), panel, configUri);
  }

  private constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly store: SweepStore,
    sweep: Sweep,
    readonly panel: vscode.WebviewPanel,
    readonly configUri: vscode.Uri,
  ) {
    super();
    ResultsPanel.panels.set(configUri.toString(), this);
    this.sweep = sweep;
    this.resolved = resolveFrom(sweep);
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
    // the sweep service's one watcher set tells which run-directory files changed
    this._register(store.onDidChangeRunFiles((e) => e.sweep === this.sweep && this.filesChanged(e.files)));
    this._register(store.onDidChange((c) => c.sweep === this.sweep && c.structure && this.configChanged()));
    // a run started or ended (the lock's process died without touching a file): the phase changes
    this._register(store.onDidChange((c) => c.sweep === this.sweep && !c.structure && this.runStateChanged()));
    if (!sweep.plan) void store.ensurePlan(sweep);
    this.panel.webview.html = this.html();
  }

  override dispose(): void {
    if (ResultsPanel.panels.get(this.configUri.toString()) === this) ResultsPanel.panels.delete(this.configUri.toString());
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

  // ------------------------------------------------------------------ model

  private loadModel(): void {
    this.model = undefined;
    const runDir = this.resolved.runDir;
    if (!runDir) return;
    this.model = new RunDirModel(runDir);
    this.model.loadAll();
  }

  /** Applies file events (from the sweep service) to the model and sends only what changed. */
  private filesChanged(paths: readonly string[]): void {
    const model = this.model;
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
      const snap = this.snapshot();
      parts.phase = snap.phase;
      parts.statusLabel = snap.statusLabel;
      parts.problems = snap.problems;
      this.post(parts);
    }
  }

  /** Test hook and export: applies the file events the service has queued, now. */
  flushFileEvents(): void {
    this.store.flushRunFiles();
  }

  /** The run's liveness changed (the service re-read the lock): send the phase. */
  private runStateChanged(): void {
    const model = this.model;
    if (!model) return;
    const before = `${model.phase()}|${model.status().label}`;
    model.fileChanged(path.join(model.runDir, 'manifest.json'));
    const snap = this.snapshot();
    if (`${snap.phase}|${snap.statusLabel}` === before) return;
    this.post({ type: 'update', manifest: model.manifest, phase: snap.phase, statusLabel: snap.statusLabel });
  }

  private configChanged(): void {
    // re-parsed: plan it again (the service fires once more with the plan)
    if (!this.sweep.plan && this.sweep.config && !this.sweep.planError) void this.store.ensurePlan(this.sweep);
    const before = this.resolved.runDir;
    this.resolved = resolveFrom(this.sweep);
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

/** The service's sweep of a config (loading the service first). */
export async function sweepOf(store: SweepStore, configUri: vscode.Uri): Promise<Sweep> {
  await store.ensureLoaded();
  const sweep = store.getOrAdd(configUri);
  if (!sweep) throw new Error(`${configUri.fsPath} is not a sweep config (*.sweep.yaml, *.sweep.yml, *.sweep.json).`);
  return sweep;
}
