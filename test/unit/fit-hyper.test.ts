/** Hyperparameter scaling laws: synthetic grids with a known law, noise-free and noisy. */
import * as assert from 'node:assert/strict';
import { fitHyperLaws, evaluateHyperLaw, nearOptimal, type HyperRun } from '../../src/core/fit/hyperLaws';
import { HyperFit } from '../../src/core/fit/extraTypes';
import { Rng } from '../../src/core/fit/rng';

/**
 * A grid: per cell (N, D), learning rates and batch sizes log-spaced around the true optimum
 * η* = kη·N^eN·D^eD, B* = kB·D^bD; the loss is a bowl in (ln η, ln B) around it, times
 * exp(noise·ε).
 */
function grid(opts: { noise?: number; seed?: number } = {}): HyperRun[] {
  const rng = new Rng(opts.seed ?? 5, 3);
  const out: HyperRun[] = [];
  for (const N of [1e8, 2e8, 4e8, 8e8]) {
    for (const D of [2e9, 8e9, 3.2e10]) {
      const eta = 1.79 * N ** -0.713 * D ** 0.307;
      const bs = 0.58 * D ** 0.571;
      const base = 2 + 400 / N ** 0.34 + 400 / D ** 0.28;
      for (let i = -4; i <= 4; i++) {
        for (let j = -3; j <= 3; j++) {
          const lr = eta * 2 ** (i / 2);
          const b = bs * 2 ** (j / 2);
          const loss = (base + 0.02 * Math.log(lr / eta) ** 2 + 0.01 * Math.log(b / bs) ** 2) * Math.exp((opts.noise ?? 0) * rng.normal());
          out.push({ N, D, C: 6 * N * D, loss, values: { learningRate: lr, batchSize: b } });
        }
      }
    }
  }
  return out;
}

describe('hyperparameter scaling laws', () => {
  it('recovers the exponents of a known law from a noise-free grid (ND form)', () => {
    const f = fitHyperLaws(grid(), { form: 'ND', bootstrap: 0 });
    HyperFit.parse(f);
    const lr = f.laws.find((l) => l.name === 'learningRate')!;
    const bs = f.laws.find((l) => l.name === 'batchSize')!;
    assert.ok(Math.abs(lr.exponents.N + 0.713) < 1e-9, `eN = ${lr.exponents.N}`);
    assert.ok(Math.abs(lr.exponents.D - 0.307) < 1e-9);
    assert.ok(Math.abs(lr.coefficient - 1.79) < 1e-6);
    assert.ok(Math.abs(bs.exponents.N) < 1e-9 && Math.abs(bs.exponents.D - 0.571) < 1e-9);
    assert.equal(f.cells.length, 12);
    // a band of 0 keeps only each cell's winner; 0.25 % also keeps the nearest settings
    assert.equal(fitHyperLaws(grid(), { form: 'ND', bootstrap: 0, band: 0 }).laws[0].bandRuns, 12);
    assert.ok(lr.bandRuns > 12);
  });

  it('recovers the exponents within their bootstrap intervals from a noisy grid', () => {
    const f = fitHyperLaws(grid({ noise: 0.001, seed: 9 }), { form: 'ND', bootstrap: 100, seed: 1 });
    const lr = f.laws.find((l) => l.name === 'learningRate')!;
    assert.ok(lr.bandRuns > 12, 'the band holds more than the winners');
    assert.ok(Math.abs(lr.exponents.N + 0.713) < 0.1, `eN = ${lr.exponents.N}`);
    assert.ok(Math.abs(lr.exponents.D - 0.307) < 0.1, `eD = ${lr.exponents.D}`);
    const iv = lr.intervals!['exponents.N'];
    assert.ok(iv[0] < -0.713 && -0.713 < iv[1], `interval ${iv}`);
    assert.equal(f.bootstrap!.succeeded, 100);
  });

  it('counts the cells whose best value is at the edge of the values tried (edgeCells), and warns', () => {
    // centred grid: every cell's best value is inside
    const inside = fitHyperLaws(grid(), { form: 'ND', bootstrap: 0 });
    assert.deepEqual(
      inside.laws.map((l) => [l.name, l.edgeCells]),
      [
        ['batchSize', 0],
        ['learningRate', 0],
      ],
    );
    // drop the rates above the optimum (i > 0): every cell's best is now its largest rate tried
    const lopsided = grid().filter((r) => r.values.learningRate <= 1.79 * r.N ** -0.713 * r.D ** 0.307 * 1.0001);
    const f = fitHyperLaws(lopsided, { form: 'ND', bootstrap: 0 });
    const lr = f.laws.find((l) => l.name === 'learningRate')!;
    assert.equal(lr.edgeCells, 12);
    assert.match(lr.warnings.join('\n'), /in 12 of 12 cells the best value is at the edge/);
    assert.equal(f.laws.find((l) => l.name === 'batchSize')!.edgeCells, 0);
  });

  it('fits the C form (DeepSeek) and predicts at a target budget', () => {
    // DeepSeek's law on an IsoFLOP-like series (D = 20·N)
    const iso: HyperRun[] = [];
    for (const N of [1e7, 3e7, 1e8, 3e8, 1e9]) {
      const D = 20 * N;
      const C = 6 * N * D;
      const eta = 0.3118 * C ** -0.125;
      for (let i = -3; i <= 3; i++) iso.push({ N, D, C, budget: C, loss: 3 + 0.05 * (i / 2) ** 2, values: { learningRate: eta * 2 ** (i / 2) } });
    }
    const f = fitHyperLaws(iso, { form: 'C', bootstrap: 0, target: 1e20 });
    const lr = f.laws[0];
    assert.ok(Math.abs(lr.exponents.C + 0.125) < 1e-9);
    assert.ok(Math.abs(lr.prediction!.value - 0.3118 * 1e20 ** -0.125) < 1e-12);
    assert.ok(Math.abs(evaluateHyperLaw(lr, { C: 1e20 })! - 9.86e-4) < 1e-6);
  });

  it('the band is relative to each cell’s best loss', () => {
    const runs: HyperRun[] = [
      { N: 1, D: 1, C: 6, loss: 1.0, values: { lr: 1 } },
      { N: 1, D: 1, C: 6, loss: 1.002, values: { lr: 2 } },
      { N: 1, D: 1, C: 6, loss: 1.003, values: { lr: 3 } },
      { N: 2, D: 1, C: 12, loss: 2.0, values: { lr: 1 } },
      { N: 2, D: 1, C: 12, loss: 2.004, values: { lr: 2 } },
    ];
    assert.deepEqual(nearOptimal(runs, 0.0025), [true, true, false, true, true]);
  });

  it('warns when N and D are collinear in the ND form, and rejects a bad band', () => {
    const iso = grid().filter((r) => r.D === 2e9 && r.N === 1e8);
    const more = iso.map((r) => ({ ...r, N: 2e8, D: 4e9, C: 6 * 8e17 }));
    const f = fitHyperLaws([...iso, ...more, ...iso.map((r) => ({ ...r, N: 4e8, D: 8e9 }))], { form: 'ND', bootstrap: 0 });
    assert.ok(f.warnings.some((w) => /not identified/.test(w)));
    assert.throws(() => fitHyperLaws(iso, { band: -1 }), /band/);
  });
});
