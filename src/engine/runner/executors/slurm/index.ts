/**
 * The Slurm executor: one array job per submission, one task per experiment, followed through the
 * shared filesystem and one `squeue` call per poll. The experiments outlive the runner: closing the
 * terminal or the editor never stops them, and the next `flopsfit run` re-attaches to them.
 *
 * State of an experiment, in order of trust:
 *  1. its result.json (completed, whatever Slurm says);
 *  2. the wrapper's exit record (130/143: stopped at a checkpoint, other: failed with the log's tail);
 *  3. one `squeue` per poll for the whole sweep (PENDING with its reason, RUNNING on a node);
 *  4. a terminal Slurm state without an exit record (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, CANCELLED):
 *     stopped, resumable; gone from squeue: `sacct` when the cluster has accounting, else "lost"
 *     (stopped, resumable), never silently failed.
 * While the controller does not answer, the last known states stay and nothing is marked failed.
 *
 * Stop: the STOP marker, `scancel --state=PENDING`, then SIGTERM to the running wrappers (which
 * forward it to the trainers: checkpoint, exit 130/143), re-sent every 5 s, and a plain `scancel`
 * after the grace period.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExperimentSpec, ManifestEntry, SlurmEntry } from '../../../../core/contracts';
import { RUN_FILES } from '../../../../core/contracts';
import { writeJsonAtomicSync } from '../../../../core/atomic';
import { nowIso, readRunResult } from '../../../../core/manifest';
import type { z } from 'zod';
import type { SlurmConfig } from '../../../../core/config';
import { experimentCommand, type ExperimentCommand } from '../../command';
import type { Executor, ExecutorEvents, ExperimentLaunch, ExperimentOutcome, Recovery } from '../../executor';
import { fileSize, tailLines } from '../../files';
import { ExperimentFollower } from '../../follow';
import { shortId } from '../../format';
import { PlaceholderError } from '../../protocol';
import { ACTIVE_STATES, cleanJobEnv, parseQueue, parseSacct, parseSbatch, slurmCommand, SlurmCommandError, SQUEUE_FORMAT, type QueueRow } from './commands';
import { readTaskRecord, SUBMISSION_FILES, SubmitRecord, taskScript, wrapperScript, type TaskRecord } from './wrapper';

export { SlurmCommandError } from './commands';

/** The run.slurm settings (defaults applied). */
export type SlurmSettings = z.output<typeof SlurmConfig>;

/** Array tasks per submission (Slurm's default MaxArraySize is 1001). */
export const MAX_ARRAY_TASKS = 1000;

export interface SlurmExecutorOptions {
  runDir: string;
  /** the sweep's name (the jobs are named flopsfit-<sweep>) */
  sweep: string;
  settings: SlurmSettings;
  /** the array's concurrency limit (the %N of --array); default settings.arrayLimit */
  arrayLimit?: number;
  /** the bundled flopsfit.js the tasks run (`train`); must be readable on the compute nodes */
  script?: string;
  /** extra environment for the experiments */
  env?: Record<string, string>;
  /** milliseconds between squeue polls at first (default 2000; FLOPSFIT_SLURM_POLL_MS); backs off to 15 s after a minute */
  pollMs?: number;
  /** Slurm commands (default: sbatch, squeue, scancel, sacct from PATH) */
  commands?: Partial<Record<'sbatch' | 'squeue' | 'scancel' | 'sacct', string>>;
  /** seconds Slurm commands may take (default 30) */
  commandTimeoutSeconds?: number;
  /** seconds between progress lines (default 10) */
  progressIntervalSeconds?: number;
}

interface Tracked {
  id: string;
  spec: ExperimentSpec;
  slurm: SlurmEntry;
  follow: ExperimentFollower;
  /** polls in a row that found the job terminal or gone without an exit record */
  missing: number;
}

interface Pending {
  launch: ExperimentLaunch;
  cmd: ExperimentCommand;
}

interface Submission {
  id: string;
  dir: string;
  arrayJobId: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class SlurmExecutor implements Executor {
  readonly kind = 'slurm';
  readonly detachable = true;
  private readonly tracked = new Map<string, Tracked>();
  private pending: Pending[] = [];
  private stopping: false | 'graceful' | 'kill' = false;
  private stopAt = 0;
  private lastTerm = 0;
  private hardCancelled = false;
  private wake?: () => void;
  private polling = false;
  private lastPoll = 0;
  private lastSubmit = Date.now();
  private unreachable = false;
  private accounting: boolean | undefined;
  private queueCache?: { at: number; rows: Map<string, QueueRow> | null; error?: string };
  private readonly jobName: string;
  private readonly commands: Record<'sbatch' | 'squeue' | 'scancel' | 'sacct', string>;
  private actions: Promise<unknown> = Promise.resolve();
  /** while re-attaching: an outcome is returned to the runner instead of reported */
  private capture?: { outcome?: ExperimentOutcome };

  constructor(
    private readonly opts: SlurmExecutorOptions,
    private readonly events: ExecutorEvents,
  ) {
    this.jobName = `flopsfit-${opts.sweep.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
    this.commands = { sbatch: 'sbatch', squeue: 'squeue', scancel: 'scancel', sacct: 'sacct', ...opts.commands };
  }

  private get pollMs(): number {
    const base = this.opts.pollMs ?? (Number(process.env.FLOPSFIT_SLURM_POLL_MS) || 2000);
    return Date.now() - this.lastSubmit < 60_000 ? base : Math.max(base, 15_000);
  }

  private run(cmd: keyof SlurmExecutor['commands'], argv: string[]) {
    return slurmCommand(this.commands[cmd], argv, { timeoutMs: (this.opts.commandTimeoutSeconds ?? 30) * 1000 });
  }

  open(): void {}

  close(): void {
    // Slurm jobs outlive the runner by design: nothing to cancel here.
  }

  freeSlots(): number {
    return this.stopping ? 0 : Number.MAX_SAFE_INTEGER;
  }

  describeConcurrency(): string {
    const limit = this.opts.arrayLimit ?? this.opts.settings.arrayLimit;
    return limit ? `on Slurm, at most ${limit} of each array job running at once` : 'on Slurm, as many at once as the scheduler allows (set run.slurm.arrayLimit or --parallel to cap it)';
  }

  active(): number {
    return this.tracked.size + this.pending.length;
  }

  changed(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }

  private notify(): void {
    this.wake?.();
  }

  start(launch: ExperimentLaunch): void {
    let cmd: ExperimentCommand;
    try {
      cmd = experimentCommand({ ...launch, hasCheckpoint: false }, { runDir: this.opts.runDir, nodePath: this.opts.settings.node, script: this.opts.script });
    } catch (err) {
      const reason = err instanceof PlaceholderError ? err.message : `could not prepare the command: ${(err as Error).message}`;
      this.events.finished(launch.id, { status: 'failed', reason });
      return;
    }
    this.pending.push({ launch, cmd });
  }

  /** Submits what `start` buffered: one array job per MAX_ARRAY_TASKS experiments. */
  async flush(): Promise<void> {
    if (this.pending.length) await this.adoptUnrecorded();
    while (this.pending.length) {
      const chunk = this.pending.slice(0, MAX_ARRAY_TASKS);
      await this.submit(chunk);
      this.pending = this.pending.slice(chunk.length);
    }
  }

  private sbatchArgv(sub: string, n: number): string[] {
    const s = this.opts.settings;
    const limit = this.opts.arrayLimit ?? s.arrayLimit;
    const argv = [
      '--parsable',
      `--job-name=${this.jobName}`,
      `--array=0-${n - 1}${limit && limit < n ? `%${limit}` : ''}`,
      `--output=${path.join(sub, SUBMISSION_FILES.logsDir, '%A_%a.out')}`,
      `--error=${path.join(sub, SUBMISSION_FILES.logsDir, '%A_%a.err')}`,
      '--open-mode=append',
      `--chdir=${this.opts.runDir}`,
      `--comment=${path.basename(sub)}`,
      '--ntasks=1',
      `--cpus-per-task=${s.cpus}`,
      s.requeue > 0 ? '--requeue' : '--no-requeue',
    ];
    if (s.partition) argv.push(`--partition=${s.partition}`);
    if (s.account) argv.push(`--account=${s.account}`);
    if (s.qos) argv.push(`--qos=${s.qos}`);
    if (s.time) argv.push(`--time=${s.time}`);
    if (s.memory) argv.push(`--mem=${s.memory}`);
    if (s.gpus > 0) argv.push(`--gpus-per-task=${s.gpus}`);
    if (s.signalSeconds > 0) argv.push(`--signal=B:USR2@${s.signalSeconds}`);
    argv.push(...s.sbatchArgs);
    argv.push(path.join(sub, SUBMISSION_FILES.wrapper), sub);
    return argv;
  }

  private async submit(chunk: Pending[]): Promise<void> {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    const subId = `${stamp}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
    const sub = path.join(this.opts.runDir, 'slurm', subId);
    for (const d of [SUBMISSION_FILES.tasksDir, SUBMISSION_FILES.logsDir, SUBMISSION_FILES.statusDir]) fs.mkdirSync(path.join(sub, d), { recursive: true }); // sbatch does not create them
    const s = this.opts.settings;
    const python = { FLOPSFIT_PYTHON: s.python };
    const offsets: number[] = [];
    chunk.forEach(({ launch, cmd }, i) => {
      const builtin = launch.spec.model.family !== 'command';
      fs.writeFileSync(
        path.join(sub, SUBMISSION_FILES.tasksDir, `${i}.sh`),
        taskScript({ id: launch.id, dir: launch.dir, attempt: launch.attempt, cmd, builtin, setup: s.setup, env: { ...python, ...(this.opts.env ?? {}) } }),
      );
      const log = path.join(launch.dir, RUN_FILES.log);
      fs.appendFileSync(log, `=== attempt ${launch.attempt} at ${nowIso()} (Slurm submission ${subId}, task ${i}): ${[cmd.command, ...cmd.args].join(' ')}\n`);
      offsets.push(fileSize(log));
    });
    const ids = chunk.map((p) => p.launch.id);
    writeJsonAtomicSync(path.join(sub, SUBMISSION_FILES.tasks), ids);
    fs.writeFileSync(path.join(sub, SUBMISSION_FILES.wrapper), wrapperScript(s.requeue), { mode: 0o755 });
    const argv = this.sbatchArgv(sub, chunk.length);
    const record: SubmitRecord = { submission: subId, state: 'submitting', argv, experiments: ids, at: nowIso() };
    writeJsonAtomicSync(path.join(sub, SUBMISSION_FILES.submit), record);
    let jobId: string | undefined;
    try {
      const out = await this.run('sbatch', argv);
      jobId = parseSbatch(out.stdout);
      if (!jobId) throw new SlurmCommandError(`sbatch printed no job id: ${JSON.stringify(out.stdout.trim())} ${out.stderr.trim()}`);
      if (out.stderr.trim()) this.events.write(`flopsfit: sbatch: ${out.stderr.trim()}`);
    } catch (err) {
      const message = (err as Error).message;
      writeJsonAtomicSync(path.join(sub, SUBMISSION_FILES.submit), { ...record, state: 'failed', error: message });
      throw new SlurmCommandError(`could not submit ${ids.length} experiment${ids.length === 1 ? '' : 's'} to Slurm: ${message}\n(nothing was submitted; the submission's files are in ${sub})`);
    }
    writeJsonAtomicSync(path.join(sub, SUBMISSION_FILES.submit), { ...record, state: 'submitted', arrayJobId: jobId });
    this.lastSubmit = Date.now();
    this.events.batch(() => {
      chunk.forEach(({ launch }, i) => {
        const slurm: SlurmEntry = { submission: subId, arrayJobId: jobId!, task: i, jobId: `${jobId}_${i}`, state: 'PENDING', polledAt: nowIso(), logOffset: offsets[i] };
        this.events.started(launch.id, { slurm });
        this.track(launch.id, launch.spec, slurm);
      });
    });
    this.events.write(`flopsfit: submitted ${ids.length} experiment${ids.length === 1 ? '' : 's'} as Slurm array job ${jobId} (${path.relative(this.opts.runDir, sub)})`);
    // a stop that came while sbatch ran
    if (this.stopping) this.signalSubmission({ id: subId, dir: sub, arrayJobId: jobId }, this.stopping);
  }

  /**
   * A runner killed between sbatch and its manifest write leaves live tasks the manifest does not
   * know (its experiments look queued). They are found by their comment (the submission id) and
   * followed instead of being submitted a second time.
   */
  private async adoptUnrecorded(): Promise<void> {
    let rows: Map<string, QueueRow> | null;
    try {
      rows = await this.queue(0);
    } catch {
      return; // no squeue: sbatch will say so
    }
    if (!rows) return;
    const byId = new Map(this.pending.map((p) => [p.launch.id, p]));
    const tasksOf = new Map<string, string[] | undefined>();
    const adopted = new Set<string>();
    this.events.batch(() => {
      for (const row of rows.values()) {
        if (!row.comment || !ACTIVE_STATES.has(row.state)) continue;
        if (!tasksOf.has(row.comment)) {
          try {
            tasksOf.set(row.comment, JSON.parse(fs.readFileSync(path.join(this.opts.runDir, 'slurm', row.comment, SUBMISSION_FILES.tasks), 'utf8')) as string[]);
          } catch {
            tasksOf.set(row.comment, undefined); // not a submission of this run directory
          }
        }
        const id = tasksOf.get(row.comment)?.[row.task];
        const p = id !== undefined ? byId.get(id) : undefined;
        if (!p || adopted.has(p.launch.id)) continue;
        const log = path.join(p.launch.dir, RUN_FILES.log);
        let logOffset = 0;
        try {
          const text = fs.readFileSync(log, 'utf8');
          const at = text.lastIndexOf(`(Slurm submission ${row.comment}, task ${row.task})`);
          if (at >= 0) logOffset = Buffer.byteLength(text.slice(0, text.indexOf('\n', at) + 1));
        } catch {
          /* no log yet */
        }
        const slurm: SlurmEntry = { submission: row.comment, arrayJobId: row.arrayJobId, task: row.task, jobId: row.jobId, state: row.state, polledAt: nowIso(), logOffset };
        this.events.started(p.launch.id, { slurm });
        this.track(p.launch.id, p.launch.spec, slurm);
        adopted.add(p.launch.id);
      }
    });
    if (adopted.size) {
      this.pending = this.pending.filter((p) => !adopted.has(p.launch.id));
      this.events.write(`flopsfit: ${adopted.size} experiment${adopted.size === 1 ? ' was' : 's were'} already on Slurm without a manifest record (a runner ended mid-submission); following ${adopted.size === 1 ? 'it' : 'them'}, not resubmitting`);
    }
  }

  private track(id: string, spec: ExperimentSpec, slurm: SlurmEntry): Tracked {
    const follow = new ExperimentFollower({
      runDir: this.opts.runDir,
      id,
      spec,
      logOffset: slurm.logOffset ?? 0,
      write: this.events.write,
      prefix: this.events.prefix,
      abort: () => void this.run('scancel', ['--batch', '--signal=TERM', `${slurm.arrayJobId}_${slurm.task}`]).catch(() => {}),
    });
    follow.stopRequested = this.stopping !== false;
    follow.killed = this.stopping === 'kill';
    const t: Tracked = { id, spec, slurm: { ...slurm }, follow, missing: 0 };
    this.tracked.set(id, t);
    return t;
  }

  private subDir(slurm: SlurmEntry): string {
    return path.join(this.opts.runDir, 'slurm', slurm.submission);
  }

  private submissions(): Submission[] {
    const seen = new Map<string, Submission>();
    for (const t of this.tracked.values()) seen.set(t.slurm.arrayJobId, { id: t.slurm.submission, dir: this.subDir(t.slurm), arrayJobId: t.slurm.arrayJobId });
    return [...seen.values()];
  }

  // -------------------------------------------------------------------------------------------
  // Stop

  stop(mode: 'graceful' | 'kill'): void {
    this.stopping = mode;
    this.stopAt = Date.now();
    for (const t of this.tracked.values()) {
      t.follow.stopRequested = true;
      if (mode === 'kill') t.follow.killed = true;
    }
    for (const sub of this.submissions()) this.signalSubmission(sub, mode);
    this.lastTerm = Date.now();
    this.notify();
  }

  private enqueue(fn: () => Promise<unknown>): void {
    this.actions = this.actions.then(fn).catch((err) => this.events.write(`flopsfit: warning: ${(err as Error).message}`));
  }

  private signalSubmission(sub: Submission, mode: 'graceful' | 'kill'): void {
    try {
      fs.writeFileSync(path.join(sub.dir, SUBMISSION_FILES.stop), nowIso() + '\n');
    } catch (err) {
      this.events.write(`flopsfit: warning: could not write the stop marker of ${sub.id}: ${(err as Error).message}`);
    }
    if (mode === 'kill') {
      this.enqueue(() => this.run('scancel', [sub.arrayJobId]));
      return;
    }
    // Pending tasks first: a signal to an array with pending tasks would hit them as they start.
    this.enqueue(() => this.run('scancel', ['--state=PENDING', sub.arrayJobId]));
    this.enqueue(() => this.run('scancel', ['--batch', '--signal=TERM', '--state=RUNNING', sub.arrayJobId]));
  }

  /** While stopping: re-send SIGTERM every 5 s (a task that had not started its script lost it), hard cancel after the grace period. */
  private keepStopping(): void {
    if (this.stopping !== 'graceful' || !this.tracked.size) return;
    const now = Date.now();
    if (!this.hardCancelled && now - this.stopAt > this.opts.settings.stopGraceSeconds * 1000) {
      this.hardCancelled = true;
      for (const t of this.tracked.values()) t.follow.killed = true;
      this.events.write(`flopsfit: the stop grace period (${this.opts.settings.stopGraceSeconds} s) is over: cancelling the remaining Slurm tasks`);
      for (const sub of this.submissions()) this.enqueue(() => this.run('scancel', [sub.arrayJobId]));
    } else if (!this.hardCancelled && now - this.lastTerm > 5000) {
      this.lastTerm = now;
      for (const sub of this.submissions()) {
        this.enqueue(() => this.run('scancel', ['--state=PENDING', sub.arrayJobId]));
        this.enqueue(() => this.run('scancel', ['--batch', '--signal=TERM', '--state=RUNNING', sub.arrayJobId]));
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Following

  tick(): void {
    const every = (this.opts.progressIntervalSeconds ?? 10) * 1000;
    const now = Date.now();
    for (const t of this.tracked.values()) if (t.slurm.state === 'RUNNING') t.follow.progress(every, now);
    if (this.polling || now - this.lastPoll < (this.stopping ? Math.min(this.pollMs, 1000) : this.pollMs)) return;
    this.polling = true;
    this.lastPoll = now;
    void this.poll()
      .catch((err) => this.events.write(`flopsfit: warning: polling Slurm failed: ${(err as Error).message}`))
      .finally(() => {
        this.polling = false;
        this.lastPoll = Date.now();
      });
  }

  /** One squeue call for the sweep (null: the controller did not answer). Cached for `maxAgeMs`. */
  async queue(maxAgeMs = 0): Promise<Map<string, QueueRow> | null> {
    if (this.queueCache && Date.now() - this.queueCache.at <= maxAgeMs) return this.queueCache.rows;
    let rows: Map<string, QueueRow> | null;
    let error: string | undefined;
    try {
      const out = await this.run('squeue', ['--noheader', '--array', '--states=all', `--name=${this.jobName}`, `--format=${SQUEUE_FORMAT}`]);
      rows = parseQueue(out.stdout);
    } catch (err) {
      if (err instanceof SlurmCommandError && err.missing) throw err;
      rows = null;
      error = (err as Error).message;
    }
    this.queueCache = { at: Date.now(), rows, error };
    if (rows === null && !this.unreachable) {
      this.unreachable = true;
      this.events.write(`flopsfit: the Slurm controller does not answer (${error}); keeping the last known states and retrying`);
    } else if (rows !== null && this.unreachable) {
      this.unreachable = false;
      this.events.write('flopsfit: the Slurm controller answers again');
    }
    return rows;
  }

  /** One poll: squeue once, then each followed experiment's files. */
  async poll(): Promise<void> {
    if (!this.tracked.size) return;
    const rows = await this.queue();
    let gone: Tracked[] = [];
    this.events.batch(() => {
      for (const t of [...this.tracked.values()]) {
        const verdict = this.assess(t, rows);
        if (verdict === 'gone') gone.push(t);
      }
    });
    if (gone.length) {
      const acct = await this.sacct(gone);
      this.events.batch(() => {
        for (const t of gone) this.lost(t, acct?.get(`${t.slurm.arrayJobId}_${t.slurm.task}`));
      });
      gone = [];
    }
    this.events.save();
    this.keepStopping();
  }

  /** Decides one experiment from its files and the queue; 'gone' when only sacct can say more. */
  private assess(t: Tracked, rows: Map<string, QueueRow> | null): 'running' | 'finished' | 'gone' {
    const rec = readTaskRecord(this.subDir(t.slurm), t.slurm.task);
    const key = `${t.slurm.arrayJobId}_${t.slurm.task}`;
    const row = rows?.get(key);
    if (row) {
      t.slurm.jobId = row.jobId || t.slurm.jobId;
      t.slurm.state = row.state;
      if (row.state === 'PENDING' && row.reason && row.reason !== 'None') t.slurm.reason = row.reason;
      else delete t.slurm.reason;
      if (row.node && row.node !== '(null)' && row.state !== 'PENDING') t.slurm.node = row.node;
    } else if (rows === null) {
      // the controller does not answer: keep the last state
    }
    if (rec.start?.host && !t.slurm.node) t.slurm.node = rec.start.host;
    t.slurm.polledAt = nowIso();
    // 1. the result, 2. the wrapper's exit record
    if (rec.exit) {
      this.finishTracked(t, rec.exit.code ?? 1, rec);
      return 'finished';
    }
    const res = readRunResult(this.opts.runDir, t.id);
    if (res.ok && res.value.status === 'completed' && t.spec.model.family !== 'command') {
      this.finishTracked(t, 0, rec);
      return 'finished';
    }
    this.events.annotate(t.id, { slurm: { ...t.slurm } });
    if (rows === null) return 'running';
    // 3. the queue
    if (row && ACTIVE_STATES.has(row.state)) {
      t.missing = 0;
      return 'running';
    }
    // 4. terminal without an exit record (or gone): give the wrapper's record one more poll to appear
    if (++t.missing < 2) return 'running';
    if (row) {
      this.endWithoutRecord(t, row.state, rec);
      return 'finished';
    }
    return 'gone';
  }

  private finishTracked(t: Tracked, code: number, rec: TaskRecord): void {
    t.follow.poll(true);
    const out = t.follow.outcome(code, null);
    if (out.status === 'stopped' && rec.signals.includes('USR2') && !t.follow.stopRequested) {
      out.reason = 'time limit: stopped at its checkpoint ahead of the limit (resumable)';
      t.slurm.state = 'TIMEOUT';
    } else if (out.status === 'stopped' && rec.exit?.note) {
      out.reason = t.follow.stopRequested ? 'stopped by the user before it started' : `stopped: ${rec.exit.note}`;
      t.slurm.state = 'CANCELLED';
    } else {
      t.slurm.state = out.status === 'completed' ? 'COMPLETED' : out.status === 'stopped' ? 'STOPPED' : 'FAILED';
    }
    delete t.slurm.reason;
    this.end(t, out);
  }

  private endWithoutRecord(t: Tracked, state: string, rec: TaskRecord): void {
    t.follow.poll(true);
    const errTail = tailLines(path.join(this.subDir(t.slurm), SUBMISSION_FILES.logsDir, `${t.slurm.arrayJobId}_${t.slurm.task}.err`), 3).join('\n');
    const oom = state === 'OUT_OF_MEMORY' || /oom-kill|exceeded memory limit/i.test(errTail);
    const reason = !rec.start
      ? t.follow.stopRequested
        ? 'stopped by the user before it started'
        : `the Slurm job ended (${state}) before the experiment started${errTail ? `: ${errTail}` : ''}`
      : oom
        ? 'Slurm: out of memory (resumable from the last checkpoint; raise run.slurm.memory)'
        : state === 'TIMEOUT'
          ? 'Slurm: time limit reached (resumable from the last checkpoint)'
          : `Slurm: ${state} without an exit record (resumable from the last checkpoint)`;
    t.slurm.state = oom ? 'OUT_OF_MEMORY' : state;
    this.end(t, { status: 'stopped', reason });
  }

  private lost(t: Tracked, acct: { state: string } | undefined): void {
    const rec = readTaskRecord(this.subDir(t.slurm), t.slurm.task);
    if (rec.exit) return this.finishTracked(t, rec.exit.code ?? 1, rec);
    if (acct && !ACTIVE_STATES.has(acct.state)) return this.endWithoutRecord(t, acct.state, rec);
    if (acct) return; // sacct says it is alive after all
    t.slurm.state = 'LOST';
    this.end(t, {
      status: 'stopped',
      reason: rec.start
        ? 'lost: the Slurm job vanished without an exit record (resumable from the last checkpoint)'
        : t.follow.stopRequested
          ? 'stopped by the user before it started'
          : 'lost: the Slurm job vanished before it started (resumable)',
    });
  }

  private end(t: Tracked, out: ExperimentOutcome): void {
    this.tracked.delete(t.id);
    if (this.capture) {
      this.capture.outcome = out;
      return;
    }
    this.events.annotate(t.id, { slurm: { ...t.slurm, polledAt: nowIso() } });
    this.events.finished(t.id, out);
    this.notify();
  }

  /** sacct for jobs squeue no longer shows (undefined: the cluster has no accounting). */
  private async sacct(ts: Tracked[]): Promise<Map<string, { state: string; node: string; exit: string }> | undefined> {
    if (this.accounting === false) return undefined;
    const jobs = [...new Set(ts.map((t) => t.slurm.arrayJobId))];
    try {
      const out = await this.run('sacct', ['-X', '-P', '--noheader', '--format=JobID,State,NodeList,ExitCode', '-j', jobs.join(',')]);
      this.accounting = true;
      return parseSacct(out.stdout);
    } catch (err) {
      if (/accounting storage is disabled|not found on PATH/i.test((err as Error).message)) this.accounting = false;
      return undefined;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Re-attaching

  async recoverInterrupted(id: string, entry: ManifestEntry, spec: ExperimentSpec): Promise<Recovery> {
    const slurm = entry.slurm;
    if (!slurm) return; // a local run that was interrupted: nothing on the cluster
    const rows = await this.queue(5000);
    const t = this.track(id, spec, slurm);
    const capture: { outcome?: ExperimentOutcome } = {};
    this.capture = capture;
    t.missing = 1; // a job that ended while no runner watched is decided now
    try {
      const verdict = this.assess(t, rows);
      if (verdict === 'gone') {
        const acct = await this.sacct([t]);
        this.lost(t, acct?.get(`${slurm.arrayJobId}_${slurm.task}`));
      }
    } finally {
      this.capture = undefined;
      t.missing = 0;
    }
    if (capture.outcome) {
      this.tracked.delete(id);
      entry.slurm = { ...t.slurm };
      return { outcome: capture.outcome };
    }
    if (rows === null) this.events.write(`flopsfit: ${shortId(id)}: Slurm does not answer; following job ${slurm.jobId ?? slurm.arrayJobId} with its last known state (${slurm.state ?? '?'})`);
    return { attached: true };
  }
}

/** Polls until `cond` holds (for tests and the benchmark). */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 200): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await cond()) return true;
    await sleep(stepMs);
  }
  return cond();
}

export { cleanJobEnv };
