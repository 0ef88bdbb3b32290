/** `flopsfit plan --extend <fit.json>`: the follow-up for budgets whose optimum is not bracketed. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run as planCommand } from '../../src/cli/commands/plan';
import { loadSweepConfig } from '../../src/core/config';
import { Plan } from '../../src/core/contracts';
import { fitScalingLaws, serializeFitReport } from '../../src/core/fit';
import { buildPlan } from '../../src/core/plan';
import { proposeExtension } from '../../src/core/plan/extend';
import { capture } from './cliHelpers';

describe('flopsfit plan --extend <fit.json>', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-extend-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A sweep whose smallest model wins at every budget (the new user's first sweep), fitted. */
  function setup(): { file: string; plan: Plan; fitFile: string } {
    const file = path.join(dir, 'x.sweep.yaml');
    fs.writeFileSync(file, '# my sweep\nname: x\nbudgets: [1e11, 3e11, 1e12]  # small\nmodel:\n  size: { param: dModel, min: 32, max: 512 }\n');
    const config = loadSweepConfig(file).config!;
    const plan = buildPlan(config, { configPath: file, workspaceRoot: dir });
    const points = plan.experiments.map((e) => ({ id: e.id, N: e.params, D: e.tokens, C: 6 * e.params * e.tokens, budget: e.budget, loss: 3 + 0.05 * Math.log(e.params) - 0.02 * Math.log(e.budget) }));
    const report = fitScalingLaws(points, { bootstrap: 0 });
    assert.equal(report.isoflop, undefined, 'no budget is bracketed');
    assert.equal(report.isoflopSkipped!.groups.filter((g) => g.status === 'edge').length, 3);
    const fitFile = path.join(dir, 'fit.json');
    fs.writeFileSync(fitFile, serializeFitReport(report));
    // the completed runs of the first sweep
    fs.mkdirSync(plan.runDir, { recursive: true });
    const rows = plan.experiments.map((e, i) => ({ id: e.id, budget: e.budget, params: e.params, tokens: e.tokens, flops: 6 * e.params * e.tokens, loss: points[i].loss, seed: 0, sizeValue: e.sizeValue, hyperparameters: {} }));
    fs.writeFileSync(path.join(plan.runDir, 'results.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    return { file, plan, fitFile };
  }

  it('proposes smaller sizes and a re-centred prior; completed experiments keep their ids', () => {
    const { file, plan, fitFile } = setup();
    const config = loadSweepConfig(file).config!;
    const p = proposeExtension(JSON.parse(fs.readFileSync(fitFile, 'utf8')), config);
    assert.deepEqual(p.budgets.map((b) => b.direction), ['smaller', 'smaller', 'smaller']);
    const min = p.changes.find((c) => c.path.join('.') === 'model.size.min')!;
    assert.equal(min.from, 32);
    assert.ok(min.to < 32);
    const prior = p.changes.find((c) => c.path.join('.') === 'planning.priorTokensPerParam')!;
    assert.ok(prior.to > 20, 'smaller models at the same budget: more tokens per parameter');
    const extended = buildPlan(p.config, { configPath: file, workspaceRoot: dir });
    const before = new Set(plan.experiments.map((e) => e.id));
    const kept = extended.experiments.filter((e) => before.has(e.id));
    assert.ok(kept.length > 0, 'sizes planned before keep their experiment ids');
    assert.ok(extended.experiments.some((e) => e.params < Math.min(...plan.experiments.map((x) => x.params))), 'smaller models are planned');
  });

  it('widens planning.tokensPerParam when the suggested sizes fall outside it (else the planner would drop them)', () => {
    // the largest model wins at small budgets: the suggested larger models train < 1 token per parameter
    const file = path.join(dir, 'big.sweep.yaml');
    const text = 'name: big\nbudgets: [2e9, 6e9]\nmodel:\n  contextLength: 16\n  size: { param: dModel, min: 8, max: 256 }\nplanning: { sizesPerBudget: 4, priorTokensPerParam: 5, sizeSpread: 20 }\ntraining: { batchSize: 4 }\n';
    fs.writeFileSync(file, text);
    const config = loadSweepConfig(file).config!;
    const plan = buildPlan(config, { configPath: file, workspaceRoot: dir });
    const points = plan.experiments.map((e) => ({ id: e.id, N: e.params, D: e.tokens, C: 6 * e.params * e.tokens, budget: e.budget, loss: 3 - 0.05 * Math.log(e.params) }));
    const report = fitScalingLaws(points, { bootstrap: 0 });
    const p = proposeExtension(JSON.parse(serializeFitReport(report)), config);
    assert.ok(p.budgets.length > 0 && p.budgets.every((b) => b.direction === 'larger'));
    const need = Math.min(...p.budgets.flatMap((b) => b.suggestedN.map((n) => b.budget / (6 * n * n))));
    assert.ok(need < 1, `the suggested sizes need ${need} tokens per parameter`);
    const band = p.changes.find((c) => c.path.join('.') === 'planning.tokensPerParam.min')!;
    assert.ok(band && band.from === 1 && band.to <= need, `band change ${JSON.stringify(band)}`);
    const extended = buildPlan(p.config, { configPath: file, workspaceRoot: dir });
    for (const b of p.budgets) {
      const largest = Math.max(...extended.experiments.filter((e) => e.budget === b.budget).map((e) => e.params));
      const before = Math.max(...plan.experiments.filter((e) => e.budget === b.budget).map((e) => e.params));
      assert.ok(largest > before, `budget ${b.budget}: the extended plan trains a larger model (${largest} > ${before})`);
    }
    assert.deepEqual(p.notes, []);
    // with 16× more tokens per step the same sizes would train too few steps: the proposal says so
    fs.writeFileSync(file, text.replace('contextLength: 16', 'contextLength: 128').replace('batchSize: 4', 'batchSize: 8'));
    const p2 = proposeExtension(JSON.parse(serializeFitReport(report)), loadSweepConfig(file).config!);
    assert.match(p2.notes.join('\n'), /budget 2\.00e\+9: N ≈ \S+ would train \d+ optimiser step\(s\) of 1024 tokens, fewer than planning\.minSteps \(10\)/);
  });

  it('prints the changes and the experiments to add; --write edits the YAML keeping its comments', async () => {
    const { file, fitFile } = setup();
    const r = await capture(() => planCommand([file, '--workspace', dir, '--extend', fitFile]));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /budget 1\.00e\+11: the lowest loss is at the smallest size tried; add smaller models/);
    assert.match(r.out, /model\.size\.min: 32 → \d+/);
    assert.match(r.out, /already completed \(kept\), \d+ to run/);
    const w = await capture(() => planCommand([file, '--workspace', dir, '--extend', fitFile, '--write']));
    assert.equal(w.code, 0, w.err);
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /# my sweep/);
    assert.match(text, /# small/);
    const c = loadSweepConfig(file).config!;
    assert.ok(c.model.family === 'transformer' && c.model.size.min < 32);
    assert.ok(c.planning.priorTokensPerParam > 20);
    await assert.rejects(planCommand([file, '--workspace', dir, '--extend', path.join(dir, 'nope.json')]), /--extend: cannot read .*nope\.json/);
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"version": 1}');
    await assert.rejects(planCommand([file, '--workspace', dir, '--extend', path.join(dir, 'bad.json')]), /is not a fit report: createdAt/);
  });
});
