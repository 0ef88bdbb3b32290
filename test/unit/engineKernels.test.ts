import { strict as assert } from 'node:assert';
import { type TransformerModelSpec } from '../../src/core/contracts';
import { initBackend, tf } from '../../src/engine/backend';
import { fusedAttentionUnavailable, fusedCausalAttention } from '../../src/engine/kernels/attention';
import { attentionFromEnv, resolveAttention, TransformerModel } from '../../src/engine/model';
import { AdamW } from '../../src/engine/optimizer';
import { referenceAttention, tokenBatch as batch } from './engineHelpers';


function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** B, T, H, dh: T not a multiple of 4, dh on the specialised (8, 16, 32) and generic (12, 20) paths. */
const CASES: [number, number, number, number][] = [
  [2, 7, 2, 8],
  [1, 16, 3, 12],
  [3, 5, 1, 20],
  [1, 9, 2, 128], // head sizes above 64 (regression: the accumulators held only 64 floats)
  [1, 5, 1, 256],
  [2, 33, 4, 32],
  [1, 1, 2, 16],
];

const TINY: TransformerModelSpec = { family: 'transformer', dModel: 32, nLayers: 2, nHeads: 4, contextLength: 12, vocabSize: 20, mlpRatio: 2, tiedEmbeddings: false };


for (const backend of ['cpu', 'wasm'] as const) {
  describe(`fused causal attention kernel (${backend})`, function () {
    this.timeout(60_000);
    before(async () => {
      await initBackend(backend);
    });

    it('is available for head sizes that are multiples of 4 and says why not otherwise', () => {
      assert.equal(fusedAttentionUnavailable(32), null);
      assert.match(fusedAttentionUnavailable(6) ?? '', /multiple of 4/);
      assert.equal(resolveAttention('auto', 32), 'fused');
      assert.equal(resolveAttention('auto', 6), 'tfjs');
      assert.equal(resolveAttention('tfjs', 32), 'tfjs');
      assert.throws(() => resolveAttention('fused', 6), /unavailable: head size 6/);
      const huge = { tokens: 2 ** 20, T: 1024, dModel: 1024 };
      assert.match(fusedAttentionUnavailable(64, huge) ?? '', /needs more than 1.5 GiB/);
      assert.equal(resolveAttention('auto', 64, huge), 'tfjs');
      assert.equal(resolveAttention('auto', 64, { tokens: 2048, T: 128, dModel: 128 }), 'fused');
    });

    for (const [B, T, H, dh] of CASES) {
      it(`matches plain tfjs attention and its gradient (B${B} T${T} H${H} dh${dh})`, () => {
        const before = tf.memory().numTensors;
        tf.tidy(() => {
          const qkv = tf.randomNormal([B * T, 3 * H * dh], 0, 1.5, 'float32', B * 100 + T) as tf.Tensor2D;
          const r = tf.randomNormal([B * T, H * dh], 0, 1, 'float32', 7) as tf.Tensor2D;
          const yRef = referenceAttention(qkv, B, T, H);
          const yFused = fusedCausalAttention(qkv, B, T, H);
          assert.deepEqual(yFused.shape, [B * T, H * dh]);
          assert.ok(maxAbsDiff(yFused, yRef) < 2e-5, `forward max |Δ| ${maxAbsDiff(yFused, yRef)}`);
          const gRef = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(referenceAttention(x as tf.Tensor2D, B, T, H), r)))(qkv);
          const gFused = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(fusedCausalAttention(x as tf.Tensor2D, B, T, H), r)))(qkv);
          const scaleOf = tf.max(tf.abs(gRef)).dataSync()[0];
          assert.ok(scaleOf > 1e-3, 'the gradient is not trivially zero');
          const diff = maxAbsDiff(gFused, gRef);
          assert.ok(diff < 5e-5 * Math.max(1, scaleOf), `gradient max |Δ| ${diff} (max |g| ${scaleOf})`);
        });
        assert.equal(tf.memory().numTensors, before, 'no tensors leak');
      });
    }

    it('is causal: changing a later token leaves earlier outputs bit-identical', () => {
      tf.tidy(() => {
        const [B, T, H, dh] = [1, 9, 2, 8];
        const a = tf.randomNormal([B * T, 3 * H * dh], 0, 1, 'float32', 3) as tf.Tensor2D;
        const bump = tf.concat([tf.zeros([T - 1, 3 * H * dh]), tf.ones([1, 3 * H * dh])]);
        const ya = fusedCausalAttention(a, B, T, H).arraySync();
        const yb = fusedCausalAttention(tf.add(a, bump) as tf.Tensor2D, B, T, H).arraySync();
        assert.deepEqual(ya.slice(0, T - 1), yb.slice(0, T - 1));
        assert.notDeepEqual(ya[T - 1], yb[T - 1]);
      });
    });

    it('model: fused and tfjs attention give the same loss, gradients and training trajectory', () => {
      const fused = new TransformerModel(TINY, 5);
      const plain = new TransformerModel(TINY, 5);
      fused.attention = 'fused';
      plain.attention = 'tfjs';
      const [ids, tg] = batch(3, TINY.contextLength, TINY.vocabSize, 9);
      try {
        tf.tidy(() => plain.loss(ids, tg)); // the tfjs path caches its causal mask on first use
        const before = tf.memory().numTensors;
        tf.tidy(() => {
          const gf = tf.variableGrads(() => fused.loss(ids, tg), fused.vars);
          const gp = tf.variableGrads(() => plain.loss(ids, tg), plain.vars);
          const lf = gf.value.dataSync()[0];
          const lp = gp.value.dataSync()[0];
          assert.ok(Math.abs(lf - lp) < 1e-5, `loss ${lf} vs ${lp}`);
          let worst = 0;
          for (let i = 0; i < fused.vars.length; i++) {
            const g1 = gf.grads[fused.vars[i].name];
            const g2 = gp.grads[plain.vars[i].name];
            worst = Math.max(worst, maxAbsDiff(g1, g2));
          }
          assert.ok(worst < 1e-5, `parameter gradients max |Δ| ${worst}`);
        });
        assert.equal(tf.memory().numTensors, before, 'no tensors leak');
        // a few optimiser steps: the trajectories stay together
        const losses: number[][] = [[], []];
        [fused, plain].forEach((m, which) => {
          const opt = new AdamW(m.vars, m.layout.map((p) => p.decay), { beta1: 0.9, beta2: 0.95, weightDecay: 0.1, gradClip: 1 });
          for (let s = 0; s < 4; s++) {
            tf.tidy(() => {
              const g = tf.variableGrads(() => m.loss(ids, tg), m.vars);
              losses[which].push(g.value.dataSync()[0]);
              opt.apply(m.vars.map((v) => g.grads[v.name]), 3e-3);
            });
          }
          opt.dispose();
        });
        assert.ok(losses[0][3] < losses[0][0], `training lowers the loss: ${losses[0]}`);
        for (let s = 0; s < 4; s++) assert.ok(Math.abs(losses[0][s] - losses[1][s]) < 1e-4, `step ${s}: ${losses[0][s]} vs ${losses[1][s]}`);
      } finally {
        tf.dispose([ids, tg]);
        fused.dispose();
        plain.dispose();
      }
    });
  });
}

describe('FLOPSFIT_ATTENTION', () => {
  it('parses fused / tfjs / auto and rejects anything else with the variable named', () => {
    assert.equal(attentionFromEnv({}), 'auto');
    assert.equal(attentionFromEnv({ FLOPSFIT_ATTENTION: 'TFJS' }), 'tfjs');
    assert.equal(attentionFromEnv({ FLOPSFIT_ATTENTION: 'fused' }), 'fused');
    assert.throws(() => attentionFromEnv({ FLOPSFIT_ATTENTION: 'fast' }), /FLOPSFIT_ATTENTION must be fused, tfjs or auto/);
  });
});
