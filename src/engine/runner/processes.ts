/** Process probes for the local executor (Linux /proc where available, signals to process groups). */
import * as fs from 'node:fs';
import { pidAlive } from '../../core/manifest';

/** One home for the default parallelism (src/core/plan/parallelism): the plan's estimate assumes the same. */
export { defaultParallelism as defaultParallel } from '../../core/plan/parallelism';

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

/** One home for this probe: the extension's Stop Experiment uses it too. */
export { isExperimentProcess } from '../../core/manifest';

/** Signals a process group (falls back to the single process). */
export function signalGroup(pid: number, sig: NodeJS.Signals): void {
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

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (!processRunning(pid)) return true;
    await sleep(100);
  }
  return !processRunning(pid);
}
