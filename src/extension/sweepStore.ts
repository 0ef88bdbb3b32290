/**
 * The explorer's model: every sweep config in the workspace → its parsed config, its plan and the
 * state of its run directory (manifest, lock, metrics of running experiments), with fine-grained
 * change events.
 *
 * - Nothing happens until someone asks: `ensureLoaded()` scans the workspace once (lazily, when the
 *   tree is first expanded or a command needs a sweep) and installs the file-system watchers.
 * - A config change re-parses and re-plans (debounced). A manifest/lock change re-reads the manifest
 *   and fires only the experiments whose state changed (plus their budget, plus the sweep when its
 *   overall state changed). Metrics files are watched only for running experiments, and only the
 *   last line is read, only when the file changed. No polling anywhere.
 */
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Disposable, disposeAll } from './dispose';
import { ParamCounts } from './paramCounts';
import { log } from './log';
import { RUN_FILES, type Plan } from '../core/contracts';
import { lockHolderAlive } from '../core/manifest';
import { classifyRunPath, liveLoss, readLastMetrics, readRunState, runDirWatchGlob } from '../core/runDir';
import { parseSweepConfig } from '../core/config';
import { buildPlan, resolveRunDir } from '../core/plan';
import { isError, Sweep, SWEEP_RE, toProblem, type LiveMetrics, type SweepChange } from './sweepModel';

export { Sweep } from './sweepModel';
export type { BudgetCounts, ConfigProblem, ExperimentView, LiveMetrics, SweepChange, SweepState } from './sweepModel';

export { SWEEP_GLOB } from '../core/sweepFiles';
import { SWEEP_GLOB } from '../core/sweepFiles';
const CONFIG_DEBOUNCE_MS = 250;
const RUN_DEBOUNCE_MS = 100;
const METRICS_DEBOUNCE_MS = 250;
const RUN_FILES_DEBOUNCE_MS = 50;
/** how often a running sweep's runner process is checked for life (it can die without a trace) */
const LIVENESS_MS = 2000;

/** The nearest existing folder at or above `p` (a watcher needs an existing base). */
function existingAncestor(p: string): string {
  let dir = p;
  for (;;) {
    try {
      if (fs.statSync(dir).isDirectory()) return dir;
    } catch {
      // not there (yet)
    }
    const up = path.dirname(dir);
    if (up === dir) return dir;
    dir = up;
  }
}

/** Files of one sweep's run directory that changed (the results panel follows them). */
export interface RunFilesChange {
  sweep: Sweep;
  files: string[];
}

export function isSweepConfig(uri: vscode.Uri): boolean {
  return uri.scheme === 'file' && SWEEP_RE.test(uri.fsPath);
}

function debounce(ms: number, fn: () => void): { (): void; dispose(): void } {
  let t: NodeJS.Timeout | undefined;
  const f = (() => {
    if (t) clearTimeout(t);
    t = setTimeout(() => {
      t = undefined;
      fn();
    }, ms);
  }) as { (): void; dispose(): void };
  f.dispose = () => {
    if (t) clearTimeout(t);
    t = undefined;
  };
  return f;
}

interface RunWatch {
  dir: string;
  /** the folder the watcher is created on: the run directory, or its nearest existing ancestor */
  base: string;
  disposables: vscode.Disposable[];
}

export class SweepStore extends Disposable {
  private readonly sweeps = new Map<string, Sweep>();
  private readonly runWatches = new Map<string, RunWatch>();
  private readonly configDebouncers = new Map<string, ReturnType<typeof debounce>>();
  private readonly runDebouncers = new Map<string, ReturnType<typeof debounce>>();
  private readonly metricsDebouncers = new Map<string, ReturnType<typeof debounce>>();
  private loading?: Promise<void>;
  private readonly planning = new Map<string, Promise<Plan | undefined>>();

  private readonly _onDidChangeSweeps = this._register(new vscode.EventEmitter<void>());
  /** a sweep config was added or removed */
  readonly onDidChangeSweeps = this._onDidChangeSweeps.event;
  private readonly _onDidChange = this._register(new vscode.EventEmitter<SweepChange>());
  /** something inside one sweep changed */
  readonly onDidChange = this._onDidChange.event;
  private readonly _onDidChangeRunFiles = this._register(new vscode.EventEmitter<RunFilesChange>());
  /** files of a sweep's run directory changed (debounced; the results panel reads them) */
  readonly onDidChangeRunFiles = this._onDidChangeRunFiles.event;
  private livenessTimer: NodeJS.Timeout | undefined;
  /** the one parameter counter of command trainers (diagnostics use it too) */
  readonly paramCounts = this._register(new ParamCounts());
  /** flopsfit run tasks running now (the liveness check runs while there are any) */
  private activeTasks = 0;

  get loaded(): boolean {
    return this.loading !== undefined;
  }

  constructor() {
    super();
    // counting a command trainer's sizes takes a while: its row says how far it is
    this._register(
      this.paramCounts.onDidProgress(({ configPath, progress }) => {
        for (const s of this.sweeps.values()) {
          if (s.uri.fsPath !== configPath || s.plan) continue;
          s.counting = { done: progress.done, total: progress.total };
          this._onDidChange.fire({ sweep: s, structure: true });
        }
      }),
    );
  }

  /** Scans the workspace once and installs the config watcher; later calls return the same promise. */
  ensureLoaded(): Promise<void> {
    this.loading ??= this.load();
    return this.loading;
  }

  private async load(): Promise<void> {
    const t0 = performance.now();
    const watcher = this._register(vscode.workspace.createFileSystemWatcher(SWEEP_GLOB));
    this._register(watcher.onDidCreate((u) => this.onConfigEvent(u)));
    this._register(watcher.onDidChange((u) => this.onConfigEvent(u)));
    this._register(watcher.onDidDelete((u) => this.onConfigEvent(u)));
    // A folder created with files already in it (copied, unzipped, git checkout) is reported as
    // the folder alone: look for configs inside new folders.
    const created = new Set<string>();
    const rescanNew = this._register(
      debounce(CONFIG_DEBOUNCE_MS, () => {
        const dirs = [...created];
        created.clear();
        const isDir = (p: string) => {
          try {
            return fs.statSync(p).isDirectory();
          } catch {
            return false;
          }
        };
        if (dirs.some(isDir)) void this.rescan();
      }),
    );
    const anyWatcher = this._register(vscode.workspace.createFileSystemWatcher('**/*', false, true, false));
    // ...and a deleted folder is reported alone too: drop the configs inside it, and re-read the
    // run state of sweeps whose run directory went with it
    this._register(
      anyWatcher.onDidDelete((u) => {
        if (u.scheme !== 'file' || SWEEP_RE.test(u.fsPath)) return;
        const dir = u.fsPath.endsWith(path.sep) ? u.fsPath : u.fsPath + path.sep;
        for (const s of [...this.sweeps.values()]) {
          if (s.uri.fsPath.startsWith(dir)) this.onConfigEvent(s.uri);
          else if (s.runDir && (s.runDir === u.fsPath || (s.runDir + path.sep).startsWith(dir))) this.scheduleRunRead(s);
        }
      }),
    );
    this._register(
      anyWatcher.onDidCreate((u) => {
        if (u.scheme !== 'file' || SWEEP_RE.test(u.fsPath) || /[\\/](\.flopsfit|node_modules|\.git)([\\/]|$)/.test(u.fsPath)) return;
        if (path.extname(u.fsPath)) return; // folders rarely have an extension; files usually do
        created.add(u.fsPath);
        rescanNew();
      }),
    );
    // unsaved edits re-plan too (the tree follows what the user sees)
    this._register(
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (isSweepConfig(e.document.uri) && this.sweeps.has(e.document.uri.toString())) this.onConfigEvent(e.document.uri);
      }),
    );
    this._register(
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        void this.rescan();
      }),
    );
    // a command trainer's sizes are counted only in a trusted workspace: re-plan those once trusted
    this._register(
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        for (const sw of this.sweeps.values()) {
          if (sw.config?.model.family !== 'command') continue;
          sw.setPlan(undefined);
          sw.planError = undefined;
          this.planning.delete(sw.id);
          this._onDidChange.fire({ sweep: sw, structure: true });
        }
      }),
    );
    // belt and braces: a flopsfit task that starts or ends re-reads its sweep's run state
    this._register(
      vscode.tasks.onDidStartTaskProcess((e) => {
        if (e.execution.task.definition.type === 'flopsfit') this.activeTasks++;
        this.noteTask(e.execution.task);
        this.updateLiveness();
      }),
    );
    this._register(
      vscode.tasks.onDidEndTaskProcess((e) => {
        if (e.execution.task.definition.type === 'flopsfit') this.activeTasks = Math.max(0, this.activeTasks - 1);
        this.noteTask(e.execution.task);
        this.updateLiveness();
      }),
    );
    await this.rescan();
    log().info(`explorer: found ${this.sweeps.size} sweep config(s) in ${(performance.now() - t0).toFixed(0)} ms`);
  }

  private async rescan(): Promise<void> {
    const uris = await vscode.workspace.findFiles(SWEEP_GLOB, '**/{node_modules,.git,.flopsfit}/**');
    const seen = new Set<string>();
    let changed = false;
    for (const u of uris) {
      seen.add(u.toString());
      if (!this.sweeps.has(u.toString())) {
        this.add(u, false);
        changed = true;
      }
    }
    for (const key of [...this.sweeps.keys()]) {
      // a config that is open but not yet matched by the search (just created) stays
      if (!seen.has(key) && !fs.existsSync(vscode.Uri.parse(key).fsPath)) {
        this.remove(key, false);
        changed = true;
      }
    }
    if (changed) this._onDidChangeSweeps.fire();
  }

  /** A flopsfit task started or ended: re-read its sweep's run state (the watchers may lag). */
  noteTask(task: vscode.Task): void {
    if (task.definition.type !== 'flopsfit') return;
    const cfg = task.definition.config as string | undefined;
    if (!cfg) return;
    for (const s of this.sweeps.values()) {
      const rel = vscode.workspace.asRelativePath(s.uri, false);
      if (rel === cfg || s.uri.fsPath === cfg || s.uri.fsPath.endsWith(cfg)) this.scheduleRunRead(s);
    }
  }

  all(): Sweep[] {
    return [...this.sweeps.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  get(uri: vscode.Uri | string): Sweep | undefined {
    return this.sweeps.get(typeof uri === 'string' ? uri : uri.toString());
  }

  /** The sweep of a config file, adding it when it is a sweep config not seen yet (e.g. just created). */
  getOrAdd(uri: vscode.Uri): Sweep | undefined {
    const s = this.sweeps.get(uri.toString());
    if (s) return s;
    if (!isSweepConfig(uri) || !fs.existsSync(uri.fsPath)) return undefined;
    const added = this.add(uri, true);
    return added;
  }

  private add(uri: vscode.Uri, fire: boolean): Sweep {
    const s = new Sweep(uri);
    this.sweeps.set(s.id, s);
    this.reparse(s);
    if (fire) this._onDidChangeSweeps.fire();
    return s;
  }

  private remove(key: string, fire: boolean): void {
    const s = this.sweeps.get(key);
    if (!s) return;
    this.sweeps.delete(key);
    this.unwatchRun(key);
    this.configDebouncers.get(key)?.dispose();
    this.configDebouncers.delete(key);
    if (fire) this._onDidChangeSweeps.fire();
  }

  private onConfigEvent(uri: vscode.Uri): void {
    const key = uri.toString();
    let d = this.configDebouncers.get(key);
    if (!d) {
      d = debounce(CONFIG_DEBOUNCE_MS, () => {
        const exists = fs.existsSync(uri.fsPath);
        const s = this.sweeps.get(key);
        if (!exists) return this.remove(key, true);
        if (!s) {
          this.add(uri, true);
          return;
        }
        this.reparse(s);
        this._onDidChange.fire({ sweep: s, structure: true });
      });
      this.configDebouncers.set(key, d);
    }
    d();
  }

  /** Reads (from an open editor if there is one) and parses the config; drops the old plan. */
  private reparse(s: Sweep): void {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === s.id);
    let text: string;
    try {
      text = doc ? doc.getText() : fs.readFileSync(s.uri.fsPath, 'utf8');
    } catch (err) {
      s.text = undefined;
      s.config = undefined;
      s.problems = [{ message: `cannot read: ${(err as Error).message}` }];
      s.setPlan(undefined);
      return;
    }
    const changed = text !== s.text;
    s.text = text;
    if (!changed && (s.config || s.problems.length)) return;
    try {
      const r = parseSweepConfig(text, s.uri.fsPath);
      s.config = r.config;
      s.problems = (r.diagnostics ?? []).filter(isError).map(toProblem);
      if (!s.config && s.problems.length === 0) s.problems = [{ message: 'not a valid sweep config' }];
    } catch (err) {
      s.config = undefined;
      s.problems = [{ message: `cannot parse: ${(err as Error).message}` }];
    }
    s.setPlan(undefined);
    s.planError = undefined;
    this.planning.delete(s.id);
    this.updateRunDir(s);
  }

  private workspaceRootOf(uri: vscode.Uri): string | undefined {
    return vscode.workspace.getWorkspaceFolder(uri)?.uri.fsPath;
  }

  private updateRunDir(s: Sweep): void {
    let dir: string | undefined;
    if (s.config) {
      try {
        dir = resolveRunDir(s.config, s.uri.fsPath, this.workspaceRootOf(s.uri));
      } catch (err) {
        log().warn(`explorer: cannot resolve the run directory of ${s.fileName}: ${(err as Error).message}`);
      }
    }
    if (dir === s.runDir) return;
    this.unwatchRun(s.id);
    s.runDir = dir;
    s.manifest = undefined;
    s.lock = undefined;
    s.lockAlive = false;
    s.live.clear();
    if (dir) {
      this.readRunState(s);
      this.watchRun(s);
    }
  }

  /**
   * The plan of a sweep, computed once per config version (concurrent callers share it).
   * Returns undefined for an invalid config (see `sweep.problems`) or a planning error (`planError`).
   */
  ensurePlan(s: Sweep, token?: vscode.CancellationToken): Promise<Plan | undefined> {
    if (s.plan) return Promise.resolve(s.plan);
    // no config, or planning this version of it failed already (see planError): nothing to do
    if (!s.config || s.planError) return Promise.resolve(undefined);
    let p = this.planning.get(s.id);
    if (!p) {
      const config = s.config;
      p = (async () => {
        await new Promise((r) => setImmediate(r)); // let the UI paint its progress first
        if (token?.isCancellationRequested) return undefined;
        const t0 = performance.now();
        try {
          // a command trainer's sizes are counted asynchronously, once for planning and diagnostics
          const counted = config.model.family === 'command' && vscode.workspace.isTrusted ? await this.paramCounts.count(config, s.uri.fsPath) : undefined;
          s.counting = undefined;
          if (token?.isCancellationRequested) return undefined;
          const plan = buildPlan(config, {
            configPath: s.uri.fsPath,
            workspaceRoot: this.workspaceRootOf(s.uri),
            countParams: counted?.counter,
            commandStartupSeconds: counted?.startupSeconds,
          });
          if (s.config !== config) return s.plan; // re-parsed meanwhile
          s.setPlan(plan);
          s.planError = undefined;
          if (plan.runDir && plan.runDir !== s.runDir) {
            s.runDir = plan.runDir;
            this.watchRun(s);
          }
          // the plan decides which experiments count: read the run state against it
          this.readRunState(s);
          log().info(
            `explorer: planned ${s.fileName}: ${plan.experiments.length} experiments in ${(performance.now() - t0).toFixed(0)} ms`,
          );
          // the sweep's row shows the plan's totals: refresh it (its children come from the cache)
          this._onDidChange.fire({ sweep: s, structure: true });
          return plan;
        } catch (err) {
          s.planError = `cannot plan: ${(err as Error).message}`;
          log().warn(`explorer: ${s.fileName}: ${s.planError}`);
          this._onDidChange.fire({ sweep: s, structure: true });
          return undefined;
        } finally {
          if (this.planning.get(s.id) === p) this.planning.delete(s.id);
        }
      })();
      this.planning.set(s.id, p);
    }
    return p;
  }

  /** Plans with a cancellable progress notification when the plan is not ready yet. */
  async planWithProgress(s: Sweep): Promise<Plan | undefined> {
    if (s.plan || !s.config) return s.plan;
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `FlopsFit: planning ${s.name}…`, cancellable: true },
      async (_progress, token) => {
        const plan = await Promise.race([
          this.ensurePlan(s, token),
          new Promise<undefined>((resolve) => token.onCancellationRequested(() => resolve(undefined))),
        ]);
        return token.isCancellationRequested ? undefined : plan;
      },
    );
  }

  /** Full refresh: re-scan the workspace, re-parse and re-plan everything. */
  async refreshAll(): Promise<void> {
    await this.ensureLoaded();
    await this.rescan();
    for (const s of this.sweeps.values()) {
      s.text = undefined;
      this.reparse(s);
      this.readRunState(s);
    }
    this._onDidChangeSweeps.fire();
  }

  // ---- run directory ------------------------------------------------------------------------
  //
  // One watcher set per run directory, created on the directory's nearest existing ancestor when
  // it does not exist yet (a watcher on a missing folder never fires: a new workspace's first run
  // showed no progress), and moved onto the run directory itself once it exists. Every file event
  // of the run directory goes through `onRunFile`: the manifest and lock re-read the run state,
  // metrics of running experiments update their live loss, and `onDidChangeRunFiles` tells the
  // results panel which files changed (it has no watchers of its own).

  private watchRun(s: Sweep): void {
    if (!s.runDir) return;
    this.unwatchRun(s.id);
    const runDir = s.runDir;
    const base = existingAncestor(runDir);
    const w: RunWatch = { dir: runDir, base, disposables: [] };
    const inWorkspace = base === runDir || !!vscode.workspace.getWorkspaceFolder(vscode.Uri.file(base));
    if (base && inWorkspace) {
      const fsw = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(base), runDirWatchGlob(runDir, base)));
      const on = (u: vscode.Uri) => this.onRunFile(s, u.fsPath);
      w.disposables.push(fsw, fsw.onDidCreate(on), fsw.onDidChange(on), fsw.onDidDelete(on));
    }
    if (base === runDir) {
      // a second event source (inotify): VS Code's watcher starts asynchronously and was seen to
      // miss the first writes of a run in code-server; both feed the same debounced readers
      try {
        const nw = fs.watch(runDir, { recursive: true, persistent: false }, (_e, name) => {
          if (name) this.onRunFile(s, path.join(runDir, name.toString()));
        });
        nw.on('error', () => nw.close());
        w.disposables.push({ dispose: () => nw.close() });
      } catch {
        // no recursive fs.watch here: VS Code's watcher stands alone
      }
    }
    this.runWatches.set(s.id, w);
  }

  private unwatchRun(key: string): void {
    const w = this.runWatches.get(key);
    if (!w) return;
    disposeAll(w.disposables);
    this.runWatches.delete(key);
    this.runDebouncers.get(key)?.dispose();
    this.runDebouncers.delete(key);
    for (const [k, d] of this.metricsDebouncers) {
      if (k.startsWith(key + '#')) {
        d.dispose();
        this.metricsDebouncers.delete(k);
      }
    }
  }

  /** A file of a sweep's run directory was created, changed or deleted. */
  private onRunFile(s: Sweep, file: string): void {
    if (this.sweeps.get(s.id) !== s || !s.runDir) return;
    const w = this.runWatches.get(s.id);
    // the run directory was just created: watch it directly from now on
    if (w && w.base !== s.runDir && fs.existsSync(s.runDir)) this.watchRun(s);
    const c = classifyRunPath(s.runDir, file);
    if (!c) return;
    this.queueRunFile(s, file);
    if (c.kind === 'manifest' || c.kind === 'lock') this.scheduleRunRead(s);
    else if (c.kind === 'metrics' && c.id && s.manifest?.experiments[c.id]?.status === 'running') this.scheduleMetricsRead(s, c.id);
  }

  private readonly pendingRunFiles = new Map<string, Set<string>>();
  private runFilesTimer: NodeJS.Timeout | undefined;

  private queueRunFile(s: Sweep, file: string): void {
    let set = this.pendingRunFiles.get(s.id);
    if (!set) this.pendingRunFiles.set(s.id, (set = new Set()));
    set.add(file);
    this.runFilesTimer ??= setTimeout(() => this.flushRunFiles(), RUN_FILES_DEBOUNCE_MS);
  }

  /** Fires `onDidChangeRunFiles` for the queued file events now (tests; the panel's flush). */
  flushRunFiles(): void {
    clearTimeout(this.runFilesTimer);
    this.runFilesTimer = undefined;
    const pending = [...this.pendingRunFiles];
    this.pendingRunFiles.clear();
    for (const [id, files] of pending) {
      const s = this.sweeps.get(id);
      if (s) this._onDidChangeRunFiles.fire({ sweep: s, files: [...files] });
    }
  }

  private scheduleRunRead(s: Sweep): void {
    let d = this.runDebouncers.get(s.id);
    if (!d) {
      d = debounce(RUN_DEBOUNCE_MS, () => {
        if (this.sweeps.get(s.id) !== s) return;
        const change = this.readRunState(s);
        if (change) this._onDidChange.fire(change);
      });
      this.runDebouncers.set(s.id, d);
    }
    d();
  }

  /** Re-reads manifest and lock (src/core/runDir's reader and status rule); returns what changed. */
  readRunState(s: Sweep): SweepChange | undefined {
    if (!s.runDir) return undefined;
    const state = readRunState(s.runDir, s.manifest);
    if (state.manifestProblem) log().warn(`explorer: ${path.join(s.runDir, RUN_FILES.manifest)}: ${state.manifestProblem}; keeping the last good manifest`);
    const change = s.applyRunState(state.manifest, state.lock, state.lockAlive);
    this.syncLive(s);
    this.updateLiveness();
    return change;
  }

  /** Reads the last metrics line of every running experiment that has none yet; drops the others. */
  private syncLive(s: Sweep): void {
    if (!s.runDir) return;
    for (const id of [...s.live.keys()]) if (s.status(id) !== 'running') s.live.delete(id);
    if (!s.derived.runnerAlive) return;
    for (const [id, e] of Object.entries(s.manifest?.experiments ?? {})) {
      if (e.status === 'running' && !s.live.has(id)) this.readMetrics(s, id, false);
    }
  }

  private scheduleMetricsRead(s: Sweep, id: string): void {
    const key = `${s.id}#${id}`;
    let d = this.metricsDebouncers.get(key);
    if (!d) {
      d = debounce(METRICS_DEBOUNCE_MS, () => this.readMetrics(s, id, true));
      this.metricsDebouncers.set(key, d);
    }
    d();
  }

  private readMetrics(s: Sweep, id: string, fire: boolean): void {
    if (!s.runDir) return;
    const m = readLastMetrics(s.runDir, id);
    if (!m) return;
    const prev = s.live.get(id);
    // the tree shows the training loss while running (the eval loss when that is all there is)
    const l = liveLoss(m);
    const next: LiveMetrics = { step: m.step, tokens: m.tokens, loss: l?.value ?? prev?.loss, lossKind: l?.kind ?? prev?.lossKind, tokensPerSecond: m.tokensPerSecond };
    if (prev && prev.step === next.step && prev.loss === next.loss) return;
    s.live.set(id, next);
    if (fire && s.experiment(id)) this._onDidChange.fire({ sweep: s, experiments: [id] });
  }

  /**
   * A runner can die without touching a file (kill -9, out of memory): while a sweep is running,
   * check every few seconds that its lock's process is alive, and re-read its state when it is not.
   * Also watches a run directory that appeared where no watcher could be created before.
   */
  private updateLiveness(): void {
    const watch = [...this.sweeps.values()].some((s) => s.derived.runnerAlive) || this.activeTasks > 0;
    if (watch && !this.livenessTimer) {
      this.livenessTimer = setInterval(() => {
        for (const s of this.sweeps.values()) {
          if (!s.runDir) continue;
          const w = this.runWatches.get(s.id);
          if (w && w.base !== s.runDir && fs.existsSync(s.runDir)) {
            this.watchRun(s);
            this.scheduleRunRead(s);
          } else if (s.derived.runnerAlive && !(s.lock && lockHolderAlive(s.lock))) this.scheduleRunRead(s);
        }
        this.updateLiveness();
      }, LIVENESS_MS);
    } else if (!watch && this.livenessTimer) {
      clearInterval(this.livenessTimer);
      this.livenessTimer = undefined;
    }
  }

  /** Sweeps that are running now. */
  running(): Sweep[] {
    return this.all().filter((s) => s.derived.runnerAlive);
  }

  override dispose(): void {
    clearInterval(this.livenessTimer);
    clearTimeout(this.runFilesTimer);
    for (const k of [...this.runWatches.keys()]) this.unwatchRun(k);
    for (const d of this.configDebouncers.values()) d.dispose();
    super.dispose();
  }
}
