import { strict as assert } from 'node:assert';
import { Lbfgs } from '../../src/core/fit/lbfgs';
import { fastExp, fastLog13, makeHuberObjective } from '../../src/core/fit/huberObjective';
import { besirogluGrid, makeParametricData, resampleParametricData } from '../../src/core/fit/parametric';
import { Rng } from '../../src/core/fit/rng';
import { summarise, quantileSorted } from '../../src/core/fit/bootstrap';
import { groupByBudget } from '../../src/core/fit/isoflop';
import { fitQuadratic } from '../../src/core/fit/leastSquares';
import { isoflopGrid } from './fit-helpers';

describe('fit internals: L-BFGS', () => {
  it('minimises the Rosenbrock function from the classic start', () => {
    const fg = (x: Float64Array, g: Float64Array) => {
      const a = 1 - x[0];
      const b = x[1] - x[0] * x[0];
      g[0] = -2 * a - 400 * x[0] * b;
      g[1] = 200 * b;
      return a * a + 100 * b * b;
    };
    const x = Float64Array.from([-1.2, 1]);
    const r = new Lbfgs(2, { gtol: 1e-10, ftol: 0 }).minimize(fg, x);
    assert.ok(r.converged, r.reason);
    assert.ok(Math.abs(x[0] - 1) < 1e-8 && Math.abs(x[1] - 1) < 1e-8, `${x[0]}, ${x[1]}`);
    assert.ok(r.iterations < 100, `${r.iterations} iterations`);
  });

  it('stops without NaN when the objective overflows', () => {
    const fg = (x: Float64Array, g: Float64Array) => {
      g[0] = -Math.exp(-x[0]);
      return Math.exp(-x[0]);
    };
    const x = Float64Array.from([0]);
    const r = new Lbfgs(1, { maxIter: 200 }).minimize(fg, x);
    assert.ok(Number.isFinite(r.f) && Number.isFinite(x[0]));
  });
});

describe('fit internals: Huber objective', () => {
  it('has an analytic gradient that matches central differences (plain and weighted)', () => {
    const pts = isoflopGrid({ noise: 0.01, sizes: 5 });
    const data = makeParametricData(pts.map((p) => p.N), pts.map((p) => p.D), pts.map((p) => p.loss));
    const rng = new Rng(5);
    const idx = Int32Array.from({ length: pts.length }, () => rng.int(pts.length));
    for (const d of [data, resampleParametricData(data, idx)]) {
      const fg = makeHuberObjective(d);
      for (const x0 of [[6, 6, 0.5, 0.34, 0.28], [1, 2, -0.5, 0.1, 0.9], [20, 3, 0.2, 1.5, 0.2]]) {
        const x = Float64Array.from(x0);
        const g = new Float64Array(5);
        fg(x, g);
        const tmp = new Float64Array(5);
        for (let i = 0; i < 5; i++) {
          const h = 1e-6;
          const xp = Float64Array.from(x);
          const xm = Float64Array.from(x);
          xp[i] += h;
          xm[i] -= h;
          const num = (fg(xp, tmp) - fg(xm, tmp)) / (2 * h);
          assert.ok(Math.abs(num - g[i]) <= 1e-6 * Math.max(1, Math.abs(g[i])), `x=${x0} i=${i}: ${g[i]} vs ${num}`);
        }
      }
    }
  });

  it('fast exp and log agree with Math to ~1 ulp on their ranges', () => {
    const rng = new Rng(3);
    let maxExp = 0;
    let maxLog = 0;
    for (let i = 0; i < 200000; i++) {
      const x = -740 + rng.next() * 774;
      const want = Math.exp(x);
      if (want > 1e-300) maxExp = Math.max(maxExp, Math.abs(fastExp(x) - want) / want);
      const s = 1 + 2 * rng.next();
      maxLog = Math.max(maxLog, Math.abs(fastLog13(s) - Math.log(s)));
    }
    assert.ok(maxExp < 1e-15, `exp ${maxExp}`);
    assert.ok(maxLog < 1e-15, `log ${maxLog}`);
    assert.equal(fastExp(0), 1);
    assert.equal(fastExp(-800), 0);
    assert.ok(Number.isNaN(fastExp(Number.NaN)));
    assert.equal(fastLog13(5), Math.log(5));
  });

  it('stays finite for wild parameters (the overflow-safe path)', () => {
    const pts = isoflopGrid({ sizes: 3 });
    const fg = makeHuberObjective(makeParametricData(pts.map((p) => p.N), pts.map((p) => p.D), pts.map((p) => p.loss)));
    const g = new Float64Array(5);
    for (const x0 of [[900, 0, 0, 0, 0], [0, 0, 0, -60, 2], [-900, -900, 0, 0, 0], [25, 25, 1, 0, 0]]) {
      const f = fg(Float64Array.from(x0), g);
      assert.ok(Number.isFinite(f) && g.every(Number.isFinite), `${x0}: f=${f} g=${g}`);
    }
  });

  it('uses the 4500-point grid of Besiroglu et al.', () => {
    const g = besirogluGrid();
    assert.equal(g.length, 4500 * 5);
    const distinct = (i: number) => [...new Set(Array.from({ length: 4500 }, (_, s) => g[s * 5 + i]))].sort((a, b) => a - b);
    assert.deepEqual(distinct(0), [0, 5, 10, 15, 20, 25]);
    assert.deepEqual(distinct(2), [-1, -0.5, 0, 0.5, 1]);
    assert.deepEqual(distinct(3), [0, 0.5, 1, 1.5, 2]);
  });
});

describe('fit internals: bootstrap summaries, PRNG, grouping', () => {
  it('percentile intervals interpolate like numpy and SE is the sample standard deviation', () => {
    assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
    const s = summarise([1, 2, 3, 4, 5], 0.5);
    assert.deepEqual(s.interval, [2, 4]);
    assert.ok(Math.abs(s.se! - Math.sqrt(2.5)) < 1e-12);
    assert.deepEqual(summarise([7], 0.9), { n: 1 });
    assert.deepEqual(summarise([3, 3, 3], 0.9), { interval: [3, 3], se: 0, n: 3 });
  });

  it('the PRNG is deterministic per seed and stream', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(42, 1);
    const xs = Array.from({ length: 5 }, () => a.next());
    assert.deepEqual(xs, Array.from({ length: 5 }, () => b.next()));
    assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.next()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const counts = new Array(10).fill(0);
    const r = new Rng(1);
    for (let i = 0; i < 10000; i++) counts[r.int(10)]++;
    assert.ok(counts.every((n) => n > 900 && n < 1100), String(counts));
  });

  it('groups budgets within the tolerance and fits exact parabolas', () => {
    const pts = [1e18, 1.02e18, 0.99e18, 3e18, 3.1e18].map((C, i) => ({ N: 1 + i, D: 1, C, loss: 1 }));
    const groups = groupByBudget(pts, 0.05);
    assert.deepEqual(groups.map((g) => g.members), [[0, 1, 2], [3, 4]]);
    const q = fitQuadratic([1, 2, 3, 4], [1 + 2 + 3, 1 + 4 + 12, 1 + 6 + 27, 1 + 8 + 48])!;
    assert.ok(Math.abs(q.c0 - 1) < 1e-9 && Math.abs(q.c1 - 2) < 1e-9 && Math.abs(q.c2 - 3) < 1e-9);
    assert.equal(fitQuadratic([1, 1, 1], [1, 2, 3]), undefined);
  });
});
