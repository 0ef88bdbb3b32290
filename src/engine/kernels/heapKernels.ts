/**
 * Our own WebAssembly SIMD kernels, run **in place on the tfjs wasm backend's heap**: the module
 * (gemm.c + attention.c + ops.c, built by scripts/build-kernels.sh) imports the backend's
 * `WebAssembly.Memory`, so a kernel reads its input tensors and writes its output tensor where
 * tfjs keeps them. No `dataSync()` copies, no `tf.tensor` uploads.
 *
 * They are registered as tfjs kernels of the `wasm` backend (names `Flopsfit*`) and reached with
 * `tf.engine().runKernel`, so tfjs keeps doing what it is good at (tensor lifetimes, tidy, tape,
 * the optimizer, checkpoints) while the heavy arithmetic of a step runs here:
 *
 *   FlopsfitMatMul          C = op(A)·op(B) (+ bias): every dense layer and both of its gradients
 *   FlopsfitColSum          column sums (bias gradients)
 *   FlopsfitEmbed(/Grad)    token + position embedding lookup, and its scatter-add gradient
 *   FlopsfitAttention(/Grad) fused causal attention (attention.c) without the copy path
 *   FlopsfitLayerNorm(/Grad), FlopsfitGelu(/Grad), FlopsfitCrossEntropy(/Grad): see ops.c
 *
 * Two builds are embedded: SIMD128, and SIMD128 + relaxed SIMD, whose multiply-add is one fused
 * instruction on CPUs with FMA (about 1.2× on the GEMM). Node 20 keeps relaxed SIMD behind
 * `--experimental-wasm-relaxed-simd`; the loader turns the flag on for this process (training
 * runs in its own process) and falls back to the SIMD128 build when the runtime refuses it.
 * `FLOPSFIT_WASM_RELAXED=0` forces the SIMD128 build. Results are deterministic for a given build
 * on a given machine; the two builds differ in float rounding.
 */
import * as v8 from 'node:v8';
import { tf } from '../backend';
import type { WasmApi, WasmMemory } from '../../core/wasm';
import { HEAP_KERNELS_RELAXED_BASE64, HEAP_KERNELS_SIMD_BASE64 } from './heapKernelsWasm';

interface WasmGlobal {
  value: number;
}
interface WasmRuntime extends WasmApi {
  Memory: new (d: { initial: number; maximum?: number }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmRuntime }).WebAssembly;

type Fn = (...args: number[]) => number;

/** The exports of the kernel module (byte offsets into the shared memory). */
interface KernelExports {
  sgemm: Fn;
  gemm_workspace_floats: Fn;
  colsum: Fn;
  embed_fwd: Fn;
  embed_bwd: Fn;
  attn_fwd: Fn;
  attn_bwd: Fn;
  attn_scratch_floats: Fn;
  layernorm_fwd?: Fn;
  layernorm_bwd?: Fn;
  gelu_fwd?: Fn;
  gelu_bwd?: Fn;
  xent_fwd?: Fn;
  xent_bwd?: Fn;
  sumsq?: Fn;
  adamw?: Fn;
  __stack_pointer: WasmGlobal;
  [name: string]: unknown;
}

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmBackendLike {
  wasm: { asm: { memory: WasmMemory }; _malloc(n: number): number; _free(p: number): void };
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): tf.TensorInfo;
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
}

/**
 * Whether this process may change V8 flags at run time. Node keeps flags writable after start-up
 * (it runs V8 with --no-freeze-flags-after-init); Electron (VS Code's runtime with
 * ELECTRON_RUN_AS_NODE) may freeze them, and there relaxed SIMD is on by default anyway.
 */
const canSetV8Flags = !(process.versions as Record<string, string | undefined>).electron;

let relaxedChoice: { relaxed: boolean; why: string } | undefined;
let compiled: { module: object; relaxed: boolean } | null | undefined;
let loadError: string | undefined;

/** Which build to use: relaxed SIMD when this runtime accepts it (and it is not turned off). */
function compile(): { module: object; relaxed: boolean } | null {
  if (compiled !== undefined) return compiled;
  try {
    const simd = Buffer.from(HEAP_KERNELS_SIMD_BASE64, 'base64');
    const relaxedBytes = Buffer.from(HEAP_KERNELS_RELAXED_BASE64, 'base64');
    let relaxed = false;
    let why = 'FLOPSFIT_WASM_RELAXED=0';
    if ((process.env.FLOPSFIT_WASM_RELAXED ?? '').trim() !== '0') {
      if (!WebAssemblyApi.validate(relaxedBytes) && canSetV8Flags) {
        try {
          v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
        } catch {
          /* not a V8 that has the flag */
        }
      }
      relaxed = WebAssemblyApi.validate(relaxedBytes);
      why = relaxed ? 'relaxed SIMD (fused multiply-add)' : 'this runtime has no relaxed SIMD';
    }
    relaxedChoice = { relaxed, why };
    // Compile straight to optimised code: V8 otherwise starts wasm in its baseline tier (Liftoff)
    // and tiers up only once a function is hot, which made a run's first step several times slower.
    // The flag is set for this compile only.
    let eager = false;
    if (canSetV8Flags) {
      try {
        v8.setFlagsFromString('--no-liftoff');
        eager = true;
      } catch {
        /* not V8 */
      }
    }
    try {
      compiled = { module: new WebAssemblyApi.Module(relaxed ? relaxedBytes : simd), relaxed };
    } finally {
      if (eager) v8.setFlagsFromString('--liftoff');
    }
  } catch (err) {
    loadError = err instanceof Error ? err.message : String(err);
    compiled = null;
  }
  return compiled;
}

/** Instantiates the kernel module on `memory` with a shadow stack of `stackBytes` at `stackTop`. */
function instantiateKernels(memory: WasmMemory, stackTop: number): KernelExports {
  const c = compile();
  if (!c) throw new Error(`the engine's wasm kernels did not load: ${loadError}`);
  const inst = new WebAssemblyApi.Instance(c.module, { env: { memory } });
  const e = inst.exports as unknown as KernelExports;
  e.__stack_pointer.value = stackTop & ~15;
  return e;
}

/** A short description of the kernel build in use ("relaxed SIMD (fused multiply-add)", ...). */
export function kernelBuild(): string {
  compile();
  return compiled ? relaxedChoice!.why : `unavailable: ${loadError}`;
}

const STACK_BYTES = 1 << 20;

/** Per-backend state: the instance on that backend's heap, its stack and a reusable scratch block. */
class HeapState {
  readonly k: KernelExports;
  private scratchPtr = 0;
  private scratchBytes = 0;

  constructor(readonly backend: WasmBackendLike) {
    const stack = backend.wasm._malloc(STACK_BYTES);
    if (!stack) throw new Error('could not allocate the kernel stack on the wasm heap');
    this.k = instantiateKernels(backend.wasm.asm.memory, stack + STACK_BYTES);
  }

  /** Byte offset of a 16-aligned scratch block of at least `bytes` (valid until the next call). */
  scratch(bytes: number): number {
    if (bytes > this.scratchBytes) {
      if (this.scratchPtr) this.backend.wasm._free(this.scratchPtr);
      this.scratchBytes = Math.ceil((bytes * 1.25) / 65536) * 65536;
      this.scratchPtr = this.backend.wasm._malloc(this.scratchBytes + 16);
      if (!this.scratchPtr) throw new Error(`could not allocate ${this.scratchBytes} bytes of kernel scratch`);
    }
    return (this.scratchPtr + 15) & ~15;
  }

  ptr(t: tf.TensorInfo): number {
    const d = this.backend.dataIdMap.get(t.dataId);
    if (!d) throw new Error('tensor is not on the wasm backend');
    return d.memoryOffset;
  }

  out(shape: number[], dtype: 'float32' | 'int32' = 'float32'): { info: tf.TensorInfo; at: number } {
    const info = this.backend.makeOutput(shape, dtype);
    return { info, at: this.ptr(info) };
  }

  int32(t: tf.TensorInfo): Int32Array {
    const n = t.shape.reduce((a, b) => a * b, 1);
    return new Int32Array(this.backend.wasm.asm.memory.buffer, this.ptr(t), n);
  }
}

const states = new WeakMap<object, HeapState>();
function state(backend: unknown): HeapState {
  let s = states.get(backend as object);
  if (!s) {
    s = new HeapState(backend as WasmBackendLike);
    states.set(backend as object, s);
  }
  return s;
}

interface KernelArgs {
  inputs: Record<string, tf.TensorInfo | undefined>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}

function need(t: tf.TensorInfo | undefined, name: string, rank?: number): tf.TensorInfo {
  if (!t) throw new Error(`missing input ${name}`);
  if (t.dtype !== 'float32' && name !== 'ids') throw new Error(`${name} must be float32, not ${t.dtype}`);
  if (rank !== undefined && t.shape.length !== rank) throw new Error(`${name} must have rank ${rank}, has shape [${t.shape}]`);
  return t;
}

/** C = op(a)·op(b) (+ bias): 2-D only. */
function matMulKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const s = state(backend);
  const a = need(inputs.a, 'a', 2);
  const b = need(inputs.b, 'b', 2);
  const ta = !!attrs?.transposeA;
  const tb = !!attrs?.transposeB;
  const [M, Ka] = ta ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [Kb, N] = tb ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (Ka !== Kb) throw new Error(`FlopsfitMatMul: inner sizes ${Ka} and ${Kb} differ ([${a.shape}]${ta ? 'ᵀ' : ''} · [${b.shape}]${tb ? 'ᵀ' : ''})`);
  const bias = inputs.bias ? need(inputs.bias, 'bias', 1) : undefined;
  if (bias && bias.shape[0] !== N) throw new Error(`FlopsfitMatMul: bias [${bias.shape}] for ${N} columns`);
  const o = s.out([M, N]);
  if (M > 0 && N > 0) {
    const work = s.scratch(4 * s.k.gemm_workspace_floats(N));
    s.k.sgemm(M, N, Ka, s.ptr(a), a.shape[1], ta ? 1 : 0, s.ptr(b), b.shape[1], tb ? 1 : 0, o.at, N, bias ? s.ptr(bias) : 0, 0, work);
  }
  return o.info;
}

function colSumKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const s = state(backend);
  const x = need(inputs.x, 'x', 2);
  const o = s.out([x.shape[1]]);
  s.k.colsum(x.shape[0], x.shape[1], s.ptr(x), o.at);
  return o.info;
}

function checkIds(s: HeapState, ids: tf.TensorInfo, V: number): void {
  if (ids.dtype !== 'int32') throw new Error(`token ids must be int32, not ${ids.dtype}`);
  const v = s.int32(ids);
  for (let i = 0; i < v.length; i++) {
    if (v[i] < 0 || v[i] >= V) throw new Error(`token id ${v[i]} at position ${i} is outside the vocabulary [0, ${V})`);
  }
}

/** out[B·T, d] = wte[ids] + wpe[position]. inputs ids [B, T] int32, wte [V, d], wpe [Tmax, d]. */
function embedKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const s = state(backend);
  const ids = need(inputs.ids, 'ids', 2);
  const wte = need(inputs.wte, 'wte', 2);
  const wpe = need(inputs.wpe, 'wpe', 2);
  const [B, T] = ids.shape;
  const [V, d] = wte.shape;
  if (wpe.shape[1] !== d || wpe.shape[0] < T) throw new Error(`FlopsfitEmbed: positions [${wpe.shape}] for T=${T}, d=${d}`);
  checkIds(s, ids, V);
  const o = s.out([B * T, d]);
  s.k.embed_fwd(B * T, T, d, s.ptr(ids), s.ptr(wte), s.ptr(wpe), o.at);
  return o.info;
}

/** [dwte [V, d], dwpe [Tmax, d]] from ids [B, T] and dy [B·T, d]; attrs V, Tmax. */
function embedGradKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const s = state(backend);
  const ids = need(inputs.ids, 'ids', 2);
  const dy = need(inputs.dy, 'dy', 2);
  const V = Number(attrs?.V);
  const Tmax = Number(attrs?.Tmax);
  const [B, T] = ids.shape;
  const d = dy.shape[1];
  const dwte = s.out([V, d]);
  const dwpe = s.out([Tmax, d]);
  s.k.embed_bwd(B * T, T, d, V, Tmax, s.ptr(ids), s.ptr(dy), dwte.at, dwpe.at);
  return [dwte.info, dwpe.info];
}

/** Whether the heap attention kernel takes this head size (null = yes, else the reason). */
export function heapAttentionUnavailable(headDim: number): string | null {
  if (headDim % 4 !== 0) return `head size ${headDim} is not a multiple of 4`;
  if (headDim > 256) return `head size ${headDim} > 256`;
  return null;
}

function attnDims(qkv: tf.TensorInfo, attrs: Record<string, unknown> | undefined) {
  const B = Number(attrs?.B);
  const T = Number(attrs?.T);
  const H = Number(attrs?.H);
  const d3 = qkv.shape[1];
  if (qkv.shape[0] !== B * T || d3 % (3 * H) !== 0) throw new Error(`FlopsfitAttention: bad shape [${qkv.shape}] for B=${B} T=${T} H=${H}`);
  const dh = d3 / (3 * H);
  const why = heapAttentionUnavailable(dh);
  if (why) throw new Error(`FlopsfitAttention: ${why}`);
  return { B, T, H, dh, d: H * dh, scale: 1 / Math.sqrt(dh) };
}

/** [y [B·T, d], stats [B·H·T·2]] from qkv [B·T, 3d]; attrs B, T, H. */
function attentionKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const s = state(backend);
  const qkv = need(inputs.qkv, 'qkv', 2);
  const { B, T, H, dh, d, scale } = attnDims(qkv, attrs);
  const y = s.out([B * T, d]);
  const stats = s.out([B * H * T * 2]);
  const scratch = s.scratch(4 * s.k.attn_scratch_floats(T, dh, 0) + 64);
  s.k.attn_fwd(s.ptr(qkv), y.at, stats.at, scratch, B, T, H, dh, scale);
  return [y.info, stats.info];
}

/** dqkv [B·T, 3d] from qkv, dy [B·T, d] and the forward's stats. */
function attentionGradKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const s = state(backend);
  const qkv = need(inputs.qkv, 'qkv', 2);
  const dy = need(inputs.dy, 'dy', 2);
  const stats = need(inputs.stats, 'stats', 1);
  const { B, T, H, dh, scale } = attnDims(qkv, attrs);
  const dqkv = s.out([...qkv.shape]);
  const scratch = s.scratch(4 * s.k.attn_scratch_floats(T, dh, 1) + 64);
  s.k.attn_bwd(s.ptr(qkv), s.ptr(dy), s.ptr(stats), dqkv.at, scratch, B, T, H, dh, scale);
  return dqkv.info;
}

export type KernelFunc = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/** Everything the heap module offers, by tfjs kernel name; ops.ts adds its element-wise kernels. */
const HEAP_KERNELS: Record<string, KernelFunc> = {
  FlopsfitMatMul: matMulKernel,
  FlopsfitColSum: colSumKernel,
  FlopsfitEmbed: embedKernel,
  FlopsfitEmbedGrad: embedGradKernel,
  FlopsfitAttention: attentionKernel,
  FlopsfitAttentionGrad: attentionGradKernel,
};

/** For kernels defined elsewhere (the element-wise ones): the per-backend state. */
export function heapState(backend: unknown): {
  k: KernelExports;
  ptr(t: tf.TensorInfo): number;
  out(shape: number[], dtype?: 'float32' | 'int32'): { info: tf.TensorInfo; at: number };
  scratch(bytes: number): number;
  int32(t: tf.TensorInfo): Int32Array;
} {
  return state(backend);
}

let registered = false;

/**
 * tfjs clones every tensor a custom gradient saves (`Identity`), and the wasm backend's Identity
 * copies the buffer: about 95 copies and 12 ms per step at d128/L4. Tensors are immutable, so the
 * clone can share the buffer and count a reference, exactly as tfjs's cpu backend and the wasm
 * backend's own Reshape do.
 */
function shareOnClone(): void {
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: (({ inputs, backend }: KernelArgs) => {
      const x = inputs.x as tf.TensorInfo;
      (backend as { incRef(id: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
    }) as unknown as tf.KernelFunc,
  });
}

/**
 * Registers the heap kernels on the wasm backend (once) and checks they can run there; null when
 * they can, else the reason (the model then uses plain tfjs ops).
 */
export function heapKernelsUnavailable(): string | null {
  if (tf.getBackend() !== 'wasm') return `the backend is ${tf.getBackend()}, not wasm`;
  if (!compile()) return `the engine's wasm kernels did not load: ${loadError}`;
  if (!registered) {
    for (const [kernelName, kernelFunc] of Object.entries(HEAP_KERNELS)) {
      if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
    }
    shareOnClone();
    registered = true;
  }
  try {
    state(tf.backend());
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return null;
}

/** Registers one more heap kernel (used by ops.ts); safe to call again. */
export function registerHeapKernel(kernelName: string, kernelFunc: KernelFunc): void {
  HEAP_KERNELS[kernelName] = kernelFunc;
  if (registered && !tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

function run(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}): tf.Tensor | tf.Tensor[] {
  return tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
}

function matMul(a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false, bias?: tf.Tensor1D): tf.Tensor2D {
  return run('FlopsfitMatMul', bias ? { a, b, bias } : { a, b }, { transposeA, transposeB }) as tf.Tensor2D;
}

function colSum(x: tf.Tensor2D): tf.Tensor1D {
  return run('FlopsfitColSum', { x }) as tf.Tensor1D;
}

/** y = x·w + b, gradients by the same GEMM with transposed packing. */
const linearOp = tf.customGrad((...args) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: matMul(x, w, false, false, b),
    gradFunc: (dy, saved) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [matMul(g, sw, false, true), matMul(sx, g, true, false), colSum(g)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

/** The differentiable ops the model uses on the heap path. */
export const heapOps = {
  matMul,
  colSum,
  linear: linearOp,
  /** y = x·w (transposeW: x·wᵀ, for a head tied to the [V, d] embedding). */
  linearNoBias(x: tf.Tensor2D, w: tf.Tensor2D, transposeW = false): tf.Tensor2D {
    return (transposeW ? linearNoBiasT : linearNoBiasN)(x, w);
  },
  /** wte[ids] + wpe[0..T): [B·T, d]; ids [B, T] int32. */
  embed(ids: tf.Tensor2D, wte: tf.Tensor2D, wpe: tf.Tensor2D): tf.Tensor2D {
    return embedOp(ids, wte, wpe);
  },
  /** fused causal attention of qkv [B·T, 3d] → [B·T, d]. */
  attention(qkv: tf.Tensor2D, B: number, T: number, H: number): tf.Tensor2D {
    return attentionOpFor(B, T, H)(qkv);
  },
};

const linearNoBiasN = tf.customGrad((...args) => {
  const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: matMul(x, w),
    gradFunc: (dy, saved) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [matMul(g, sw, false, true), matMul(sx, g, true, false)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

/** y = x·wᵀ with w [V, d]: dx = dy·w, dw = dyᵀ·x. */
const linearNoBiasT = tf.customGrad((...args) => {
  const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: matMul(x, w, false, true),
    gradFunc: (dy, saved) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [matMul(g, sw), matMul(g, sx, true, false)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

const embedOp = tf.customGrad((...args) => {
  const [ids, wte, wpe, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([ids]);
  return {
    value: run('FlopsfitEmbed', { ids, wte, wpe }) as tf.Tensor2D,
    gradFunc: (dy, saved) => {
      const [sIds] = saved as [tf.Tensor2D];
      const [dwte, dwpe] = run('FlopsfitEmbedGrad', { ids: sIds, dy: dy as tf.Tensor }, { V: wte.shape[0], Tmax: wpe.shape[0] }) as tf.Tensor[];
      return [tf.zerosLike(sIds), dwte, dwpe];
    },
  };
}) as (ids: tf.Tensor2D, wte: tf.Tensor2D, wpe: tf.Tensor2D) => tf.Tensor2D;

type AttnFn = (qkv: tf.Tensor2D) => tf.Tensor2D;
const attentionOps = new Map<string, AttnFn>();

/** One customGrad op per (B, T, H): customGrad passes only tensors, so the sizes are closed over. */
function attentionOpFor(B: number, T: number, H: number): AttnFn {
  const key = `${B},${T},${H}`;
  let op = attentionOps.get(key);
  if (!op) {
    const attrs = { B, T, H };
    op = tf.customGrad((...args) => {
      const [qkv, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
      const [y, stats] = run('FlopsfitAttention', { qkv }, attrs) as tf.Tensor[];
      save([qkv, stats]);
      return {
        value: y as tf.Tensor2D,
        gradFunc: (dy, saved) => {
          const [sQkv, sStats] = saved as [tf.Tensor2D, tf.Tensor1D];
          return [run('FlopsfitAttentionGrad', { qkv: sQkv, dy: dy as tf.Tensor, stats: sStats }, attrs) as tf.Tensor2D];
        },
      };
    }) as AttnFn;
    attentionOps.set(key, op);
  }
  return op;
}
