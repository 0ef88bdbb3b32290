/**
 * The fit sections beyond Approaches 2 and 3 in the built results webview (headless chromium, the
 * panel's CSP): heat maps per budget, the hyperparameter-law and decision tables in the Fit tab, and
 * the Approach 1 / published-law overlays on the Frontier chart. Run: npm run test:webview
 */
import * as assert from 'node:assert/strict';
import { synthPlan } from '../../bench/webviewFixture';
import { openWebviewPage, type WebviewPage } from '../../bench/webviewPage';
import { addExtras } from '../../src/core/fit/extras';
import { fitScalingLaws } from '../../src/core/fit/fit';
import type { HyperRun } from '../../src/core/fit/hyperLaws';
import { defaultWebviewState, type Snapshot } from '../../src/shared/protocol';
import { isoflopGrid, trueLoss } from '../unit/fit-helpers';

function report() {
  const points = isoflopGrid({ noise: 0.002, seed: 4, budgets: [1e18, 1e19, 1e20] });
  const r = fitScalingLaws(points, { methods: ['isoflop', 'vpnls'], bootstrap: 10, target: 1e21 });
  const runs: HyperRun[] = points.flatMap((p) =>
    [-1, 0, 1].flatMap((i) => [16, 32].map((b) => ({ N: p.N, D: p.D, C: p.C, budget: p.budget, loss: p.loss * (1 + 0.01 * i * i + (b === 32 ? 0.001 : 0)), values: { learningRate: 0.3118 * p.C ** -0.125 * 2 ** i, batchSize: b } }))),
  );
  const curves = points.map((p, k) => ({ id: `r${k}`, N: p.N, plannedTokens: p.D, points: [0.25, 0.5, 1].map((f) => ({ tokens: f * p.D, loss: trueLoss(p.N, f * p.D) })) }));
  return addExtras(r, { hyperRuns: runs, curves });
}

describe('results webview: hyperparameter laws, Approach 1, decision, presets', function () {
  this.timeout(120_000);
  let p: WebviewPage;
  after(async () => p?.close());

  it('draws the heat maps and tables in the Fit tab and the overlays on the Frontier', async () => {
    const s = defaultWebviewState();
    s.tab = 'fit';
    p = await openWebviewPage({ state: s, width: 1100, height: 800 });
    const plan = synthPlan({ sweep: 'hx', runDir: '/r', configPath: '/c.sweep.yaml', budgets: [1e18, 1e19, 1e20], sizesPerBudget: 3 });
    const fit = report();
    assert.ok(fit.hyper && fit.approach1 && fit.decision && fit.presets);
    const snap: Snapshot = { sweep: 'hx', configUri: 'file:///c.sweep.yaml', phase: 'finished', plan, manifest: null, results: [], fit, series: [], problems: [] };
    await p.send({ type: 'snapshot', snapshot: snap });
    await p.page.waitForFunction(`document.querySelectorAll('table.heatmap').length === 3`, undefined, { timeout: 30_000 });
    const text = (await p.page.evaluate('document.querySelector(".fit-tables").innerText')) as string;
    assert.match(text, /Hyperparameter scaling laws/);
    assert.match(text, /DeepSeek LLM 2024/);
    assert.match(text, /Decision at C = 1/);
    assert.match(text, /approach1/);
    assert.match(text, /VPNLS fit/);
    const outlined = (await p.page.evaluate(`[...document.querySelectorAll('table.heatmap td')].filter((td) => td.style.outline).length`)) as number;
    assert.ok(outlined >= 3, 'near-optimal settings are outlined');
    const labels = (await p.page.evaluate(`__flopsfit.fitCharts.managed('frontier').chart.data.datasets.map((d) => d.label)`)) as string[];
    assert.ok(labels.some((l) => /Approach 1 envelope/.test(l)));
    assert.ok(labels.some((l) => /Kaplan/.test(l)));
    assert.ok(labels.some((l) => /VPNLS/.test(l)));
    assert.deepEqual(p.cspViolations, []);
    assert.deepEqual(p.pageErrors, []);
  });
});
