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
import * as os from 'node:os';
import * as path from 'node:path';
import { Disposable, disposeAll } from './dispose';
import { log } from './log';
import { Manifest, MetricsLine, RUN_FILES, RunnerLock, type Plan } from '../core/contracts';
import { parseSweepConfig } from '../core/config';
import { buildPlan, candidateValues, commandCwd, resolveRunDir, type ParamCounter } from '../core/plan';
import { sizeMultiple } from '../core/plan/grid';
import { lastNumber } from '../core/plan/commandCounter';
import { execFile } from 'node:child_process';
import { isError, pidAlive, readJson, readLastJsonLine, Sweep, SWEEP_RE, toProblem, type LiveMetrics, type SweepChange } from './sweepModel';

export { Sweep } from './sweepModel';
export type { BudgetCounts, ConfigProblem, ExperimentView, LiveMetrics, SweepChange, SweepState } from './sweepModel';

export { SWEEP_GLOB } from '../core/sweepFiles';
import { SWEEP_GLOB } from '../core/sweepFiles';
const CONFIG_DEBOUNCE_MS = 250;
const RUN_DEBOUNCE_MS = 100;
const METRICS_DEBOUNCE_MS = 250;

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
  disposables: vscode.Disposable[];
  metrics: Map<string, vscode.Disposable[]>;
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

  get loaded(): boolean {
    return this.loading !== undefined;
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
    this._register(vscode.tasks.onDidStartTaskProcess((e) => this.noteTask(e.execution.task)));
    this._register(vscode.tasks.onDidEndTaskProcess((e) => this.noteTask(e.execution.task)));
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
          const countParams = await this.commandCounter(config, s, token);
          if (token?.isCancellationRequested) return undefined;
          const plan = buildPlan(config, { configPath: s.uri.fsPath, workspaceRoot: this.workspaceRootOf(s.uri), countParams });
          if (s.config !== config) return s.plan; // re-parsed meanwhile
          s.setPlan(plan);
          s.planError = undefined;
          if (plan.runDir && plan.runDir !== s.runDir) {
            this.unwatchRun(s.id);
            s.runDir = plan.runDir;
            this.readRunState(s);
            this.watchRun(s);
          } else {
            this.syncMetricsWatchers(s);
          }
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

  /**
   * N of a command trainer's sizes, counted up front with its `countParams` command run
   * asynchronously (a few at a time) so that planning never blocks the extension host; only in a
   * trusted workspace (untrusted: the plan says the sizes could not be counted).
   */
  private async commandCounter(config: NonNullable<Sweep['config']>, s: Sweep, token?: vscode.CancellationToken): Promise<ParamCounter | undefined> {
    const m = config.model;
    if (m.family !== 'command' || !vscode.workspace.isTrusted) return undefined;
    const cwd = commandCwd(m, s.uri.fsPath);
    const values = candidateValues(m.size.min, m.size.max, sizeMultiple(config), m.size.probes);
    const counts = new Map<number, number | { error: string }>();
    const one = (v: number) =>
      new Promise<void>((resolve) => {
        const argv = m.countParams.map((a) => a.replace(/\{size\}/g, String(v)));
        execFile(
          argv[0]!,
          argv.slice(1),
          { cwd, env: { ...process.env, ...(m.env ?? {}) }, timeout: 60_000, maxBuffer: 4 << 20, windowsHide: true },
          (err, stdout, stderr) => {
            if (err) {
              const code = (err as NodeJS.ErrnoException).code;
              const last = String(stderr ?? '').trim().split('\n').pop() ?? '';
              counts.set(v, {
                error: code === 'ENOENT' ? `countParams failed: command not found: ${argv[0]}` : `countParams failed: ${last || err.message}`.slice(0, 300),
              });
            } else {
              const n = lastNumber(String(stdout));
              counts.set(v, n === undefined ? { error: 'countParams printed no number' } : n);
            }
            resolve();
          },
        );
      });
    const queue = [...values];
    const workers = Array.from({ length: Math.min(4, queue.length) }, async () => {
      for (let v = queue.shift(); v !== undefined && !token?.isCancellationRequested; v = queue.shift()) await one(v);
    });
    await Promise.all(workers);
    return (v: number) => counts.get(v) ?? { error: 'countParams was not run for this size' };
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
      this.syncMetricsWatchers(s);
    }
    this._onDidChangeSweeps.fire();
  }

  // ---- run directory ------------------------------------------------------------------------

  private watchRun(s: Sweep): void {
    if (!s.runDir) return;
    const base = vscode.Uri.file(s.runDir);
    const w: RunWatch = { dir: s.runDir, disposables: [], metrics: new Map() };
    const fsw = vscode.workspace.createFileSystemWatcher(
      new vscode.RelativePattern(base, `{${RUN_FILES.manifest},${RUN_FILES.lock}}`),
    );
    const on = () => this.scheduleRunRead(s);
    w.disposables.push(fsw, fsw.onDidCreate(on), fsw.onDidChange(on), fsw.onDidDelete(on));
    this.runWatches.set(s.id, w);
    this.syncMetricsWatchers(s);
  }

  private unwatchRun(key: string): void {
    const w = this.runWatches.get(key);
    if (!w) return;
    disposeAll(w.disposables);
    for (const d of w.metrics.values()) disposeAll(d);
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

  private scheduleRunRead(s: Sweep): void {
    let d = this.runDebouncers.get(s.id);
    if (!d) {
      d = debounce(RUN_DEBOUNCE_MS, () => {
        if (this.sweeps.get(s.id) !== s) return;
        const change = this.readRunState(s);
        this.syncMetricsWatchers(s);
        if (change) this._onDidChange.fire(change);
      });
      this.runDebouncers.set(s.id, d);
    }
    d();
  }

  /** Re-reads manifest and lock; returns what changed (undefined: nothing). */
  readRunState(s: Sweep): SweepChange | undefined {
    if (!s.runDir) return undefined;
    const manifestFile = path.join(s.runDir, RUN_FILES.manifest);
    const rawManifest = readJson(manifestFile);
    // a manifest that cannot be read right now (mid-rename on an odd file system) keeps the state
    if (rawManifest === undefined && fs.existsSync(manifestFile)) return undefined;
    const parsed = rawManifest === undefined ? undefined : Manifest.safeParse(rawManifest);
    if (parsed && !parsed.success) log().warn(`explorer: ${manifestFile} does not match the manifest schema; ignored`);
    const rawLock = readJson(path.join(s.runDir, RUN_FILES.lock));
    const lock = rawLock === undefined ? undefined : RunnerLock.safeParse(rawLock);
    const l = lock?.success ? lock.data : undefined;
    const alive = !!l && (l.host !== os.hostname() || pidAlive(l.pid));
    return s.applyRunState(parsed?.success ? parsed.data : undefined, l, alive);
  }

  /** Watches metrics.jsonl of running experiments only; drops the watchers of the others. */
  private syncMetricsWatchers(s: Sweep): void {
    const w = this.runWatches.get(s.id);
    if (!w || !s.runDir) return;
    const running = new Set(
      Object.entries(s.manifest?.experiments ?? {})
        .filter(([, e]) => e.status === 'running')
        .map(([id]) => id),
    );
    if (s.state !== 'running') running.clear();
    for (const [id, d] of w.metrics) {
      if (!running.has(id)) {
        disposeAll(d);
        w.metrics.delete(id);
        this.metricsDebouncers.get(`${s.id}#${id}`)?.dispose();
        this.metricsDebouncers.delete(`${s.id}#${id}`);
      }
    }
    for (const id of running) {
      if (w.metrics.has(id)) continue;
      const rel = `${RUN_FILES.experimentsDir}/${id}/${RUN_FILES.metrics}`;
      const fsw = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(s.runDir), rel));
      const on = () => this.scheduleMetricsRead(s, id);
      w.metrics.set(id, [fsw, fsw.onDidCreate(on), fsw.onDidChange(on)]);
      this.readMetrics(s, id, false); // what is already there
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
    const raw = readLastJsonLine(path.join(s.runDir, RUN_FILES.experimentsDir, id, RUN_FILES.metrics));
    const m = raw === undefined ? undefined : MetricsLine.safeParse(raw);
    if (!m?.success) return;
    const prev = s.live.get(id);
    const loss = m.data.trainLoss ?? m.data.evalLoss ?? prev?.loss;
    const next: LiveMetrics = { step: m.data.step, tokens: m.data.tokens, loss, tokensPerSecond: m.data.tokensPerSecond };
    if (prev && prev.step === next.step && prev.loss === next.loss) return;
    s.live.set(id, next);
    if (fire && s.experiment(id)) this._onDidChange.fire({ sweep: s, experiments: [id] });
  }

  /** Sweeps that are running now. */
  running(): Sweep[] {
    return this.all().filter((s) => s.state === 'running');
  }

  override dispose(): void {
    for (const k of [...this.runWatches.keys()]) this.unwatchRun(k);
    for (const d of this.configDebouncers.values()) d.dispose();
    super.dispose();
  }
}
