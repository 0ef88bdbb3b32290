import { strict as assert } from 'node:assert';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSweepConfig } from '../../src/core/config';
import { buildPlan } from '../../src/core/plan';
import type { Host } from '../../src/core/plan/parallelism';
import { builtinThroughput, experimentSeconds, experimentWork } from '../../src/core/plan/throughput';

const host: Host = { cores: 2, gpuLikely: () => false };

function plan(yaml: string) {
  const r = parseSweepConfig(yaml, 'x.sweep.yaml');
  assert.ok(r.config, JSON.stringify(r.diagnostics));
  return buildPlan(r.config, { configPath: path.join(os.tmpdir(), 'x.sweep.yaml'), noFileSystem: true, host });
}

/** The built-in wasm estimate of the first experiment of a one-size sweep, per training token. */
function secondsPerToken(model: string, training = ''): number {
  const p = plan(`name: t\nbudgets: [3e10]\nmodel: ${model}\nplanning: {sizesPerBudget: 1}\ntraining: {backend: wasm${training}}\n`);
  const e = p.experiments[0];
  assert.ok(e, JSON.stringify(p.warnings));
  const tp = builtinThroughput('wasm');
  return experimentSeconds(e, tp, tp.flopsPerSecond) / e.tokens;
}

describe('plan estimate: what small sweeps really cost', () => {
  it('counts the slow attention fallback when the head size is not a multiple of 4 (d24 with 4 heads)', () => {
    const dh6 = secondsPerToken('{nLayers: 2, nHeads: 4, size: {min: 24, max: 24}}');
    const dh8 = secondsPerToken('{nLayers: 2, nHeads: 3, size: {min: 24, max: 24}}');
    // measured: 8.8 s against 1.6 s estimated without the fallback (README, "The plan")
    assert.ok(dh6 > 4 * dh8, `${dh6} vs ${dh8}`);
  });

  it('narrow models run below the kernels\' d64 rate', () => {
    const tp = builtinThroughput('wasm');
    const rate = (d: number) => {
      const p = plan(`name: t\nbudgets: [1e11]\nmodel: {nLayers: 2, size: {min: ${d}, max: ${d}}}\nplanning: {sizesPerBudget: 1, tokensPerParam: {min: 0.1, max: 10000}}\ntraining: {backend: wasm, evalInterval: 0, evalTokens: 1}\n`);
      const e = p.experiments[0];
      assert.ok(e, JSON.stringify(p.warnings));
      const s = experimentSeconds(e, tp, tp.flopsPerSecond) - (tp.startupSeconds ?? 0) - Math.ceil(e.tokens / (e.training.batchSize * 128)) * (tp.stepOverheadSeconds ?? 0);
      return experimentWork(e) / s;
    };
    // 12 / 18 / 25 GFLOP/s at d16 / d32 / d64, as measured
    assert.ok(Math.abs(rate(16) / 12e9 - 1) < 0.1, String(rate(16)));
    assert.ok(Math.abs(rate(32) / 18.4e9 - 1) < 0.1, String(rate(32)));
    assert.ok(Math.abs(rate(64) / 25e9 - 1) < 0.02, String(rate(64)));
  });

  it('counts the evaluations', () => {
    const few = secondsPerToken('{nLayers: 2, size: {min: 32, max: 32}}', ', evalTokens: 1, evalInterval: 0');
    const many = secondsPerToken('{nLayers: 2, size: {min: 32, max: 32}}', ', evalTokens: 65536, evalInterval: 10');
    assert.ok(many > 1.5 * few, `${many} vs ${few}`);
  });

  it('a small sweep on 2 cores: start-up per experiment, two at once (the runner\'s default)', () => {
    const p = plan('name: t\nmodel: {nLayers: 2, size: {min: 16, max: 512}}\nbudgets: [1e10, 3e10]\nplanning: {sizesPerBudget: 3}\n');
    assert.match(p.throughputSource, /; 2 at once$/);
    const startup = builtinThroughput('wasm').startupSeconds ?? 0;
    assert.ok(startup > 0);
    assert.ok(p.estimatedSeconds >= (p.experiments.length * startup) / 2);
    // measured for this sweep (README, "The plan"): 49 CPU-seconds of training, about 30 s on 2 idle cores;
    // the estimate before start-up, width and fallback costs were counted was 10 s
    assert.ok(p.estimatedSeconds > 20 && p.estimatedSeconds < 45, String(p.estimatedSeconds));
  });
});
