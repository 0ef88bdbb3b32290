/**
 * The row-wise and element-wise heap kernels (ops.c): LayerNorm, GELU, softmax cross-entropy and
 * the AdamW update, registered on the tfjs wasm backend next to the GEMM/attention kernels of
 * heapKernels.ts and used by the model's heap path and by AdamW. Each replaces a chain of tfjs
 * kernels and temporaries with one pass (forward) and one pass (backward) over memory.
 */
import { tf } from '../backend';
import { heapState, registerHeapKernel, type KernelFunc } from './heapKernels';

type Info = tf.TensorInfo;
const f32 = (t: Info | undefined, name: string): Info => {
  if (!t) throw new Error(`missing input ${name}`);
  if (t.dtype !== 'float32') throw new Error(`${name} must be float32, not ${t.dtype}`);
  return t;
};
const size = (t: Info) => t.shape.reduce((a, b) => a * b, 1);
const rows = (t: Info) => (t.shape.length === 1 ? 1 : size(t) / t.shape[t.shape.length - 1]);
const last = (t: Info) => t.shape[t.shape.length - 1];

function checkTargets(s: ReturnType<typeof heapState>, targets: Info, V: number): void {
  if (targets.dtype !== 'int32') throw new Error(`targets must be int32, not ${targets.dtype}`);
  const v = s.int32(targets);
  for (let i = 0; i < v.length; i++) {
    if (v[i] < 0 || v[i] >= V) throw new Error(`target id ${v[i]} at position ${i} is outside the vocabulary [0, ${V})`);
  }
}

const kernels: Record<string, KernelFunc> = {
  FlopsfitLayerNorm({ inputs, backend, attrs }) {
    const s = heapState(backend);
    const x = f32(inputs.x, 'x');
    const g = f32(inputs.g, 'g');
    const b = f32(inputs.b, 'b');
    const M = rows(x);
    const d = last(x);
    if (size(g) !== d || size(b) !== d) throw new Error(`FlopsfitLayerNorm: gain/bias of ${size(g)}/${size(b)} for width ${d}`);
    const y = s.out([...x.shape]);
    const stats = s.out([M * 2]);
    s.k.layernorm_fwd!(M, d, s.ptr(x), s.ptr(g), s.ptr(b), y.at, stats.at, Number(attrs?.eps ?? 1e-5));
    return [y.info, stats.info];
  },
  FlopsfitLayerNormGrad({ inputs, backend }) {
    const s = heapState(backend);
    const x = f32(inputs.x, 'x');
    const g = f32(inputs.g, 'g');
    const stats = f32(inputs.stats, 'stats');
    const dy = f32(inputs.dy, 'dy');
    const M = rows(x);
    const d = last(x);
    const dx = s.out([...x.shape]);
    const dg = s.out([...g.shape]);
    const db = s.out([...g.shape]);
    s.k.layernorm_bwd!(M, d, s.ptr(x), s.ptr(g), s.ptr(stats), s.ptr(dy), dx.at, dg.at, db.at);
    return [dx.info, dg.info, db.info];
  },
  FlopsfitGelu({ inputs, backend }) {
    const s = heapState(backend);
    const x = f32(inputs.x, 'x');
    const y = s.out([...x.shape]);
    s.k.gelu_fwd!(size(x), s.ptr(x), y.at);
    return y.info;
  },
  FlopsfitGeluGrad({ inputs, backend }) {
    const s = heapState(backend);
    const x = f32(inputs.x, 'x');
    const dy = f32(inputs.dy, 'dy');
    const dx = s.out([...x.shape]);
    s.k.gelu_bwd!(size(x), s.ptr(x), s.ptr(dy), dx.at);
    return dx.info;
  },
  FlopsfitCrossEntropy({ inputs, backend }) {
    const s = heapState(backend);
    const logits = f32(inputs.logits, 'logits');
    const targets = inputs.targets;
    if (!targets) throw new Error('missing input targets');
    const [M, V] = logits.shape;
    if (size(targets) !== M) throw new Error(`FlopsfitCrossEntropy: ${size(targets)} targets for ${M} rows`);
    checkTargets(s, targets, V);
    const nll = s.out([M]);
    const lse = s.out([M]);
    s.k.xent_fwd!(M, V, s.ptr(logits), s.ptr(targets), nll.at, lse.at);
    return [nll.info, lse.info];
  },
  FlopsfitCrossEntropyGrad({ inputs, backend }) {
    const s = heapState(backend);
    const logits = f32(inputs.logits, 'logits');
    const targets = inputs.targets as Info;
    const lse = f32(inputs.lse, 'lse');
    const dnll = f32(inputs.dnll, 'dnll');
    const [M, V] = logits.shape;
    const dl = s.out([M, V]);
    s.k.xent_bwd!(M, V, s.ptr(logits), s.ptr(targets), s.ptr(lse), s.ptr(dnll), dl.at);
    return dl.info;
  },
  FlopsfitAdamW({ inputs, backend, attrs }) {
    const s = heapState(backend);
    const p = f32(inputs.p, 'p');
    const g = f32(inputs.g, 'g');
    const m = f32(inputs.m, 'm');
    const v = f32(inputs.v, 'v');
    const n = size(p);
    if (size(g) !== n || size(m) !== n || size(v) !== n) throw new Error('FlopsfitAdamW: parameter, gradient and moments differ in size');
    const a = attrs as Record<string, number>;
    const po = s.out([...p.shape]);
    const mo = s.out([...p.shape]);
    const vo = s.out([...p.shape]);
    s.k.adamw!(n, s.ptr(p), s.ptr(g), s.ptr(m), s.ptr(v), po.at, mo.at, vo.at, a.gscale, a.useScale, a.b1, a.omb1, a.b2, a.omb2, a.sqrtBc2, a.eps, a.stepSize, a.decayMul, a.useDecay);
    return [po.info, mo.info, vo.info];
  },
};
for (const [name, fn] of Object.entries(kernels)) registerHeapKernel(name, fn);

function run(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}): tf.Tensor | tf.Tensor[] {
  return tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
}

/** LayerNorm over the last axis (eps 1e-5), differentiable in x, g and b. */
export const heapLayerNorm = tf.customGrad((...args) => {
  const [x, g, b, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
  const [y, stats] = run('FlopsfitLayerNorm', { x, g, b }, { eps: 1e-5 }) as tf.Tensor[];
  save([x, g, stats]);
  return {
    value: y as tf.Tensor2D,
    gradFunc: (dy, saved) => {
      const [sx, sg, sStats] = saved as tf.Tensor[];
      return run('FlopsfitLayerNormGrad', { x: sx, g: sg, stats: sStats, dy: dy as tf.Tensor }) as tf.Tensor[];
    },
  };
}) as (x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

/** GELU, tanh form (0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))). */
export const heapGelu = tf.customGrad((...args) => {
  const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
  save([x]);
  return {
    value: run('FlopsfitGelu', { x }) as tf.Tensor2D,
    gradFunc: (dy, saved) => [run('FlopsfitGeluGrad', { x: (saved as tf.Tensor[])[0], dy: dy as tf.Tensor }) as tf.Tensor],
  };
}) as (x: tf.Tensor2D) => tf.Tensor2D;

/** Per-row softmax cross-entropy [M] of logits [M, V] against int32 targets [M]. */
export const heapCrossEntropy = tf.customGrad((...args) => {
  const [logits, targets, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  const [nll, lse] = run('FlopsfitCrossEntropy', { logits, targets }) as tf.Tensor[];
  save([logits, targets, lse]);
  return {
    value: nll as tf.Tensor1D,
    gradFunc: (dnll, saved) => {
      const [sl, st, sLse] = saved as tf.Tensor[];
      return [run('FlopsfitCrossEntropyGrad', { logits: sl, targets: st, lse: sLse, dnll: dnll as tf.Tensor }) as tf.Tensor, tf.zerosLike(st)];
    },
  };
}) as (logits: tf.Tensor2D, targets: tf.Tensor1D) => tf.Tensor1D;

/** Σx² of a float32 tensor on the wasm backend, read straight from the heap (no tensor made). */
export function heapSumSquares(t: tf.Tensor): number {
  const s = heapState(tf.backend());
  return s.k.sumsq!(t.size, s.ptr(t));
}

export interface AdamWScalars {
  gscale: number;
  useScale: boolean;
  b1: number;
  b2: number;
  sqrtBc2: number;
  eps: number;
  stepSize: number;
  decayMul: number;
  useDecay: boolean;
}

/** One fused AdamW update: returns [p', m', v'] (new tensors; the caller assigns them). */
export function heapAdamW(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, a: AdamWScalars): tf.Tensor[] {
  const f = Math.fround;
  return run(
    'FlopsfitAdamW',
    { p, g, m, v },
    {
      gscale: a.gscale,
      useScale: a.useScale ? 1 : 0,
      b1: a.b1,
      omb1: f(1 - a.b1),
      b2: a.b2,
      omb2: f(1 - a.b2),
      sqrtBc2: a.sqrtBc2,
      eps: a.eps,
      stepSize: a.stepSize,
      decayMul: a.decayMul,
      useDecay: a.useDecay ? 1 : 0,
    },
  ) as tf.Tensor[];
}
