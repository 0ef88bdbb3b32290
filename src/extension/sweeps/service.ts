/**
 * The sweep service, one per extension host (created in main.ts, handed to every feature): every
 * sweep config in the workspace → its text, parsed config and plan, with fine-grained change events.
 * The run-directory half (watchers, manifest/lock/metrics state) is ./runDirWatch.ts.
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
import { Disposable } from '../dispose';
import { ParamCounts } from './paramCounts';
import { Validations } from './validations';
import { log } from '../log';
import type { Plan } from '../../core/contracts';
import { parseSweepConfig } from '../../core/config';
import { resolveRunDir } from '../../core/plan';
import { SWEEP_GLOB } from '../../core/sweepFiles';
import { isError, Sweep, SWEEP_RE, toProblem, type SweepChange } from './sweepModel';
import { debounce, type Debounced } from './debounce';
import { RunDirWatch, type RunFilesChange } from './runDirWatch';

const CONFIG_DEBOUNCE_MS = 250;

/** A sweep config on disk (`*.sweep.yaml|yml|json`). */
export function isSweepConfig(uri: vscode.Uri): boolean {
  return uri.scheme === 'file' && SWEEP_RE.test(uri.fsPath);
}

export class SweepStore extends Disposable {
  private readonly sweeps = new Map<string, Sweep>();
  private readonly configDebouncers = new Map<string, Debounced>();
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
  /** the one parameter counter of command trainers (diagnostics use it too) */
  readonly paramCounts = this._register(new ParamCounts());
  /** the one validation (parse, plan, diagnostics) per config text, shared with the diagnostics */
  readonly validations = new Validations();
  /** the run-directory half: watchers and run state of every sweep */
  private readonly runs: RunDirWatch;

  get loaded(): boolean {
    return this.loading !== undefined;
  }

  constructor() {
    super();
    this.runs = this._register(
      new RunDirWatch({
        sweep: (id) => this.sweeps.get(id),
        sweeps: () => this.sweeps.values(),
        fireChange: (c) => this._onDidChange.fire(c),
        fireRunFiles: (c) => this._onDidChangeRunFiles.fire(c),
      }),
    );
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
          else if (s.runDir && (s.runDir === u.fsPath || (s.runDir + path.sep).startsWith(dir))) this.runs.scheduleRunRead(s);
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
        this.noteTask(e.execution.task);
        if (e.execution.task.definition.type === 'flopsfit') this.runs.countTask(1);
        else this.runs.updateLiveness();
      }),
    );
    this._register(
      vscode.tasks.onDidEndTaskProcess((e) => {
        this.noteTask(e.execution.task);
        if (e.execution.task.definition.type === 'flopsfit') this.runs.countTask(-1);
        else this.runs.updateLiveness();
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
      if (rel === cfg || s.uri.fsPath === cfg || s.uri.fsPath.endsWith(cfg)) this.runs.scheduleRunRead(s);
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
    this.runs.unwatchRun(key);
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
    this.runs.setRunDir(s, dir);
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
          // the same validation the diagnostics show (one plan per config text)
          const v = this.validations.validate(s.id, s.text ?? '', s.uri.fsPath, {
            configPath: s.uri.fsPath,
            workspaceRoot: this.workspaceRootOf(s.uri),
            countParams: counted?.counter,
            commandStartupSeconds: counted?.startupSeconds,
          });
          const plan = v.plan;
          if (!plan) throw new Error(v.diagnostics.find((d) => d.severity === 'error')?.message ?? 'the config does not validate');
          if (s.config !== config) return s.plan; // re-parsed meanwhile
          s.setPlan(plan);
          s.planError = undefined;
          if (plan.runDir && plan.runDir !== s.runDir) {
            s.runDir = plan.runDir;
            this.runs.readFit(s);
            this.runs.watchRun(s);
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
    this.validations.clear();
    await this.rescan();
    for (const s of this.sweeps.values()) {
      s.text = undefined;
      this.reparse(s);
      this.readRunState(s);
      this.runs.readFit(s);
    }
    this._onDidChangeSweeps.fire();
  }

  /** Re-reads manifest and lock (src/core/runDir's reader and status rule); returns what changed. */
  readRunState(s: Sweep): SweepChange | undefined {
    return this.runs.readRunState(s);
  }

  /** Fires `onDidChangeRunFiles` for the queued file events now (tests; the panel's flush). */
  flushRunFiles(): void {
    this.runs.flushRunFiles();
  }

  /** Sweeps that are running now. */
  running(): Sweep[] {
    return this.all().filter((s) => s.derived.runnerAlive);
  }

  override dispose(): void {
    for (const d of this.configDebouncers.values()) d.dispose();
    super.dispose();
  }
}
