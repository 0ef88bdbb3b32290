/**
 * The run-directory half of the sweep service: watches each sweep's run directory and keeps its run
 * state (manifest, lock, live metrics of running experiments) current, through src/core/runDir.
 *
 * One watcher set per run directory, created on the directory's nearest existing ancestor when
 * it does not exist yet (a watcher on a missing folder never fires: a new workspace's first run
 * showed no progress), and moved onto the run directory itself once it exists. Every file event
 * of the run directory goes through `onRunFile`: the manifest and lock re-read the run state,
 * metrics of running experiments update their live loss, fit.json is read (the shared schema) for
 * the tree's "Optimum not bracketed" row, and `onDidChangeRunFiles` tells the
 * results panel which files changed (it has no watchers of its own). No polling, except the
 * liveness check of a running sweep's runner (it can die without touching a file).
 */
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Disposable, disposeAll } from '../dispose';
import { log } from '../log';
import { RUN_FILES } from '../../core/contracts';
import { lockHolderAlive } from '../../core/manifest';
import { atomicWriteTarget } from '../../core/atomic';
import { classifyRunPath, liveLoss, readLastMetrics, readRunState, runDirWatchGlob } from '../../core/runDir';
import { readFitReportFile } from '../../core/plan/extend';
import { debounce, type Debounced } from './debounce';
import type { LiveMetrics, Sweep, SweepChange } from './sweepModel';

const RUN_DEBOUNCE_MS = 100;
const METRICS_DEBOUNCE_MS = 250;
const RUN_FILES_DEBOUNCE_MS = 50;
/** when a watcher reports an atomic write's temp file: the target is looked at again after this */
const ATOMIC_RENAME_GRACE_MS = 500;
/** how often a running sweep's runner process is checked for life (it can die without a trace) */
const LIVENESS_MS = 2000;

/** Files of one sweep's run directory that changed (the results panel follows them). */
export interface RunFilesChange {
  sweep: Sweep;
  files: string[];
}

/** What the run-directory watcher needs of the sweep service. */
export interface RunDirHost {
  /** the sweep registered under an id now (undefined once removed) */
  sweep(id: string): Sweep | undefined;
  sweeps(): Iterable<Sweep>;
  fireChange(change: SweepChange): void;
  fireRunFiles(change: RunFilesChange): void;
}

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

interface RunWatch {
  dir: string;
  /** the folder the watcher is created on: the run directory, or its nearest existing ancestor */
  base: string;
  disposables: vscode.Disposable[];
}

export class RunDirWatch extends Disposable {
  private readonly runWatches = new Map<string, RunWatch>();
  private readonly runDebouncers = new Map<string, Debounced>();
  private readonly metricsDebouncers = new Map<string, Debounced>();
  private readonly fitDebouncers = new Map<string, Debounced>();
  private livenessTimer: NodeJS.Timeout | undefined;
  /** flopsfit run tasks running now (the liveness check runs while there are any) */
  private activeTasks = 0;

  constructor(private readonly host: RunDirHost) {
    super();
  }

  /** The sweep's run directory changed (or was resolved first): forget its run state, read and watch the new one. */
  setRunDir(s: Sweep, dir: string | undefined): void {
    if (dir === s.runDir) return;
    this.unwatchRun(s.id);
    s.runDir = dir;
    s.manifest = undefined;
    s.lock = undefined;
    s.lockAlive = false;
    s.live.clear();
    s.fit = undefined;
    s.fitProblem = undefined;
    if (dir) {
      this.readRunState(s);
      this.readFit(s);
      this.watchRun(s);
    }
  }

  /**
   * Re-reads the run directory's fit.json (the shared schema, as the results panel and `plan
   * --extend` do); true when what the sweep holds changed (a new fit, or a new problem).
   */
  readFit(s: Sweep): boolean {
    if (!s.runDir) return false;
    const file = path.join(s.runDir, RUN_FILES.fit);
    const before = `${s.fit?.createdAt}|${s.fitProblem}`;
    if (!fs.existsSync(file)) {
      s.fit = undefined;
      s.fitProblem = undefined;
    } else {
      const r = readFitReportFile(file);
      // a fit.json being rewritten is replaced atomically; an unreadable one keeps no fit
      s.fit = r.report;
      s.fitProblem = r.error;
    }
    return `${s.fit?.createdAt}|${s.fitProblem}` !== before;
  }

  private scheduleFitRead(s: Sweep): void {
    let d = this.fitDebouncers.get(s.id);
    if (!d) {
      d = debounce(RUN_DEBOUNCE_MS, () => {
        if (this.host.sweep(s.id) !== s) return;
        // the sweep's children depend on the fit (the "not bracketed" row): refresh its subtree
        if (this.readFit(s)) this.host.fireChange({ sweep: s, structure: true });
      });
      this.fitDebouncers.set(s.id, d);
    }
    d();
  }

  /** A flopsfit task started (+1) or ended (-1): the liveness check runs while any does. */
  countTask(delta: 1 | -1): void {
    this.activeTasks = Math.max(0, this.activeTasks + delta);
    this.updateLiveness();
  }

  /** (Re)creates the watchers of a sweep's run directory (or of its nearest existing ancestor). */
  watchRun(s: Sweep): void {
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
    if (base && base !== runDir) {
      // a second event source on the ancestor (inotify, this folder only): VS Code's watcher was
      // seen to report nothing of a run directory created under it. When the next folder toward
      // the run directory appears, watch from there (or the run directory itself, read at once).
      const next = path.relative(base, runDir).split(path.sep)[0];
      try {
        const nw = fs.watch(base, { persistent: false }, (_e, name) => {
          if (name?.toString() !== next || this.runWatches.get(s.id) !== w) return;
          if (!this.moveOntoRunDir(s) && existingAncestor(runDir) !== base) this.watchRun(s);
        });
        nw.on('error', () => nw.close());
        w.disposables.push({ dispose: () => nw.close() });
      } catch {
        // no fs.watch here: VS Code's watcher stands alone
      }
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

  /** Drops the watchers and pending reads of a sweep's run directory. */
  unwatchRun(key: string): void {
    const w = this.runWatches.get(key);
    if (!w) return;
    disposeAll(w.disposables);
    this.runWatches.delete(key);
    this.runDebouncers.get(key)?.dispose();
    this.runDebouncers.delete(key);
    this.fitDebouncers.get(key)?.dispose();
    this.fitDebouncers.delete(key);
    for (const [k, d] of this.metricsDebouncers) {
      if (k.startsWith(key + '#')) {
        d.dispose();
        this.metricsDebouncers.delete(k);
      }
    }
  }

  /**
   * When the run directory exists now but is watched through an ancestor: watch it directly, and
   * read what is in it (a file written between its creation and the new watchers' start, such as
   * the first manifest, is reported by neither). True when it moved.
   */
  private moveOntoRunDir(s: Sweep): boolean {
    const w = this.runWatches.get(s.id);
    if (!s.runDir || !w || w.base === s.runDir || !fs.existsSync(s.runDir)) return false;
    this.watchRun(s);
    this.scheduleRunRead(s);
    this.scheduleFitRead(s);
    return true;
  }

  /** A file of a sweep's run directory was created, changed or deleted. */
  private onRunFile(s: Sweep, raw: string): void {
    if (this.host.sweep(s.id) !== s || !s.runDir) return;
    // the temp file of an atomic write stands for its target: the rename onto the target is not
    // always reported (the reads are debounced, so they see the renamed file)
    const file = atomicWriteTarget(raw) ?? raw;
    // ...and the rename comes after an fsync, which can take a while on a loaded machine: look again
    if (file !== raw) setTimeout(() => this.onRunFile(s, file), ATOMIC_RENAME_GRACE_MS).unref?.();
    // the run directory was just created: watch it directly from now on
    this.moveOntoRunDir(s);
    const c = classifyRunPath(s.runDir, file);
    if (!c) return;
    this.queueRunFile(s, file);
    if (c.kind === 'manifest' || c.kind === 'lock') this.scheduleRunRead(s);
    else if (c.kind === 'fit') this.scheduleFitRead(s);
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
      const s = this.host.sweep(id);
      if (s) this.host.fireRunFiles({ sweep: s, files: [...files] });
    }
  }

  scheduleRunRead(s: Sweep): void {
    let d = this.runDebouncers.get(s.id);
    if (!d) {
      d = debounce(RUN_DEBOUNCE_MS, () => {
        if (this.host.sweep(s.id) !== s) return;
        const change = this.readRunState(s);
        if (change) this.host.fireChange(change);
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
    if (fire && s.experiment(id)) this.host.fireChange({ sweep: s, experiments: [id] });
  }

  /**
   * A runner can die without touching a file (kill -9, out of memory): while a sweep is running,
   * check every few seconds that its lock's process is alive, and re-read its state when it is not.
   * Also watches a run directory that appeared where no watcher could be created before.
   */
  updateLiveness(): void {
    const watch = [...this.host.sweeps()].some((s) => s.derived.runnerAlive) || this.activeTasks > 0;
    if (watch && !this.livenessTimer) {
      this.livenessTimer = setInterval(() => {
        for (const s of this.host.sweeps()) {
          if (!s.runDir) continue;
          if (this.moveOntoRunDir(s)) {
            // (moved: the reads are scheduled)
          } else if (s.derived.runnerAlive && !(s.lock && lockHolderAlive(s.lock))) this.scheduleRunRead(s);
        }
        this.updateLiveness();
      }, LIVENESS_MS);
    } else if (!watch && this.livenessTimer) {
      clearInterval(this.livenessTimer);
      this.livenessTimer = undefined;
    }
  }

  override dispose(): void {
    clearInterval(this.livenessTimer);
    clearTimeout(this.runFilesTimer);
    for (const k of [...this.runWatches.keys()]) this.unwatchRun(k);
    super.dispose();
  }
}
