/**
 * `flopsfit status`: the sweep's state from its manifest, with the live Slurm state of the
 * experiments handed to the cluster (one squeue call; nothing is written, a runner may hold the
 * sweep's lock).
 */
import type { Manifest, ManifestEntry } from '../../../../core/contracts';
import { onPath, parseQueue, slurmCommand, SQUEUE_FORMAT, type QueueRow } from './commands';

export interface StatusRow {
  id: string;
  status: ManifestEntry['status'];
  budget: number;
  params: number;
  jobId?: string;
  state?: string;
  reason?: string;
  node?: string;
  finalLoss?: number;
  note?: string;
}

export interface SweepStatus {
  rows: StatusRow[];
  /** why the live Slurm state could not be read (the manifest's last known states are shown) */
  slurmError?: string;
  live: boolean;
}

export async function sweepStatus(manifest: Manifest): Promise<SweepStatus> {
  const needLive = manifest.order.some((id) => manifest.experiments[id].status === 'running' && manifest.experiments[id].slurm);
  let rows: Map<string, QueueRow> | undefined;
  let slurmError: string | undefined;
  if (needLive) {
    if (!onPath('squeue')) slurmError = 'squeue is not on PATH';
    else {
      try {
        const name = `flopsfit-${manifest.sweep.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
        const out = await slurmCommand('squeue', ['--noheader', '--array', '--states=all', `--name=${name}`, `--format=${SQUEUE_FORMAT}`], { timeoutMs: 15_000 });
        rows = parseQueue(out.stdout);
      } catch (err) {
        slurmError = (err as Error).message;
      }
    }
  }
  const out: StatusRow[] = manifest.order.map((id) => {
    const e = manifest.experiments[id];
    const s = e.slurm;
    const row: StatusRow = { id, status: e.status, budget: e.budget, params: e.params };
    if (e.finalLoss !== undefined) row.finalLoss = e.finalLoss;
    if (s) {
      const live = e.status === 'running' ? rows?.get(`${s.arrayJobId}_${s.task}`) : undefined;
      row.jobId = live?.jobId || s.jobId || `${s.arrayJobId}_${s.task}`;
      row.state = live?.state ?? s.state;
      const reason = live ? (live.state === 'PENDING' && live.reason !== 'None' ? live.reason : undefined) : s.reason;
      if (reason) row.reason = reason;
      const node = live ? (live.node && live.node !== '(null)' && live.state !== 'PENDING' ? live.node : undefined) : s.node;
      if (node) row.node = node;
    }
    if (e.status !== 'completed' && e.reason) row.note = e.reason.split('\n')[0];
    return row;
  });
  return { rows: out, live: rows !== undefined, ...(slurmError ? { slurmError } : {}) };
}
