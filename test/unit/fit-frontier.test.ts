/** The optimal-loss frontier L*(C) = E + A·C^−γ through the IsoFLOP optima. */
import { strict as assert } from 'node:assert';
import { fitScalingLaws } from '../../src/core/fit';
import { fitFrontier, frontierLoss } from '../../src/core/fit/frontier';
import { formatReport } from '../../src/cli/commands/fit';
import { TRUTH, isoflopGrid } from './fit-helpers';

// For L = E + A/N^α + B/D^β at C = 6ND the optimal loss is exactly E + K·C^(−αβ/(α+β)).
const gammaTrue = (TRUTH.alpha * TRUTH.beta) / (TRUTH.alpha + TRUTH.beta);

describe('fit: optimal-loss frontier L*(C)', function () {
  this.timeout(60_000);

  it('recovers E and γ = αβ/(α+β) from a noise-free sweep, and predicts the target loss', () => {
    const r = fitScalingLaws(isoflopGrid({ sizes: 9, span: 0.5 }), { methods: ['isoflop'], bootstrap: 0, target: 1e22 });
    const f = r.frontier!;
    assert.ok(Math.abs(f.E - TRUTH.E) < 1e-3, `E ${f.E}`);
    assert.ok(Math.abs(f.gamma - gammaTrue) < 1e-3, `γ ${f.gamma} vs ${gammaTrue}`);
    assert.equal(f.usedGroups, 7);
    assert.ok(Math.abs(r.prediction!.frontier!.loss - frontierLoss(f, 1e22)) < 1e-12);
    assert.match(formatReport(r), /optimal-loss frontier L\*\(C\) = E \+ A·C\^-γ/);
    assert.match(formatReport(r), /frontier L\*\(C\)\s+-\s+-\s+-\s+2\.13/);
  });

  it('has bootstrap intervals that cover the truth on a noisy sweep', () => {
    const r = fitScalingLaws(isoflopGrid({ sizes: 9, span: 0.5, noise: 0.003, seed: 3 }), { methods: ['isoflop'], bootstrap: 60, seed: 2, target: 1e22 });
    const [lo, hi] = r.bootstrap!.intervals['frontier.gamma'];
    assert.ok(lo < gammaTrue && gammaTrue < hi, `[${lo}, ${hi}] vs ${gammaTrue}`);
    assert.ok(r.prediction!.frontier!.interval);
  });

  it('holds E at the lowest optimal loss when the optima do not level off, and needs 3 budgets', () => {
    // a pure power law (E = 0): the unconstrained fit has nowhere to put E, the bound stays valid
    const C = [1e18, 1e19, 1e20, 1e21];
    const f = fitFrontier(C, C.map((c) => 50 * c ** -0.05))!;
    assert.ok(f.E <= Math.min(...C.map((c) => 50 * c ** -0.05)) * (1 + 1e-12));
    assert.equal(fitFrontier([1e18, 1e19], [3, 2.5]), undefined);
  });
});
