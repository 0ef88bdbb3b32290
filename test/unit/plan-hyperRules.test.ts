/** training.learningRate / batchSize given by a rule: evaluated per experiment by the planner. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSweepConfig } from '../../src/core/config';
import { buildPlan } from '../../src/core/plan';
import { formatPlanTable } from '../../src/core/plan/format';
import { formatValue } from '../../src/core/format';
import { displayedSettings, ruledSettings } from '../../src/core/plan/ruledSettings';
import { fitHyperLaws } from '../../src/core/fit/hyperLaws';
import { fitScalingLaws } from '../../src/core/fit/fit';
import { isoflopGrid } from './fit-helpers';

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-rules-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function plan(yaml: string) {
  const r = parseSweepConfig(yaml, 'x.sweep.yaml');
  assert.ok(r.config, `config should be valid: ${JSON.stringify(r.diagnostics)}`);
  return buildPlan(r.config, { configPath: path.join(tmp, 'x.sweep.yaml'), workspaceRoot: tmp });
}

describe('plan: hyperparameter rules (closing the loop)', () => {
  it('a power rule of C gives each experiment its own learning rate, shown in the plan table', () => {
    const p = plan(`name: r
budgets: [1e12, 1e13]
training:
  learningRate: { rule: power, coefficient: 0.3118, exponent: -0.125, of: C }
`);
    assert.ok(p.experiments.length > 0);
    for (const e of p.experiments) assert.ok(Math.abs(e.training.learningRate - 0.3118 * e.budget ** -0.125) < 1e-15);
    assert.equal(new Set(p.experiments.map((e) => e.training.learningRate)).size, 2);
    const text = formatPlanTable(p);
    assert.deepEqual(ruledSettings(p), ['learningRate']);
    assert.equal(p.rules?.learningRate, '0.3118·C^-0.125');
    assert.match(text, /learningRate from a rule: 0\.3118·C\^-0\.125/);
    assert.equal(displayedSettings(p.experiments[0], ['learningRate']).learningRate, p.experiments[0].training.learningRate);
    // an axis of the same name is shown as a hyperparameter already
    const axis = plan(`name: r
budgets: [1e12]
sweep: { hyperparameters: { learningRate: [1e-3, 2e-3] } }
`);
    assert.deepEqual(ruledSettings(axis), []);
    assert.match(text, / lr /);
    for (const e of p.experiments) {
      const row = text.split('\n').find((l) => l.startsWith(e.id))!;
      assert.ok(row.includes(formatValue(e.training.learningRate)), row);
    }
  });

  it('a batch-size rule of N rounds to whole sequences, and ids change with the values', () => {
    const yaml = (c: number) => `name: r
budgets: [1e12, 1e13]
training:
  batchSize: { rule: power, coefficient: ${c}, exponent: 0.25, of: N }
`;
    const p = plan(yaml(0.5));
    for (const e of p.experiments) {
      assert.equal(e.training.batchSize, Math.round(0.5 * e.params ** 0.25));
      assert.ok(Number.isInteger(e.training.batchSize));
    }
    const q = plan(yaml(0.25));
    assert.notDeepEqual(
      p.experiments.map((e) => e.id),
      q.experiments.map((e) => e.id),
    );
    // the same N in two budgets with different training settings gets distinct ids
    assert.equal(new Set(p.experiments.map((e) => e.id)).size, p.experiments.length);
  });

  it('{ fromFit } uses the law in that run directory’s fit.json', () => {
    const dir = path.join(tmp, 'small');
    fs.mkdirSync(dir, { recursive: true });
    const report = fitScalingLaws(isoflopGrid({ noise: 0 }), { methods: ['isoflop'], bootstrap: 0 });
    const runs = [1e8, 1e9, 1e10].flatMap((C) => [-1, 0, 1].map((i) => ({ N: C / 1e3, D: 1e3 / 6, C, loss: 3 + i * i * 0.1, values: { learningRate: 0.01 * C ** -0.1 * 2 ** i } })));
    report.hyper = fitHyperLaws(runs, { form: 'C', bootstrap: 0 });
    fs.writeFileSync(path.join(dir, 'fit.json'), JSON.stringify(report));
    const p = plan(`name: r
budgets: [1e12, 1e13]
training:
  learningRate: { fromFit: small }
`);
    assert.ok(p.experiments.length > 0);
    for (const e of p.experiments) assert.ok(Math.abs(e.training.learningRate / (0.01 * e.budget ** -0.1) - 1) < 1e-9);
  });

  it('an unresolvable rule is a located warning and plans nothing; a value out of range drops its cells', () => {
    const p = plan(`name: r
budgets: [1e12]
training:
  learningRate: { fromFit: nowhere }
`);
    assert.equal(p.experiments.length, 0);
    const w = p.warnings.find((x) => x.code === 'hyper-rule')!;
    assert.deepEqual(w.path, ['training', 'learningRate', 'fromFit']);
    assert.match(w.message, /does not exist/);
    const q = plan(`name: r
budgets: [1e12]
training:
  learningRate: { rule: power, coefficient: 100, exponent: 0, of: C }
`);
    assert.equal(q.experiments.length, 0);
    assert.ok(q.warnings.some((x) => x.code === 'hyper-rule' && /outside \(0, 10\]/.test(x.message)));
  });

  it('a malformed rule is a config error', () => {
    const r = parseSweepConfig(`name: r
budgets: [1e12]
training:
  learningRate: { rule: power, coefficient: 1, exponent: 0.1, of: Q }
`, 'x.sweep.yaml');
    assert.equal(r.config, undefined);
    assert.ok(r.diagnostics.some((d) => d.severity === 'error'));
  });
});
