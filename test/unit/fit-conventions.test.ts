/** Parameter and FLOP conventions: N and C under each, the exponents side by side, a headline. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { synthPlan, writeRunDir } from '../support/runDirFixture';
import { fitScalingLaws, readPointsFile } from '../../src/core/fit';
import { conventionCounts, detectConvention } from '../../src/core/fit/conventions';
import { readRunDirPoints } from '../../src/core/fit/io';
import { countTransformerParams } from '../../src/core/model/transformer';
import type { FitPoint } from '../../src/core/fit/types';
import { trueLoss } from './fit-helpers';

/** Transformers with nLayers = dModel/64 (vocab 50k, context 2048), losses from the truth in non-embedding N. */
function sweep(): FitPoint[] {
  const out: FitPoint[] = [];
  for (const C of [1e18, 3e18, 1e19, 3e19, 1e20]) {
    for (let d = 256; d <= 2048; d += 128) {
      const shape = { dModel: d, nLayers: d / 64, contextLength: 2048, vocabSize: 50_000, mlpRatio: 4, tiedEmbeddings: false };
      const nBy = conventionCounts(shape);
      const N = nBy['non-embedding'];
      const D = C / (6 * N);
      out.push({ N, D, C, loss: trueLoss(N, D), budget: C, nBy });
    }
  }
  return out;
}

describe('fit: parameter conventions', () => {
  it('counts a transformer under every convention', () => {
    const shape = { dModel: 512, nLayers: 8, contextLength: 1024, vocabSize: 32_000, mlpRatio: 4, tiedEmbeddings: false };
    const c = conventionCounts(shape);
    const t = countTransformerParams(shape);
    assert.equal(c['non-embedding'], t.nonEmbedding);
    assert.equal(c['last-layer'], t.nonEmbedding + 512 * 32_000);
    assert.equal(c.total, t.total);
    assert.equal(c.attention, c['last-layer'] + 8 * 1024 * 512);
  });

  it('reports the IsoFLOP exponents under each convention side by side; the headline is configurable', () => {
    const pts = sweep();
    assert.equal(detectConvention(pts), 'non-embedding');
    const r = fitScalingLaws(pts, { methods: ['isoflop'], bootstrap: 0 });
    assert.equal(r.settings.convention, 'non-embedding');
    const by = Object.fromEntries(r.conventions!.map((c) => [c.convention, c]));
    assert.deepEqual(Object.keys(by), ['non-embedding', 'last-layer', 'total', 'attention']);
    assert.equal(by['non-embedding'].headline, true);
    assert.ok(Math.abs(by['non-embedding'].a! - r.isoflop!.a) < 1e-12);
    // counting the output head makes small models relatively larger: a smaller exponent (Porian)
    assert.ok(by['last-layer'].a! < by['non-embedding'].a! - 0.03, `${by['last-layer'].a} vs ${by['non-embedding'].a}`);
    const ll = fitScalingLaws(pts, { methods: ['isoflop'], bootstrap: 0, convention: 'last-layer' });
    assert.equal(ll.settings.convention, 'last-layer');
    assert.ok(Math.abs(ll.isoflop!.a - by['last-layer'].a!) < 1e-12);
    assert.equal(ll.conventions!.find((c) => c.headline)!.convention, 'last-layer');
    assert.throws(() => fitScalingLaws(pts.map(({ nBy: _, ...p }) => p), { methods: ['isoflop'], bootstrap: 0, convention: 'total' }), /convention 'total' needs N under that convention/);
  });

  it('a run directory\'s plan gives each run its counts; CSV columns N_<convention> say theirs', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-conv-'));
    try {
      const runDir = path.join(dir, 'run');
      const plan = synthPlan({ sweep: 's', runDir, configPath: path.join(dir, 's.sweep.yaml'), budgets: [1e12, 3e12], sizesPerBudget: 3 });
      writeRunDir(runDir, plan, { pointsPerExperiment: 3 });
      const { points } = readRunDirPoints(runDir);
      const e = plan.experiments.find((x) => x.id === points[0].id)!;
      assert.ok(e.model.family === 'transformer');
      assert.deepEqual(points[0].nBy, conventionCounts(e.model));
      const csv = path.join(dir, 'r.csv');
      fs.writeFileSync(csv, 'N,D,loss,N_kaplan,N_last_layer\n10,100,3,10,15\n');
      assert.deepEqual(readPointsFile(csv).points[0].nBy, { 'non-embedding': 10, 'last-layer': 15 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
