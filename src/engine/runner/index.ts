/**
 * The sweep runner: turns a plan into finished runs that survive crashes. Runs in the `flopsfit`
 * process (CLI or VS Code task), never in the extension host.
 *
 * - This file is the sweep loop: it decides what runs (smallest budgets first, `parallel` at a
 *   time) and records every outcome. An `Executor` (./executor.ts) starts, follows and stops the
 *   experiments; the default `LocalExecutor` (./executors/local.ts) runs each in its own child
 *   process (its own process group): `flopsfit train <spec> --out <dir> [--resume]` for the
 *   built-in transformer, the user's command for `model.family: command` (see ./protocol).
 * - manifest.json is rewritten atomically on every status change; results.jsonl is rewritten
 *   atomically from all completed results; both are only written while holding runner.lock.
 * - Resume: completed experiments are kept; stopped and interrupted ones (status running, process
 *   gone) resume from their checkpoint; failed ones with `retryFailed` (or when named with `only`).
 * - Signals: the first SIGINT/SIGTERM/SIGHUP forwards SIGTERM to every experiment (checkpoint, exit
 *   stopped) and waits; a second one SIGKILLs them. A reaper process SIGTERMs the experiments if
 *   the runner itself is killed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeJsonAtomicSync } from '../../core/atomic';
import { ExperimentSpec, Manifest, ManifestEntry, Plan, RUN_FILES, type SlurmEntry } from '../../core/contracts';
import {
  acquireLock,
  experimentDir,
  nowIso,
  readJsonFile,
  readManifest,
  readRunResult,
  reconcileManifest,
  resultsRow,
  writeManifest,
  writeResults,
  type LockHandle,
} from '../../core/manifest';
import type { Executor, ExecutorEvents, ExperimentLaunch, ExperimentOutcome } from './executor';
import { LocalExecutor } from './executors/local';
import { gpuPoolFor, type GpuPool } from './gpus';
import { fmtCount, fmtDuration, fmtFlops, formatLoss, shortId } from './format';
import { defaultParallel } from './processes';
import { sameExperiment } from '../../core/runDir/identity';

export type { Executor, ExecutorEvents, ExperimentLaunch, ExperimentOutcome } from './executor';
export { LocalExecutor } from './executors/local';
export { fmtCount, fmtDuration, fmtFlops } from './format';
export { tailLines } from './files';
export { defaultParallel, processRunning } from './processes';

export { RunnerError, type RunSweepOptions, type ExecutorContext, type SweepOutcome } from './types';
import { RunnerError, type RunSweepOptions, type SweepOutcome } from './types';

const STATUS_ORDER: ManifestEntry['status'][] = ['queued', 'running', 'completed', 'failed', 'stopped'];

/**
 * spec.json: written atomically (temp file + rename) but not fsynced: it is derived from the plan,
 * and a file lost or torn by a power cut is detected (unreadable or different) and written again on
 * the next run. Two fsyncs per experiment made a 1,000-experiment submission take ~10 s.
 */
function writeSpecFile(file: string, spec: ExperimentSpec): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(spec, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

// ---------------------------------------------------------------------------------------------
// The runner

export class SweepRunner {
  private readonly plan: Plan;
  private readonly runDir: string;
  private readonly specs: Map<string, ExperimentSpec>;
  private readonly write: (line: string) => void;
  private manifest!: Manifest;
  private lock?: LockHandle;
  private executor?: Executor;
  private stopping: false | 'graceful' | 'kill' = false;
  private detachRequested = false;
  private wakeDetach?: () => void;
  private total = 0;
  private parallel = 1;
  private gpuPool: GpuPool | undefined;
  private readonly launches = new Map<string, ExperimentLaunch>();
  /** experiments of an earlier run the executor followed again or found ended (Slurm jobs) */
  private readonly attached: string[] = [];
  private deferSave = 0;
  private dirty = false;
  private readonly signalHandlers: Array<[NodeJS.Signals, () => void]> = [];

  constructor(private readonly opts: RunSweepOptions) {
    this.plan = opts.plan;
    this.runDir = opts.plan.runDir;
    this.specs = new Map(opts.plan.experiments.map((e) => [e.id, e]));
    this.write = opts.write ?? ((line) => process.stdout.write(line + '\n'));
  }

  /** Returns without stopping the experiments, when the executor's outlive the runner (SIGHUP on Slurm). */
  detach(): void {
    if (!this.executor?.detachable) return this.stop();
    this.detachRequested = true;
    this.write('flopsfit: detaching — the experiments go on; run this command again to follow them');
    this.wakeDetach?.();
  }

  /** Asks the runner to stop (like SIGINT); a second call kills the experiments. */
  stop(): void {
    if (!this.stopping) {
      this.stopping = 'graceful';
      const n = this.executor?.active() ?? 0;
      this.write(
        n
          ? `flopsfit: stopping — asking ${n} running experiment${n === 1 ? '' : 's'} to save a checkpoint (interrupt again to kill)`
          : 'flopsfit: stopping',
      );
      if (this.manifest) {
        this.manifest.state = 'stopping';
        this.saveManifest();
      }
      this.executor?.stop('graceful');
    } else if (this.stopping === 'graceful') {
      this.stopping = 'kill';
      this.write('flopsfit: killing the running experiments');
      this.executor?.stop('kill');
    }
  }

  async run(): Promise<SweepOutcome> {
    if (this.opts.resume && !fs.existsSync(path.join(this.runDir, RUN_FILES.manifest))) {
      throw new RunnerError(`nothing to resume: ${path.join(this.runDir, RUN_FILES.manifest)} does not exist (start the sweep with 'flopsfit run' without --resume)`, 2);
    }
    fs.mkdirSync(this.runDir, { recursive: true });
    this.lock = acquireLock(this.runDir);
    if (this.lock.tookOver) {
      this.write(`flopsfit: the previous runner (pid ${this.lock.tookOver.pid}, started ${this.lock.tookOver.startedAt}) is gone; taking over its lock`);
    }
    if (this.opts.handleSignals !== false) this.installSignals();
    try {
      // read under the lock: a runner that held it until now may have rewritten the manifest
      const existing = readManifest(this.runDir);
      return await this.runLocked(existing);
    } finally {
      this.removeSignals();
      this.executor?.close();
      this.lock.release();
    }
  }

  private installSignals(): void {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as NodeJS.Signals[]) {
      // A closed terminal or editor (SIGHUP) never stops experiments that outlive the runner (Slurm): it detaches.
      const h = () => (sig === 'SIGHUP' && this.executor?.detachable && !this.stopping ? this.detach() : this.stop());
      process.on(sig, h);
      this.signalHandlers.push([sig, h]);
    }
  }

  private removeSignals(): void {
    for (const [sig, h] of this.signalHandlers) process.off(sig, h);
    this.signalHandlers.length = 0;
  }

  private saveManifest(): void {
    if (this.deferSave > 0) {
      this.dirty = true;
      return;
    }
    this.dirty = false;
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
      if (stored.ok && !sameExperiment(stored.value, spec)) {
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
    const executor = this.getExecutor();
    if (entry.slurm && executor.kind === 'local' && entry.slurm.state !== 'LOST') {
      throw new RunnerError(
        `experiment ${shortId(id)} was submitted to Slurm (job ${entry.slurm.jobId ?? `${entry.slurm.arrayJobId}_${entry.slurm.task}`}) and may still run there: follow it with 'flopsfit run --executor slurm' (or set run.executor: slurm)`,
        2,
      );
    }
    const found = await executor.recoverInterrupted(id, entry, this.specs.get(id)!);
    if (found && 'attached' in found) {
      this.attached.push(id);
      return;
    }
    if (found && 'outcome' in found) {
      // it ended while no runner followed it (a detached or killed runner)
      this.attached.push(id);
      this.finish(id, found.outcome);
      return;
    }
    entry.status = 'stopped';
    entry.reason = 'interrupted: the runner ended while it ran';
    entry.endedAt ??= nowIso();
    delete entry.pid;
  }

  /** The executor (created on first use): the one `opts.executor` makes, else the local process pool. */
  private getExecutor(): Executor {
    if (this.executor) return this.executor;
    const events: ExecutorEvents = {
      started: (id, info) => this.started(id, info),
      finished: (id, outcome) => this.finish(id, outcome),
      write: (line) => this.write(line),
      prefix: (id) => this.prefix(id),
      annotate: (id, fields) => {
        const entry = this.manifest?.experiments[id];
        if (!entry) return;
        if (fields.slurm && JSON.stringify(entry.slurm) !== JSON.stringify(fields.slurm)) {
          entry.slurm = fields.slurm;
          this.dirty = true;
        }
      },
      save: () => {
        if (this.dirty) this.saveManifest();
      },
      batch: (fn) => {
        this.deferSave++;
        try {
          return fn();
        } finally {
          if (--this.deferSave === 0 && this.dirty) this.saveManifest();
        }
      },
    };
    // NVIDIA GPUs (when an experiment may use one and nvidia-smi lists some): one experiment per GPU
    this.gpuPool = gpuPoolFor(this.plan.experiments, { ...this.opts.gpus, log: (line) => this.write(`flopsfit: ${line}`) });
    const local = (): Executor =>
      new LocalExecutor(
        {
          runDir: this.runDir,
          parallel: () => this.parallel,
          nodePath: this.opts.nodePath,
          script: this.opts.script,
          env: this.opts.env,
          orphanGraceMs: this.opts.orphanGraceMs,
          progressIntervalSeconds: this.opts.progressIntervalSeconds,
          gpus: this.gpuPool,
        },
        events,
      );
    this.executor = this.opts.executor ? this.opts.executor(events, { runDir: this.runDir, parallel: () => this.parallel, local }) : local();
    return this.executor;
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
    this.total = manifest.order.length;
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
      if (!fs.existsSync(file)) writeSpecFile(file, spec);
    }
    const work = this.selectWork();
    this.total = manifest.order.length;
    if (this.opts.stopOnly) work.length = 0;
    manifest.state = work.length || this.executor?.active() ? 'running' : manifest.state;
    this.saveResults();
    this.saveManifest();

    const counts0 = this.counts();
    if (this.opts.stopOnly) {
      this.write(`flopsfit: sweep ${this.plan.sweep}: ${this.total} experiments (${counts0.completed} completed)`);
    } else {
    // the executor first: it sets up the GPU pool, whose capacity is the default on GPUs
    const executor = this.getExecutor();
    const byDefault = this.gpuPool?.capacity() ?? defaultParallel(work.map((id) => this.specs.get(id)!));
    const parallel = Math.max(1, Math.min(this.opts.parallel ?? byDefault, Math.max(1, work.length)));
    this.parallel = parallel;
    this.write(
      `flopsfit: sweep ${this.plan.sweep}: ${this.total} experiments (${counts0.completed} completed, ${work.length} to run${counts0.failed && !this.opts.retryFailed ? `, ${counts0.failed} failed: --retry-failed re-runs them` : ''}), ${executor.describeConcurrency?.() ?? `parallel ${parallel}`}`,
    );
    }
    this.write(`flopsfit: run directory ${this.runDir}`);

    const following = this.attached.filter((id) => manifest.experiments[id].status === 'running').length;
    if (following) {
      this.write(`flopsfit: following ${following} experiment${following === 1 ? '' : 's'} still queued or running on ${this.executor?.kind ?? 'the executor'} (not resubmitted)`);
    }
    if (this.opts.stopOnly) {
      if (following) this.stop();
      else this.write('flopsfit: nothing is running');
    }
    const ran: string[] = [];
    let detached = false;
    if (work.length || following) {
      const executor = this.getExecutor();
      executor.open();
      const queue = [...work];
      const timer = setInterval(() => executor.tick(), 500);
      try {
        while ((queue.length && !this.stopping) || executor.active()) {
          while (queue.length && !this.stopping && executor.freeSlots() > 0) {
            const id = queue.shift()!;
            ran.push(id);
            this.startExperiment(id);
          }
          if (executor.flush) {
            try {
              await executor.flush();
            } catch (err) {
              manifest.state = 'idle';
              this.saveManifest();
              throw err instanceof RunnerError ? err : new RunnerError((err as Error).message, 1);
            }
          }
          if (this.opts.detach && executor.detachable && !queue.length && !this.stopping) {
            detached = true;
            break;
          }
          if (!executor.active()) continue;
          await Promise.race([executor.changed(), new Promise<void>((resolve) => (this.wakeDetach = resolve))]);
          if (this.detachRequested && !this.stopping) {
            detached = true;
            break;
          }
        }
      } finally {
        clearInterval(timer);
      }
    }

    const counts = this.counts();
    const allDone = counts.completed === this.total;
    manifest.state = allDone ? 'finished' : detached ? 'running' : 'idle';
    const rows = this.saveResults();
    this.saveManifest();

    const stopped = this.stopping !== false;
    if (detached) {
      this.write(
        `flopsfit: detached — ${counts.running} experiment${counts.running === 1 ? '' : 's'} queued or running on ${this.executor?.kind}, ${counts.completed}/${this.total} completed; ` +
          `follow with 'flopsfit run ${this.plan.configPath}', see 'flopsfit status ${this.plan.configPath}'`,
      );
      return { exitCode: 0, runDir: this.runDir, manifest, counts, ran, orphaned: manifest.orphaned ?? [], stopped: false, fitLines: [], detached: true };
    }
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
    const failedRan = [...ran, ...this.attached].filter((id) => manifest.experiments[id]?.status === 'failed').length;
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

  /** Prepares the experiment's folder and hands it to the executor. */
  private startExperiment(id: string): void {
    const spec = this.specs.get(id)!;
    const entry = this.manifest.experiments[id];
    const dir = experimentDir(this.runDir, id);
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.existsSync(this.specFile(id))) writeSpecFile(this.specFile(id), spec);
    fs.rmSync(path.join(dir, RUN_FILES.result), { force: true });
    const hasCheckpoint = fs.existsSync(path.join(dir, RUN_FILES.checkpoint));
    if (spec.model.family !== 'command' && !hasCheckpoint) fs.rmSync(path.join(dir, RUN_FILES.metrics), { force: true });
    const launch: ExperimentLaunch = { id, spec, dir, specFile: this.specFile(id), attempt: entry.attempts + 1, resuming: entry.attempts > 0, hasCheckpoint };
    this.launches.set(id, launch);
    this.getExecutor().start(launch);
  }

  /** The executor started `id`: the manifest says running, one more attempt. */
  private started(id: string, info: { pid?: number; slurm?: SlurmEntry }): void {
    const spec = this.specs.get(id)!;
    const entry = this.manifest.experiments[id];
    const resuming = entry.attempts > 0;
    const hasCheckpoint = this.launches.get(id)?.hasCheckpoint ?? fs.existsSync(path.join(experimentDir(this.runDir, id), RUN_FILES.checkpoint));
    Object.assign(entry, { status: 'running', startedAt: nowIso(), attempts: entry.attempts + 1 });
    if (info.pid !== undefined) entry.pid = info.pid;
    else delete entry.pid;
    if (info.slurm) entry.slurm = info.slurm;
    else delete entry.slurm;
    delete entry.endedAt;
    delete entry.reason;
    delete entry.finalLoss;
    this.saveManifest();
    this.write(
      `${this.prefix(id)} ${resuming ? 'resume' : 'start '} ${shortId(id)}  C=${fmtFlops(spec.budget)}  N=${fmtCount(spec.params)}  D=${fmtCount(spec.tokens)}  ${spec.sizeParam}=${spec.sizeValue}` +
        (Object.keys(spec.hyperparameters).length ? `  ${Object.entries(spec.hyperparameters).map(([k, v]) => `${k}=${String(v)}`).join(' ')}` : '') +
        `  seed ${spec.seed}${resuming ? ` (attempt ${entry.attempts}${hasCheckpoint || spec.model.family === 'command' ? ', from checkpoint' : ''})` : ''}`,
    );
  }

  private finish(id: string, out: ExperimentOutcome): void {
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
        (entry.status === 'completed' && entry.finalLoss !== undefined ? `  eval loss ${formatLoss(entry.finalLoss)}` : '') +
        (started !== undefined ? `  in ${fmtDuration(started)}` : '') +
        (entry.status === 'failed' && entry.reason ? `: ${entry.reason.split('\n').join('\n    ')}` : '') +
        (entry.status === 'stopped' && entry.reason && this.executor?.kind !== 'local' ? `: ${entry.reason}` : ''),
    );
  }
}

export async function runSweep(opts: RunSweepOptions): Promise<SweepOutcome> {
  return new SweepRunner(opts).run();
}
