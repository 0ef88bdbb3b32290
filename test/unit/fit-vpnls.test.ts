/** Variable projection (VPNLS): the Chinchilla known answer, NNLS, recovery, and the report. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fitScalingLaws } from '../../src/core/fit/fit';
import { FitReport } from '../../src/core/fit/types';
import { fitVpnls, lstsq, nnlsSmall, vpnlsInner, makeVpnlsData } from '../../src/core/fit/vpnls';
import { TRUTH, isoflopGrid } from './fit-helpers';

function chinchillaRows(): number[][] {
  const text = fs.readFileSync(path.join(__dirname, '../fixtures/chinchilla.csv'), 'utf8');
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',').map(Number));
}

describe('VPNLS (variable projection)', () => {
  it('reproduces the known answer on the 217 Epoch Chinchilla rows with C < 1e21', () => {
    const rows = chinchillaRows().filter((r) => r[2] < 1e21 && r[4] === 0);
    assert.equal(rows.length, 217);
    // N in millions, D in billions, least squares on raw loss
    const r = fitVpnls(
      rows.map((x) => x[0] / 1e6),
      rows.map((x) => x[1] / 1e9),
      rows.map((x) => x[3]),
    );
    assert.ok(Math.abs(r.E - 1.9051) < 5e-4, `E = ${r.E}`);
    assert.ok(Math.abs(r.alpha - 0.3511) < 5e-4, `α = ${r.alpha}`);
    assert.ok(Math.abs(r.beta - 0.4587) < 5e-4, `β = ${r.beta}`);
    assert.ok(Math.abs(r.rss - 0.062414) < 5e-7, `RSS = ${r.rss}`);
    assert.ok(r.converged);
    assert.ok(r.rss < r.grid.rss, 'the refinement improves on the grid');
    // E, α, β and the RSS do not depend on the units of N and D
    const raw = fitVpnls(
      rows.map((x) => x[0]),
      rows.map((x) => x[1]),
      rows.map((x) => x[3]),
    );
    assert.ok(Math.abs(raw.E - r.E) < 1e-6 && Math.abs(raw.alpha - r.alpha) < 1e-6 && Math.abs(raw.rss - r.rss) < 1e-9);
  });

  it('the projected RSS at the optimum is a minimum of the full 5-parameter RSS (no direction improves it)', () => {
    const pts = isoflopGrid({ noise: 0.01, seed: 3 });
    const N = pts.map((p) => p.N);
    const D = pts.map((p) => p.D);
    const L = pts.map((p) => p.loss);
    const r = fitVpnls(N, D, L);
    const rss = (E: number, A: number, B: number, a: number, b: number) => pts.reduce((s, p) => s + (p.loss - (E + A / p.N ** a + B / p.D ** b)) ** 2, 0);
    const base = rss(r.E, r.A, r.B, r.alpha, r.beta);
    assert.ok(Math.abs(base - r.rss) < 1e-12 * Math.max(1, base));
    for (const [dE, dA, dB, da, db] of [
      [1e-4, 0, 0, 0, 0],
      [0, 1e-3 * r.A, 0, 0, 0],
      [0, 0, 1e-3 * r.B, 0, 0],
      [0, 0, 0, 1e-4, 0],
      [0, 0, 0, 0, 1e-4],
    ]) {
      assert.ok(rss(r.E + dE, r.A + dA, r.B + dB, r.alpha + da, r.beta + db) >= base);
      assert.ok(rss(r.E - dE, r.A - dA, r.B - dB, r.alpha - da, r.beta - db) >= base);
    }
  });

  it('recovers a known law from noise-free data', () => {
    const pts = isoflopGrid({ noise: 0 });
    const r = fitVpnls(
      pts.map((p) => p.N),
      pts.map((p) => p.D),
      pts.map((p) => p.loss),
    );
    assert.ok(Math.abs(r.alpha - TRUTH.alpha) < 1e-4, `α = ${r.alpha}`);
    assert.ok(Math.abs(r.beta - TRUTH.beta) < 1e-4, `β = ${r.beta}`);
    assert.ok(Math.abs(r.E - TRUTH.E) < 1e-4, `E = ${r.E}`);
    assert.ok(r.rss < 1e-12);
  });

  it('NNLS holds a coefficient at 0 when unconstrained least squares would make it negative', () => {
    const x = Float64Array.from([1, 2, 3, 4, 5]);
    const one = new Float64Array(5).fill(1);
    const y = Float64Array.from([5, 4, 3, 2, 1]); // y = 6 − x: the slope is negative
    const free = lstsq([one, x], y)!;
    assert.ok(Math.abs(free[0] - 6) < 1e-12 && Math.abs(free[1] + 1) < 1e-12);
    const c = nnlsSmall([one, x], y);
    assert.equal(c.coef[1], 0);
    assert.ok(Math.abs(c.coef[0] - 3) < 1e-12, 'the best constant is the mean');
    assert.ok(Math.abs(c.rss - 10) < 1e-12);
  });

  it('flat loss in D gives B at its bound', () => {
    const pts = isoflopGrid({ noise: 0 });
    const data = makeVpnlsData(
      pts.map((p) => p.N),
      pts.map((p) => p.D),
      pts.map((p) => 2 + 100 / p.N ** 0.3 + 1e-3 * Math.log(p.D)), // the loss rises with D
    );
    const s = vpnlsInner(data, 0.3, 0.3);
    assert.equal(s.B, 0);
  });

  it('as --method vpnls: a valid report with the fit, bootstrap intervals and a prediction', () => {
    const pts = isoflopGrid({ noise: 0.005, seed: 7 });
    const report = fitScalingLaws(pts, { methods: ['vpnls'], bootstrap: 40, target: 1e22, now: () => new Date(0) });
    FitReport.parse(report);
    assert.equal(report.parametric, undefined);
    assert.ok(report.vpnls);
    assert.deepEqual(report.settings.methods, ['vpnls']);
    const iv = report.bootstrap!.intervals['vpnls.alpha'];
    assert.ok(iv[0] < report.vpnls.alpha && report.vpnls.alpha < iv[1]);
    assert.ok(iv[0] < TRUTH.alpha + 0.05 && TRUTH.alpha - 0.05 < iv[1]);
    assert.equal(report.bootstrap!.succeeded.vpnls, 40);
    assert.ok(report.prediction?.vpnls && report.prediction.vpnls.intervals?.nOpt);
    assert.ok(report.table.some((t) => t.method === 'vpnls'));
    assert.equal(report.vpnls.residuals.length, pts.length);
  });

  it('is not run unless asked for', () => {
    const report = fitScalingLaws(isoflopGrid({ noise: 0 }), { bootstrap: 0, methods: ['isoflop'] });
    assert.equal(report.vpnls, undefined);
  });
});
