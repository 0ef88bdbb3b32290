/**
 * libtensorflow through `@tensorflow/tfjs-node-gpu` (CUDA) or `@tensorflow/tfjs-node` (CPU), both
 * optional dependencies whose install downloads libtensorflow: on a machine without internet the
 * install fails, npm drops the package, and `require` throws MODULE_NOT_FOUND.
 *
 * tfjs-node(-gpu) 4.22 ships libtensorflow 2.9.1, built for CUDA 11.2 and cuDNN 8.1. With other
 * CUDA libraries it loads, logs "Could not load dynamic library 'libcudart.so.11.0'" and quietly
 * runs on the CPU, so after loading we ask the backend whether it really uses a GPU device
 * (NodeJSKernelBackend.isUsingGpuDevice) instead of trusting the package name.
 *
 * Both packages register the same tfjs backend name, `tensorflow`; once tfjs-node-gpu is loaded
 * it also serves the CPU `tensorflow` backend (its libtensorflow runs CPU kernels too).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { classifyBackendError, type FailureKind } from './smoke';

export type TfjsNodeModule = 'tfjs-node-gpu' | 'tfjs-node';

const PACKAGE: Record<TfjsNodeModule, string> = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  'tfjs-node': '@tensorflow/tfjs-node',
};

export interface NvidiaGpu {
  index: number;
  name: string;
  memoryMiB?: number;
  driver?: string;
}

export interface GpuDetection {
  gpus: NvidiaGpu[];
  /** why no GPU is visible, when none is */
  reason?: string;
}

export interface TfjsNodeDetection {
  /** the installed package auto should use (tfjs-node-gpu preferred) */
  module?: TfjsNodeModule;
  /** every installed one */
  installed: TfjsNodeModule[];
  /** the first visible NVIDIA GPU, described ("NVIDIA H100 80GB HBM3, 81559 MiB") */
  gpu?: string;
  /** why there is no module or no GPU */
  reason?: string;
}

/** Hooks for tests. */
export interface DetectOptions {
  env?: NodeJS.ProcessEnv;
  /** resolves a package or throws (default require.resolve) */
  resolve?: (id: string) => string;
  /** runs nvidia-smi's query, returning stdout, or throws (default: execFileSync, 10 s) */
  nvidiaSmi?: () => string;
  /** reads /proc/driver/nvidia/gpus/<bus id>/information files (default: the real ones) */
  procGpus?: () => string[];
}

/** Parses `nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(csv: string): NvidiaGpu[] {
  const gpus: NvidiaGpu[] = [];
  for (const line of csv.split(/\r?\n/)) {
    const cols = line.split(',').map((c) => c.trim());
    if (cols.length < 2 || !/^\d+$/.test(cols[0])) continue;
    const mem = Number(cols[2]);
    gpus.push({
      index: Number(cols[0]),
      name: cols[1],
      memoryMiB: Number.isFinite(mem) && cols[2] !== '' ? mem : undefined,
      driver: cols[3] || undefined,
    });
  }
  return gpus;
}

/** Applies CUDA_VISIBLE_DEVICES (indices; "" or "-1" hides every GPU; UUIDs are not resolved here). */
export function visibleGpus(gpus: NvidiaGpu[], env: NodeJS.ProcessEnv): NvidiaGpu[] {
  const v = env.CUDA_VISIBLE_DEVICES;
  if (v === undefined) return gpus;
  const ids = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0 || ids[0] === '-1' || ids[0].toLowerCase() === 'nodevfiles') return [];
  if (!ids.every((id) => /^\d+$/.test(id))) return gpus; // GPU-<uuid> / MIG ids: trust the driver
  const out: NvidiaGpu[] = [];
  for (const id of ids) {
    const g = gpus.find((x) => x.index === Number(id));
    if (!g) break; // CUDA stops at the first invalid index
    out.push(g);
  }
  return out;
}

export function describeGpu(g: NvidiaGpu): string {
  return `${g.name}${g.memoryMiB ? `, ${g.memoryMiB} MiB` : ''}${g.driver ? `, driver ${g.driver}` : ''}`;
}

function defaultNvidiaSmi(): string {
  return execFileSync('nvidia-smi', ['--query-gpu=index,name,memory.total,driver_version', '--format=csv,noheader,nounits'], {
    encoding: 'utf8',
    timeout: 10_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function defaultProcGpus(): string[] {
  const dir = '/proc/driver/nvidia/gpus';
  try {
    return fs.readdirSync(dir).map((d) => fs.readFileSync(`${dir}/${d}/information`, 'utf8'));
  } catch {
    return [];
  }
}

/** NVIDIA GPUs this process may use: nvidia-smi, else the driver's /proc files. */
export function detectNvidiaGpus(options: DetectOptions = {}): GpuDetection {
  const env = options.env ?? process.env;
  let gpus: NvidiaGpu[] = [];
  let smiError: string | undefined;
  try {
    gpus = parseNvidiaSmi((options.nvidiaSmi ?? defaultNvidiaSmi)());
  } catch (err) {
    const e = err as { code?: string; stderr?: unknown; message?: string };
    smiError = e.code === 'ENOENT' ? 'nvidia-smi not found' : `nvidia-smi failed: ${String(e.stderr || e.message || err).split('\n')[0].trim()}`;
  }
  if (gpus.length === 0) {
    const infos = (options.procGpus ?? defaultProcGpus)();
    infos.forEach((text, index) => {
      const m = /^Model:\s*(.+)$/m.exec(text);
      if (m) gpus.push({ index, name: m[1].trim() });
    });
  }
  if (gpus.length === 0) {
    return { gpus: [], reason: `no NVIDIA GPU found (${smiError ?? 'nvidia-smi lists none'}; no /proc/driver/nvidia/gpus)` };
  }
  const visible = visibleGpus(gpus, env);
  if (visible.length === 0) return { gpus: [], reason: `CUDA_VISIBLE_DEVICES=${JSON.stringify(env.CUDA_VISIBLE_DEVICES)} hides all ${gpus.length} GPU(s)` };
  return { gpus: visible };
}

/** Which tfjs-node package is installed, and whether a GPU is visible for tfjs-node-gpu. */
export function detectTfjsNode(options: DetectOptions = {}): TfjsNodeDetection {
  const resolve = options.resolve ?? ((id: string) => require.resolve(id));
  const installed = (Object.keys(PACKAGE) as TfjsNodeModule[]).filter((m) => {
    try {
      resolve(PACKAGE[m]);
      return true;
    } catch {
      return false;
    }
  });
  if (installed.length === 0) {
    return {
      installed,
      reason: 'neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed (their install downloads libtensorflow, so it needs internet)',
    };
  }
  const module = installed[0];
  if (module !== 'tfjs-node-gpu') return { module, installed };
  const det = detectNvidiaGpus(options);
  if (det.gpus.length === 0) return { module, installed, reason: det.reason };
  return { module, installed, gpu: describeGpu(det.gpus[0]) };
}

export type TfjsNodeInit = { ok: true; device: string; module: TfjsNodeModule } | { ok: false; kind: FailureKind; reason: string };

let loaded: TfjsNodeModule | undefined;

function optionalRequire(name: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(name);
}

interface NodeBackendLike {
  isGPUPackage?: boolean;
  isUsingGpuDevice?: boolean;
}

function cpuModel(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model?.trim() || 'unknown CPU'} (${cpus.length} logical cores)`;
}

async function activateTensorflow(): Promise<NodeBackendLike> {
  const ok = await tf.setBackend('tensorflow');
  if (!ok || tf.getBackend() !== 'tensorflow') throw new Error("tf.setBackend('tensorflow') failed");
  await tf.ready();
  return tf.backend() as unknown as NodeBackendLike;
}

/**
 * Loads libtensorflow for `tensorflow-gpu` (CUDA, needs a visible GPU that libtensorflow actually
 * uses) or `tensorflow` (CPU; tfjs-node, or an already loaded tfjs-node-gpu) and makes the
 * `tensorflow` backend current.
 */
export async function initTfjsNode(which: 'tensorflow-gpu' | 'tensorflow', options: DetectOptions = {}): Promise<TfjsNodeInit> {
  const det = detectTfjsNode(options);
  let module: TfjsNodeModule;
  if (which === 'tensorflow-gpu') {
    if (!det.installed.includes('tfjs-node-gpu')) {
      return { ok: false, kind: 'not-installed', reason: '@tensorflow/tfjs-node-gpu is not installed (its install downloads libtensorflow with CUDA, so it needs internet)' };
    }
    if (!det.gpu) return { ok: false, kind: 'no-device', reason: det.reason ?? 'no NVIDIA GPU visible' };
    module = 'tfjs-node-gpu';
  } else {
    // both packages register `tensorflow`: reuse whichever is loaded, else prefer the CPU build
    module = loaded ?? (det.installed.includes('tfjs-node') ? 'tfjs-node' : det.installed[0]);
    if (!module) return { ok: false, kind: 'not-installed', reason: det.reason ?? 'not installed' };
  }
  if (loaded && loaded !== module) {
    return { ok: false, kind: 'init-failed', reason: `@tensorflow/${loaded} is already loaded in this process; it registers the same backend` };
  }
  try {
    optionalRequire(PACKAGE[module]);
    loaded = module;
    const backend = await activateTensorflow();
    if (which === 'tensorflow') return { ok: true, module, device: `libtensorflow CPU (${module}), ${cpuModel()}` };
    if (backend.isUsingGpuDevice === false) {
      return {
        ok: false,
        kind: 'driver-missing',
        reason: `libtensorflow sees no CUDA device although ${det.gpu} is visible: tfjs-node-gpu 4.22 needs CUDA 11.2 and cuDNN 8.1 libraries (libcudart.so.11.0, libcudnn.so.8) on LD_LIBRARY_PATH`,
      };
    }
    return { ok: true, module, device: `${det.gpu} (CUDA, tfjs-node-gpu)` };
  } catch (err) {
    const c = classifyBackendError(err);
    return { ok: false, kind: c.kind, reason: c.message };
  }
}
