import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { fitScalingLaws, FitInputError, FitReport, readPointsFile } from '../../src/core/fit';
import { fitParametricResample, runParametric } from '../../src/core/fit/fit';
import {
  besirogluGrid,
  fitParametricData,
  multiStartFit,
  parametricAllocation,
  parametricLoss,
  paramsFromVector,
  resampleParametricData,
} from '../../src/core/fit/parametric';
import { Rng } from '../../src/core/fit/rng';
import { BUDGETS, TRUTH, goldenMin, isoflopGrid, trueOptimalN } from './fit-helpers';

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
const NOW = () => new Date('2026-01-01T00:00:00Z');

describe('fit: known answers (L = 1.69 + 406.4/N^0.34 + 410.7/D^0.28)', function () {
  this.timeout(180_000);
  const exactA = TRUTH.beta / (TRUTH.alpha + TRUTH.beta);

  let clean: FitReport;
  let noisy: FitReport;
  before(() => {
    clean = fitScalingLaws(isoflopGrid(), { bootstrap: 0, now: NOW });
    noisy = fitScalingLaws(isoflopGrid({ noise: 0.001, seed: 7 }), { bootstrap: 0, now: NOW });
  });

  it('produces a report that satisfies the FitReport schema', () => {
    FitReport.parse(clean);
    FitReport.parse(noisy);
    assert.equal(clean.createdAt, '2026-01-01T00:00:00.000Z');
    assert.equal(clean.points.length, 63);
  });

  it('parametric fit recovers E, A, B, α, β on noise-free data', () => {
    const p = clean.parametric!;
    assert.equal(p.starts, 4500);
    assert.ok(p.converged);
    // Noise-free data: the global optimum has objective 0 at the truth; the multi-start finds it.
    assert.ok(p.objective < 1e-9, `objective ${p.objective}`);
    assert.ok(rel(p.E, TRUTH.E) < 1e-3, `E ${p.E}`);
    assert.ok(rel(p.alpha, TRUTH.alpha) < 1e-3, `alpha ${p.alpha}`);
    assert.ok(rel(p.beta, TRUTH.beta) < 1e-3, `beta ${p.beta}`);
    assert.ok(rel(p.A, TRUTH.A) < 1e-2, `A ${p.A}`);
    assert.ok(rel(p.B, TRUTH.B) < 1e-2, `B ${p.B}`);
    assert.ok(Math.abs(p.a! - exactA) < 1e-3, `a ${p.a}`);
    assert.ok(Math.abs(p.a! + p.b! - 1) < 1e-12);
  });

  it('parametric fit recovers E, α, β with 0.1% multiplicative noise', () => {
    const p = noisy.parametric!;
    // Seed 7 gives E = 1.682, α = 0.3372, β = 0.2794, a = 0.4531 (63 points, σ = 0.001 in ln L).
    assert.ok(rel(p.E, TRUTH.E) < 0.01, `E ${p.E}`);
    assert.ok(Math.abs(p.alpha - TRUTH.alpha) < 0.006, `alpha ${p.alpha}`);
    assert.ok(Math.abs(p.beta - TRUTH.beta) < 0.006, `beta ${p.beta}`);
    assert.ok(Math.abs(p.a! - exactA) < 0.005, `a ${p.a}`);
    // Residuals are reported per point and are of the size of the noise.
    assert.equal(p.residuals.length, 63);
    assert.ok(p.rmsLogResidual > 0.0005 && p.rmsLogResidual < 0.002, `rms ${p.rmsLogResidual}`);
  });

  it('closed-form allocation matches G·(C/6)^a to 1e-9 and the numerical minimiser', () => {
    const truth = paramsFromVector([Math.log(TRUTH.A), Math.log(TRUTH.B), Math.log(TRUTH.E), TRUTH.alpha, TRUTH.beta]);
    for (const C of [1e18, 5.76e23, 1e26]) {
      const { nOpt, dOpt } = parametricAllocation(truth, C, 6);
      const G = ((TRUTH.alpha * TRUTH.A) / (TRUTH.beta * TRUTH.B)) ** (1 / (TRUTH.alpha + TRUTH.beta));
      const closed = G * (C / 6) ** exactA;
      assert.ok(rel(nOpt, closed) < 1e-9, `C=${C}: ${nOpt} vs ${closed}`);
      assert.ok(rel(6 * nOpt * dOpt, C) < 1e-12);
      assert.ok(rel(nOpt, trueOptimalN(C)) < 1e-9);
      // Independent check: minimise L(N, C/(6N)) over ln N numerically.
      const lnN = goldenMin((x) => parametricLoss(truth, Math.exp(x), C / (6 * Math.exp(x))), Math.log(nOpt) - 5, Math.log(nOpt) + 5);
      assert.ok(Math.abs(lnN - Math.log(nOpt)) < 1e-6, `golden ${Math.exp(lnN)} vs ${nOpt}`);
    }
    // The fitted report's table uses the same closed form with the fitted parameters.
    const p = clean.parametric!;
    for (const row of clean.table.filter((r) => r.method === 'parametric')) {
      const closed = p.G! * (row.budget / 6) ** p.a!;
      assert.ok(rel(row.nOpt, closed) < 1e-9, `${row.nOpt} vs ${closed}`);
      assert.ok(rel(row.tokensPerParam, row.dOpt / row.nOpt) < 1e-12);
    }
  });

  it('IsoFLOP (Approach 2) on noise-free data recovers a = β/(α+β) within 0.01', () => {
    const iso = clean.isoflop!;
    assert.equal(iso.groups.length, BUDGETS.length);
    assert.equal(iso.usedGroups, BUDGETS.length);
    assert.ok(Math.abs(iso.a - exactA) < 0.01, `a ${iso.a} vs ${exactA}`);
    assert.ok(Math.abs(iso.a + iso.b - 1) < 1e-9, 'b = 1 − a when D_opt = C/(6 N_opt)');
    for (const g of iso.groups) {
      assert.equal(g.status, 'ok');
      assert.ok(g.convex && g.interior);
      assert.ok(g.curvature! > 0);
      assert.ok(rel(6 * g.nOpt! * g.dOpt!, g.budget) < 1e-12, 'C = 6·N·D exactly');
      assert.ok(Math.abs(Math.log(g.nOpt! / trueOptimalN(g.budget))) < 0.1, 'vertex near the true optimum');
      // The parabola coefficients reproduce the fitted values the chart draws.
      const pt = g.points[3];
      const x = Math.log(pt.N);
      const c = g.parabola!;
      assert.ok(Math.abs(c.c0 + c.c1 * x + c.c2 * x * x - pt.fitted!) < 1e-8);
    }
    assert.ok(iso.lossOpt.exponent < 0, 'L_opt falls with compute');
    assert.ok(iso.nOpt.r2! > 0.999);
  });

  it('flags non-convex groups and vertices outside the sizes tried', () => {
    const pts = isoflopGrid({ sizes: 5, span: 0.5 });
    // Budget 1e18: sizes all far above the optimum → vertex extrapolated below the range.
    const shifted = pts.map((p) => (p.budget === 1e18 ? { ...p, N: p.N * 30, D: p.C / (6 * p.N * 30), loss: 0 } : p));
    for (const p of shifted) if (p.loss === 0) p.loss = 1.69 + 406.4 / p.N ** 0.34 + 410.7 / p.D ** 0.28;
    // Budget 1e19: make it concave.
    for (const p of shifted) if (p.budget === 1e19) p.loss = 3 - 0.01 * (Math.log(p.N) - Math.log(trueOptimalN(1e19))) ** 2;
    const r = fitScalingLaws(shifted, { methods: ['isoflop'], optimum: 'parabola', bootstrap: 0 });
    const g18 = r.isoflop!.groups.find((g) => g.budget === 1e18)!;
    const g19 = r.isoflop!.groups.find((g) => g.budget === 1e19)!;
    assert.equal(g18.interior, false);
    assert.equal(g18.status, 'edge');
    assert.match(g18.warnings.join(), /not bracketed/);
    assert.equal(g19.status, 'not-convex');
    assert.equal(g19.used, false);
    assert.equal(g19.convex, false);
    assert.match(r.warnings.join('\n'), /not convex/);
    assert.equal(r.isoflop!.usedGroups, BUDGETS.length - 2);
  });
});

describe('fit: Chinchilla (Hoffmann et al. 2022 Figure 4, Epoch AI extraction)', function () {
  this.timeout(180_000);
  it('lands on the estimates of Besiroglu et al. (2024)', () => {
    const { points, warnings } = readPointsFile(path.join(__dirname, '..', 'fixtures', 'chinchilla.csv'));
    assert.equal(points.length, 240, 'the five epoch_excluded rows are dropped');
    assert.match(warnings.join(), /5 row/);
    const r = fitScalingLaws(points, { methods: ['parametric'], bootstrap: 0 });
    const p = r.parametric!;
    // Published (Besiroglu et al. 2024, Table 1): E = 1.82, A = 482.01, B = 2085.43, α = 0.3478,
    // β = 0.3658, a = 0.5126. We reproduce E = 1.8172, A = 477.8, B = 2143.4, α = 0.34731,
    // β = 0.36717, a = 0.5139, objective 1.01827e-3. The landscape is very flat along a ridge in
    // (A, α) and (B, β): several start points stop within 5e-6 of this objective at A ∈ [478, 484],
    // B ∈ [2125, 2161], so A and B agree with the paper to ~3%, E, α, β and a to < 0.5%.
    assert.ok(Math.abs(p.E - 1.82) < 0.01, `E ${p.E}`);
    assert.ok(Math.abs(p.alpha - 0.3478) < 0.002, `alpha ${p.alpha}`);
    assert.ok(Math.abs(p.beta - 0.3658) < 0.003, `beta ${p.beta}`);
    assert.ok(rel(p.A, 482.01) < 0.03, `A ${p.A}`);
    assert.ok(rel(p.B, 2085.43) < 0.04, `B ${p.B}`);
    assert.ok(Math.abs(p.a! - 0.5126) < 0.003, `a ${p.a}`);
    assert.ok(Math.abs(p.objective - 1.01827e-3) < 2e-8, `objective ${p.objective}`);
    assert.ok(p.converged);
  });
});

describe('fit: bootstrap', function () {
  this.timeout(180_000);
  const grid = isoflopGrid({ noise: 0.005, seed: 3, sizes: 7 });

  it('is deterministic for a seed and changes with it', () => {
    const a = fitScalingLaws(grid, { methods: ['isoflop'], bootstrap: 50, seed: 11 });
    const b = fitScalingLaws(grid, { methods: ['isoflop'], bootstrap: 50, seed: 11 });
    const c = fitScalingLaws(grid, { methods: ['isoflop'], bootstrap: 50, seed: 12 });
    assert.deepEqual(a.bootstrap!.intervals, b.bootstrap!.intervals);
    assert.notDeepEqual(a.bootstrap!.intervals['isoflop.a'], c.bootstrap!.intervals['isoflop.a']);
    const [lo, hi] = a.bootstrap!.intervals['isoflop.a'];
    assert.ok(lo < a.isoflop!.a && a.isoflop!.a < hi, 'the estimate lies in its interval');
    assert.ok((a.bootstrap!.se['isoflop.a'] ?? 0) > 0);
    // Per-group vertices and predictions get intervals too.
    assert.ok(a.bootstrap!.intervals['isoflop.groups.0.nOpt']);
    assert.ok(a.table[0].intervals?.nOpt);
  });

  it('0.99 intervals are wider than 0.90 intervals', () => {
    const narrow = fitScalingLaws(grid, { methods: ['isoflop'], bootstrap: 200, seed: 5, confidence: 0.9, target: 1e22 });
    const wide = fitScalingLaws(grid, { methods: ['isoflop'], bootstrap: 200, seed: 5, confidence: 0.99, target: 1e22 });
    for (const name of ['isoflop.a', 'isoflop.logCoefficient', 'prediction.isoflop.nOpt', 'prediction.isoflop.loss']) {
      const [l1, h1] = narrow.bootstrap!.intervals[name];
      const [l2, h2] = wide.bootstrap!.intervals[name];
      assert.ok(h2 - l2 > h1 - l1, `${name}: ${h2 - l2} ≤ ${h1 - l1}`);
      assert.ok(l2 <= l1 && h2 >= h1);
    }
    // The standard error does not depend on the confidence.
    assert.equal(narrow.bootstrap!.se['isoflop.a'], wide.bootstrap!.se['isoflop.a']);
  });

  it('1 resample: no interval and a warning', () => {
    const r = fitScalingLaws(grid, { methods: ['isoflop'], bootstrap: 1 });
    assert.deepEqual(r.bootstrap!.intervals, {});
    assert.deepEqual(r.bootstrap!.se, {});
    assert.match(r.warnings.join('\n'), /only 1 successful bootstrap resample, so no interval/);
    FitReport.parse(r);
  });

  it('2 resamples: an interval flagged unreliable', () => {
    const r = fitScalingLaws(grid, { methods: ['isoflop'], bootstrap: 2 });
    assert.ok(r.bootstrap!.intervals['isoflop.a']);
    assert.match(r.bootstrap!.warnings.join('\n'), /unreliable/);
    const enough = fitScalingLaws(grid, { methods: ['isoflop'], bootstrap: 100 });
    assert.doesNotMatch(enough.bootstrap!.warnings.join('\n'), /unreliable/);
  });

  it('constant data: zero-width intervals', () => {
    // Every budget's losses lie exactly on a parabola in ln N whose vertices follow an exact power
    // law, so every resample with 3+ distinct sizes reproduces the same vertices.
    const pts = BUDGETS.flatMap((C) => {
      const v = Math.log(0.1 * C ** 0.5);
      return [-1, -0.5, 0, 0.5, 1].map((t) => {
        const N = Math.exp(v + t);
        return { N, D: C / (6 * N), C, budget: C, loss: 2 + 0.1 * t * t };
      });
    });
    const r = fitScalingLaws(pts, { methods: ['isoflop'], optimum: 'parabola', bootstrap: 100, seed: 1 });
    assert.ok(r.bootstrap!.succeeded.isoflop! > 10);
    for (const name of ['isoflop.a', 'isoflop.logCoefficient', 'isoflop.groups.2.lossOpt']) {
      const [lo, hi] = r.bootstrap!.intervals[name];
      assert.equal(lo, hi, name);
      assert.equal(r.bootstrap!.se[name], 0, name);
    }
    assert.ok(Math.abs(r.isoflop!.a - 0.5) < 1e-9);
  });

  it('counts failed resamples instead of dropping them silently', () => {
    // Nearly flat IsoFLOP curves (sizes ±0.15 decades around the optimum) with 1% noise: many
    // resampled parabolas bend the wrong way and have no vertex.
    const flat = isoflopGrid({ noise: 0.01, seed: 4, sizes: 5, span: 0.15 });
    const full = fitScalingLaws(flat, { methods: ['isoflop'], optimum: 'parabola', keepEdgeBudgets: true, bootstrap: 0 });
    assert.ok(full.isoflop!.usedGroups >= 2);
    const r = fitScalingLaws(flat, { methods: ['isoflop'], optimum: 'parabola', keepEdgeBudgets: true, bootstrap: 100, seed: 2 });
    const b = r.bootstrap!;
    assert.equal(b.succeeded.isoflop! + b.failed.isoflop!, 100);
    assert.ok(b.failed.isoflop! > 10, `failed ${b.failed.isoflop}`);
    assert.match(b.warnings.join('\n'), new RegExp(`${b.failed.isoflop} of 100 resamples failed`));
    assert.ok(r.warnings.some((w) => w.includes('resamples failed')));
  });

  it('redraws within-budget resamples that lose their parabola (3 sizes per budget never fail)', () => {
    const small = isoflopGrid({ noise: 0.005, sizes: 3, span: 0.5 });
    const r = fitScalingLaws(small, { methods: ['isoflop'], optimum: 'parabola', bootstrap: 50, seed: 2 });
    assert.equal(r.bootstrap!.failed.isoflop, 0);
    // With 3 sizes the only resample with 3 distinct sizes is the data itself: zero width.
    const [lo, hi] = r.bootstrap!.intervals['isoflop.a'];
    assert.equal(lo, hi);
    assert.match(r.bootstrap!.warnings.join('\n'), /7 budget\(s\) have exactly 3 points/);
  });

  it('parametric bootstrap: intervals cover the truth and the warm-started resamples find the full multi-start optimum', () => {
    const pts = isoflopGrid({ noise: 0.003, seed: 21, sizes: 7 });
    const r = fitScalingLaws(pts, { methods: ['parametric'], bootstrap: 60, seed: 4, target: 1e22 });
    FitReport.parse(r);
    const b = r.bootstrap!;
    assert.equal(b.succeeded.parametric! + b.failed.parametric!, 60);
    for (const [name, truth] of [
      ['parametric.alpha', TRUTH.alpha],
      ['parametric.beta', TRUTH.beta],
      ['parametric.E', TRUTH.E],
    ] as const) {
      const [lo, hi] = b.intervals[name];
      assert.ok(lo < hi, name);
      const se = b.se[name];
      assert.ok(se !== null && se !== undefined, name);
      assert.ok(lo - 3 * se < truth && truth < hi + 3 * se, `${name}: [${lo}, ${hi}] vs ${truth}`);
    }
    assert.ok(r.prediction!.parametric!.intervals!.nOpt);

    // The documented shortcut: resamples start from the full-data optimum, runner-up optima and 8
    // grid points. Check on a few resamples that it reaches the optimum of the full 4500 starts.
    const state = runParametric(pts);
    assert.ok(typeof state !== 'string');
    const rng = new Rng(99);
    const idx = new Int32Array(pts.length);
    for (let s = 0; s < 3; s++) {
      for (let j = 0; j < idx.length; j++) idx[j] = rng.int(idx.length);
      const quick = fitParametricResample(state, idx)!;
      const full = fitParametricData(resampleParametricData(state.data, idx), besirogluGrid());
      const fp = paramsFromVector(full.x);
      assert.ok(quick.objective <= full.f * (1 + 1e-9), `resample ${s}: objective ${quick.objective} vs ${full.f}`);
      assert.ok(Math.abs(quick.alpha - fp.alpha) < 1e-5 && Math.abs(quick.beta - fp.beta) < 1e-5, `resample ${s}: α ${quick.alpha} vs ${fp.alpha}, β ${quick.beta} vs ${fp.beta}`);
      assert.ok(rel(quick.E, fp.E) < 1e-5, `resample ${s}: E ${quick.E} vs ${fp.E}`);
    }
    // On the full data the shortcut's own starts (without the warm optimum) reach the same optimum.
    const full = fitParametricData(state.data, besirogluGrid());
    const shortcut = fitParametricData(state.data, state.warmStarts.subarray(5));
    assert.ok(shortcut.f <= full.f * (1 + 1e-9), `${shortcut.f} vs ${full.f}`);
    assert.ok(multiStartFit(state.data, state.warmStarts.subarray(5)).starts === state.warmStarts.length / 5 - 1);
  });
});

describe('fit: prediction and table', function () {
  this.timeout(180_000);
  it('predicts at a target with intervals and warns beyond 10× the fitted budgets', () => {
    const pts = isoflopGrid({ noise: 0.003, seed: 9, sizes: 7 });
    const near = fitScalingLaws(pts, { bootstrap: 30, target: 3e21 });
    assert.equal(near.prediction!.warnings.length, 0);
    assert.ok(near.prediction!.extrapolation > 1 && near.prediction!.extrapolation < 10);
    const far = fitScalingLaws(pts, { bootstrap: 30, target: 1e24 });
    assert.match(far.prediction!.warnings.join(), /1000× beyond the largest fitted budget/);
    for (const m of ['isoflop', 'parametric'] as const) {
      const v = far.prediction![m]!;
      assert.ok(rel(v.tokensPerParam, v.dOpt / v.nOpt) < 1e-12);
      assert.ok(rel(6 * v.nOpt * v.dOpt, 1e24) < 1e-9);
      assert.ok(Math.abs(Math.log(v.nOpt / trueOptimalN(1e24))) < 0.35, `${m} N_opt ${v.nOpt} vs ${trueOptimalN(1e24)}`);
      assert.ok(v.intervals!.loss![0] <= v.loss && v.loss <= v.intervals!.loss![1]);
    }
    // Default table: the sweep's own budgets, both methods.
    assert.deepEqual([...new Set(far.table.map((r) => r.budget))], BUDGETS);
    assert.equal(far.table.length, 2 * BUDGETS.length);
    const custom = fitScalingLaws(pts, { bootstrap: 0, tableBudgets: [1e22, 1e23], methods: ['parametric'] });
    assert.deepEqual(
      custom.table.map((r) => [r.budget, r.method]),
      [
        [1e22, 'parametric'],
        [1e23, 'parametric'],
      ],
    );
  });
});

describe('fit: bad input', () => {
  const base = isoflopGrid({ sizes: 3 });
  it('names the bad point', () => {
    const bad = base.map((p, i) => (i === 4 ? { ...p, loss: Number.NaN } : p));
    assert.throws(() => fitScalingLaws(bad, { bootstrap: 0 }), (e: Error) => e instanceof FitInputError && /point 5 \(id [^)]+\): loss must be a positive finite number/.test(e.message));
    const neg = base.map((p, i) => (i === 0 ? { ...p, N: -1 } : p));
    assert.throws(() => fitScalingLaws(neg, { bootstrap: 0 }), /point 1 .*N must be a positive/);
  });
  it('rejects too few points for the parametric fit', () => {
    assert.throws(() => fitScalingLaws(base.slice(0, 4), { methods: ['parametric'], bootstrap: 0 }), /needs at least 5 points; got 4/);
  });
  it('rejects an IsoFLOP fit without two usable budgets, but --method all falls back with a warning', () => {
    const single = base.filter((p) => p.budget === 1e18);
    assert.throws(() => fitScalingLaws(single, { methods: ['isoflop'], bootstrap: 0 }), /at least 2 budgets/);
    const scattered = isoflopGrid({ sizes: 2 });
    const r = fitScalingLaws(scattered, { bootstrap: 0 });
    assert.equal(r.isoflop, undefined);
    assert.ok(r.parametric);
    assert.match(r.warnings.join(), /skipped: IsoFLOP fit needs at least 2 budgets/);
  });
  it('rejects bad options', () => {
    assert.throws(() => fitScalingLaws(base, { confidence: 1 }), /confidence/);
    assert.throws(() => fitScalingLaws(base, { bootstrap: -1 }), /bootstrap/);
    assert.throws(() => fitScalingLaws(base, { target: 0 }), /target/);
  });
  it('never writes NaN: the report of a degenerate fit still validates', () => {
    const r = fitScalingLaws(isoflopGrid({ sizes: 3, span: 0.2 }), { bootstrap: 20, target: 1e25 });
    FitReport.parse(r);
    assert.ok(!JSON.stringify(r).includes('null'));
  });
});
