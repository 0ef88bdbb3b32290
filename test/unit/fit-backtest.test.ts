/** Backtests: fit the smaller budgets, score the predictions of the held-out larger ones. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backtest, fitScalingLaws, readPointsFile, splitPoints } from '../../src/core/fit';
import { fitRunDirAsync } from '../../src/core/fit/parallel';
import { fitOptionsFromConfig } from '../../src/core/fit/configOptions';
import { parseSweepConfig } from '../../src/core/config';
import { FitReport } from '../../src/core/fit/types';
import { synthPlan, writeRunDir } from '../support/runDirFixture';
import { run as runFit } from '../../src/cli/commands/fit';
import { FitPayload } from '../../src/shared/protocol';
import { isoflopGrid } from './fit-helpers';

describe('fit: backtest', function () {
  this.timeout(180_000);

  it('Chinchilla: fitting C < 1e21 predicts the 23 runs above it with a mean |relative loss error| of 1.05 %', async () => {
    const { points } = readPointsFile(path.join(__dirname, '..', 'fixtures', 'chinchilla.csv'));
    const b = await backtest(points, { methods: ['parametric'] }, { kind: 'above', above: 1e21 }, fitScalingLaws);
    assert.equal(b.test.points, 23);
    assert.equal(b.train.points, 217);
    const p = b.parametric!;
    assert.ok(Math.abs(p.meanAbsRelError - 0.0105) < 0.0005, `mean |error| ${p.meanAbsRelError}`);
    assert.ok(p.worstAbsRelError >= p.meanAbsRelError && p.worstAbsRelError < 0.05);
    assert.equal(p.points.length, 23);
    for (const r of p.points) assert.ok(Math.abs(r.relError - (r.predicted - r.loss) / r.loss) < 1e-15);
  });

  it('holds out the largest k budgets; the IsoFLOP law predicts their N_opt on a known surface', async () => {
    const pts = isoflopGrid({ sizes: 9, span: 0.5, noise: 0 });
    const { test } = splitPoints(pts, { kind: 'budgets', k: 2 });
    assert.deepEqual([...new Set(test.map((i) => pts[i].budget!))].sort((x, y) => x - y), [3e20, 1e21]);
    const b = await backtest(pts, { methods: ['isoflop'] }, { kind: 'budgets', k: 2 }, fitScalingLaws);
    assert.equal(b.isoflop!.budgets.length, 2);
    for (const g of b.isoflop!.budgets) assert.ok(Math.abs(Math.log(g.nOptRatio!)) < 0.05, `${g.budget}: ratio ${g.nOptRatio}`);
    assert.throws(() => splitPoints(pts, { kind: 'budgets', k: 7 }), /cannot hold out 7 of 7 budget/);
  });

  it("a config's fit.backtest: the run-directory fit (the runner's and Fit Scaling Laws') writes it; a split the data cannot support is a warning", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-btcfg-'));
    try {
      const runDir = path.join(dir, 'run');
      writeRunDir(runDir, synthPlan({ sweep: 'bt', runDir, configPath: path.join(dir, 'bt.sweep.yaml'), budgets: [1e17, 3e17, 1e18, 3e18], sizesPerBudget: 5 }), { pointsPerExperiment: 3 });
      const config = (k: number) => parseSweepConfig(`name: bt\nbudgets: [1e17, 3e17, 1e18, 3e18]\nfit: { bootstrap: 0, backtest: ${k} }\n`, 'bt.sweep.yaml').config!;
      assert.deepEqual(fitOptionsFromConfig(config(1)).backtest, { kind: 'budgets', k: 1 });
      const report = await fitRunDirAsync(runDir, fitOptionsFromConfig(config(1)), { workers: 1 });
      const onDisk = FitReport.parse(JSON.parse(fs.readFileSync(path.join(runDir, 'fit.json'), 'utf8')));
      assert.equal(onDisk.backtest?.test.points, 5, 'the largest budget (5 runs) held out');
      assert.equal(report.backtest?.split.kind, 'budgets');
      assert.ok(onDisk.backtest?.parametric || onDisk.backtest?.isoflop, 'something was scored');
      const tooMany = await fitRunDirAsync(runDir, fitOptionsFromConfig(config(4)), { workers: 1 });
      assert.equal(tooMany.backtest, undefined);
      assert.match(tooMany.warnings.join('\n'), /backtest not run: .*cannot hold out 4 of 4 budget/);
      assert.ok(tooMany.isoflop || tooMany.parametric, 'the fit itself stands');
      assert.ok(parseSweepConfig('name: bt\nbudgets: [1e17]\nfit: { backtest: 0 }\n', 'bt.sweep.yaml').diagnostics.some((d) => d.severity === 'error'), 'backtest: 0 is an error');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('`flopsfit fit --backtest` writes it to fit.json, which the results panel reads', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-bt-'));
    try {
      const pts = isoflopGrid({ sizes: 5, span: 0.5, noise: 0.002, seed: 2 });
      const csv = path.join(dir, 'runs.csv');
      fs.writeFileSync(csv, 'N,D,loss,budget\n' + pts.map((p) => `${p.N},${p.D},${p.loss},${p.budget}`).join('\n') + '\n');
      const out = path.join(dir, 'fit.json');
      const write = process.stdout.write.bind(process.stdout);
      let text = '';
      (process.stdout as { write: unknown }).write = (c: string) => ((text += c), true);
      try {
        assert.equal(await runFit(['--input', csv, '--bootstrap', '0', '--backtest', '2', '--workers', '1', '--out', out]), 0);
      } finally {
        (process.stdout as { write: unknown }).write = write;
      }
      assert.match(text, /Backtest: fitted on 25 runs/);
      assert.match(text, /parametric loss: mean \|error\| \d+\.\d\d %/);
      const parsed = FitPayload.parse(JSON.parse(fs.readFileSync(out, 'utf8')));
      assert.equal(parsed.backtest?.test.points, 10);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
