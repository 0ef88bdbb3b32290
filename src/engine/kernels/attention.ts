/**
 * Fused causal multi-head self-attention for the wasm and cpu backends: one `tf.customGrad` op
 * from the fused qkv projection output [B·T, 3d] to the attention output [B·T, d], whose forward
 * and backward passes run in our own small WebAssembly SIMD module (attention.c, built by
 * scripts/build-kernels.sh and embedded as base64 in attentionWasm.ts).
 *
 * Why: on tfjs-wasm the batched attention matmuls (q·kᵀ, P·V and their gradients) fall to a naive
 * C++ loop at ~1 GFLOP/s, and the 4-D transposes, mask add and softmax around them are separate
 * kernels (../../../bench/README.md, "Engine"). This op does the whole thing in one pass per
 * (sequence, head), skips the masked upper triangle, and needs no transposes.
 *
 * Data moves by `dataSync()` (a memcpy out of the tfjs heap on wasm, free on cpu) into this
 * module's memory and back with `tf.tensor`. That is why it is only used on wasm/cpu: on webgpu it
 * would be a GPU readback. The forward pass saves, per query row, the softmax max and 1/sum so the
 * backward pass recomputes P exactly as the forward did.
 */
import { tf } from '../backend';
import type { WasmApi, WasmMemory } from '../../core/wasm';
import { ATTENTION_WASM_BASE64 } from './attentionWasm';

const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Kernels {
  memory: WasmMemory;
  heapBase: number;
  fwd: (qkv: number, y: number, stats: number, scratch: number, B: number, T: number, H: number, dh: number, scale: number) => void;
  bwd: (qkv: number, dy: number, stats: number, dqkv: number, scratch: number, B: number, T: number, H: number, dh: number, scale: number) => void;
  /** floats of scratch the forward (backward = 0) or backward (1) pass needs */
  scratchFloats: (T: number, dh: number, backward: number) => number;
}

let kernels: Kernels | null | undefined;
let loadError: string | undefined;

function load(): Kernels | null {
  if (kernels !== undefined) return kernels;
  try {
    const bytes = Buffer.from(ATTENTION_WASM_BASE64, 'base64');
    const instance = new WebAssemblyApi.Instance(new WebAssemblyApi.Module(bytes), {});
    const e = instance.exports;
    kernels = {
      memory: e.memory as WasmMemory,
      heapBase: (e.__heap_base as { value: number }).value,
      fwd: e.attn_fwd as Kernels['fwd'],
      bwd: e.attn_bwd as Kernels['bwd'],
      scratchFloats: e.attn_scratch_floats as Kernels['scratchFloats'],
    };
  } catch (err) {
    // e.g. a runtime without WebAssembly SIMD: the model falls back to plain tfjs ops
    loadError = err instanceof Error ? err.message : String(err);
    kernels = null;
  }
  return kernels;
}

/** Bytes of this module's memory one backward pass of `tokens` = B·T rows needs. */
function bytesNeeded(tokens: number, T: number, dModel: number, headDim: number): number {
  const tp = (T + 3) & ~3;
  // buffers + backward scratch (P and dS, T x tp each, and the GEMM's packing workspace)
  const gemmWork = 256 * (Math.max(T, headDim) + 12) + 128 * 256;
  return 4 * (tokens * dModel * 7 + (tokens / T) * (dModel / headDim) * T * 2 + 2 * T * tp + gemmWork + 16);
}

/** wasm32 memory tops out at 4 GiB; stay well below it (and below what the tfjs heap may also hold). */
const MAX_BYTES = 1.5 * 2 ** 30;

/**
 * Whether the fused kernel can run here for a head size, and optionally a batch of `tokens` = B·T
 * rows of length T at width dModel (null = yes, else the reason).
 */
export function fusedAttentionUnavailable(headDim: number, shape?: { tokens: number; T: number; dModel: number }): string | null {
  if (headDim % 4 !== 0) return `head size ${headDim} is not a multiple of 4`;
  if (headDim > 256) return `head size ${headDim} > 256`;
  if (shape && bytesNeeded(shape.tokens, shape.T, shape.dModel, headDim) > MAX_BYTES)
    return `a batch of ${shape.tokens} tokens at width ${shape.dModel} needs more than ${MAX_BYTES / 2 ** 30} GiB of kernel memory`;
  if (!load()) return `the attention kernel did not load: ${loadError}`;
  return null;
}

/** Byte offsets (16-aligned) of consecutive float32 buffers after __heap_base; grows memory. */
function layout(k: Kernels, floats: number[]): number[] {
  const offsets: number[] = [];
  let at = (k.heapBase + 15) & ~15;
  for (const n of floats) {
    offsets.push(at);
    at += ((n * 4 + 15) & ~15) + 16;
  }
  const need = at - k.memory.buffer.byteLength;
  if (need > 0) k.memory.grow(Math.ceil(need / 65536));
  return offsets;
}

function view(k: Kernels, offset: number, n: number): Float32Array {
  return new Float32Array(k.memory.buffer, offset, n);
}

type AttnFn = (qkv: tf.Tensor2D) => tf.Tensor2D;
const ops = new Map<string, AttnFn>();

function makeOp(B: number, T: number, H: number, dh: number): AttnFn {
  const d = H * dh;
  const scale = 1 / Math.sqrt(dh);
  const nQkv = B * T * 3 * d;
  const nY = B * T * d;
  const nStats = B * H * T * 2;
  return tf.customGrad((...args) => {
    const [qkv, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const k = load();
    if (!k) throw new Error(`fused attention unavailable: ${loadError}`);
    const [oQkv, oY, oStats, oScratch] = layout(k, [nQkv, nY, nStats, k.scratchFloats(T, dh, 0)]);
    view(k, oQkv, nQkv).set(qkv.dataSync() as Float32Array);
    k.fwd(oQkv, oY, oStats, oScratch, B, T, H, dh, scale);
    const y = tf.tensor2d(view(k, oY, nY).slice(), [B * T, d]);
    const stats = tf.tensor1d(view(k, oStats, nStats).slice());
    save([qkv, stats]);
    return {
      value: y,
      gradFunc: (dy, saved) => {
        const [sQkv, sStats] = saved as [tf.Tensor2D, tf.Tensor1D];
        const kk = load() as Kernels;
        const [bQkv, bDy, bStats, bDqkv, bScratch] = layout(kk, [nQkv, nY, nStats, nQkv, kk.scratchFloats(T, dh, 1)]);
        view(kk, bQkv, nQkv).set(sQkv.dataSync() as Float32Array);
        view(kk, bDy, nY).set((dy as tf.Tensor).dataSync() as Float32Array);
        view(kk, bStats, nStats).set(sStats.dataSync() as Float32Array);
        kk.bwd(bQkv, bDy, bStats, bDqkv, bScratch, B, T, H, dh, scale);
        return [tf.tensor2d(view(kk, bDqkv, nQkv).slice(), [B * T, 3 * d])];
      },
    };
  }) as AttnFn;
}

/**
 * Causal self-attention of the fused projection `qkv` [B·T, 3d] (columns q | k | v, heads
 * contiguous within each) for B sequences of length T and H heads: returns [B·T, d], the same as
 * softmax(q·kᵀ/√dh + causal mask)·v per head with the heads concatenated. Differentiable.
 */
export function fusedCausalAttention(qkv: tf.Tensor2D, B: number, T: number, H: number): tf.Tensor2D {
  const d3 = qkv.shape[1];
  if (d3 % (3 * H) !== 0 || qkv.shape[0] !== B * T) throw new Error(`fusedCausalAttention: bad shape [${qkv.shape}] for B=${B} T=${T} H=${H}`);
  const dh = d3 / (3 * H);
  const why = fusedAttentionUnavailable(dh, { tokens: B * T, T, dModel: H * dh });
  if (why) throw new Error(`fused attention unavailable: ${why}`);
  const key = `${B},${T},${H},${dh}`;
  let op = ops.get(key);
  if (!op) {
    op = makeOp(B, T, H, dh);
    ops.set(key, op);
  }
  return op(qkv);
}
