/**
 * The built-in decoder-only transformer LM in TensorFlow.js. Two implementations of the same graph:
 *
 * On the wasm backend (default 'heap', see KernelImpl): every dense layer, the embedding, the
 * attention, LayerNorm, GELU and the cross-entropy are custom-gradient ops whose forward and
 * backward passes run in the engine's own WebAssembly SIMD kernels, in place on the tfjs heap
 * (kernels/heapKernels.ts, heapElementwise.ts; C in kernels/*.c). That is about 2.8× faster than
 * the tfjs-ops version below at d128/L4 (bench/README.md, "Engine").
 *
 * Everywhere else (cpu, webgpu, tensorflow), in raw tfjs ops written for tfjs-wasm's fast path
 * (../shared/engine-bench.md), which is also the reference the heap kernels are tested against:
 *
 *  - XNNPACK only runs `BatchMatMul` when batch = 1 and neither operand is transposed, and
 *    autodiff of `matMul` produces exactly the slow transposed forms. Every dense layer therefore
 *    is a `tf.customGrad` whose backward pass uses explicit `tf.transpose` + plain 2-D matmuls.
 *  - Embedding = one-hot (int32, then cast: float32 oneHot is broken on wasm) × matrix: the
 *    gather gradient needs `UnsortedSegmentSum`, which wasm lacks.
 *  - q/k/v are split before a 4-D transpose (no 5-D transposes); x³ is x·x·x (Pow is slow).
 *
 * Architecture (matches src/core/model/transformer.ts countTransformerParams exactly):
 * token embedding V×d + learned positions T×d; per layer pre-LN (gain + bias) → causal MHA (qkv
 * d×3d + bias, out d×d + bias) → residual → pre-LN → MLP (d×rd + bias, GELU-tanh, rd×d + bias) →
 * residual; final LN; output head d×V without bias, or the transposed token embedding when
 * `tiedEmbeddings`.
 *
 * Initialisation is seeded and computed in JS (identical on every backend): weights N(0, 0.02),
 * the two residual projections per layer N(0, 0.02/√(2L)) (GPT-2), biases 0, LN gains 1.
 */
import type { TransformerModelSpec } from '../core/contracts';
import { Rng } from '../core/data/synthetic';
import { tf } from './backend';
import { fusedAttentionUnavailable, fusedCausalAttention } from './kernels/attention';
import { heapAttentionUnavailable, heapKernelsUnavailable, heapOps, kernelBuild } from './kernels/heapKernels';
import { heapCrossEntropy, heapGelu, heapLayerNorm } from './kernels/heapElementwise';

/**
 * How the causal attention is computed. 'fused': one custom op whose kernels run in our own wasm
 * SIMD module (src/engine/kernels/); 'tfjs': plain tfjs ops (batched matmuls + softmax).
 * 'auto' (the default) = 'fused' on the wasm and cpu backends when the kernel is available, else
 * 'tfjs'. Environment override: FLOPSFIT_ATTENTION=fused|tfjs|auto.
 */
export type AttentionImpl = 'auto' | 'fused' | 'tfjs';

export function attentionFromEnv(env: NodeJS.ProcessEnv = process.env): AttentionImpl {
  const v = (env.FLOPSFIT_ATTENTION ?? 'auto').trim().toLowerCase();
  if (v === 'auto' || v === 'fused' || v === 'tfjs' || v === '') return (v || 'auto') as AttentionImpl;
  throw new Error(`FLOPSFIT_ATTENTION must be fused, tfjs or auto, not '${env.FLOPSFIT_ATTENTION}'`);
}

/** The attention implementation `impl` resolves to for a head size on the current backend. */
export function resolveAttention(impl: AttentionImpl, headDim: number, shape?: { tokens: number; T: number; dModel: number }): 'fused' | 'tfjs' {
  if (impl === 'tfjs') return 'tfjs';
  const why = fusedAttentionUnavailable(headDim, shape);
  if (impl === 'fused') {
    if (why) throw new Error(`fused attention requested but unavailable: ${why}`);
    return 'fused';
  }
  const backend = tf.getBackend();
  return !why && (backend === 'wasm' || backend === 'cpu') ? 'fused' : 'tfjs';
}

/**
 * Where the dense layers, embedding and attention run on the wasm backend. 'heap': our own SIMD
 * kernels working in place on the tfjs wasm heap (src/engine/kernels/heapKernels.ts); 'tfjs':
 * tfjs's own kernels (XNNPACK matmuls). 'auto' (the default) = 'heap' on the wasm backend when the
 * kernels load there, else 'tfjs'. Other backends always use 'tfjs'. Environment override:
 * FLOPSFIT_KERNELS=heap|tfjs|auto.
 */
export type KernelImpl = 'auto' | 'heap' | 'tfjs';

export function kernelsFromEnv(env: NodeJS.ProcessEnv = process.env): KernelImpl {
  const v = (env.FLOPSFIT_KERNELS ?? 'auto').trim().toLowerCase();
  if (v === 'auto' || v === 'heap' || v === 'tfjs' || v === '') return (v || 'auto') as KernelImpl;
  throw new Error(`FLOPSFIT_KERNELS must be heap, tfjs or auto, not '${env.FLOPSFIT_KERNELS}'`);
}

/** The kernel implementation `impl` resolves to on the current backend. */
export function resolveKernels(impl: KernelImpl): 'heap' | 'tfjs' {
  if (impl === 'tfjs') return 'tfjs';
  const why = heapKernelsUnavailable();
  if (impl === 'heap' && why) throw new Error(`heap kernels requested but unavailable: ${why}`);
  return why ? 'tfjs' : 'heap';
}

export interface ParamInfo {
  name: string;
  shape: number[];
  /** AdamW weight decay applies (matrices and embeddings; not LayerNorm or biases) */
  decay: boolean;
  init: 'normal' | 'zeros' | 'ones';
  std?: number;
}

/** The parameter list of a model, in a fixed order (the checkpoint order). */
export function parameterLayout(m: TransformerModelSpec): ParamInfo[] {
  const d = m.dModel;
  const rd = m.mlpRatio * d;
  const resStd = 0.02 / Math.sqrt(2 * m.nLayers);
  const out: ParamInfo[] = [
    { name: 'wte', shape: [m.vocabSize, d], decay: true, init: 'normal', std: 0.02 },
    { name: 'wpe', shape: [m.contextLength, d], decay: true, init: 'normal', std: 0.02 },
  ];
  for (let l = 0; l < m.nLayers; l++) {
    const p = `h${l}.`;
    out.push(
      { name: p + 'ln1.g', shape: [d], decay: false, init: 'ones' },
      { name: p + 'ln1.b', shape: [d], decay: false, init: 'zeros' },
      { name: p + 'attn.qkv.w', shape: [d, 3 * d], decay: true, init: 'normal', std: 0.02 },
      { name: p + 'attn.qkv.b', shape: [3 * d], decay: false, init: 'zeros' },
      { name: p + 'attn.proj.w', shape: [d, d], decay: true, init: 'normal', std: resStd },
      { name: p + 'attn.proj.b', shape: [d], decay: false, init: 'zeros' },
      { name: p + 'ln2.g', shape: [d], decay: false, init: 'ones' },
      { name: p + 'ln2.b', shape: [d], decay: false, init: 'zeros' },
      { name: p + 'mlp.fc.w', shape: [d, rd], decay: true, init: 'normal', std: 0.02 },
      { name: p + 'mlp.fc.b', shape: [rd], decay: false, init: 'zeros' },
      { name: p + 'mlp.proj.w', shape: [rd, d], decay: true, init: 'normal', std: resStd },
      { name: p + 'mlp.proj.b', shape: [d], decay: false, init: 'zeros' },
    );
  }
  out.push({ name: 'lnf.g', shape: [d], decay: false, init: 'ones' }, { name: 'lnf.b', shape: [d], decay: false, init: 'zeros' });
  if (!m.tiedEmbeddings) out.push({ name: 'head.w', shape: [d, m.vocabSize], decay: true, init: 'normal', std: 0.02 });
  return out;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Seeded initial values of every parameter, in layout order. */
export function initialValues(layout: ParamInfo[], seed: number): Float32Array[] {
  const rng = new Rng(seed, 0x1417);
  return layout.map((p) => {
    const a = new Float32Array(sizeOf(p.shape));
    if (p.init === 'ones') a.fill(1);
    else if (p.init === 'normal') for (let i = 0; i < a.length; i++) a[i] = rng.normal() * (p.std ?? 0.02);
    return a;
  });
}

/** y = x·w + b with a backward pass made of untransposed 2-D matmuls (XNNPACK on wasm). */
export const linear = tf.customGrad((...args) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, w), b),
    gradFunc: (dy, saved) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, tf.transpose(sw)), tf.matMul(tf.transpose(sx), g), tf.sum(g, 0)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

/** y = x·w (no bias), same backward trick. */
export const linearNoBias = tf.customGrad((...args) => {
  const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy, saved) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, tf.transpose(sw)), tf.matMul(tf.transpose(sx), g)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

/** one-hot(ids)·w: the input is constant, so its gradient is a cheap zero tensor. */
export const embed = tf.customGrad((...args) => {
  const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy, saved) => {
      const [sx] = saved as [tf.Tensor2D];
      return [tf.zerosLike(sx), tf.matMul(tf.transpose(sx), dy as tf.Tensor2D)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

function oneHotFloat(ids: tf.Tensor1D, depth: number): tf.Tensor2D {
  // int32 oneHot then cast: float32 oneHot writes int bit patterns on wasm (engine-bench.md).
  return tf.cast(tf.oneHot(ids, depth), 'float32') as tf.Tensor2D;
}

function layerNorm(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  const mean = tf.mean(x, 1, true);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.mul(xc, xc), 1, true);
  return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, 1e-5))), g), b) as tf.Tensor2D;
}

const GELU_C = Math.sqrt(2 / Math.PI);
function gelu(x: tf.Tensor2D): tf.Tensor2D {
  const cube = tf.mul(tf.mul(x, x), x);
  const inner = tf.mul(tf.add(x, tf.mul(cube, 0.044715)), GELU_C);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1)) as tf.Tensor2D;
}

export class TransformerModel {
  readonly layout: ParamInfo[];
  readonly vars: tf.Variable[];
  private readonly byName = new Map<string, tf.Variable>();
  private masks = new Map<number, tf.Tensor2D>();
  /** Attention implementation (see AttentionImpl); both give the same losses to float rounding. */
  attention: AttentionImpl = attentionFromEnv();
  /** Dense/embedding/attention kernels on wasm (see KernelImpl); same losses to float rounding. */
  kernels: KernelImpl = kernelsFromEnv();

  constructor(
    readonly spec: TransformerModelSpec,
    seed: number,
  ) {
    if (spec.dModel % spec.nHeads !== 0) throw new Error(`dModel ${spec.dModel} is not divisible by nHeads ${spec.nHeads}`);
    this.layout = parameterLayout(spec);
    const values = initialValues(this.layout, seed);
    this.vars = this.layout.map((p, i) => {
      const t = tf.tensor(values[i], p.shape, 'float32');
      const v = tf.variable(t, true);
      t.dispose(); // tf.variable copies; the initialiser would otherwise leak
      this.byName.set(p.name, v);
      return v;
    });
  }

  /** Which kernels run this model here, for the run's record ("FlopsFit wasm kernels, relaxed SIMD ..."). */
  kernelDescription(): string {
    if (resolveKernels(this.kernels) === 'heap') return `FlopsFit wasm kernels, ${kernelBuild()}`;
    const backend = tf.getBackend();
    return backend === 'wasm' ? 'tfjs kernels (XNNPACK)' : `tfjs kernels`;
  }

  get parameterCount(): number {
    return this.layout.reduce((a, p) => a + sizeOf(p.shape), 0);
  }

  p(name: string): tf.Variable {
    const v = this.byName.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  /** Additive causal mask [T, T] (0 on and below the diagonal, -1e9 above), cached per length. */
  private mask(T: number): tf.Tensor2D {
    let m = this.masks.get(T);
    if (!m) {
      const a = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) a[i * T + j] = -1e9;
      m = tf.keep(tf.tensor2d(a, [T, T]));
      this.masks.set(T, m);
    }
    return m;
  }

  /** Logits [B·T, V] for int32 token ids [B, T] (T ≤ contextLength). Call inside tidy/grads. */
  logits(ids: tf.Tensor2D): tf.Tensor2D {
    const { dModel: d, nHeads: H, vocabSize: V, nLayers } = this.spec;
    const [B, T] = ids.shape;
    const dh = d / H;
    if (resolveKernels(this.kernels) === 'heap') return this.logitsHeap(ids);
    const flatIds = tf.reshape(ids, [B * T]) as tf.Tensor1D;
    let x = embed(oneHotFloat(flatIds, V), this.p('wte') as tf.Tensor2D);
    const pos = T === this.spec.contextLength ? this.p('wpe') : tf.slice(this.p('wpe'), [0, 0], [T, d]);
    x = tf.reshape(tf.add(tf.reshape(x, [B, T, d]), pos), [B * T, d]);
    const impl = resolveAttention(this.attention, dh, { tokens: B * T, T, dModel: d });
    for (let l = 0; l < nLayers; l++) {
      const pre = `h${l}.`;
      const h = layerNorm(x, this.p(pre + 'ln1.g'), this.p(pre + 'ln1.b'));
      const qkv = linear(h, this.p(pre + 'attn.qkv.w') as tf.Tensor2D, this.p(pre + 'attn.qkv.b') as tf.Tensor1D);
      let y: tf.Tensor2D;
      if (impl === 'fused') y = fusedCausalAttention(qkv, B, T, H);
      else y = this.plainAttention(qkv, B, T, H);
      x = tf.add(x, linear(y, this.p(pre + 'attn.proj.w') as tf.Tensor2D, this.p(pre + 'attn.proj.b') as tf.Tensor1D));
      const h2 = layerNorm(x, this.p(pre + 'ln2.g'), this.p(pre + 'ln2.b'));
      const f = gelu(linear(h2, this.p(pre + 'mlp.fc.w') as tf.Tensor2D, this.p(pre + 'mlp.fc.b') as tf.Tensor1D));
      x = tf.add(x, linear(f, this.p(pre + 'mlp.proj.w') as tf.Tensor2D, this.p(pre + 'mlp.proj.b') as tf.Tensor1D));
    }
    const hf = layerNorm(x, this.p('lnf.g'), this.p('lnf.b'));
    const head = this.spec.tiedEmbeddings ? (tf.transpose(this.p('wte')) as tf.Tensor2D) : (this.p('head.w') as tf.Tensor2D);
    return linearNoBias(hf, head);
  }

  /**
   * Causal self-attention of qkv [B·T, 3d] in plain tfjs ops: batched [B, H, T, ·] matmuls (the
   * slow part on wasm; see bench/README.md for the block-diagonal 2-D formulation that was tried
   * and measured slower).
   */
  private plainAttention(qkv: tf.Tensor2D, B: number, T: number, H: number): tf.Tensor2D {
    const d = this.spec.dModel;
    const dh = d / H;
    const [q, k, v] = tf.split(qkv, 3, 1);
    const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, T, H, dh]), [0, 2, 1, 3]);
    const att = tf.softmax(tf.add(tf.matMul(heads(tf.mul(q, 1 / Math.sqrt(dh))), heads(k), false, true), this.mask(T)));
    return tf.reshape(tf.transpose(tf.matMul(att, heads(v)), [0, 2, 1, 3]), [B * T, d]) as tf.Tensor2D;
  }

  /** logits() on the heap kernels: the same graph, with our own GEMM/embedding/attention. */
  private logitsHeap(ids: tf.Tensor2D): tf.Tensor2D {
    const { dModel: d, nHeads: H, nLayers } = this.spec;
    const [B, T] = ids.shape;
    const dh = d / H;
    let x = heapOps.embed(ids, this.p('wte') as tf.Tensor2D, this.p('wpe') as tf.Tensor2D);
    const why = heapAttentionUnavailable(dh);
    const useFused = this.attention !== 'tfjs' && !why;
    if (this.attention === 'fused' && why) throw new Error(`fused attention requested but unavailable: ${why}`);
    for (let l = 0; l < nLayers; l++) {
      const pre = `h${l}.`;
      const h = heapLayerNorm(x, this.p(pre + 'ln1.g'), this.p(pre + 'ln1.b'));
      const qkv = heapOps.linear(h, this.p(pre + 'attn.qkv.w') as tf.Tensor2D, this.p(pre + 'attn.qkv.b') as tf.Tensor1D);
      let y: tf.Tensor2D;
      if (useFused) y = heapOps.attention(qkv, B, T, H);
      else y = this.plainAttention(qkv, B, T, H);
      x = tf.add(x, heapOps.linear(y, this.p(pre + 'attn.proj.w') as tf.Tensor2D, this.p(pre + 'attn.proj.b') as tf.Tensor1D));
      const h2 = heapLayerNorm(x, this.p(pre + 'ln2.g'), this.p(pre + 'ln2.b'));
      const f = heapGelu(heapOps.linear(h2, this.p(pre + 'mlp.fc.w') as tf.Tensor2D, this.p(pre + 'mlp.fc.b') as tf.Tensor1D));
      x = tf.add(x, heapOps.linear(f, this.p(pre + 'mlp.proj.w') as tf.Tensor2D, this.p(pre + 'mlp.proj.b') as tf.Tensor1D));
    }
    const hf = heapLayerNorm(x, this.p('lnf.g'), this.p('lnf.b'));
    if (this.spec.tiedEmbeddings) return heapOps.linearNoBias(hf, this.p('wte') as tf.Tensor2D, true);
    return heapOps.linearNoBias(hf, this.p('head.w') as tf.Tensor2D);
  }

  /** Per-token negative log-likelihood [B·T] of `targets` [B, T] (int32). */
  nll(ids: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor1D {
    const logits = this.logits(ids);
    if (resolveKernels(this.kernels) === 'heap') return heapCrossEntropy(logits, tf.reshape(targets, [targets.size]) as tf.Tensor1D);
    const logp = tf.logSoftmax(logits);
    const oh = oneHotFloat(tf.reshape(targets, [targets.size]) as tf.Tensor1D, this.spec.vocabSize);
    return tf.neg(tf.sum(tf.mul(oh, logp), 1)) as tf.Tensor1D;
  }

  /** Mean cross-entropy (nats/token): the training loss. */
  loss(ids: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
    return tf.mean(this.nll(ids, targets)) as tf.Scalar;
  }

  dispose(): void {
    for (const v of this.vars) v.dispose();
    for (const m of this.masks.values()) m.dispose();
    this.masks.clear();
  }
}
