/**
 * The local executor: a pool of child processes on this machine, `parallel` at a time. Each
 * experiment runs in its own process group (detached) with its output appended to runs/<id>/log;
 * a reaper process SIGTERMs the groups if the runner itself is killed.
 *
 * GPU placement hooks in here: `freeSlots` decides how many start, `start` may pick a device and
 * add it to the experiment's environment (e.g. CUDA_VISIBLE_DEVICES) before the spawn.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ManifestEntry } from '../../../core/contracts';
import { RUN_FILES } from '../../../core/contracts';
import { nowIso } from '../../../core/manifest';
import { experimentCommand, type ExperimentCommand } from '../command';
import type { Executor, ExecutorEvents, ExperimentLaunch, Recovery } from '../executor';
import { fileSize } from '../files';
import { ExperimentFollower } from '../follow';
import { shortId } from '../format';
import { isExperimentProcess, processRunning, signalGroup, waitGone } from '../processes';
import { PlaceholderError } from '../protocol';
import { startReaper, type Reaper } from '../reaper';
import { estimateExperimentMemoryMiB, retryOnAnotherGpu, type GpuPool } from '../gpus';
import { tailLines } from '../files';

export interface LocalExecutorOptions {
  runDir: string;
  /** experiments at once (read before each start) */
  parallel: number | (() => number);
  /** node executable for `flopsfit train` children and the reaper (default: process.execPath) */
  nodePath?: string;
  /** the bundled flopsfit.js the children run (`train`) */
  script?: string;
  /** extra environment for the experiment processes */
  env?: NodeJS.ProcessEnv;
  /** how long an orphan experiment of a dead runner gets to checkpoint before SIGKILL (ms) */
  orphanGraceMs?: number;
  /** seconds between progress lines of a running experiment (default 10) */
  progressIntervalSeconds?: number;
  /**
   * NVIDIA GPUs to place experiments on (../gpus): each experiment gets CUDA_VISIBLE_DEVICES, starts
   * only when a GPU answers and has room, and is restarted once on another GPU after a CUDA error.
   */
  gpus?: GpuPool;
}

interface Running {
  follow?: ExperimentFollower;
  child: ChildProcess;
  /** -1 when the spawn failed */
  pid: number;
  done: Promise<void>;
}

export class LocalExecutor implements Executor {
  readonly kind = 'local';
  private readonly running = new Map<string, Running>();
  private stopping: false | 'graceful' | 'kill' = false;
  private reaper?: Reaper;
  private wake?: () => void;
  /** experiments waiting for a GPU (started again on every tick) */
  private readonly waiting = new Map<string, ExperimentLaunch>();
  /** GPU restarts after a CUDA error, and the GPUs each failed on */
  private readonly gpuRetries = new Map<string, { count: number; failedOn: number[] }>();

  constructor(
    private readonly opts: LocalExecutorOptions,
    private readonly events: ExecutorEvents,
  ) {}

  open(): void {
    this.reaper ??= startReaper(this.opts.nodePath ?? process.execPath);
  }

  close(): void {
    this.reaper?.done();
    this.reaper = undefined;
  }

  freeSlots(): number {
    const parallel = typeof this.opts.parallel === 'function' ? this.opts.parallel() : this.opts.parallel;
    const free = Math.max(0, parallel - this.running.size - this.waiting.size);
    // on GPUs: one at a time, and only while a GPU answers and has room for another experiment
    if (free > 0 && this.opts.gpus) return this.opts.gpus.canPlace() ? 1 : 0;
    return free;
  }

  active(): number {
    return this.running.size + this.waiting.size;
  }

  changed(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
      for (const r of this.running.values()) void r.done.then(resolve);
    });
  }

  stop(mode: 'graceful' | 'kill'): void {
    this.stopping = mode;
    for (const r of this.running.values()) {
      if (r.follow) {
        r.follow.stopRequested = true;
        if (mode === 'kill') r.follow.killed = true;
      }
      if (r.pid > 0) signalGroup(r.pid, mode === 'kill' ? 'SIGKILL' : 'SIGTERM');
    }
    this.wake?.();
  }

  tick(): void {
    if (this.waiting.size) {
      for (const launch of [...this.waiting.values()]) {
        if (this.stopping) {
          this.waiting.delete(launch.id);
          this.events.finished(launch.id, { status: 'stopped', reason: 'stopped while waiting for a GPU' });
        } else this.start(launch);
      }
      // the loop may be waiting on `changed()` made when only waiting experiments were active (no
      // process to finish): wake it so that it follows the ones that started now
      this.wake?.();
    }
    const every = (this.opts.progressIntervalSeconds ?? 10) * 1000;
    const now = Date.now();
    for (const r of this.running.values()) {
      if (r.pid < 0 || !r.follow) continue;
      r.follow.progress(every, now);
    }
  }

  async recoverInterrupted(id: string, entry: ManifestEntry): Promise<Recovery> {
    const pid = entry.pid;
    if (pid !== undefined && processRunning(pid) && pid !== process.pid) {
      const ours = isExperimentProcess(pid, id);
      if (ours) {
        this.events.write(`flopsfit: experiment ${shortId(id)} of the previous runner is still running (pid ${pid}); stopping it at its checkpoint`);
        signalGroup(pid, 'SIGTERM');
        if (!(await waitGone(pid, this.opts.orphanGraceMs ?? 60_000))) {
          signalGroup(pid, 'SIGKILL');
          await waitGone(pid, 10_000);
        }
      }
    }
  }

  start(launch: ExperimentLaunch): void {
    const { id, spec, dir } = launch;
    const logFile = path.join(dir, RUN_FILES.log);
    let cmd: ExperimentCommand;
    try {
      cmd = experimentCommand(launch, { runDir: this.opts.runDir, nodePath: this.opts.nodePath, script: this.opts.script });
    } catch (err) {
      const reason = err instanceof PlaceholderError ? err.message : `could not prepare the command: ${(err as Error).message}`;
      this.events.finished(id, { status: 'failed', reason });
      return;
    }
    const env: NodeJS.ProcessEnv = { ...process.env, ...this.opts.env };
    delete env.FLOPSFIT_RESUME;
    Object.assign(env, cmd.env);
    const gpus = this.opts.gpus;
    if (gpus) {
      const exclude = this.gpuRetries.get(id)?.failedOn ?? [];
      const slot = gpus.acquire(id, estimateExperimentMemoryMiB(spec), exclude) ?? gpus.acquire(id, 0, exclude);
      if (!slot) {
        // no GPU can take it right now (a retry waits for another GPU than the one that failed)
        if (!this.waiting.has(id)) this.events.write(`${this.events.prefix(id)} wait   ${shortId(id)}  for a free GPU`);
        this.waiting.set(id, launch);
        return;
      }
      this.waiting.delete(id);
      Object.assign(env, slot.env);
      this.events.write(`${this.events.prefix(id)} gpu    ${shortId(id)}  CUDA_VISIBLE_DEVICES=${slot.env.CUDA_VISIBLE_DEVICES}`);
    }
    const { command, args, cwd } = cmd;

    fs.appendFileSync(logFile, `=== attempt ${launch.attempt} at ${nowIso()}: ${[command, ...args].join(' ')}\n`);
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
    if (pid === undefined) {
      // spawn failed synchronously (e.g. ENOENT): the 'error' event follows
      const done = new Promise<void>((resolve) => setImmediate(resolve));
      void done.then(() => {
        this.events.finished(id, { status: 'failed', reason: `could not start ${command}: ${spawnError?.message ?? 'spawn failed'}` });
        fs.appendFileSync(logFile, `could not start ${command}: ${spawnError?.message ?? 'spawn failed'}\n`);
      });
      this.running.set(id, { child, pid: -1, done });
      void done.then(() => this.running.delete(id));
      return;
    }
    this.reaper?.add(pid);
    this.events.started(id, { pid });

    const follow = new ExperimentFollower({
      runDir: this.opts.runDir,
      id,
      spec,
      logOffset,
      write: this.events.write,
      prefix: this.events.prefix,
      abort: () => signalGroup(pid, 'SIGTERM'),
    });
    follow.stopRequested = this.stopping !== false;
    const r: Running = { follow, child, pid, done: Promise.resolve() };
    r.done = new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        follow.poll(true);
        this.reaper?.remove(pid);
        this.running.delete(id);
        const outcome = follow.outcome(code, signal, spawnError);
        if (gpus) {
          const failedOn = gpus.held(id);
          gpus.release(id);
          if (outcome.status === 'failed' && !this.stopping) {
            const prev = this.gpuRetries.get(id) ?? { count: 0, failedOn: [] };
            const r = retryOnAnotherGpu(`${outcome.reason ?? ''}\n${tailLines(logFile, 30, logOffset).join('\n')}`, prev.count, [...prev.failedOn, ...failedOn]);
            if (r.why) this.events.write(`${this.events.prefix(id)} gpu    ${shortId(id)}  ${r.why}`);
            if (r.retry) {
              this.gpuRetries.set(id, { count: prev.count + 1, failedOn: r.exclude });
              resolve();
              this.start({ ...launch, resuming: true, hasCheckpoint: fs.existsSync(path.join(dir, RUN_FILES.checkpoint)) });
              return;
            }
          }
        }
        this.events.finished(id, outcome);
        resolve();
      });
    });
    this.running.set(id, r);
    if (this.stopping) signalGroup(pid, this.stopping === 'kill' ? 'SIGKILL' : 'SIGTERM');
  }
}
