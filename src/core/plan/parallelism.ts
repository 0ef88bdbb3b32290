/**
 * How many experiments run at once when neither `run.parallel` nor `--parallel` says: one home for
 * the planner's time estimate and the runner's scheduling, so the estimate assumes the parallelism
 * the runner will use.
 *
 * One per CPU core for the single-threaded CPU backends (wasm, cpu, and `auto` where no GPU is
 * likely); one for a GPU, for tfjs-node (it uses every core itself) and for command trainers
 * (their own threading is unknown).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

/** What the decision depends on: an ExperimentSpec has it, and so does a config. */
export interface ParallelTarget {
  model: { family: string };
  training: { backend: string };
}

/** The machine the experiments run on. */
export interface Host {
  cores: number;
  /** whether `backend: auto` will probably pick a GPU here */
  gpuLikely(): boolean;
}

export function cpuCores(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, n || 1);
}

/** Whether `backend: auto` will probably train on a GPU here (a GPU library and a device). */
export function gpuLikely(): boolean {
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

let cachedGpu: boolean | undefined;
export const localHost: Host = {
  get cores() {
    return cpuCores();
  },
  gpuLikely() {
    return (cachedGpu ??= gpuLikely());
  },
};

/** The default number of experiments at once for these experiments (or this config) on `host`. */
export function defaultParallelism(targets: readonly ParallelTarget[], host: Host = localHost): number {
  let cpuOnly = targets.length > 0;
  for (const t of targets) {
    if (!cpuOnly) break;
    if (t.model.family === 'command') cpuOnly = false;
    else if (t.training.backend === 'auto') cpuOnly = !host.gpuLikely();
    else cpuOnly = t.training.backend === 'wasm' || t.training.backend === 'cpu';
  }
  return cpuOnly ? Math.max(1, host.cores) : 1;
}
