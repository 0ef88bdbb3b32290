/** The fit tabs explain themselves when there is nothing to draw (issue 13 item 8). */
import { strict as assert } from 'node:assert';
import { fitScalingLaws } from '../../src/core/fit';
import { frontierMessage, isoflopMessage, residualsMessage } from '../../webview/fit/fitEmpty';
import { isoflopGrid } from './fit-helpers';

describe('webview: empty fit tabs explain themselves', () => {
  it('before any run and before any fit', () => {
    assert.deepEqual(isoflopMessage(null, []), { text: "No completed runs yet: each budget's final losses appear here as its runs finish.", hideChart: true });
    assert.match(frontierMessage(null), /^No fit yet/);
    assert.match(residualsMessage(null), /^No fit yet/);
  });

  it('a sweep with 2 sizes per budget: no budget has 3 sizes, so no curves and no frontier', () => {
    const pts = isoflopGrid({ sizes: 2, budgets: [1e18, 1e19, 1e20] });
    const fit = fitScalingLaws(pts, { bootstrap: 0 });
    assert.equal(fit.isoflop, undefined);
    const m = isoflopMessage(fit, []);
    assert.match(m.text, /no budget has 3 model sizes \(the most any budget has is 2\)/);
    assert.equal(m.hideChart, false, 'the fit\'s budgets (isoflopSkipped) are drawn as points');
    assert.match(frontierMessage(fit), /^No frontier: no budget has 3 model sizes/);
    assert.equal(residualsMessage(fit), '', 'the parametric fit has 6 points and 2 sizes: it exists');
  });

  it('names the fit\'s own reason for a skipped method, and edge budgets', () => {
    const iso = fitScalingLaws(isoflopGrid({ sizes: 5, span: 0.5 }), { methods: ['isoflop'], bootstrap: 0 });
    assert.match(residualsMessage(iso), /No parametric fit, so no residuals: the parametric fit was not requested/);
    assert.equal(frontierMessage(iso), '');
    // every budget's smallest size wins: the IsoFLOP fit is skipped, and the Frontier tab says why
    const edges = fitScalingLaws(isoflopGrid({ sizes: 3, budgets: [1e18, 1e19, 1e20] }).map((p) => ({ ...p, loss: 2 + 1e-4 * Math.log(p.N) + 1e-3 * Math.log(p.C) })), { bootstrap: 0 });
    assert.equal(edges.isoflop, undefined);
    assert.match(frontierMessage(edges), /^No frontier: IsoFLOP fit needs at least 2 budgets whose optimum is bracketed .*3 budget\(s\) have their lowest loss at the smallest or largest size/);
    // a budget whose smallest size has the lowest loss
    const shifted = isoflopGrid({ sizes: 5, span: 0.5 }).map((p) => (p.budget === 1e18 ? { ...p, loss: 10 + Math.log(p.N) } : p));
    const e = fitScalingLaws(shifted, { methods: ['isoflop'], bootstrap: 0 });
    assert.match(isoflopMessage(e, []).text, /1 budget\(s\) have their lowest loss at the smallest or largest size tried/);
  });
});
