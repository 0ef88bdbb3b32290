/**
 * Robust per-budget optima (IsoFLOP, Approach 2): the Akima default and the local parabola against
 * the global parabola, on surfaces with a known law and on Porian et al. (2024)'s released points.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fitScalingLaws, parseCsv, recordsToPoints } from '../../src/core/fit';
import { akimaSlopes } from '../../src/core/fit/isoflop';
import type { FitPoint } from '../../src/core/fit/types';
import { Rng } from '../../src/core/fit/rng';
import { TRUTH, isoflopGrid, trueLoss } from './fit-helpers';

const exactA = TRUTH.beta / (TRUTH.alpha + TRUTH.beta);

/** An unbalanced surface (α ≫ β), where a parabola in ln N is a poor approximation far from the optimum. */
const SKEW = { E: 1.8, A: 400, B: 2000, alpha: 0.5, beta: 0.2 };
const skewA = SKEW.beta / (SKEW.alpha + SKEW.beta);
const skewLoss = (N: number, D: number) => SKEW.E + SKEW.A / N ** SKEW.alpha + SKEW.B / D ** SKEW.beta;
const skewOptN = (C: number) => ((SKEW.alpha * SKEW.A) / (SKEW.beta * SKEW.B)) ** (1 / (SKEW.alpha + SKEW.beta)) * (C / 6) ** skewA;

/** A wide grid (±1.5 decades, 13 sizes) whose centre drifts from ×1/3 to ×3 of the true optimum. */
function lopsided(noise: number, seed = 3, drift = 3): FitPoint[] {
  const rng = new Rng(seed, 7);
  const budgets = [1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21];
  const out: FitPoint[] = [];
  budgets.forEach((C, bi) => {
    const centre = skewOptN(C) * drift ** (-1 + (2 * bi) / (budgets.length - 1));
    for (let j = 0; j < 13; j++) {
      const N = centre * 10 ** (-1.5 + (3 * j) / 12);
      const D = C / (6 * N);
      out.push({ N, D, C, loss: skewLoss(N, D) * Math.exp(noise * rng.normal()), budget: C });
    }
  });
  return out;
}

function exponent(points: FitPoint[], optimum: 'akima' | 'local-parabola' | 'parabola'): number {
  return fitScalingLaws(points, { methods: ['isoflop'], bootstrap: 0, optimum }).isoflop!.a;
}

describe('fit: robust per-budget optimum', () => {
  it('Akima slopes reproduce a straight line and a parabola exactly at the nodes', () => {
    const x = [0, 1, 2, 3, 4, 5];
    assert.deepEqual([...akimaSlopes(x, x.map((v) => 2 * v + 1))], x.map(() => 2));
    const t = akimaSlopes(x, x.map((v) => (v - 2.5) ** 2));
    // inner nodes of a parabola: Akima's weighted slope equals the true derivative 2(x − 2.5)
    for (const i of [2, 3]) assert.ok(Math.abs(t[i] - 2 * (x[i] - 2.5)) < 1e-12, `${i}: ${t[i]}`);
  });

  it('symmetric, noise-free grid: every estimator recovers a = β/(α+β)', () => {
    const pts = isoflopGrid({ sizes: 9, span: 0.5 });
    for (const m of ['akima', 'local-parabola', 'parabola'] as const) {
      const a = exponent(pts, m);
      assert.ok(Math.abs(a - exactA) < 0.01, `${m}: ${a} vs ${exactA}`);
    }
  });

  it('wide, drifting grid on an unbalanced surface: the global parabola is biased, the Akima and local optima are not', () => {
    for (const noise of [0, 0.001]) {
      const pts = lopsided(noise, 3, 5);
      const global = exponent(pts, 'parabola');
      const akima = exponent(pts, 'akima');
      const local = exponent(pts, 'local-parabola');
      assert.ok(Math.abs(global - skewA) > 0.025, `noise ${noise}: the global parabola is off (${global} vs ${skewA})`);
      assert.ok(Math.abs(akima - skewA) < 0.015, `noise ${noise}: Akima ${akima} vs ${skewA}`);
      assert.ok(Math.abs(local - skewA) < 0.01, `noise ${noise}: local parabola ${local} vs ${skewA}`);
    }
  });

  it('dense, noisier grid: the local parabola averages the noise that an interpolant follows', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const pts = lopsided(0.002, seed, 5);
      const local = exponent(pts, 'local-parabola');
      assert.ok(Math.abs(local - skewA) < 0.01, `seed ${seed}: local parabola ${local} vs ${skewA}`);
      assert.ok(Math.abs(exponent(pts, 'parabola') - skewA) > 0.025, `seed ${seed}: the global parabola stays biased`);
    }
  });

  it('an optimum at the edge of the sizes tried is flagged, left out, and says which way to extend', () => {
    // budget 1e18: every size above the optimum, so its smallest size has the lowest loss
    const pts = isoflopGrid({ sizes: 5, span: 0.5 }).map((p) => {
      if (p.budget !== 1e18) return p;
      const N = p.N * 30;
      const D = p.C / (6 * N);
      return { ...p, N, D, loss: trueLoss(N, D) };
    });
    const r = fitScalingLaws(pts, { methods: ['isoflop'], bootstrap: 0 });
    const g = r.isoflop!.groups.find((x) => x.budget === 1e18)!;
    assert.equal(g.status, 'edge');
    assert.equal(g.used, false);
    assert.equal(g.bracketed, false);
    assert.equal(g.extend?.direction, 'smaller');
    assert.ok(g.extend!.sizes.every((n) => n < g.nRange[0]));
    assert.match(r.warnings.join('\n'), /budget 1e18 FLOPs: the optimum is not bracketed: the lowest loss is at the smallest size tried/);
    assert.equal(r.isoflop!.usedGroups, 6);
    const kept = fitScalingLaws(pts, { methods: ['isoflop'], bootstrap: 0, keepEdgeBudgets: true });
    assert.equal(kept.isoflop!.usedGroups, 7);
    assert.equal(kept.settings.keepEdgeBudgets, true);
  });

  it('records the estimator in fit.json, and the noise bootstrap gives an interval around the estimate', () => {
    const r = fitScalingLaws(isoflopGrid({ sizes: 7, span: 0.6, noise: 0.005, seed: 4 }), { methods: ['isoflop'], bootstrap: 60, seed: 1 });
    assert.deepEqual(r.isoflop!.optimum, { method: 'akima', edgesKept: false });
    assert.equal(r.settings.optimum, 'akima');
    assert.match(r.settings.bootstrapStrategy, /perturbed by Gaussian noise/);
    const [lo, hi] = r.bootstrap!.intervals['isoflop.a'];
    assert.ok(lo < r.isoflop!.a && r.isoflop!.a < hi && hi - lo < 0.2, `[${lo}, ${hi}] around ${r.isoflop!.a}`);
    assert.equal(r.bootstrap!.failed.isoflop, 0);
    const g = r.isoflop!.groups[0];
    assert.ok(g.curve && g.curve.N.length > 10, 'the Akima curve is drawn');
  });
});

describe('fit: Porian et al. (2024) IsoFLOP points (MIT; test/fixtures/porian2024)', () => {
  const dir = path.join(__dirname, '..', 'fixtures', 'porian2024');
  const read = (f: string) => {
    const rows = parseCsv(fs.readFileSync(path.join(dir, f), 'utf8'));
    return rows.slice(1).map((r) => Object.fromEntries(rows[0].map((k, j) => [k, r[j]])));
  };
  const key = (r: Record<string, string>) => ['source_file', 'dataset', 'hparams', 'warmup', 'decay', 'param_count', 'loss_split'].map((k) => r[k]).join('|');

  it('the IsoFLOP exponent from the raw points is within 0.02 of the paper\'s a_basic on all 15 configurations', () => {
    const points = read('isoflop_points.csv');
    const fits = read('published_fits.csv');
    assert.equal(fits.length, 15);
    const misses: string[] = [];
    for (const f of fits) {
      const rows = points.filter((r) => key(r) === key(f)).map((r) => ({ N: r.N, D: r.D, loss: r.loss, budget: r.C }));
      const { points: pts } = recordsToPoints(rows, (i) => `row ${i + 1}`);
      const r = fitScalingLaws(pts, { methods: ['isoflop'], bootstrap: 0 });
      const a = r.isoflop!.a;
      if (!(Math.abs(a - Number(f.a_basic)) <= 0.02)) misses.push(`${f.label} (${key(f)}): ${a.toFixed(4)} vs ${f.a_basic}`);
    }
    assert.deepEqual(misses, []);
  });
});
