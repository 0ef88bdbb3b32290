/**
 * fit.json is one contract: the writer checks the FitReport schema before writing and every reader
 * (results panel, CLI, demo) parses it with the same schema. Non-finite numbers are null.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RUN_FILES } from '../../src/core/contracts';
import { fitRunDir } from '../../src/core/fit';
import { FitReport, serializeFitReport } from '../../src/core/fit/types';
import { RunDirModel } from '../../src/extension/results/model';
import { FitPayload } from '../../src/shared/protocol';
import { isoflopGrid } from './fit-helpers';

/** A small first sweep: 3 budgets × 3 sizes, 3 % noise (seed 5 makes the parametric SE of A overflow). */
function smallRun(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const pts = isoflopGrid({ sizes: 3, budgets: [1e15, 3e15, 1e16], noise: 0.03, seed: 5, span: 0.5 });
  const rows = pts.map((p, i) => ({ id: `e${i}`, budget: p.budget!, params: p.N, tokens: p.D, flops: p.C, loss: p.loss, seed: 0, sizeValue: i, hyperparameters: {} }));
  fs.writeFileSync(path.join(dir, RUN_FILES.results), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

describe('fit.json contract (writer and readers share the FitReport schema)', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-contract-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a real fit of a small run, with a non-finite bootstrap SE, is read back by the results panel', () => {
    smallRun(dir);
    const report = fitRunDir(dir, { bootstrap: 40, seed: 5 });
    const se = report.bootstrap!.se;
    const nulls = Object.entries(se).filter(([, v]) => v === null);
    assert.ok(nulls.length > 0, `this small run should give a non-finite standard error; got ${JSON.stringify(se)}`);
    const text = fs.readFileSync(path.join(dir, RUN_FILES.fit), 'utf8');
    assert.ok(!/NaN|Infinity/.test(text), 'fit.json holds no NaN or Infinity');
    // the panel's own schema and its host-side reader
    const parsed = FitPayload.safeParse(JSON.parse(text));
    assert.ok(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues[0]));
    const m = new RunDirModel(dir);
    m.loadAll();
    assert.deepEqual(m.allProblems(), []);
    assert.ok(m.fit?.parametric, 'the panel has the parametric fit');
    assert.equal(m.fit?.bootstrap?.se[nulls[0][0]], null);
  });

  it('the writer refuses a report the readers would reject, naming the field', () => {
    smallRun(dir);
    const report = fitRunDir(dir, { bootstrap: 0 });
    const bad = { ...report, parametric: { ...report.parametric!, alpha: NaN } } as FitReport;
    assert.throws(() => serializeFitReport(bad), /parametric\.alpha/);
    assert.doesNotThrow(() => FitReport.parse(JSON.parse(serializeFitReport(report))));
  });
});
