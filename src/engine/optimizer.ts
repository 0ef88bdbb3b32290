/**
 * AdamW (decoupled weight decay, Loshchilov & Hutter) with global-norm gradient clipping and the
 * learning-rate schedule. Written on raw variables rather than tf.train.adam so that every piece
 * of state is ours to checkpoint: the moments m and v, the step, and the running beta powers
 * accBeta1 = β1^t and accBeta2 = β2^t kept in float64 JS numbers (recomputing them as pow(β, t)
 * on resume would change the last bit and break a bit-exact resume).
 *
 * Update (PyTorch AdamW semantics), for each parameter p with gradient g (after clipping):
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p·(1 − lr·wd)  [only parameters with decay]  −  lr/(1−β1^t) · m / (√v / √(1−β2^t) + ε)
 */
import type { TrainingSpec } from '../core/contracts';
import { tf } from './backend';
import { heapAdamW, heapSumSquares } from './kernels/heapElementwise';
import { kernelsFromEnv, resolveKernels, type KernelImpl } from './model';

export const ADAM_EPSILON = 1e-8;

export interface OptimizerState {
  step: number;
  accBeta1: number;
  accBeta2: number;
}

/** tf.variable(init) copies `init` and keeps it alive: dispose the initialiser. */
function zeroSlot(p: tf.Variable): tf.Variable {
  const z = tf.zerosLike(p);
  const v = tf.variable(z, false);
  z.dispose();
  return v;
}

export class AdamW {
  readonly m: tf.Variable[];
  readonly v: tf.Variable[];
  state: OptimizerState = { step: 0, accBeta1: 1, accBeta2: 1 };
  /** 'heap': the fused AdamW kernel on the wasm heap (see model.ts KernelImpl); same formula. */
  kernels: KernelImpl = kernelsFromEnv();

  constructor(
    readonly params: tf.Variable[],
    readonly decay: boolean[],
    readonly cfg: Pick<TrainingSpec, 'beta1' | 'beta2' | 'weightDecay' | 'gradClip'>,
  ) {
    this.m = params.map(zeroSlot);
    this.v = params.map(zeroSlot);
  }

  /**
   * Applies one update with the given gradients (one per parameter, same order) and learning
   * rate. Disposes nothing it was given; creates no lasting tensors.
   */
  apply(grads: tf.Tensor[], lr: number): void {
    const { beta1: b1, beta2: b2, weightDecay: wd, gradClip } = this.cfg;
    this.state.step += 1;
    this.state.accBeta1 *= b1;
    this.state.accBeta2 *= b2;
    const bc1 = 1 - this.state.accBeta1;
    const bc2 = 1 - this.state.accBeta2;
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    if (resolveKernels(this.kernels) === 'heap') {
      this.applyHeap(grads, lr, stepSize, sqrtBc2);
      return;
    }
    tf.tidy(() => {
      let scale: tf.Scalar | undefined;
      if (gradClip > 0) {
        const sq = grads.map((g) => tf.sum(tf.mul(g, g)));
        const norm = tf.sqrt(tf.addN(sq));
        // scale = clip / max(norm, clip): 1 when the norm is within the limit.
        scale = tf.div(gradClip, tf.maximum(norm, gradClip)) as tf.Scalar;
      }
      for (let i = 0; i < this.params.length; i++) {
        const g = scale ? tf.mul(grads[i], scale) : grads[i];
        const m = tf.add(tf.mul(this.m[i], b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.mul(g, g), 1 - b2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const denom = tf.add(tf.div(tf.sqrt(v), sqrtBc2), ADAM_EPSILON);
        const update = tf.div(tf.mul(m, stepSize), denom);
        const p = this.params[i];
        const decayed = this.decay[i] && wd > 0 ? tf.mul(p, 1 - lr * wd) : p;
        p.assign(tf.sub(decayed, update));
      }
    });
  }

  /** The same update with one fused kernel per parameter and the norm read from the heap. */
  private applyHeap(grads: tf.Tensor[], lr: number, stepSize: number, sqrtBc2: number): void {
    const { beta1: b1, beta2: b2, weightDecay: wd, gradClip } = this.cfg;
    const f = Math.fround;
    let gscale = 1;
    if (gradClip > 0) {
      let sq = 0;
      for (const g of grads) sq += heapSumSquares(g);
      const norm = f(Math.sqrt(f(sq)));
      gscale = f(f(gradClip) / Math.max(norm, f(gradClip)));
    }
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      const useDecay = this.decay[i] && wd > 0;
      const [np, nm, nv] = heapAdamW(p, grads[i], this.m[i], this.v[i], {
        gscale,
        useScale: gradClip > 0,
        b1: f(b1),
        b2: f(b2),
        sqrtBc2: f(sqrtBc2),
        eps: f(ADAM_EPSILON),
        stepSize: f(stepSize),
        decayMul: f(1 - lr * wd),
        useDecay,
      });
      p.assign(np);
      this.m[i].assign(nm);
      this.v[i].assign(nv);
      tf.dispose([np, nm, nv]);
    }
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

/**
 * Learning rate at 0-based step `s` of `total`: linear warmup over W = round(warmupFraction·total)
 * steps (lr·(s+1)/W), then decay from the peak to minLrRatio·peak reached at the last step
 * (cosine: min + (peak−min)·½(1+cos πp); linear: peak − (peak−min)·p; constant: peak), with
 * p = (s − W)/(total − W − 1) clamped to [0, 1].
 */
export function learningRate(s: number, total: number, t: Pick<TrainingSpec, 'learningRate' | 'schedule' | 'warmupFraction' | 'minLrRatio'>): number {
  const peak = t.learningRate;
  const W = Math.min(total, Math.round(t.warmupFraction * total));
  if (s < W) return (peak * (s + 1)) / W;
  if (t.schedule === 'constant') return peak;
  const span = total - W - 1;
  const p = span <= 0 ? 1 : Math.min(1, Math.max(0, (s - W) / span));
  const min = peak * t.minLrRatio;
  if (t.schedule === 'linear') return peak - (peak - min) * p;
  return min + (peak - min) * 0.5 * (1 + Math.cos(Math.PI * p));
}
