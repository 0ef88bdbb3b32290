/** Honest uncertainty: E ≤ the lowest loss, and identifiability said in words (CLI, fit.json). */
import { strict as assert } from 'node:assert';
import { fitScalingLaws } from '../../src/core/fit';
import { formatReport } from '../../src/cli/commands/fit';
import { FitReport } from '../../src/core/fit/types';
import { isoflopGrid } from './fit-helpers';

describe('fit: identifiability and the E bound', function () {
  this.timeout(120_000);

  it('a small first sweep (9 runs) is reported as not identified, in words, without its 1e100 intervals', () => {
    const pts = isoflopGrid({ sizes: 3, budgets: [1e15, 3e15, 1e16], noise: 0.03, seed: 5, span: 0.5 });
    const r = fitScalingLaws(pts, { bootstrap: 40, seed: 5 });
    FitReport.parse(r);
    const id = r.parametric!.identifiability!;
    assert.equal(id.identified, false);
    assert.equal(id.parameters.A, false);
    assert.match(id.summary, /not identified on these 9 points/);
    assert.match(id.reasons.join('\n'), /A: its bootstrap standard error is not finite|A: its interval spans/);
    assert.ok(r.warnings.includes(id.summary), 'the summary is a warning of the report');
    const text = formatReport(r);
    assert.match(text, /NOT IDENTIFIED/);
    const aRow = text.split('\n').find((l) => /^\s+A\s/.test(l))!;
    assert.match(aRow, /not identified/);
    assert.ok(!/e\d{2,}/.test(aRow), `no huge interval or SE on the A row: ${aRow}`);
  });

  it('a sweep with enough sizes and budgets is identified', () => {
    const r = fitScalingLaws(isoflopGrid({ noise: 0.003, seed: 21, sizes: 7 }), { methods: ['parametric'], bootstrap: 40, seed: 4 });
    assert.equal(r.parametric!.identifiability!.identified, true, r.parametric!.identifiability!.reasons.join('; '));
    assert.match(formatReport(r), /identified: the parametric fit is identified on these 49 points/);
  });

  it('E never exceeds the lowest observed loss', () => {
    // the truth has E = 1.69; one run (an outlier) reports 1.6, below the floor the others imply
    const pts = isoflopGrid({ sizes: 7, noise: 0.002, seed: 3 });
    pts[pts.length - 1] = { ...pts[pts.length - 1], loss: 1.6 };
    const r = fitScalingLaws(pts, { methods: ['parametric'], bootstrap: 10, seed: 1 });
    assert.equal(r.parametric!.eCapped, true);
    assert.ok(r.parametric!.E <= 1.6 * (1 + 1e-12), `E = ${r.parametric!.E}`);
    assert.match(r.warnings.join('\n'), /E is held at that loss/);
    assert.equal(r.parametric!.identifiability!.parameters.E, false);
    // every resample respects its own bound: at most the lowest loss of any resample
    const [, hi] = r.bootstrap!.intervals['parametric.E'];
    const secondLowest = Math.min(...pts.slice(0, -1).map((p) => p.loss));
    assert.ok(hi <= secondLowest * (1 + 1e-12), `${hi} vs ${secondLowest}`);
    // without the outlier the bound is not active
    const clean = fitScalingLaws(isoflopGrid({ sizes: 7, noise: 0.002, seed: 3 }), { methods: ['parametric'], bootstrap: 0 });
    assert.equal(clean.parametric!.eCapped, undefined);
  });
});
