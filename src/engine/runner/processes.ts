/** Process probes for the local executor (Linux /proc where available, signals to process groups). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { ExperimentSpec } from '../../core/contracts';
import { pidAlive } from '../../core/manifest';

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
    else cpuOnly &&= s.training.backend === 'wasm' || s.training.backend === 'cpu';
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
