import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fitRunDir, fitScalingLaws, type FitReport } from '../../src/core/fit';
import { fitRunDirAsync, fitScalingLawsAsync } from '../../src/core/fit/parallel';
import { isoflopGrid } from './fit-helpers';

const NOW = () => new Date('2026-01-02T03:04:05.000Z');

describe('fitScalingLawsAsync (worker pool)', function () {
  this.timeout(120_000);
  // 5 budgets × 5 sizes with noise: both methods fit, and bootstrap resamples differ from the data.
  const points = isoflopGrid({ noise: 0.01, sizes: 5, seed: 3, budgets: [1e18, 1e19, 1e20, 1e21, 1e22] });
  const options = { bootstrap: 24, seed: 9, target: 1e23, now: NOW };
  let sync: FitReport;

  before(() => {
    sync = fitScalingLaws(points, options);
    assert.ok(sync.parametric && sync.isoflop && sync.bootstrap, 'both methods and the bootstrap ran');
    assert.ok(sync.bootstrap.succeeded.parametric! > 0);
  });

  for (const workers of [1, 2]) {
    it(`gives the single-threaded report, bit for bit, with ${workers} worker(s)`, async () => {
      const notices: string[] = [];
      const r = await fitScalingLawsAsync(points, options, { workers, notice: (l) => notices.push(l) });
      assert.deepStrictEqual(r, sync);
      assert.deepStrictEqual(notices, []);
    });
  }

  it('throws the same input errors as the sync fit, before starting threads', async () => {
    await assert.rejects(fitScalingLawsAsync(points.slice(0, 4), { methods: ['parametric'] }, { workers: 2 }), /needs at least 5 points; got 4/);
    await assert.rejects(fitScalingLawsAsync(points, { confidence: 1 }, { workers: 2 }), /confidence/);
  });

  it('falls back to one thread with a one-line notice when the workers fail to start', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-async-'));
    const broken = path.join(dir, 'brokenWorker.js');
    fs.writeFileSync(broken, "throw new Error('boom on load');\n");
    try {
      for (const entry of [broken, path.join(dir, 'missing.js')]) {
        const notices: string[] = [];
        const r = await fitScalingLawsAsync(points, options, { workers: 2, workerEntry: entry, notice: (l) => notices.push(l) });
        assert.deepStrictEqual(r, sync);
        assert.equal(notices.length, 1, notices.join('\n'));
        assert.match(notices[0], /fitting on one thread/);
        assert.ok(!notices[0].includes('\n'));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fitRunDirAsync writes the same fit.json as fitRunDir', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-async-'));
    try {
      const rows = points.map((p, i) => ({
        id: `e${i}`,
        budget: p.budget ?? p.C,
        params: p.N,
        tokens: p.D,
        flops: p.C,
        loss: p.loss,
        seed: 0,
        sizeValue: p.N,
        hyperparameters: {},
      }));
      fs.writeFileSync(path.join(dir, 'results.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const opts = { bootstrap: 12, seed: 2, now: NOW };
      const a = fitRunDir(dir, opts);
      assert.equal(a.points.length, points.length);
      const fileA = fs.readFileSync(path.join(dir, 'fit.json'), 'utf8');
      fs.rmSync(path.join(dir, 'fit.json'));
      const b = await fitRunDirAsync(dir, opts, { workers: 2 });
      assert.deepStrictEqual(b, a);
      assert.equal(fs.readFileSync(path.join(dir, 'fit.json'), 'utf8'), fileA);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
