/**
 * TensorFlow.js backend selection for the trainer. Everything about which backend runs lives in
 * this file; the rest of the engine only sees `tf` and the `BackendInfo` it gets back.
 *
 *   auto            tensorflow-gpu → webgpu → tensorflow → wasm → cpu (first that initialises)
 *   tensorflow-gpu  @tensorflow/tfjs-node-gpu (CUDA), an optional dependency
 *   webgpu          @tensorflow/tfjs-backend-webgpu + npm `webgpu` (Dawn), optional
 *   tensorflow      @tensorflow/tfjs-node (libtensorflow CPU), optional
 *   wasm            @tensorflow/tfjs-backend-wasm with SIMD (single-threaded in Node)
 *   cpu             the pure-JS reference backend (slow; for tests)
 *
 * An explicitly requested backend that cannot start falls back down the same chain, with the
 * reason logged and recorded (`BackendInfo.fallbacks`); the backend actually used is what the run
 * records. Extension point: add a `BackendCandidate` to `CANDIDATES` and name it in `CHAINS`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Backend, TfjsBackend } from '../core/contracts';
import { FAILURE_LABELS, smokeTest, type FailureKind } from './backends/smoke';
import { initTfjsNode } from './backends/tfjsNode';
import { drainWebGpuErrors, initWebGpu } from './backends/webgpu';

export { tf };

// Production mode: no debug checks, and no "install tfjs-node" banner printed into run logs.
tf.env().set('PROD', true);

export interface BackendInfo {
  /** the backend actually used: tensorflow-gpu | webgpu | tensorflow | wasm | cpu */
  name: TfjsBackend;
  /** tfjs's own name for it (tensorflow, webgpu, wasm, cpu) */
  tfName: string;
  /** human-readable device description */
  device: string;
  /** why earlier candidates were skipped */
  fallbacks: string[];
}

interface BackendCandidate {
  name: TfjsBackend;
  /**
   * Sets the backend up; returns the device description, or throws with a reason. `auto` is true
   * when auto is probing (a software WebGPU adapter is refused then), false when requested.
   */
  init(ctx: { auto: boolean; log: (line: string) => void }): Promise<{ tfName: string; device: string }>;
}

/** A failed init with its kind ("driver missing: ...", "out of memory: ..."), for the fallback log. */
function initFailure(kind: FailureKind, reason: string): Error {
  return new Error(`${FAILURE_LABELS[kind]}: ${reason}`);
}

function cpuModel(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model?.trim() || 'unknown CPU';
  return `${model} (${cpus.length} logical cores)`;
}

function shortReason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e?.code === 'MODULE_NOT_FOUND') return 'not installed';
  const msg = (e?.message ?? String(err)).split('\n')[0];
  return msg.length > 200 ? msg.slice(0, 200) + '…' : msg;
}

async function activate(tfName: string): Promise<void> {
  const ok = await tf.setBackend(tfName);
  if (!ok || tf.getBackend() !== tfName) throw new Error(`tf.setBackend('${tfName}') failed`);
  await tf.ready();
}

/** The folder holding tfjs-backend-wasm*.wasm: beside the bundle (dist/), else the package. */
export function wasmDir(): string {
  const candidates = [__dirname, path.join(__dirname, '..', '..', 'dist')];
  try {
    candidates.push(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist'));
  } catch {
    /* not resolvable from a bundle: fine */
  }
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'tfjs-backend-wasm-simd.wasm'))) return dir;
  }
  throw new Error(`tfjs-backend-wasm-simd.wasm not found (looked in ${candidates.join(', ')})`);
}

let wasmLoaded = false;

const CANDIDATES: Record<TfjsBackend, BackendCandidate> = {
  'tensorflow-gpu': {
    name: 'tensorflow-gpu',
    async init() {
      const r = await initTfjsNode('tensorflow-gpu');
      if (!r.ok) throw initFailure(r.kind, r.reason);
      return { tfName: 'tensorflow', device: r.device };
    },
  },
  webgpu: {
    name: 'webgpu',
    async init(ctx) {
      const r = await initWebGpu({ allowSoftware: !ctx.auto, log: ctx.log });
      if (!r.ok) throw initFailure(r.kind, r.reason);
      return { tfName: 'webgpu', device: `WebGPU: ${r.device}` };
    },
  },
  tensorflow: {
    name: 'tensorflow',
    async init() {
      const r = await initTfjsNode('tensorflow');
      if (!r.ok) throw initFailure(r.kind, r.reason);
      return { tfName: 'tensorflow', device: r.device };
    },
  },
  wasm: {
    name: 'wasm',
    async init() {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
      if (!wasmLoaded) {
        wasm.setWasmPaths(wasmDir() + path.sep);
        wasmLoaded = true;
      }
      await activate('wasm');
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      return { tfName: 'wasm', device: `wasm${simd ? ' SIMD' : ''} (1 thread), ${cpuModel()}` };
    },
  },
  cpu: {
    name: 'cpu',
    async init() {
      await activate('cpu');
      return { tfName: 'cpu', device: `pure-JS reference backend, ${cpuModel()}` };
    },
  },
};

/**
 * What each requested backend tries, in order. torch/torch-cpu reach TensorFlow.js only when the
 * PyTorch engine cannot run (no Python with torch: src/engine/torchEngine.ts logs why): wasm then.
 */
const CHAINS: Record<Backend, TfjsBackend[]> = {
  auto: ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'],
  'tensorflow-gpu': ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'],
  webgpu: ['webgpu', 'wasm', 'cpu'],
  tensorflow: ['tensorflow', 'wasm', 'cpu'],
  wasm: ['wasm', 'cpu'],
  cpu: ['cpu'],
  torch: ['wasm', 'cpu'],
  'torch-cpu': ['wasm', 'cpu'],
};

/** The GPU part of the auto chain (the PyTorch engine's selection tries these before torch on the CPU). */
export const TFJS_GPU_BACKENDS: readonly TfjsBackend[] = ['tensorflow-gpu', 'webgpu'];

let current: BackendInfo | undefined;

export interface InitBackendOptions {
  /**
   * One training step at the run's size on the backend just initialised, returning its loss
   * (build a throwaway model: the step must not touch the run's state). A backend whose step
   * throws, runs out of memory or gives a non-finite loss is skipped with the reason. Default: a
   * small dense forward/backward (catches missing drivers and kernels, not memory limits).
   */
  smokeStep?: () => Promise<number>;
  /** candidates `smokeStep` applies to (default: all); the others take the small default step */
  smokeStepBackends?: readonly TfjsBackend[];
  /** give up on a smoke step after this long (default 10 min) */
  smokeTimeoutMs?: number;
}

/** The default smoke step: a 64-wide two-layer MLP's loss and gradients, read back; leaves no tensors. */
async function defaultSmokeStep(): Promise<number> {
  const init = [tf.randomNormal([64, 64], 0, 0.1, 'float32', 1), tf.randomNormal([64, 8], 0, 0.1, 'float32', 2)];
  const [w1, w2] = init.map((t) => tf.variable(t));
  const x = tf.randomNormal([32, 64], 0, 1, 'float32', 3);
  tf.dispose(init);
  try {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.matMul(tf.tanh(tf.matMul(x, w1)), w2))) as tf.Scalar, [w1, w2]);
    const gsum = tf.tidy(() => tf.addN(Object.values(grads).map((t) => tf.sum(t))));
    const [loss, g] = [(await value.data())[0], (await gsum.data())[0]];
    tf.dispose([value, gsum, ...Object.values(grads)]);
    return Number.isFinite(g) ? loss : NaN;
  } finally {
    tf.dispose([w1, w2, x]);
  }
}

/** Initialises the requested backend (or the first working fallback). Idempotent per process. */
export async function initBackend(requested: Backend, log: (line: string) => void = () => {}, options: InitBackendOptions = {}): Promise<BackendInfo> {
  if (current && tf.getBackend() === current.tfName && (requested === current.name || requested === 'auto')) return current;
  const got = await initChain(CHAINS[requested], requested === 'auto', log, options);
  if (got.info) return got.info;
  throw new Error(`no TensorFlow.js backend could start: ${got.fallbacks.join('; ')}`);
}

/**
 * Tries only the TensorFlow.js GPU backends (as `auto` would); undefined when none starts, with
 * the reasons. A success leaves that backend initialised, so a later initBackend('auto') keeps it.
 */
export async function initGpuBackend(log: (line: string) => void = () => {}, options: InitBackendOptions = {}): Promise<{ info?: BackendInfo; fallbacks: string[] }> {
  if (current && tf.getBackend() === current.tfName && TFJS_GPU_BACKENDS.includes(current.name)) return { info: current, fallbacks: [] };
  return initChain(TFJS_GPU_BACKENDS, true, log, options);
}

async function initChain(chain: readonly TfjsBackend[], auto: boolean, log: (line: string) => void, options: InitBackendOptions): Promise<{ info?: BackendInfo; fallbacks: string[] }> {
  const fallbacks: string[] = [];
  for (const name of chain) {
    try {
      const { tfName, device } = await CANDIDATES[name].init({ auto, log });
      const useGiven = options.smokeStep && (!options.smokeStepBackends || options.smokeStepBackends.includes(name));
      const smoke = await smokeTest(useGiven ? options.smokeStep! : defaultSmokeStep, {
        timeoutMs: options.smokeTimeoutMs,
        drainErrors: tfName === 'webgpu' ? drainWebGpuErrors : undefined,
      });
      if (!smoke.ok) {
        fallbacks.push(`${name}: ${FAILURE_LABELS[smoke.kind]} in a one-step smoke test on ${device} (${smoke.reason})`);
        log(`backend: skipped ${fallbacks[fallbacks.length - 1]}`);
        continue;
      }
      current = { name, tfName, device, fallbacks };
      if (fallbacks.length) log(`backend: using ${name} (${fallbacks.join('; ')})`);
      return { info: current, fallbacks };
    } catch (err) {
      fallbacks.push(`${name}: ${shortReason(err)}`);
      log(`backend: skipped ${fallbacks[fallbacks.length - 1]}`);
    }
  }
  return { fallbacks };
}
