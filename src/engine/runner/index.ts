/**
 * The sweep runner: turns a plan into finished runs that survive crashes. Runs in the `flopsfit`
 * process (CLI or VS Code task), never in the extension host.
 *
 * - Experiments run smallest budgets first, each in its own child process (its own process group),
 *   `parallel` at a time: `flopsfit train <spec> --out <dir> [--resume]` for the built-in
 *   transformer, the user's command for `model.family: command` (see ./protocol).
 * - manifest.json is rewritten atomically on every status change; results.jsonl is rewritten
 *   atomically from all completed results; both are only written while holding runner.lock.
 * - Resume: completed experiments are kept; stopped and interrupted ones (status running, process
 *   gone) resume from their checkpoint; failed ones with `retryFailed` (or when named with `only`).
 * - Signals: the first SIGINT/SIGTERM/SIGHUP forwards SIGTERM to every experiment (checkpoint, exit
 *   stopped) and waits; a second one SIGKILLs them. A reaper process SIGTERMs the experiments if
 *   the runner itself is killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomicSync, writeJsonAtomicSync } from '../../core/atomic';
import { ExperimentSpec, Manifest, ManifestEntry, MetricsLine, Plan, RunResult, RUN_FILES } from '../../core/contracts';
import {
  acquireLock,
  experimentDir,
  nowIso,
  pidAlive,
  readJsonFile,
  readManifest,
  readRunResult,
  reconcileManifest,
  resultsRow,
  writeManifest,
  writeResults,
  type LockHandle,
} from '../../core/manifest';
import { LineSplitter, parseProtocolLine, placeholderValues, PlaceholderError, substitute } from './protocol';
import { startReaper, type Reaper } from './reaper';

export class RunnerError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface RunSweepOptions {
  plan: Plan;
  /** experiments at once (default: one per core on the CPU backends, one otherwise) */
  parallel?: number;
  /** run only these experiment ids (or unique id prefixes) */
  only?: readonly string[];
  /** also re-run failed experiments */
  retryFailed?: boolean;
  /** require an existing manifest (explicit `--resume`) */
  resume?: boolean;
  /** node executable for `flopsfit train` children (default: process.execPath) */
  nodePath?: string;
  /** the bundled flopsfit.js the children run (`train`) */
  script?: string;
  /** progress output, one line per call (default: stdout) */
  write?: (line: string) => void;
  /** seconds between progress lines of a running experiment (default 10) */
  progressIntervalSeconds?: number;
  /** install SIGINT/SIGTERM/SIGHUP handlers (default true) */
  handleSignals?: boolean;
  /** runs the fit after the last experiment; returns lines to print */
  fit?: (runDir: string) => Promise<string[]>;
  /** extra environment for the experiment processes */
  env?: NodeJS.ProcessEnv;
  /** how long an orphan experiment of a dead runner gets to checkpoint before SIGKILL (ms) */
  orphanGraceMs?: number;
}

export interface SweepOutcome {
  exitCode: number;
  runDir: string;
  manifest: Manifest;
  counts: Record<ManifestEntry['status'], number>;
  /** experiments this invocation ran (started) */
  ran: string[];
  orphaned: string[];
  stopped: boolean;
  fitLines: string[];
}

const STATUS_ORDER: ManifestEntry['status'][] = ['queued', 'running', 'completed', 'failed', 'stopped'];

// ---------------------------------------------------------------------------------------------
// Formatting

export function fmtCount(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e12) return (n / 1e12).toFixed(a >= 1e13 ? 0 : 1) + 'T';
  if (a >= 1e9) return (n / 1e9).toFixed(a >= 1e10 ? 0 : 1) + 'G';
  if (a >= 1e6) return (n / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
  if (a >= 1e3) return (n / 1e3).toFixed(a >= 1e4 ? 0 : 1) + 'k';
  return String(Math.round(n));
}

export function fmtFlops(c: number): string {
  return c.toExponential(1).replace('e+', 'e');
}

export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function shortId(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Whether `backend: auto` will probably train on a GPU here (then experiments run one at a time). */
function gpuLikely(): boolean {
  const hasModule = (m: string) => {
    try {
      require.resolve(m);
      return true;
    } catch {
      return false;
    }
  };
  if (process.platform === 'win32' || process.platform === 'darwin') return hasModule('@tensorflow/tfjs-node-gpu') || hasModule('webgpu');
  const nvidia = fs.existsSync('/dev/nvidiactl');
  if (nvidia && hasModule('@tensorflow/tfjs-node-gpu')) return true;
  // WebGPU through Dawn: a hardware render node (auto never picks a software adapter)
  if (!hasModule('webgpu')) return false;
  if (nvidia) return true;
  try {
    return fs.readdirSync('/dev/dri').some((n) => n.startsWith('renderD'));
  } catch {
    return false;
  }
}

/** One per CPU core for the CPU backends (wasm/cpu are single-threaded); one for GPUs, tfjs-node and user commands. */
export function defaultParallel(specs: readonly ExperimentSpec[]): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  let cpuOnly = specs.length > 0;
  for (const s of specs) {
    if (s.model.family === 'command') cpuOnly = false;
    else if (s.training.backend === 'auto') cpuOnly &&= !gpuLikely();
    else if (s.training.backend === 'torch') cpuOnly &&= !fs.existsSync('/dev/nvidiactl') && process.platform !== 'darwin';
    else cpuOnly &&= s.training.backend === 'wasm' || s.training.backend === 'cpu' || s.training.backend === 'torch-cpu';
  }
  return cpuOnly ? Math.max(1, cores) : 1;
}

/** Whether the process exists and is not a zombie. */
export function processRunning(pid: number): boolean {
  if (!pidAlive(pid)) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

/** Whether pid is the experiment process of `id` (Linux: its environment says so). Undefined: cannot tell. */
function isExperimentProcess(pid: number, id: string): boolean | undefined {
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
    return env.split('\0').includes(`FLOPSFIT_EXPERIMENT_ID=${id}`);
  } catch {
    return undefined;
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (!processRunning(pid)) return true;
    await sleep(100);
  }
  return !processRunning(pid);
}

/** Last non-empty lines of a file's tail (from byte `from`), for failure reasons. */
export function tailLines(file: string, count: number, from = 0): string[] {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const start = Math.max(from, size - 8192);
      const buf = Buffer.alloc(Math.max(0, size - start));
      fs.readSync(fd, buf, 0, buf.length, start);
      return buf
        .toString('utf8')
        .split('\n')
        .map((l) => l.trimEnd())
        .filter((l) => l.trim() && !l.startsWith('=== '))
        .slice(-count);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
}

/** Reads whatever was appended to a file since `offset`. */
class FileTail {
  private splitter = new LineSplitter();
  constructor(
    readonly file: string,
    public offset: number,
  ) {}
  read(): string[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return [];
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < this.offset) this.offset = 0; // truncated and rewritten
      if (size === this.offset) return [];
      const buf = Buffer.alloc(size - this.offset);
      fs.readSync(fd, buf, 0, buf.length, this.offset);
      this.offset = size;
      return this.splitter.push(buf.toString('utf8'));
    } finally {
      fs.closeSync(fd);
    }
  }
  flush(): string[] {
    return [...this.read(), ...this.splitter.flush()];
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

// ---------------------------------------------------------------------------------------------
// The runner

interface Running {
  id: string;
  spec: ExperimentSpec;
  child: ChildProcess;
  pid: number;
  startedAt: number;
  logOffset: number;
  logTail: FileTail;
  metricsTail?: FileTail;
  last?: MetricsLine;
  lastStep: number;
  result?: Extract<ReturnType<typeof parseProtocolLine>, { kind: 'result' }>;
  failReason?: string;
  stopRequested: boolean;
  killed: boolean;
  lastProgress: number;
  done: Promise<void>;
  poll: () => void;
}

export class SweepRunner {
  private readonly plan: Plan;
  private readonly runDir: string;
  private readonly specs: Map<string, ExperimentSpec>;
  private readonly write: (line: string) => void;
  private manifest!: Manifest;
  private lock?: LockHandle;
  private reaper?: Reaper;
  private readonly running = new Map<string, Running>();
  private stopping: false | 'graceful' | 'kill' = false;
  private wake?: () => void;
  private total = 0;
  private started = 0;
  private readonly signalHandlers: Array<[NodeJS.Signals, () => void]> = [];

  constructor(private readonly opts: RunSweepOptions) {
    this.plan = opts.plan;
    this.runDir = opts.plan.runDir;
    this.specs = new Map(opts.plan.experiments.map((e) => [e.id, e]));
    this.write = opts.write ?? ((line) => process.stdout.write(line + '\n'));
  }

  /** Asks the runner to stop (like SIGINT); a second call kills the experiments. */
  stop(): void {
    if (!this.stopping) {
      this.stopping = 'graceful';
      const n = this.running.size;
      this.write(
        n
          ? `flopsfit: stopping — asking ${n} running experiment${n === 1 ? '' : 's'} to save a checkpoint (interrupt again to kill)`
          : 'flopsfit: stopping',
      );
      if (this.manifest) {
        this.manifest.state = 'stopping';
        this.saveManifest();
      }
      for (const r of this.running.values()) {
        r.stopRequested = true;
        signalGroup(r.pid, 'SIGTERM');
      }
    } else if (this.stopping === 'graceful') {
      this.stopping = 'kill';
      this.write('flopsfit: killing the running experiments');
      for (const r of this.running.values()) {
        r.stopRequested = true;
        r.killed = true;
        signalGroup(r.pid, 'SIGKILL');
      }
    }
    this.wake?.();
  }

  async run(): Promise<SweepOutcome> {
    const existing = readManifest(this.runDir);
    if (this.opts.resume && !existing.ok && existing.missing) {
      throw new RunnerError(`nothing to resume: ${path.join(this.runDir, RUN_FILES.manifest)} does not exist (start the sweep with 'flopsfit run' without --resume)`, 2);
    }
    fs.mkdirSync(this.runDir, { recursive: true });
    this.lock = acquireLock(this.runDir);
    if (this.lock.tookOver) {
      this.write(`flopsfit: the previous runner (pid ${this.lock.tookOver.pid}, started ${this.lock.tookOver.startedAt}) is gone; taking over its lock`);
    }
    if (this.opts.handleSignals !== false) this.installSignals();
    try {
      return await this.runLocked(existing);
    } finally {
      this.removeSignals();
      this.reaper?.done();
      this.lock.release();
    }
  }

  private installSignals(): void {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as NodeJS.Signals[]) {
      const h = () => this.stop();
      process.on(sig, h);
      this.signalHandlers.push([sig, h]);
    }
  }

  private removeSignals(): void {
    for (const [sig, h] of this.signalHandlers) process.off(sig, h);
    this.signalHandlers.length = 0;
  }

  private saveManifest(): void {
    writeManifest(this.runDir, this.manifest);
  }

  private saveResults(): number {
    return writeResults(this.runDir, this.plan, this.manifest);
  }

  private specFile(id: string): string {
    return path.join(experimentDir(this.runDir, id), RUN_FILES.spec);
  }

  /** Experiments whose stored spec.json differs from the plan's: their old folder is moved aside. */
  private detectChanged(): Set<string> {
    const changed = new Set<string>();
    for (const spec of this.plan.experiments) {
      const stored = readJsonFile(this.specFile(spec.id), ExperimentSpec);
      if (stored.ok && canonical(stored.value) !== canonical(spec)) {
        changed.add(spec.id);
        const dir = experimentDir(this.runDir, spec.id);
        const aside = path.join(this.runDir, RUN_FILES.experimentsDir, `.${spec.id}.replaced-${Date.now()}`);
        fs.renameSync(dir, aside);
        this.write(`flopsfit: the resolved settings of ${spec.id} changed since it ran; it is re-planned (old files kept in ${path.relative(this.runDir, aside)})`);
      }
    }
    return changed;
  }

  private async recoverInterrupted(id: string, entry: ManifestEntry): Promise<void> {
    const pid = entry.pid;
    if (pid !== undefined && processRunning(pid) && pid !== process.pid) {
      const ours = isExperimentProcess(pid, id);
      if (ours) {
        this.write(`flopsfit: experiment ${shortId(id)} of the previous runner is still running (pid ${pid}); stopping it at its checkpoint`);
        signalGroup(pid, 'SIGTERM');
        if (!(await waitGone(pid, this.opts.orphanGraceMs ?? 60_000))) {
          signalGroup(pid, 'SIGKILL');
          await waitGone(pid, 10_000);
        }
      }
    }
    entry.status = 'stopped';
    entry.reason = 'interrupted: the runner ended while it ran';
    entry.endedAt ??= nowIso();
    delete entry.pid;
  }

  private async runLocked(existing: ReturnType<typeof readManifest>): Promise<SweepOutcome> {
    let previous: Manifest | undefined;
    if (existing.ok) previous = existing.value;
    else if (!existing.missing) {
      const backup = path.join(this.runDir, `${RUN_FILES.manifest}.unreadable-${Date.now()}`);
      fs.copyFileSync(path.join(this.runDir, RUN_FILES.manifest), backup);
      this.write(`flopsfit: warning: ${existing.error}; rebuilding the manifest from the experiments' results (old file kept as ${path.basename(backup)})`);
    }
    const changed = this.detectChanged();
    const { manifest, orphaned } = reconcileManifest(this.plan, previous, changed);
    this.manifest = manifest;
    if (orphaned.length) {
      this.write(
        `flopsfit: ${orphaned.length} experiment${orphaned.length === 1 ? ' is' : 's are'} no longer in the plan (orphaned, never mixed into the results): ${orphaned.map(shortId).join(', ')}`,
      );
    }

    // Bring every entry in line with what is on disk.
    for (const id of manifest.order) {
      const entry = manifest.experiments[id];
      if (entry.status === 'running') await this.recoverInterrupted(id, entry);
      const result = readRunResult(this.runDir, id);
      const row = result.ok ? resultsRow(this.specs.get(id)!, result.value) : undefined;
      if (entry.status === 'completed' && !row) {
        this.write(`flopsfit: warning: ${shortId(id)} was completed but its result is missing or invalid${result.ok ? '' : ` (${result.error})`}; it runs again`);
        Object.assign(entry, { status: 'queued', reason: 'result missing; re-run' });
      } else if (entry.status !== 'completed' && row && result.ok) {
        // It finished just before the previous runner died.
        Object.assign(entry, { status: 'completed', finalLoss: result.value.finalLoss, backend: result.value.backend, endedAt: entry.endedAt ?? nowIso() });
        delete entry.reason;
        if (result.value.device) entry.device = result.value.device;
      }
    }

    writeJsonAtomicSync(path.join(this.runDir, RUN_FILES.plan), this.plan);
    for (const spec of this.plan.experiments) {
      const file = this.specFile(spec.id);
      if (!fs.existsSync(file)) writeJsonAtomicSync(file, spec);
    }
    const work = this.selectWork();
    this.total = manifest.order.length;
    manifest.state = work.length ? 'running' : manifest.state;
    this.saveResults();
    this.saveManifest();

    const counts0 = this.counts();
    const parallel = Math.max(1, Math.min(this.opts.parallel ?? defaultParallel(work.map((id) => this.specs.get(id)!)), Math.max(1, work.length)));
    this.write(
      `flopsfit: sweep ${this.plan.sweep}: ${this.total} experiments (${counts0.completed} completed, ${work.length} to run${counts0.failed && !this.opts.retryFailed ? `, ${counts0.failed} failed: --retry-failed re-runs them` : ''}), parallel ${parallel}`,
    );
    this.write(`flopsfit: run directory ${this.runDir}`);

    const ran: string[] = [];
    if (work.length) {
      this.reaper = startReaper(this.opts.nodePath ?? process.execPath);
      const queue = [...work];
      const timer = setInterval(() => this.tick(), 500);
      try {
        while ((queue.length && !this.stopping) || this.running.size) {
          while (queue.length && !this.stopping && this.running.size < parallel) {
            const id = queue.shift()!;
            ran.push(id);
            this.startExperiment(id);
          }
          if (!this.running.size) continue;
          await new Promise<void>((resolve) => {
            this.wake = resolve;
            for (const r of this.running.values()) void r.done.then(resolve);
          });
          this.wake = undefined;
        }
      } finally {
        clearInterval(timer);
      }
    }

    const counts = this.counts();
    const allDone = counts.completed === this.total;
    manifest.state = allDone ? 'finished' : 'idle';
    const rows = this.saveResults();
    this.saveManifest();

    const stopped = this.stopping !== false;
    this.write(
      `flopsfit: ${stopped ? 'stopped' : 'done'} — ${counts.completed}/${this.total} completed` +
        (counts.failed ? `, ${counts.failed} failed` : '') +
        (counts.stopped ? `, ${counts.stopped} stopped` : '') +
        (counts.queued ? `, ${counts.queued} queued` : ''),
    );
    if (counts.stopped || (counts.queued && stopped)) this.write(`flopsfit: resume with: flopsfit run ${this.plan.configPath}`);
    this.write(`flopsfit: results ${path.join(this.runDir, RUN_FILES.results)} (${rows} rows)`);

    let fitLines: string[] = [];
    const pending = counts.queued + counts.stopped + counts.running;
    if (!stopped && this.opts.fit && rows > 0 && pending === 0) {
      try {
        fitLines = await this.opts.fit(this.runDir);
        for (const l of fitLines) this.write(l);
      } catch (err) {
        this.write(`flopsfit: warning: the fit failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const failedRan = ran.filter((id) => manifest.experiments[id]?.status === 'failed').length;
    const exitCode = stopped ? 130 : failedRan > 0 ? 1 : 0;
    return { exitCode, runDir: this.runDir, manifest, counts, ran, orphaned: manifest.orphaned ?? [], stopped, fitLines };
  }

  private counts(): Record<ManifestEntry['status'], number> {
    const c = Object.fromEntries(STATUS_ORDER.map((s) => [s, 0])) as Record<ManifestEntry['status'], number>;
    for (const e of Object.values(this.manifest.experiments)) c[e.status]++;
    return c;
  }

  private resolveOnly(): Set<string> | undefined {
    if (!this.opts.only?.length) return undefined;
    const ids = new Set<string>();
    for (const want of this.opts.only) {
      if (this.specs.has(want)) {
        ids.add(want);
        continue;
      }
      const matches = this.manifest.order.filter((id) => id.startsWith(want));
      if (matches.length === 1) ids.add(matches[0]);
      else if (!matches.length) throw new RunnerError(`--only ${want}: no experiment of the plan has this id`, 2);
      else throw new RunnerError(`--only ${want}: ambiguous, matches ${matches.slice(0, 5).join(', ')}${matches.length > 5 ? ', …' : ''}`, 2);
    }
    return ids;
  }

  private selectWork(): string[] {
    const only = this.resolveOnly();
    const work: string[] = [];
    for (const id of this.manifest.order) {
      if (only && !only.has(id)) continue;
      const status = this.manifest.experiments[id].status;
      if (status === 'queued' || status === 'stopped') work.push(id);
      else if (status === 'failed' && (this.opts.retryFailed || only)) work.push(id);
      else if (status === 'completed' && only) this.write(`flopsfit: ${shortId(id)} is already completed; it is not run again`);
    }
    return work;
  }

  private prefix(id: string): string {
    const n = this.manifest.order.indexOf(id) + 1;
    const w = String(this.total).length;
    return `[${String(n).padStart(w)}/${this.total}]`;
  }

  private startExperiment(id: string): void {
    const spec = this.specs.get(id)!;
    const entry = this.manifest.experiments[id];
    const dir = experimentDir(this.runDir, id);
    fs.mkdirSync(dir, { recursive: true });
    writeJsonAtomicSync(this.specFile(id), spec);
    const resultFile = path.join(dir, RUN_FILES.result);
    const metricsFile = path.join(dir, RUN_FILES.metrics);
    const logFile = path.join(dir, RUN_FILES.log);
    fs.rmSync(resultFile, { force: true });
    const hasCheckpoint = fs.existsSync(path.join(dir, RUN_FILES.checkpoint));
    const resuming = entry.attempts > 0;

    let command: string;
    let args: string[];
    let cwd: string;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...this.opts.env,
      FLOPSFIT_EXPERIMENT_ID: id,
      FLOPSFIT_RUN_DIR: dir,
      FLOPSFIT_TOKENS: String(spec.tokens),
      FLOPSFIT_SEED: String(spec.seed),
    };
    if (resuming) env.FLOPSFIT_RESUME = '1';
    else delete env.FLOPSFIT_RESUME;
    try {
      if (spec.model.family === 'command') {
        const argv = substitute(spec.model.command, placeholderValues(spec, dir));
        [command, ...args] = argv;
        cwd = spec.model.cwd;
        Object.assign(env, spec.model.env ?? {});
      } else {
        if (!hasCheckpoint) fs.rmSync(metricsFile, { force: true });
        const script = this.opts.script ?? require.main?.filename ?? __filename;
        command = this.opts.nodePath ?? process.execPath;
        args = [script, 'train', this.specFile(id), '--out', dir, ...(hasCheckpoint ? ['--resume'] : [])];
        cwd = this.runDir;
        env.ELECTRON_RUN_AS_NODE = '1';
      }
    } catch (err) {
      const reason = err instanceof PlaceholderError ? err.message : `could not prepare the command: ${(err as Error).message}`;
      this.finish(id, { status: 'failed', reason });
      this.started++;
      return;
    }

    fs.appendFileSync(logFile, `=== attempt ${entry.attempts + 1} at ${nowIso()}: ${[command, ...args].join(' ')}\n`);
    const logOffset = fileSize(logFile);
    const fd = fs.openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      fs.closeSync(fd);
    }
    let spawnError: Error | undefined;
    child.on('error', (err) => {
      spawnError = err;
    });
    const pid = child.pid;
    this.started++;
    if (pid === undefined) {
      // spawn failed synchronously (e.g. ENOENT): the 'error' event follows
      const done = new Promise<void>((resolve) => setImmediate(resolve));
      void done.then(() => {
        this.finish(id, { status: 'failed', reason: `could not start ${command}: ${spawnError?.message ?? 'spawn failed'}` });
        fs.appendFileSync(logFile, `could not start ${command}: ${spawnError?.message ?? 'spawn failed'}\n`);
      });
      this.running.set(id, { id, spec, child, pid: -1, startedAt: Date.now(), logOffset, logTail: new FileTail(logFile, logOffset), lastStep: -1, stopRequested: false, killed: false, lastProgress: Date.now(), done, poll: () => {} });
      void done.then(() => this.running.delete(id));
      return;
    }
    this.reaper?.add(pid);

    Object.assign(entry, { status: 'running', startedAt: nowIso(), pid, attempts: entry.attempts + 1 });
    delete entry.endedAt;
    delete entry.reason;
    delete entry.finalLoss;
    this.saveManifest();
    this.write(
      `${this.prefix(id)} ${resuming ? 'resume' : 'start '} ${shortId(id)}  C=${fmtFlops(spec.budget)}  N=${fmtCount(spec.params)}  D=${fmtCount(spec.tokens)}  ${spec.sizeParam}=${spec.sizeValue}` +
        (Object.keys(spec.hyperparameters).length ? `  ${Object.entries(spec.hyperparameters).map(([k, v]) => `${k}=${String(v)}`).join(' ')}` : '') +
        `  seed ${spec.seed}${resuming ? ` (attempt ${entry.attempts}${hasCheckpoint || spec.model.family === 'command' ? ', from checkpoint' : ''})` : ''}`,
    );

    const isCommand = spec.model.family === 'command';
    const r: Running = {
      id,
      spec,
      child,
      pid,
      startedAt: Date.now(),
      logOffset,
      logTail: new FileTail(logFile, logOffset),
      metricsTail: isCommand ? undefined : new FileTail(metricsFile, fileSize(metricsFile)),
      lastStep: isCommand ? this.lastMetricsStep(metricsFile) : -1,
      stopRequested: this.stopping !== false,
      killed: false,
      lastProgress: Date.now(),
      done: Promise.resolve(),
      poll: () => {},
    };
    r.poll = () => this.pollExperiment(r, false);
    r.done = new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        this.pollExperiment(r, true);
        this.reaper?.remove(pid);
        this.running.delete(id);
        this.finish(id, this.outcome(r, code, signal, spawnError));
        resolve();
      });
    });
    this.running.set(id, r);
    if (this.stopping) signalGroup(pid, this.stopping === 'kill' ? 'SIGKILL' : 'SIGTERM');
  }

  private lastMetricsStep(file: string): number {
    let last = -1;
    try {
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const m = MetricsLine.safeParse(JSON.parse(line));
          if (m.success) last = Math.max(last, m.data.step);
        } catch {
          /* a torn last line */
        }
      }
    } catch {
      /* no metrics yet */
    }
    return last;
  }

  /** Appends a command's metrics line to metrics.jsonl; a step that goes back (resume) drops the later lines first. */
  private appendMetrics(r: Running, m: MetricsLine): void {
    const file = path.join(experimentDir(this.runDir, r.id), RUN_FILES.metrics);
    if (m.step <= r.lastStep) {
      let kept = '';
      try {
        for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
          if (!line.trim()) continue;
          try {
            const old = MetricsLine.safeParse(JSON.parse(line));
            if (old.success && old.data.step < m.step) kept += line + '\n';
          } catch {
            /* drop a torn line */
          }
        }
      } catch {
        /* none */
      }
      writeFileAtomicSync(file, kept);
    }
    fs.appendFileSync(file, JSON.stringify(m) + '\n');
    r.lastStep = m.step;
  }

  private pollExperiment(r: Running, final: boolean): void {
    if (r.spec.model.family === 'command') {
      for (const line of final ? r.logTail.flush() : r.logTail.read()) {
        const p = parseProtocolLine(line);
        if (!p) continue;
        if (p.kind === 'metrics') {
          this.appendMetrics(r, p.metrics);
          r.last = p.metrics;
          if (p.nonFinite && !r.failReason) {
            r.failReason = p.nonFinite;
            signalGroup(r.pid, 'SIGTERM');
          }
        } else if (p.kind === 'result') {
          r.result = p;
        } else if (!r.failReason) {
          this.write(`${this.prefix(r.id)} ${shortId(r.id)}: ignoring a malformed protocol line: ${p.error}`);
        }
      }
    } else if (r.metricsTail) {
      for (const line of final ? r.metricsTail.flush() : r.metricsTail.read()) {
        try {
          const m = MetricsLine.safeParse(JSON.parse(line));
          if (m.success) r.last = m.data;
        } catch {
          /* torn line: the next read completes it */
        }
      }
    }
  }

  private tick(): void {
    const every = (this.opts.progressIntervalSeconds ?? 10) * 1000;
    const now = Date.now();
    for (const r of this.running.values()) {
      if (r.pid < 0) continue;
      r.poll();
      if (now - r.lastProgress >= every && r.last) {
        r.lastProgress = now;
        const frac = Math.min(1, r.last.tokens / r.spec.tokens);
        const elapsed = (now - r.startedAt) / 1000;
        const loss = r.last.evalLoss ?? r.last.trainLoss;
        const tps = r.last.tokensPerSecond;
        const eta = tps && tps > 0 ? (r.spec.tokens - r.last.tokens) / tps : undefined;
        this.write(
          `${this.prefix(r.id)} ${shortId(r.id)}  ${(frac * 100).toFixed(0).padStart(3)}%  step ${r.last.step}` +
            (loss !== undefined ? `  loss ${loss.toFixed(4)}` : '') +
            (tps ? `  ${fmtCount(tps)} tok/s` : '') +
            `  ${fmtDuration(elapsed)}` +
            (eta !== undefined ? `  eta ${fmtDuration(eta)}` : ''),
        );
      }
    }
  }

  private outcome(r: Running, code: number | null, signal: NodeJS.Signals | null, spawnError: Error | undefined): { status: RunResult['status']; reason?: string; result?: RunResult } {
    const elapsedSeconds = (Date.now() - r.startedAt) / 1000;
    const logFile = path.join(experimentDir(this.runDir, r.id), RUN_FILES.log);
    const exitText = signal ? `killed by ${signal}` : `exit code ${code}`;
    const tail = () => {
      const lines = tailLines(logFile, 6, r.logOffset);
      return lines.length ? `\n${lines.join('\n')}` : '';
    };
    if (spawnError) return { status: 'failed', reason: `could not start the experiment: ${spawnError.message}` };
    const stopStatus = (): { status: 'stopped'; reason: string } => ({ status: 'stopped', reason: r.killed ? 'killed' : 'stopped by the user' });

    if (r.spec.model.family === 'command') {
      const spec = r.spec;
      const base = { id: r.id, params: r.result?.params ?? spec.params, steps: Math.max(0, r.result?.steps ?? r.last?.step ?? 0), backend: 'command', elapsedSeconds };
      const tokens = r.result?.tokens ?? r.last?.tokens ?? 0;
      let out: { status: RunResult['status']; reason?: string };
      if (r.failReason) out = { status: 'failed', reason: r.failReason };
      else if (code === 0 && r.result && !r.result.nonFinite && r.result.finalLoss > 0) out = { status: 'completed' };
      else if (code === 0 && r.result?.nonFinite) out = { status: 'failed', reason: r.result.nonFinite };
      else if (code === 0 && r.result) out = { status: 'failed', reason: `the final loss ${r.result.finalLoss} is not positive` };
      else if (code === 0) out = { status: 'failed', reason: `the command exited 0 without a result line ({"result": {"finalLoss": …}})${tail()}` };
      else if (r.stopRequested) out = stopStatus();
      else if (code === 130 || code === 143 || signal === 'SIGTERM' || signal === 'SIGINT') out = { status: 'stopped', reason: 'stopped (signal)' };
      else out = { status: 'failed', reason: `${exitText}${tail()}` };
      const result: RunResult = {
        ...base,
        status: out.status,
        tokens: out.status === 'completed' ? (r.result?.tokens ?? spec.tokens) : tokens,
        flops: spec.flopsPerParamPerToken * spec.params * (out.status === 'completed' ? (r.result?.tokens ?? spec.tokens) : tokens),
        ...(out.status === 'completed' ? { finalLoss: r.result!.finalLoss } : {}),
        ...(r.result?.finalTrainLoss !== undefined ? { finalTrainLoss: r.result.finalTrainLoss } : {}),
        ...(out.reason ? { reason: out.reason } : {}),
      };
      return { ...out, result };
    }

    const res = readRunResult(this.runDir, r.id);
    if (res.ok) {
      const v = res.value;
      if (v.status === 'completed' && code === 0) {
        if (v.finalLoss === undefined || !Number.isFinite(v.finalLoss)) return { status: 'failed', reason: 'the result has no finite final loss' };
        return { status: 'completed' };
      }
      if (v.status === 'failed') return { status: 'failed', reason: v.reason ?? `${exitText}${tail()}` };
      if (v.status === 'stopped') return r.stopRequested ? stopStatus() : { status: 'stopped', reason: v.reason ?? 'stopped' };
    }
    if (r.stopRequested && (code === 130 || code === 143 || signal)) return stopStatus();
    if (code === 130 || code === 143 || signal === 'SIGTERM' || signal === 'SIGINT') return { status: 'stopped', reason: 'stopped (signal)' };
    const why = code === 0 ? `the trainer exited 0 but wrote no valid result.json${res.ok ? '' : ` (${res.error})`}` : exitText;
    return { status: 'failed', reason: `${why}${tail()}` };
  }

  private finish(id: string, out: { status: RunResult['status']; reason?: string; result?: RunResult }): void {
    const entry = this.manifest.experiments[id];
    const spec = this.specs.get(id)!;
    if (out.result) writeJsonAtomicSync(path.join(experimentDir(this.runDir, id), RUN_FILES.result), out.result);
    const res = out.status === 'completed' ? readRunResult(this.runDir, id) : undefined;
    entry.status = out.status;
    entry.endedAt = nowIso();
    delete entry.pid;
    if (out.reason) entry.reason = out.reason.length > 2000 ? out.reason.slice(0, 2000) + '…' : out.reason;
    else delete entry.reason;
    if (res?.ok) {
      entry.finalLoss = res.value.finalLoss;
      entry.backend = res.value.backend;
      if (res.value.device) entry.device = res.value.device;
    }
    if (out.status === 'completed' && !(res?.ok && resultsRow(spec, res.value))) {
      entry.status = 'failed';
      entry.reason = `the result could not be read${res && !res.ok ? `: ${res.error}` : ''}`;
    }
    // results.jsonl first: at every moment it holds every result the manifest on disk calls completed.
    if (entry.status === 'completed') this.saveResults();
    this.saveManifest();
    const started = entry.startedAt ? (Date.now() - Date.parse(entry.startedAt)) / 1000 : undefined;
    const tag = { completed: 'done  ', failed: 'FAILED', stopped: 'stopped', queued: 'queued', running: 'running' }[entry.status];
    this.write(
      `${this.prefix(id)} ${tag} ${shortId(id)}` +
        (entry.status === 'completed' && entry.finalLoss !== undefined ? `  loss ${entry.finalLoss.toFixed(4)}` : '') +
        (started !== undefined ? `  in ${fmtDuration(started)}` : '') +
        (entry.status === 'failed' && entry.reason ? `: ${entry.reason.split('\n').join('\n    ')}` : ''),
    );
  }
}

export async function runSweep(opts: RunSweepOptions): Promise<SweepOutcome> {
  return new SweepRunner(opts).run();
}
