/**
 * The engine's own WebAssembly SIMD kernels that run in place on the tfjs wasm heap
 * (src/engine/kernels/heapKernels.ts): every op against an independent reference (plain tfjs ops,
 * or sums written out in JS), one describe block per op so the element-wise kernels (LayerNorm,
 * GELU, cross-entropy, AdamW) can join later; then the model with heap vs tfjs kernels, the
 * FLOPSFIT_KERNELS parsing, and the SIMD128 build (FLOPSFIT_WASM_RELAXED=0) in a child process.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { type TransformerModelSpec } from '../../src/core/contracts';
import { initBackend, tf } from '../../src/engine/backend';
import { heapCrossEntropy, heapGelu, heapLayerNorm } from '../../src/engine/kernels/heapElementwise';
import { heapKernelsUnavailable, heapOps, kernelBuild } from '../../src/engine/kernels/heapKernels';
import { kernelsFromEnv, resolveKernels, TransformerModel } from '../../src/engine/model';
import { AdamW } from '../../src/engine/optimizer';
import { referenceAttention, tokenBatch as batch } from './engineHelpers';

const ROOT = path.resolve(__dirname, '..', '..');

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape, 'shapes differ');
  if (a.size === 0) return 0;
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function maxAbs(a: tf.Tensor): number {
  return a.size === 0 ? 0 : tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);
}

function randn(shape: number[], seed: number, std = 1): tf.Tensor {
  return tf.randomNormal(shape, 0, std, 'float32', seed);
}


/** referenceAttention as plain JavaScript for the child processes (`tf` in scope). */
const REFERENCE_ATTENTION_JS = `(qkv, B, T, H) => {
  const d = qkv.shape[1] / 3, dh = d / H;
  const [q, k, v] = tf.split(qkv, 3, 1);
  const heads = (t) => tf.transpose(tf.reshape(t, [B, T, H, dh]), [0, 2, 1, 3]);
  const s = tf.div(tf.matMul(heads(q), heads(k), false, true), Math.sqrt(dh));
  const masked = tf.where(tf.cast(tf.linalg.bandPart(tf.ones([T, T]), -1, 0), 'bool'), s, tf.fill(s.shape, -1e9));
  return tf.reshape(tf.transpose(tf.matMul(tf.softmax(masked), heads(v)), [0, 2, 1, 3]), [B * T, d]);
}`;


/** Runs `fn` and checks it leaves no tensors behind. */
function noLeak(fn: () => void): void {
  const before = tf.memory().numTensors;
  fn();
  assert.equal(tf.memory().numTensors, before, 'no tensors leak');
}

/** Restores the backend a describe block found (the other test files set their own, but be polite). */
function keepBackend(): void {
  let prev = '';
  before(() => {
    prev = tf.getBackend();
  });
  after(async () => {
    if ((prev === 'cpu' || prev === 'wasm') && tf.getBackend() !== prev) await initBackend(prev);
  });
}

describe('heap kernels (wasm)', function () {
  this.timeout(60_000);
  keepBackend();
  before(async () => {
    await initBackend('wasm');
    assert.equal(heapKernelsUnavailable(), null, 'the heap kernels load on the wasm backend');
  });

  it('reports which build it runs', () => {
    assert.match(kernelBuild(), /^(relaxed SIMD \(fused multiply-add\)|this runtime has no relaxed SIMD|FLOPSFIT_WASM_RELAXED=0)$/);
  });

  describe('matMul', () => {
    /** M, N, K: odd sizes, M > 128 (M blocking), K > 256 and > 512 (K blocking), N not a multiple of 8. */
    const SHAPES: [number, number, number][] = [
      [37, 13, 5],
      [1, 1, 1],
      [4, 8, 16],
      [130, 129, 300],
      [129, 7, 513],
      [3, 33, 257],
    ];
    for (const [M, N, K] of SHAPES) {
      for (const [ta, tb] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        it(`equals tf.matMul (+ bias) for M${M} N${N} K${K}${ta ? ' Aᵀ' : ''}${tb ? ' Bᵀ' : ''}`, () => {
          noLeak(() =>
            tf.tidy(() => {
              const seed = M * 1000 + N * 10 + K + (ta ? 1 : 0) + (tb ? 2 : 0);
              const a = randn(ta ? [K, M] : [M, K], seed) as tf.Tensor2D;
              const b = randn(tb ? [N, K] : [K, N], seed + 1) as tf.Tensor2D;
              const bias = randn([N], seed + 2) as tf.Tensor1D;
              const tol = 2e-6 * K; // float32 rounding of a K-term sum of N(0,1) products: ~1e-7·K measured, 20× headroom
              const ref = tf.matMul(a, b, ta, tb);
              const got = heapOps.matMul(a, b, ta, tb);
              assert.deepEqual(got.shape, [M, N]);
              const d0 = maxAbsDiff(got, ref);
              assert.ok(d0 <= tol, `no bias: max |Δ| ${d0} > ${tol}`);
              const gotB = heapOps.matMul(a, b, ta, tb, bias);
              const d1 = maxAbsDiff(gotB, tf.add(ref, bias));
              assert.ok(d1 <= tol, `bias: max |Δ| ${d1} > ${tol}`);
            }),
          );
        });
      }
    }

    it('also matches a float64 product written out in JS (independent of tfjs)', () => {
      tf.tidy(() => {
        const [M, N, K] = [9, 11, 270];
        const a = randn([M, K], 41) as tf.Tensor2D;
        const b = randn([N, K], 42) as tf.Tensor2D;
        const bias = randn([N], 43) as tf.Tensor1D;
        const av = a.dataSync();
        const bv = b.dataSync();
        const cv = bias.dataSync();
        const got = heapOps.matMul(a, b, false, true, bias).dataSync();
        let worst = 0;
        for (let i = 0; i < M; i++)
          for (let j = 0; j < N; j++) {
            let s = cv[j];
            for (let k = 0; k < K; k++) s += av[i * K + k] * bv[j * K + k];
            worst = Math.max(worst, Math.abs(s - got[i * N + j]));
          }
        assert.ok(worst < 2e-6 * K, `max |Δ| ${worst}`);
      });
    });

    it('throws a clear error on mismatched inner sizes and a wrong bias length', () => {
      tf.tidy(() => {
        const a = tf.ones([3, 4]) as tf.Tensor2D;
        assert.throws(() => heapOps.matMul(a, tf.ones([5, 2]) as tf.Tensor2D), /FlopsfitMatMul: inner sizes 4 and 5 differ/);
        assert.throws(() => heapOps.matMul(a, tf.ones([3, 2]) as tf.Tensor2D, true, true), /inner sizes 3 and 2 differ/);
        assert.throws(() => heapOps.matMul(a, tf.ones([4, 2]) as tf.Tensor2D, false, false, tf.ones([3]) as tf.Tensor1D), /bias \[3\] for 2 columns/);
        assert.throws(() => heapOps.matMul(tf.ones([2, 3, 4]) as unknown as tf.Tensor2D, tf.ones([4, 2]) as tf.Tensor2D), /rank 2/);
      });
    });

    it('handles empty operands: 0 rows, and K = 0 (the bias alone)', () => {
      noLeak(() =>
        tf.tidy(() => {
          const empty = heapOps.matMul(tf.ones([0, 4]) as tf.Tensor2D, tf.ones([4, 3]) as tf.Tensor2D);
          assert.deepEqual(empty.shape, [0, 3]);
          assert.deepEqual(heapOps.matMul(tf.ones([4, 0]) as tf.Tensor2D, tf.ones([3, 4]) as tf.Tensor2D, true, true).shape, [0, 3]);
          const k0 = heapOps.matMul(tf.ones([2, 0]) as tf.Tensor2D, tf.ones([0, 3]) as tf.Tensor2D, false, false, tf.tensor1d([1, 2, 3]));
          assert.deepEqual(k0.arraySync(), [
            [1, 2, 3],
            [1, 2, 3],
          ]);
          assert.deepEqual(heapOps.matMul(tf.ones([2, 0]) as tf.Tensor2D, tf.ones([0, 3]) as tf.Tensor2D).arraySync(), [
            [0, 0, 0],
            [0, 0, 0],
          ]);
        }),
      );
    });

    it('writes into fresh outputs: repeated calls after other allocations give the same result', () => {
      tf.tidy(() => {
        const a = randn([50, 70], 5) as tf.Tensor2D;
        const b = randn([70, 90], 6) as tf.Tensor2D;
        const first = heapOps.matMul(a, b).dataSync().slice();
        heapOps.matMul(randn([300, 600], 7) as tf.Tensor2D, randn([600, 200], 8) as tf.Tensor2D); // grows the scratch
        assert.deepEqual(heapOps.matMul(a, b).dataSync(), first);
      });
    });
  });

  describe('colSum', () => {
    for (const [M, N] of [
      [1, 1],
      [7, 3],
      [130, 37],
      [5, 64],
      [0, 5],
    ] as [number, number][]) {
      it(`equals tf.sum(x, 0) for [${M}, ${N}]`, () => {
        noLeak(() =>
          tf.tidy(() => {
            const x = randn([M, N], M * 31 + N) as tf.Tensor2D;
            const got = heapOps.colSum(x);
            assert.deepEqual(got.shape, [N]);
            const d = maxAbsDiff(got, tf.sum(x, 0));
            assert.ok(d <= 1e-6 * Math.max(1, M), `max |Δ| ${d}`);
          }),
        );
      });
    }
  });

  describe('linear / linearNoBias', () => {
    /** Gradients of the nonlinear sum(sin(y)) (so dy is not constant) w.r.t. every input. */
    function check(label: string, f: (...t: tf.Tensor2D[]) => tf.Tensor, ref: (...t: tf.Tensor2D[]) => tf.Tensor, inputs: tf.Tensor[], K: number): void {
      const y = f(...(inputs as tf.Tensor2D[]));
      const yr = ref(...(inputs as tf.Tensor2D[]));
      const tol = 2e-6 * Math.max(1, K);
      assert.ok(maxAbsDiff(y, yr) <= tol, `${label} value: max |Δ| ${maxAbsDiff(y, yr)}`);
      const loss = (g: (...t: tf.Tensor2D[]) => tf.Tensor) => (...t: tf.Tensor[]) => tf.sum(tf.sin(g(...(t as tf.Tensor2D[]))));
      const g1 = tf.grads(loss(f))(inputs);
      const g2 = tf.grads(loss(ref))(inputs);
      g1.forEach((g, i) => {
        const scale = maxAbs(g2[i]);
        assert.ok(scale > 1e-2, `${label} gradient ${i} is not trivially zero`);
        const d = maxAbsDiff(g, g2[i]);
        assert.ok(d <= 2e-6 * Math.max(1, scale) * Math.max(1, Math.sqrt(inputs[0].shape[0])), `${label} gradient ${i}: max |Δ| ${d} (max |g| ${scale})`);
      });
    }

    for (const [M, K, N] of [
      [37, 45, 29],
      [130, 70, 19],
      [6, 260, 9],
    ] as [number, number, number][]) {
      it(`linear: value and gradients wrt x, w, b equal tfjs autodiff (M${M} K${K} N${N})`, () => {
        noLeak(() =>
          tf.tidy(() => {
            const x = randn([M, K], M, 0.3);
            const w = randn([K, N], K, 0.3);
            const b = randn([N], N);
            check('linear', (xx, ww, bb) => heapOps.linear(xx, ww, bb as unknown as tf.Tensor1D), (xx, ww, bb) => tf.add(tf.matMul(xx, ww), bb), [x, w, b], K);
          }),
        );
      });

      for (const transposeW of [false, true]) {
        it(`linearNoBias${transposeW ? ' (x·wᵀ)' : ''}: value and gradients equal tfjs autodiff (M${M} K${K} N${N})`, () => {
          noLeak(() =>
            tf.tidy(() => {
              const x = randn([M, K], M + 1, 0.3);
              const w = randn(transposeW ? [N, K] : [K, N], K + 1, 0.3);
              check(
                'linearNoBias',
                (xx, ww) => heapOps.linearNoBias(xx, ww, transposeW),
                (xx, ww) => tf.matMul(xx, ww, false, transposeW),
                [x, w],
                K,
              );
            }),
          );
        });
      }
    }
  });

  describe('embed', () => {
    /** B, T, V, d, Tmax: d not a multiple of 4, T < Tmax, repeated ids. */
    const CASES: [number, number, number, number, number][] = [
      [2, 5, 7, 8, 5],
      [3, 4, 5, 6, 9],
      [1, 1, 3, 3, 2],
      [4, 13, 50, 20, 16],
    ];
    for (const [B, T, V, d, Tmax] of CASES) {
      it(`equals gather + positions, and its gradients are the scatter-adds (B${B} T${T} V${V} d${d} Tmax${Tmax})`, () => {
        noLeak(() =>
          tf.tidy(() => {
            const [ids] = batch(B, T, V, B * 7 + T);
            const wte = randn([V, d], V) as tf.Tensor2D;
            const wpe = randn([Tmax, d], Tmax + 100) as tf.Tensor2D;
            const ref = tf.reshape(tf.add(tf.reshape(tf.gather(wte, tf.reshape(ids, [B * T])), [B, T, d]), tf.slice(wpe, [0, 0], [T, d])), [B * T, d]);
            const got = heapOps.embed(ids, wte, wpe);
            assert.deepEqual(got.shape, [B * T, d]);
            assert.deepEqual(got.dataSync(), ref.dataSync(), 'forward is exact');

            // d/d(wte, wpe) of sum(embed · r): scatter-add of r's rows, written out in JS (float32 sums in row order)
            const r = randn([B * T, d], 77) as tf.Tensor2D;
            const [gte, gpe] = tf.grads((a: tf.Tensor, p: tf.Tensor) => tf.sum(tf.mul(heapOps.embed(ids, a as tf.Tensor2D, p as tf.Tensor2D), r)))([wte, wpe]);
            assert.deepEqual(gte.shape, [V, d]);
            assert.deepEqual(gpe.shape, [Tmax, d]);
            const idv = ids.dataSync();
            const rv = r.dataSync();
            const ete = new Float32Array(V * d);
            const epe = new Float32Array(Tmax * d);
            for (let n = 0; n < B * T; n++)
              for (let c = 0; c < d; c++) {
                ete[idv[n] * d + c] += rv[n * d + c];
                epe[(n % T) * d + c] += rv[n * d + c];
              }
            const close = (got: Float32Array | Int32Array | Uint8Array, want: Float32Array, what: string) => {
              let worst = 0;
              for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
              assert.ok(worst <= 1e-5, `${what}: max |Δ| ${worst}`);
            };
            close(gte.dataSync(), ete, 'd wte');
            close(gpe.dataSync(), epe, 'd wpe');
            // rows of unused tokens and of positions >= T are exactly zero
            const used = new Set(Array.from(idv));
            const gteRows = gte.arraySync() as number[][];
            for (let v = 0; v < V; v++) if (!used.has(v)) assert.ok(gteRows[v].every((x) => x === 0), `row ${v} of d wte`);
            const gpeRows = gpe.arraySync() as number[][];
            for (let t = T; t < Tmax; t++) assert.ok(gpeRows[t].every((x) => x === 0), `row ${t} of d wpe`);
          }),
        );
      });
    }

    it('gradient agrees with tf.gather autodiff on the cpu backend (a second, independent reference)', async () => {
      const [B, T, V, d, Tmax] = [2, 6, 9, 5, 8];
      const [idsW] = batch(B, T, V, 3);
      const ids = idsW.arraySync();
      const wteV = (randn([V, d], 1) as tf.Tensor2D).arraySync();
      const wpeV = (randn([Tmax, d], 2) as tf.Tensor2D).arraySync();
      tf.dispose(idsW);
      const loss = (e: tf.Tensor) => tf.sum(tf.sin(tf.mul(e, 1.7)));
      let heap: number[][][];
      {
        const [i, a, p] = [tf.tensor2d(ids, undefined, 'int32'), tf.tensor2d(wteV), tf.tensor2d(wpeV)];
        const gs = tf.grads((aa: tf.Tensor, pp: tf.Tensor) => loss(heapOps.embed(i, aa as tf.Tensor2D, pp as tf.Tensor2D)))([a, p]);
        heap = gs.map((g) => g.arraySync() as number[][]);
        tf.dispose([i, a, p, ...gs]);
      }
      let cpu: number[][][];
      await initBackend('cpu');
      try {
        const [i, a, p] = [tf.tensor2d(ids, undefined, 'int32'), tf.tensor2d(wteV), tf.tensor2d(wpeV)];
        const gs = tf.grads((aa: tf.Tensor, pp: tf.Tensor) =>
          loss(tf.reshape(tf.add(tf.reshape(tf.gather(aa, tf.reshape(i, [B * T])), [B, T, d]), tf.slice(pp, [0, 0], [T, d])), [B * T, d])),
        )([a, p]);
        cpu = gs.map((g) => g.arraySync() as number[][]);
        tf.dispose([i, a, p, ...gs]);
      } finally {
        await initBackend('wasm');
      }
      for (let k = 0; k < 2; k++) {
        let worst = 0;
        heap[k].forEach((row, i) => row.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - cpu[k][i][j])))));
        assert.ok(worst < 1e-5, `gradient ${k}: max |Δ| ${worst}`);
      }
    });

    it('rejects ids outside [0, V) naming the id and the vocabulary, and too few positions', () => {
      noLeak(() =>
        tf.tidy(() => {
          const wte = tf.ones([5, 4]) as tf.Tensor2D;
          const wpe = tf.ones([3, 4]) as tf.Tensor2D;
          assert.throws(() => heapOps.embed(tf.tensor2d([[1, 5]], [1, 2], 'int32'), wte, wpe), /token id 5 at position 1 is outside the vocabulary \[0, 5\)/);
          assert.throws(() => heapOps.embed(tf.tensor2d([[0, 1, -1]], [1, 3], 'int32'), wte, wpe), /token id -1 at position 2 is outside the vocabulary \[0, 5\)/);
          assert.throws(() => heapOps.embed(tf.tensor2d([[1, 1, 1, 1]], [1, 4], 'int32'), wte, wpe), /positions \[3,4\] for T=4/);
          assert.throws(() => heapOps.embed(tf.tensor2d([[1, 2]], [1, 2], 'float32'), wte, wpe), /token ids must be int32/);
        }),
      );
    });
  });

  describe('attention', () => {
    /** B, T, H, dh: T not a multiple of 4, dh on the specialised (8, 16, 32, 64) and generic (4, 12, 20) paths. */
    const CASES: [number, number, number, number][] = [
      [2, 7, 2, 8],
      [1, 16, 3, 12],
      [3, 5, 1, 20],
      [2, 33, 4, 32],
      [1, 1, 2, 16],
      [2, 10, 1, 64],
      [1, 6, 3, 4],
    ];
    for (const [B, T, H, dh] of CASES) {
      it(`matches plain tfjs attention and its gradient (B${B} T${T} H${H} dh${dh})`, () => {
        noLeak(() =>
          tf.tidy(() => {
            const qkv = randn([B * T, 3 * H * dh], B * 100 + T, 1.5) as tf.Tensor2D;
            const yRef = referenceAttention(qkv, B, T, H);
            const y = heapOps.attention(qkv, B, T, H);
            assert.deepEqual(y.shape, [B * T, H * dh]);
            const dy = maxAbsDiff(y, yRef);
            assert.ok(dy < 2e-5, `forward max |Δ| ${dy}`);
            const loss = (att: (q: tf.Tensor2D) => tf.Tensor2D) => (x: tf.Tensor) => tf.sum(tf.sin(att(x as tf.Tensor2D)));
            const gRef = tf.grad(loss((q) => referenceAttention(q, B, T, H)))(qkv);
            const g = tf.grad(loss((q) => heapOps.attention(q, B, T, H)))(qkv);
            const scale = maxAbs(gRef);
            assert.ok(scale > 1e-3, 'the gradient is not trivially zero');
            const dg = maxAbsDiff(g, gRef);
            assert.ok(dg < 5e-5 * Math.max(1, scale), `gradient max |Δ| ${dg} (max |g| ${scale})`);
          }),
        );
      });
    }

    it('rejects a qkv whose shape does not fit B, T, H', () => {
      tf.tidy(() => {
        assert.throws(() => heapOps.attention(tf.ones([10, 24]) as tf.Tensor2D, 2, 4, 2), /FlopsfitAttention: bad shape \[10,24\] for B=2 T=4 H=2/);
        assert.throws(() => heapOps.attention(tf.ones([8, 24]) as tf.Tensor2D, 2, 4, 3), /bad shape/);
      });
    });

    // Regression: heapOps.attention used to run dh = 6 with dv = 1 and leave output columns 4..5 of
    // every head unwritten (whatever was on the heap).
    it('rejects a head size that is not a multiple of 4 instead of returning garbage', () => {
      tf.tidy(() => {
        assert.throws(() => heapOps.attention(randn([5, 18], 1) as tf.Tensor2D, 1, 5, 1), /head size 6/);
      });
    });

    // Regression: attention.c sized its per-row accumulators for 64 floats (f4 acc[MAXV / 4]) while
    // head sizes up to 256 were accepted: wrong results and a corrupted wasm heap for dh > 64. Run
    // in a child process so a corruption cannot reach this one.
    it('head sizes above 64 that the model accepts (dh 68, 128) match plain tfjs (child process)', function () {
      this.timeout(30_000);
      const out = childRun(
        {},
        `
        const referenceAttention = ${REFERENCE_ATTENTION_JS};
        const res = [];
        for (const [B, T, H, dh] of [[1, 9, 1, 68], [1, 9, 2, 128]]) {
          res.push(tf.tidy(() => {
            const qkv = tf.randomNormal([B * T, 3 * H * dh], 0, 1, 'float32', 1);
            const f = (q) => tf.sum(tf.sin(hk.heapOps.attention(q, B, T, H)));
            const r = (q) => tf.sum(tf.sin(referenceAttention(q, B, T, H)));
            const dy = tf.max(tf.abs(tf.sub(hk.heapOps.attention(qkv, B, T, H), referenceAttention(qkv, B, T, H)))).dataSync()[0];
            const dg = tf.max(tf.abs(tf.sub(tf.grad(f)(qkv), tf.grad(r)(qkv)))).dataSync()[0];
            return { dh, dy, dg };
          }));
        }
        return res;`,
      ) as { dh: number; dy: number; dg: number }[];
      for (const { dh, dy, dg } of out) assert.ok(dy < 2e-5 && dg < 1e-4, `dh ${dh}: forward max |Δ| ${dy}, gradient max |Δ| ${dg}`);
    });
  });

  describe('element-wise ops against float64 references', () => {
    // Independent references in float64 JS, including the tails where exp over/underflows.
    const xs = [-100, -20, -10.5, -5, -3, -1, -0.5, -1e-3, 0, 1e-3, 0.5, 1, 2.5, 3, 5, 10.5, 20, 100, 1e30, -1e30];
    const C = Math.sqrt(2 / Math.PI);
    const geluRef = (x: number) => 0.5 * x * (1 + Math.tanh(C * (x + 0.044715 * x ** 3)));
    const geluGradRef = (x: number) => {
      const t = Math.tanh(C * (x + 0.044715 * x ** 3));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * C * (1 + 3 * 0.044715 * x * x);
    };

    it('GELU and its gradient, including saturated tails and a length not a multiple of 4', () => {
      noLeak(() => {
        tf.tidy(() => {
          const vals = [...xs, ...Array.from({ length: 23 }, (_, i) => (i - 11) * 0.37)];
          const x = tf.tensor2d(vals, [1, vals.length]);
          const dy = tf.tensor2d(vals.map((_, i) => 1 + (i % 3)), [1, vals.length]);
          const [y, g] = [heapGelu(x).dataSync(), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(heapGelu(t as tf.Tensor2D), dy)))(x).dataSync()];
          vals.forEach((v, i) => {
            const tolY = 2e-6 * Math.max(1, Math.abs(v) > 1e6 ? 0 : Math.abs(v));
            if (Math.abs(v) > 1e6) assert.ok(v > 0 ? y[i] === Math.fround(v) : Math.abs(y[i]) < 1e-6, `gelu(${v}) = ${y[i]}`);
            else assert.ok(Math.abs(y[i] - geluRef(v)) <= tolY, `gelu(${v}) = ${y[i]}, expected ${geluRef(v)}`);
            const expG = (1 + (i % 3)) * (Math.abs(v) > 1e6 ? (v > 0 ? 1 : 0) : geluGradRef(v));
            assert.ok(Math.abs(g[i] - expG) <= 1e-5 * (1 + (i % 3)), `gelu'(${v}) = ${g[i]}, expected ${expG}`);
          });
        });
      });
    });

    it('LayerNorm forward and gradients (width not a multiple of 4)', () => {
      noLeak(() => {
        tf.tidy(() => {
          const x = randn([6, 13], 3, 2) as tf.Tensor2D;
          const g = randn([13], 4) as tf.Tensor1D;
          const b = randn([13], 5) as tf.Tensor1D;
          const w = randn([6, 13], 6);
          const ref = (x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor) => {
            const mean = tf.mean(x, 1, true);
            const xc = tf.sub(x, mean);
            const v = tf.mean(tf.mul(xc, xc), 1, true);
            return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(v, 1e-5))), g), b);
          };
          assert.ok(maxAbsDiff(heapLayerNorm(x, g, b), ref(x, g, b)) < 1e-5);
          const f = (fn: typeof ref) => (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(fn(x as tf.Tensor2D, g, b), w));
          const gh = tf.grads(f(heapLayerNorm))([x, g, b]);
          const gr = tf.grads(f(ref))([x, g, b]);
          gh.forEach((t, i) => assert.ok(maxAbsDiff(t, gr[i]) < 1e-4, `gradient ${i}: ${maxAbsDiff(t, gr[i])}`));
        });
      });
    });

    it('cross-entropy per row and its gradient against log-softmax; out-of-vocabulary targets throw', () => {
      noLeak(() => {
        tf.tidy(() => {
          const logits = tf.mul(randn([5, 11], 7), 20) as tf.Tensor2D; // large logits: stable log-sum-exp needed
          const targets = tf.tensor1d([0, 10, 3, 3, 7], 'int32');
          const ref = (l: tf.Tensor2D) => tf.neg(tf.sum(tf.mul(tf.oneHot(targets, 11).asType('float32'), tf.logSoftmax(l)), 1));
          assert.ok(maxAbsDiff(heapCrossEntropy(logits, targets), ref(logits)) < 1e-4);
          const w = tf.tensor1d([1, 2, 3, 4, 5]);
          const gh = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(heapCrossEntropy(l as tf.Tensor2D, targets), w)))(logits);
          const gr = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(ref(l as tf.Tensor2D), w)))(logits);
          assert.ok(maxAbsDiff(gh, gr) < 1e-5, `gradient ${maxAbsDiff(gh, gr)}`);
          assert.throws(() => heapCrossEntropy(logits, tf.tensor1d([0, 11, 0, 0, 0], 'int32')), /target id 11 at position 1 is outside the vocabulary \[0, 11\)/);
        });
      });
    });
  });

  describe('model: heap vs tfjs kernels', () => {
    const SPECS: [string, TransformerModelSpec, number][] = [
      ['untied, T = context', { family: 'transformer', dModel: 32, nLayers: 2, nHeads: 4, contextLength: 12, vocabSize: 20, mlpRatio: 2, tiedEmbeddings: false }, 12],
      ['tied, T < context', { family: 'transformer', dModel: 32, nLayers: 2, nHeads: 4, contextLength: 12, vocabSize: 20, mlpRatio: 2, tiedEmbeddings: true }, 7],
      ['tied, head size 6 (tfjs attention on the heap path), odd sizes', { family: 'transformer', dModel: 18, nLayers: 1, nHeads: 3, contextLength: 9, vocabSize: 13, mlpRatio: 3, tiedEmbeddings: true }, 9],
    ];

    for (const [label, spec, T] of SPECS) {
      for (const attention of ['auto', 'tfjs'] as const) {
        if (attention === 'tfjs' && label.startsWith('tied, head size 6')) continue; // already the tfjs attention
        it(`same loss, parameter gradients and AdamW trajectory (${label}, heap attention ${attention})`, () => {
          const heap = new TransformerModel(spec, 5);
          const plain = new TransformerModel(spec, 5);
          heap.kernels = 'heap';
          heap.attention = attention;
          plain.kernels = 'tfjs';
          plain.attention = 'tfjs';
          const [ids, tg] = batch(3, T, spec.vocabSize, 9);
          try {
            tf.tidy(() => [heap, plain].forEach((m) => m.loss(ids, tg))); // the tfjs attention caches its causal mask on first use
            noLeak(() =>
              tf.tidy(() => {
                const gh = tf.variableGrads(() => heap.loss(ids, tg), heap.vars);
                const gp = tf.variableGrads(() => plain.loss(ids, tg), plain.vars);
                const lh = gh.value.dataSync()[0];
                const lp = gp.value.dataSync()[0];
                assert.ok(Number.isFinite(lh) && Math.abs(lh - lp) < 1e-5, `loss ${lh} vs ${lp}`);
                for (let i = 0; i < heap.vars.length; i++) {
                  const name = heap.layout[i].name;
                  const g1 = gh.grads[heap.vars[i].name];
                  const g2 = gp.grads[plain.vars[i].name];
                  assert.ok(g1 && g2, `gradient of ${name}`);
                  const scale = maxAbs(g2);
                  const d = maxAbsDiff(g1, g2);
                  assert.ok(d < 1e-5 + 1e-4 * scale, `${name}: max |Δ| ${d} (max |g| ${scale})`);
                }
                if (T < spec.contextLength) {
                  const wpeGrad = gh.grads[heap.p('wpe').name].arraySync() as number[][];
                  for (let t = T; t < spec.contextLength; t++) assert.ok(wpeGrad[t].every((x) => x === 0), `unused position ${t} has zero gradient`);
                }
              }),
            );
            // a few AdamW steps, each model with the optimizer on the same kernels as itself
            const losses: number[][] = [[], []];
            const before = tf.memory().numTensors;
            [heap, plain].forEach((m, which) => {
              const opt = new AdamW(m.vars, m.layout.map((p) => p.decay), { beta1: 0.9, beta2: 0.95, weightDecay: 0.1, gradClip: 1 });
              if ('kernels' in opt) (opt as { kernels: string }).kernels = m.kernels;
              for (let s = 0; s < 4; s++) {
                tf.tidy(() => {
                  const g = tf.variableGrads(() => m.loss(ids, tg), m.vars);
                  losses[which].push(g.value.dataSync()[0]);
                  opt.apply(m.vars.map((v) => g.grads[v.name]), 3e-3);
                });
              }
              opt.dispose();
            });
            assert.equal(tf.memory().numTensors, before, 'the optimizer steps leak no tensors');
            assert.ok(losses[0][3] < losses[0][0], `training lowers the loss: ${losses[0]}`);
            for (let s = 0; s < 4; s++) assert.ok(Math.abs(losses[0][s] - losses[1][s]) < 1e-4, `step ${s}: ${losses[0][s]} vs ${losses[1][s]}`);
            let drift = 0;
            heap.vars.forEach((v, i) => (drift = Math.max(drift, maxAbsDiff(v, plain.vars[i]))));
            assert.ok(drift < 1e-4, `parameters after 4 steps: max |Δ| ${drift}`);
          } finally {
            tf.dispose([ids, tg]);
            heap.dispose();
            plain.dispose();
          }
        });
      }
    }

    it('logits have the right shape and reject an out-of-vocabulary id with the id named', () => {
      const spec: TransformerModelSpec = { family: 'transformer', dModel: 16, nLayers: 1, nHeads: 2, contextLength: 8, vocabSize: 10, mlpRatio: 2, tiedEmbeddings: false };
      const m = new TransformerModel(spec, 1);
      m.kernels = 'heap';
      try {
        noLeak(() =>
          tf.tidy(() => {
            assert.deepEqual(m.logits(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32')).shape, [3, 10]);
            assert.throws(() => m.logits(tf.tensor2d([[1, 10, 3]], [1, 3], 'int32')), /token id 10 at position 1 is outside the vocabulary \[0, 10\)/);
          }),
        );
      } finally {
        m.dispose();
      }
    });
  });
});

describe('FLOPSFIT_KERNELS and resolveKernels', function () {
  this.timeout(30_000);
  keepBackend();

  it('parses heap / tfjs / auto (default auto, case and spaces ignored) and rejects anything else with the variable named', () => {
    assert.equal(kernelsFromEnv({}), 'auto');
    assert.equal(kernelsFromEnv({ FLOPSFIT_KERNELS: '' }), 'auto');
    assert.equal(kernelsFromEnv({ FLOPSFIT_KERNELS: 'AUTO' }), 'auto');
    assert.equal(kernelsFromEnv({ FLOPSFIT_KERNELS: 'Heap' }), 'heap');
    assert.equal(kernelsFromEnv({ FLOPSFIT_KERNELS: ' TFJS ' }), 'tfjs');
    assert.throws(() => kernelsFromEnv({ FLOPSFIT_KERNELS: 'simd' }), /FLOPSFIT_KERNELS must be heap, tfjs or auto, not 'simd'/);
  });

  it('on the cpu backend: heap is unavailable with the reason, auto resolves to tfjs, heap throws', async () => {
    await initBackend('cpu');
    assert.equal(heapKernelsUnavailable(), 'the backend is cpu, not wasm');
    assert.equal(resolveKernels('auto'), 'tfjs');
    assert.equal(resolveKernels('tfjs'), 'tfjs');
    assert.throws(() => resolveKernels('heap'), /heap kernels requested but unavailable: the backend is cpu, not wasm/);
    const m = new TransformerModel({ family: 'transformer', dModel: 8, nLayers: 1, nHeads: 2, contextLength: 4, vocabSize: 5, mlpRatio: 2, tiedEmbeddings: false }, 1);
    try {
      m.kernels = 'heap';
      assert.throws(() => tf.tidy(() => m.loss(...batch(1, 4, 5, 1))), /heap kernels requested but unavailable/);
    } finally {
      m.dispose();
    }
  });

  it('on the wasm backend: auto and heap resolve to heap, tfjs stays tfjs', async () => {
    await initBackend('wasm');
    assert.equal(heapKernelsUnavailable(), null);
    assert.equal(resolveKernels('auto'), 'heap');
    assert.equal(resolveKernels('heap'), 'heap');
    assert.equal(resolveKernels('tfjs'), 'tfjs');
  });
});

/**
 * Runs `body` (JavaScript; in scope: `tf`, `hk` = heapKernels, `why` = heapKernelsUnavailable(), on
 * the wasm backend) in a fresh node process with `env` added, and returns what it returns (JSON).
 */
function childRun(env: Record<string, string>, body: string): unknown {
  const script = `
    const { initBackend, tf } = require('./src/engine/backend');
    const hk = require('./src/engine/kernels/heapKernels');
    (async () => {
      await initBackend('wasm');
      const why = hk.heapKernelsUnavailable(); // registers the kernels
      const out = await (async () => { ${body} })();
      process.stdout.write('\\n@@' + JSON.stringify(out) + '\\n');
    })().catch((e) => { console.error(e); process.exit(1); });`;
  let stdout: string;
  try {
    stdout = execFileSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 25_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { status?: number; signal?: string; stderr?: string };
    const lines = (e.stderr ?? '').split('\n').filter((l) => l.length < 400); // tfjs-wasm prints its whole minified source on a crash
    assert.fail(`the child process failed (status ${e.status}, signal ${e.signal}): ${lines.slice(0, 12).join('\n')}`);
  }
  const line = stdout.split('\n').find((l) => l.startsWith('@@'));
  assert.ok(line, `no result from the child process: ${stdout}`);
  return JSON.parse(line.slice(2));
}

describe('heap kernels: SIMD128 build (FLOPSFIT_WASM_RELAXED=0)', function () {
  this.timeout(30_000);

  it('loads without relaxed SIMD, says so, and matches tfjs on matMul, linear gradients and attention', () => {
    const out = childRun(
      { FLOPSFIT_WASM_RELAXED: '0', FLOPSFIT_KERNELS: 'auto' },
      `
      const build = hk.kernelBuild();
      const r = tf.tidy(() => {
        const a = tf.randomNormal([130, 300], 0, 1, 'float32', 1);
        const b = tf.randomNormal([129, 300], 0, 1, 'float32', 2);
        const bias = tf.randomNormal([129], 0, 1, 'float32', 3);
        const mm = tf.max(tf.abs(tf.sub(hk.heapOps.matMul(a, b, false, true, bias), tf.add(tf.matMul(a, b, false, true), bias)))).dataSync()[0];
        const x = tf.randomNormal([37, 45], 0, 0.3, 'float32', 4);
        const w = tf.randomNormal([45, 29], 0, 0.3, 'float32', 5);
        const c = tf.randomNormal([29], 0, 1, 'float32', 6);
        const g1 = tf.grads((xx, ww, cc) => tf.sum(tf.sin(hk.heapOps.linear(xx, ww, cc))))([x, w, c]);
        const g2 = tf.grads((xx, ww, cc) => tf.sum(tf.sin(tf.add(tf.matMul(xx, ww), cc))))([x, w, c]);
        const lin = Math.max(...g1.map((g, i) => tf.max(tf.abs(tf.sub(g, g2[i]))).dataSync()[0]));
        const qkv = tf.randomNormal([14, 48], 0, 1.5, 'float32', 7);
        const ref = (${REFERENCE_ATTENTION_JS})(qkv, 2, 7, 2);
        const att = tf.max(tf.abs(tf.sub(hk.heapOps.attention(qkv, 2, 7, 2), ref))).dataSync()[0];
        return { mm, lin, att };
      });
      return { why, build, ...r };`,
    ) as { why: string | null; build: string; mm: number; lin: number; att: number };
    assert.equal(out.why, null);
    assert.equal(out.build, 'FLOPSFIT_WASM_RELAXED=0');
    assert.ok(out.mm < 2e-6 * 300, `matMul max |Δ| ${out.mm}`);
    assert.ok(out.lin < 1e-4, `linear gradients max |Δ| ${out.lin}`);
    assert.ok(out.att < 2e-5, `attention max |Δ| ${out.att}`);
  });
});
