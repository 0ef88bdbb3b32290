/** `flopsfit run` and `flopsfit fit <config>` derive a config's fit options through one function. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadSweepConfig } from '../../src/core/config';
import { RUN_FILES } from '../../src/core/contracts';
import { fitOptionsFromConfig } from '../../src/core/fit/configOptions';
import { FitReport } from '../../src/core/fit/types';
import { run as runFit } from '../../src/cli/commands/fit';
import { executeSweep } from '../../src/cli/commands/run';
import { fakePlan, fakeSpec } from './runnerHelpers';

describe('fit options from a config (one home for run and fit)', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-fitopts-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('takes the fit section, the FLOP convention and a default target of 10× the largest budget', () => {
    const file = path.join(dir, 'a.sweep.yaml');
    fs.writeFileSync(file, 'name: a\nbudgets: [1e12, 3e12]\nplanning:\n  flopsPerParamPerToken: 8\nfit:\n  bootstrap: 7\n  seed: 3\n  confidence: 0.9\n');
    const c = loadSweepConfig(file).config!;
    assert.ok(c);
    const o = fitOptionsFromConfig(c);
    assert.equal(o.flopsPerParamPerToken, 8);
    assert.equal(o.bootstrap, 7);
    assert.equal(o.seed, 3);
    assert.equal(o.confidence, 0.9);
    assert.equal(o.target, 3e13);
    fs.writeFileSync(file, 'name: a\nbudgets: {min: 1e12, max: 1e14, count: 3}\nfit:\n  target: 5e20\n');
    assert.equal(fitOptionsFromConfig(loadSweepConfig(file).config!).target, 5e20);
  });

  it('the fit.json of `flopsfit run` and of `flopsfit fit <config>` have the same settings', async () => {
    const runDir = path.join(dir, 'run');
    const file = path.join(dir, 'b.sweep.yaml');
    fs.writeFileSync(file, `name: b\nbudgets: [1e8, 1e9]\nrun:\n  directory: ${JSON.stringify(runDir)}\nplanning:\n  flopsPerParamPerToken: 6\nfit:\n  bootstrap: 5\n  seed: 11\n`);
    const config = loadSweepConfig(file).config!;
    const quick = ['--steps', '3', '--step-ms', '2'];
    const plan = fakePlan(runDir, [8, 16, 32].flatMap((s, i) => [fakeSpec(2 * i + 1, 1e8, s, quick), fakeSpec(2 * i + 2, 1e9, s, quick)]));
    const out = await executeSweep({ config, plan, configPath: file }, { parallel: 2, progressSeconds: 3600 });
    assert.equal(out.exitCode, 0);
    const fromRun = FitReport.parse(JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.fit), 'utf8')));
    fs.rmSync(path.join(runDir, RUN_FILES.fit));
    const write = process.stdout.write.bind(process.stdout);
    (process.stdout as { write: unknown }).write = () => true;
    try {
      assert.equal(await runFit([file, '--workers', '1']), 0);
    } finally {
      (process.stdout as { write: unknown }).write = write;
    }
    const fromFit = FitReport.parse(JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.fit), 'utf8')));
    assert.deepEqual(fromRun.settings, fromFit.settings);
    assert.equal(fromRun.settings.target, 1e10);
    assert.equal(fromRun.settings.bootstrap, 5);
  });
});
