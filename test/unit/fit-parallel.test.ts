import { strict as assert } from 'node:assert';
import { fitParametricResample } from '../../src/core/fit/parametricMethod';
import { runParametric } from '../../src/core/fit/steps';
import { FitPool, fitParametricDataParallel, fitParametricResamplesParallel } from '../../src/core/fit/parallel';
import { makeHuberObjective, makeHuberObjectiveTs } from '../../src/core/fit/huberObjective';
import { fitParametricData } from '../../src/core/fit/multiStart';
import { besirogluGrid, makeParametricData, resampleParametricData } from '../../src/core/fit/parametric';
import { Rng } from '../../src/core/fit/rng';
import { wasmObjectiveAvailable } from '../../src/core/fit/wasmObjective';
import { isoflopGrid } from './fit-helpers';

describe('fit internals: WebAssembly objective', () => {
  it('is in use under node and agrees with the TypeScript kernel (value and gradient, plain and weighted)', () => {
    assert.ok(wasmObjectiveAvailable(), 'WebAssembly SIMD kernel did not load');
    const pts = isoflopGrid({ noise: 0.02, sizes: 7 }); // 49 points: an odd count exercises the padding
    const data = makeParametricData(pts.map((p) => p.N), pts.map((p) => p.D), pts.map((p) => p.loss));
    const rng = new Rng(11);
    const idx = Int32Array.from({ length: pts.length }, () => rng.int(pts.length));
    const g1 = new Float64Array(5);
    const g2 = new Float64Array(5);
    for (const d of [data, resampleParametricData(data, idx)]) {
      const wasm = makeHuberObjective(d);
      const ts = makeHuberObjectiveTs(d);
      assert.notEqual(wasm, ts);
      for (let k = 0; k < 500; k++) {
        const x = Float64Array.from([rng.next() * 25, rng.next() * 25, rng.next() * 2 - 1, rng.next() * 2, rng.next() * 2]);
        const f1 = wasm(x, g1);
        const f2 = ts(x, g2);
        assert.ok(Math.abs(f1 - f2) <= 1e-12 * Math.abs(f2), `f ${f1} vs ${f2} at ${x}`);
        const scale = Math.max(...g2.map(Math.abs));
        for (let i = 0; i < 5; i++) assert.ok(Math.abs(g1[i] - g2[i]) <= 1e-12 * scale, `g[${i}] ${g1[i]} vs ${g2[i]} at ${x}`);
      }
    }
  });

  it('hands wild iterates to the TypeScript kernel, and keeps two objectives apart', () => {
    const a = isoflopGrid({ sizes: 3 });
    const b = isoflopGrid({ sizes: 5, noise: 0.05, seed: 4 });
    const da = makeParametricData(a.map((p) => p.N), a.map((p) => p.D), a.map((p) => p.loss));
    const db = makeParametricData(b.map((p) => p.N), b.map((p) => p.D), b.map((p) => p.loss));
    const fa = makeHuberObjective(da);
    const fb = makeHuberObjective(db);
    const g = new Float64Array(5);
    const gt = new Float64Array(5);
    const x = Float64Array.from([6, 6, 0.5, 0.34, 0.28]);
    // interleaved calls must each see their own data
    for (let k = 0; k < 3; k++) {
      assert.ok(Math.abs(fa(x, g) - makeHuberObjectiveTs(da)(x, gt)) <= 1e-12 * Math.abs(makeHuberObjectiveTs(da)(x, gt)));
      assert.ok(Math.abs(fb(x, g) - makeHuberObjectiveTs(db)(x, gt)) <= 1e-12 * Math.abs(makeHuberObjectiveTs(db)(x, gt)));
    }
    const wild = Float64Array.from([900, 0, 0, 0, 0]);
    assert.equal(fa(wild, g), makeHuberObjectiveTs(da)(wild, gt));
    assert.deepEqual(Array.from(g), Array.from(gt));
  });
});

describe('fit internals: worker_threads pool', () => {
  const pts = isoflopGrid({ noise: 0.01, sizes: 6 });
  const state = runParametric(pts);
  if (typeof state === 'string') throw new Error(state);
  const grid = besirogluGrid().subarray(0, 5 * 240);

  for (const workers of [1, 2, 3]) {
    it(`gives the single-threaded multi-start and bootstrap bit for bit with ${workers} worker(s)`, async () => {
      const pool = new FitPool(workers);
      try {
        assert.equal(pool.threads, workers);
        const seq = fitParametricData(state.data, grid, { keepOptima: 4 });
        const par = await fitParametricDataParallel(pool, state.data, grid, { keepOptima: 4 }, 37);
        assert.deepEqual(Array.from(par.x), Array.from(seq.x));
        assert.equal(par.f, seq.f);
        assert.equal(par.convergedStarts, seq.convergedStarts);
        assert.equal(par.totalEvaluations, seq.totalEvaluations);
        assert.deepEqual(par.optima.map((o) => [o.f, ...o.x]), seq.optima.map((o) => [o.f, ...o.x]));

        const rng = new Rng(7, 2);
        const resamples = Array.from({ length: 9 }, () => Int32Array.from({ length: pts.length }, () => rng.int(pts.length)));
        const want = resamples.map((idx) => fitParametricResample(state, idx));
        const got = await fitParametricResamplesParallel(pool, state, resamples, 4);
        assert.deepEqual(got, want);
      } finally {
        await pool.close();
      }
    });
  }
});
