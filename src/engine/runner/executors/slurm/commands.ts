/**
 * Talking to Slurm: its own command-line tools (sbatch, squeue, scancel, sacct) with a clean
 * environment, parsed from their stable `--parsable`/`--format` output (22.05's JSON is buggy).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export class SlurmCommandError extends Error {
  constructor(
    message: string,
    /** the command was not found on PATH */
    readonly missing = false,
  ) {
    super(message);
  }
}

/**
 * The environment Slurm commands (and, through sbatch's default --export=ALL, the jobs) get: this
 * process's, without what belongs to an editor host (VS Code, Electron) or to this Node process.
 */
export function cleanJobEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (/^(VSCODE_|ELECTRON_)/.test(k) || k === 'NODE_OPTIONS' || k === 'NODE_CHANNEL_FD' || /^FLOPSFIT_(EXPERIMENT_ID|RUN_DIR|TOKENS|SEED|RESUME)$/.test(k)) continue;
    out[k] = v;
  }
  return out;
}

/** Whether `cmd` is an executable file on PATH. */
export function onPath(cmd: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (cmd.includes('/')) return isExecutable(cmd);
  return (env.PATH ?? '').split(path.delimiter).some((d) => d && isExecutable(path.join(d, cmd)));
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export interface SlurmRun {
  stdout: string;
  stderr: string;
}

/** Runs a Slurm command; failures become SlurmCommandError with Slurm's own message. */
export function slurmCommand(cmd: string, argv: readonly string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<SlurmRun> {
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { env: opts.env ?? cleanJobEnv(), timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve({ stdout, stderr });
      const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
      if (e.code === 'ENOENT') return reject(new SlurmCommandError(`${cmd} was not found on PATH: run FlopsFit on a Slurm login node (or put the Slurm client commands on PATH)`, true));
      const msg = String(stderr || '').trim() || String(stdout || '').trim() || e.message;
      if (e.killed) return reject(new SlurmCommandError(`${cmd} did not answer within ${Math.round((opts.timeoutMs ?? 30_000) / 1000)} s${msg ? `: ${msg}` : ''}`));
      reject(new SlurmCommandError(`${cmd} failed (exit ${String(e.code)}): ${msg}`));
    });
  });
}

/** One array task as squeue shows it. */
export interface QueueRow {
  arrayJobId: string;
  task: number;
  jobId: string;
  state: string;
  reason: string;
  node: string;
  /** the job's comment: FlopsFit sets it to the submission id */
  comment: string;
}

export const SQUEUE_FORMAT = '%F|%K|%A|%T|%r|%N|%k';

/** Parses `squeue --noheader --array --format=%F|%K|%A|%T|%r|%N|%k` (rows without a task index are skipped). */
export function parseQueue(stdout: string): Map<string, QueueRow> {
  const map = new Map<string, QueueRow>();
  for (const line of stdout.split('\n')) {
    const [arrayJobId, task, jobId, state, reason, node, comment] = line.trim().split('|');
    if (!state || !/^\d+$/.test(task ?? '')) continue;
    map.set(`${arrayJobId}_${task}`, { arrayJobId, task: Number(task), jobId, state, reason: reason ?? '', node: node ?? '', comment: comment ?? '' });
  }
  return map;
}

/** Slurm states of a job that is still (or again) in the queue or running. */
export const ACTIVE_STATES = new Set([
  'PENDING',
  'CONFIGURING',
  'RUNNING',
  'COMPLETING',
  'REQUEUED',
  'REQUEUE_HOLD',
  'REQUEUE_FED',
  'RESIZING',
  'SUSPENDED',
  'STAGE_OUT',
  'SIGNALING',
  'RESV_DEL_HOLD',
  'PREEMPTED',
]);

/** The job id sbatch --parsable printed ("<id>" or "<id>;<cluster>"). */
export function parseSbatch(stdout: string): string | undefined {
  return /^(\d+)(?:;\S+)?\s*$/m.exec(stdout)?.[1];
}

/** Parses `sacct -X -P --noheader --format=JobID,State,NodeList,ExitCode`: "<arrayJob>_<task>" → state. */
export function parseSacct(stdout: string): Map<string, { state: string; node: string; exit: string }> {
  const map = new Map<string, { state: string; node: string; exit: string }>();
  for (const line of stdout.split('\n')) {
    const [id, state, node, exit] = line.trim().split('|');
    if (!id || !state || !/^\d+_\d+$/.test(id)) continue;
    map.set(id, { state: state.split(' ')[0], node: node ?? '', exit: exit ?? '' });
  }
  return map;
}
