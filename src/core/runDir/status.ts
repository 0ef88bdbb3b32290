/**
 * One status vocabulary for a sweep and its experiments, derived from the run directory (manifest
 * and lock) in one place: the explorer, the status bar, the CodeLens, the results panel, the
 * commands and `flopsfit status` all call `deriveSweepStatus`.
 *
 * The runner is "alive" only when its lock's process still runs (`lockHolderAlive`: same host, pid
 * alive, same command line). A manifest that says `running` with no live runner is a crashed run
 * (kill -9, out of memory, reboot): the sweep is `interrupted` and resumable, and its experiments
 * that the manifest marks running are shown as stopped (they resume from their checkpoints).
 */
import type { Manifest, ManifestEntry, MetricsLine, RunStatus, RunnerLock } from '../contracts';

/** The sweep's state, as every view shows it. */
export type SweepStatus = 'idle' | 'running' | 'stopping' | 'interrupted' | 'resumable' | 'finished';

export const SWEEP_STATUS_LABEL: Record<SweepStatus, string> = {
  idle: 'not started',
  running: 'running',
  stopping: 'stopping',
  interrupted: 'interrupted — resumable',
  resumable: 'stopped — resumable',
  finished: 'finished',
};

export interface StatusCounts {
  total: number;
  queued: number;
  running: number;
  completed: number;
  failed: number;
  stopped: number;
}

export interface DerivedStatus {
  status: SweepStatus;
  label: string;
  /** a runner holds the lock and its process is alive */
  runnerAlive: boolean;
  counts: StatusCounts;
  /** whether Resume makes sense (something is left to run and no runner is alive) */
  resumable: boolean;
}

export interface RunState {
  manifest?: Manifest;
  lock?: RunnerLock;
  /** `lockHolderAlive(lock)`, computed by the caller (it looks at processes) */
  lockAlive: boolean;
}

/**
 * An experiment's status for display: the manifest's, except that an experiment the manifest marks
 * running while no runner is alive is `stopped` (interrupted; it resumes from its checkpoint).
 */
export function experimentStatus(entry: ManifestEntry | undefined, runnerAlive: boolean): RunStatus {
  if (!entry) return 'queued';
  if (entry.status === 'running' && !runnerAlive && !onCluster(entry)) return 'stopped';
  return entry.status;
}

/**
 * Handed to a Slurm cluster and, at the last poll, queued or running there: such an experiment
 * outlives its runner (`flopsfit run --detach`, a closed terminal), so without a runner it is still
 * running (`flopsfit run` or Resume re-attaches to it), not interrupted.
 */
export function onCluster(entry: ManifestEntry): boolean {
  return entry.status === 'running' && !!entry.slurm && entry.slurm.state !== 'LOST';
}

/**
 * The sweep's status. `ids`: the experiments of the current plan when it is known (an experiment
 * of the plan that the manifest does not have yet is queued); otherwise the manifest's own order.
 */
export function deriveSweepStatus(state: RunState, ids?: readonly string[]): DerivedStatus {
  const { manifest, lock } = state;
  const runnerAlive = !!lock && state.lockAlive;
  const list = ids ?? manifest?.order ?? [];
  const counts: StatusCounts = { total: list.length, queued: 0, running: 0, completed: 0, failed: 0, stopped: 0 };
  let started = false;
  for (const id of list) {
    const entry = manifest?.experiments[id];
    counts[experimentStatus(entry, runnerAlive)]++;
    if (entry && (entry.status !== 'queued' || entry.attempts > 0)) started = true;
  }
  let status: SweepStatus;
  const detachedOnCluster = !runnerAlive && !!manifest && Object.values(manifest.experiments).some(onCluster);
  if (runnerAlive) status = manifest?.state === 'stopping' ? 'stopping' : 'running';
  else if (!manifest) status = 'idle';
  else if (detachedOnCluster) status = 'running';
  else if (manifest.state === 'running' || manifest.state === 'stopping' || Object.values(manifest.experiments).some((e) => e.status === 'running')) {
    status = 'interrupted';
  } else if (counts.total > 0 && counts.completed === counts.total) status = 'finished';
  else status = started ? 'resumable' : 'idle';
  const left = counts.queued + counts.stopped + counts.running;
  // a sweep whose only unfinished experiments failed: resumable, but what is left is a retry
  const label = detachedOnCluster
    ? 'running on Slurm (detached: Resume follows it)'
    : status === 'resumable' && left === 0 && counts.failed > 0
      ? `incomplete — ${counts.failed} failed (retry them)`
      : SWEEP_STATUS_LABEL[status];
  return {
    status,
    label,
    runnerAlive,
    counts,
    resumable: !runnerAlive && (status === 'interrupted' || status === 'resumable' || detachedOnCluster) && left + counts.failed > 0,
  };
}

/**
 * The loss a running experiment shows (tree, status lines, runner progress): its latest training
 * loss, else its latest held-out loss — named, since a completed experiment shows its final eval loss.
 */
export function liveLoss(m: Pick<MetricsLine, 'trainLoss' | 'evalLoss'>): { kind: 'train' | 'eval'; value: number } | undefined {
  if (m.trainLoss !== undefined && Number.isFinite(m.trainLoss)) return { kind: 'train', value: m.trainLoss };
  if (m.evalLoss !== undefined && Number.isFinite(m.evalLoss)) return { kind: 'eval', value: m.evalLoss };
  return undefined;
}

/**
 * What a Slurm experiment is doing, in words, from its manifest entry's Slurm record: "pending
 * (Priority) · job 123_4", "running on node07 · job 123_4", "TIMEOUT · job 123_4"; undefined for
 * an experiment that is not on a cluster.
 */
export function clusterLine(entry: ManifestEntry | undefined): string | undefined {
  const sl = entry?.slurm;
  if (!sl) return undefined;
  const job = `job ${sl.jobId ?? `${sl.arrayJobId}_${sl.task}`}`;
  const state = sl.state ?? 'SUBMITTED';
  if (state === 'PENDING') return `pending${sl.reason && sl.reason !== 'None' ? ` (${sl.reason})` : ''} · ${job}`;
  if (state === 'RUNNING') return `running${sl.node ? ` on ${sl.node}` : ''} · ${job}`;
  return `${state === 'LOST' ? 'lost (no record: resumable)' : state === 'UNREACHABLE' ? 'controller not answering' : state.toLowerCase()} · ${job}`;
}
