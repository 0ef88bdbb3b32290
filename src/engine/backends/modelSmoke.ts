/**
 * The smoke step initBackend runs on each candidate backend, at the experiment's real size: a
 * throwaway model with the experiment's shape, one full batch of random tokens, forward +
 * backward + one AdamW update, loss read back, everything disposed. It catches what a tiny probe
 * cannot: running out of device memory (or over WebGPU's buffer limits) at this size, and kernels
 * that fail only at these shapes. Never touches the run's own model, optimizer or data.
 *
 * Usage (src/engine/train.ts):
 *   initBackend(spec.training.backend, log, { smokeStep: experimentSmokeStep(spec) })
 */
import type { ExperimentSpec } from '../../core/contracts';
import { tf } from '../backend';
import { TransformerModel } from '../model';
import { AdamW } from '../optimizer';

export function experimentSmokeStep(spec: ExperimentSpec): (() => Promise<number>) | undefined {
  if (spec.model.family !== 'transformer') return undefined;
  const m = spec.model;
  return async () => {
    const model = new TransformerModel(m, spec.seed);
    const opt = new AdamW(model.vars, model.layout.map((p) => p.decay), spec.training);
    const B = spec.training.batchSize;
    const T = m.contextLength;
    const ids = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    for (let i = 0; i < ids.length; i++) {
      ids[i] = (i * 7919) % m.vocabSize;
      targets[i] = (i * 104729 + 1) % m.vocabSize;
    }
    const x = tf.tensor2d(ids, [B, T], 'int32');
    const y = tf.tensor2d(targets, [B, T], 'int32');
    try {
      const { value, grads } = tf.variableGrads(() => model.loss(x, y), model.vars);
      try {
        const loss = (await value.data())[0];
        opt.apply(
          model.vars.map((v) => grads[v.name]),
          1e-4,
        );
        // read one updated parameter back: the update's kernels must have run too
        const probe = tf.sum(model.vars[model.vars.length - 1]);
        const check = (await probe.data())[0];
        probe.dispose();
        return Number.isFinite(check) ? loss : NaN;
      } finally {
        value.dispose();
        tf.dispose(Object.values(grads));
      }
    } finally {
      tf.dispose([x, y]);
      opt.dispose();
      model.dispose();
    }
  };
}
