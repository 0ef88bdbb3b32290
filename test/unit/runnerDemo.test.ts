/** The built-in demo sweep: it must stay valid, small and able to show an IsoFLOP fit. */
import * as assert from 'node:assert/strict';
import { parseSweepConfig } from '../../src/core/config';
import { syntheticEntropyRate } from '../../src/core/data/synthetic';
import { DEMO_CONFIG_FILE, DEMO_CONFIG_TEXT } from '../../src/core/demo';
import { buildPlan } from '../../src/core/plan';

describe('demo sweep', () => {
  const parsed = parseSweepConfig(DEMO_CONFIG_TEXT, DEMO_CONFIG_FILE);

  it('parses without errors or warnings', () => {
    assert.deepEqual(parsed.diagnostics.map((d) => `${d.severity}: ${d.message}`), []);
    assert.ok(parsed.config);
  });

  it('plans at least 3 budgets with at least 3 sizes each, bracketing the prior optimum, on the CPU', () => {
    const plan = buildPlan(parsed.config!, { configPath: `/tmp/flopsfit-demo/${DEMO_CONFIG_FILE}`, noFileSystem: true });
    const used = plan.budgets.filter((b) => !b.skipped);
    assert.ok(used.length >= 3, `${used.length} budgets`);
    for (const b of used) {
      assert.ok(b.experiments >= 3, `budget ${b.budget}: ${b.experiments} sizes`);
      assert.ok(b.brackets, `budget ${b.budget} does not bracket its prior optimum`);
    }
    for (const e of plan.experiments) assert.equal(e.training.backend, 'wasm');
    // what keeps it inside 10 minutes on 2 cores (measured: 7.5 M tokens in 37–49 s, `npm run
    // check:examples`; see bench/README.md, Runner)
    assert.ok(plan.totalTokens <= 8e6, `the demo trains ${plan.totalTokens} tokens`);
    // a width-limited model is in the grid (it keeps the parametric fit's E identifiable)
    assert.ok(plan.experiments.some((e) => e.sizeValue <= 4));
  });

  it('runs on the synthetic source with a known entropy rate', () => {
    const data = parsed.config!.data;
    assert.equal(data.source, 'synthetic');
    if (data.source !== 'synthetic') return;
    const h = syntheticEntropyRate({ vocabSize: data.vocabSize, branching: data.branching, seed: data.seed });
    assert.ok(h > 0.5 && h < Math.log(data.vocabSize), `entropy rate ${h}`);
  });
});
