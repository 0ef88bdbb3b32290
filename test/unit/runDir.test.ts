/**
 * The run-directory contract (src/core/runDir): the experiment identity the planner and the
 * runner's change detection share, the status derivation, and a moved workspace end to end (plan,
 * run, move the whole folder, plan and run again: nothing re-runs).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSweepConfig } from '../../src/core/config';
import type { ExperimentSpec, Manifest } from '../../src/core/contracts';
import { buildPlan } from '../../src/core/plan';
import { classifyRunPath, deriveSweepStatus, experimentIdentity, runDirWatchGlob, sameExperiment } from '../../src/core/runDir';
import { runSweep } from '../../src/engine/runner';
import { FAKE_TRAINER, tempDir } from './runnerHelpers';

function configText(): string {
  return `name: moved
model:
  family: command
  command: [${JSON.stringify(process.execPath)}, trainer.mjs, --size, "{size}", --tokens, "{tokens}", --seed, "{seed}", --out, "{runDir}", --steps, "3", --step-ms, "1"]
  countParams: [${JSON.stringify(process.execPath)}, trainer.mjs, --count-params, --size, "{size}"]
  cwd: trainer
  size: { param: width, min: 8, max: 64, multiple: 8 }
data: { source: text, path: data/corpus.txt }
budgets: [1e8, 3e8]
planning: { sizesPerBudget: 2, minSteps: 1 }
training: { batchSize: 1 }
run: { directory: .flopsfit/moved, parallel: 2 }
`;
}

function planIn(root: string) {
  const configPath = path.join(root, 'moved.sweep.yaml');
  const parsed = parseSweepConfig(fs.readFileSync(configPath, 'utf8'), configPath);
  assert.ok(parsed.config, JSON.stringify(parsed.diagnostics));
  return buildPlan(parsed.config, { configPath, workspaceRoot: root, countParams: (v: number) => 24 * v * v });
}

describe('run directory contract', function () {
  this.timeout(60_000);

  it('the planner’s ids are the identity of every experiment (one rule, two code paths)', () => {
    const root = tempDir('flopsfit-id-');
    try {
      fs.mkdirSync(path.join(root, 'trainer'));
      fs.writeFileSync(path.join(root, 'moved.sweep.yaml'), configText());
      const plan = planIn(root);
      assert.ok(plan.experiments.length >= 3);
      for (const e of plan.experiments) {
        assert.equal(experimentIdentity(e), e.id, `identity of ${e.id}`);
        assert.equal(e.root, root);
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('identity ignores where the workspace is, and sees every setting that changed', () => {
    const a = { ...planLike('/home/a/ws'), id: 'x' } as ExperimentSpec;
    const moved = { ...planLike('/srv/b/ws'), id: 'x' } as ExperimentSpec;
    assert.ok(sameExperiment(a, moved), 'the same settings in a moved workspace');
    const otherLr = { ...moved, training: { ...moved.training, learningRate: 0.5 } };
    assert.ok(!sameExperiment(a, otherLr), 'a changed learning rate is another experiment');
    const otherData = { ...moved, data: { ...(moved.data as { path: string }), source: 'text' as const, path: '/srv/b/ws/data/other.txt', validationFraction: 0.1 } };
    assert.ok(!sameExperiment(a, otherData), 'another data file is another experiment');
  });

  it('moving the workspace keeps every completed experiment: nothing re-runs', async () => {
    const parent = tempDir('flopsfit-move-');
    const a = path.join(parent, 'a');
    const b = path.join(parent, 'b');
    try {
      fs.mkdirSync(path.join(a, 'trainer'), { recursive: true });
      fs.mkdirSync(path.join(a, 'data'));
      fs.copyFileSync(FAKE_TRAINER, path.join(a, 'trainer', 'trainer.mjs'));
      fs.writeFileSync(path.join(a, 'data', 'corpus.txt'), 'hello world '.repeat(100));
      fs.writeFileSync(path.join(a, 'moved.sweep.yaml'), configText());
      const first = await runSweep({ plan: planIn(a), handleSignals: false, write: () => {} });
      assert.equal(first.exitCode, 0);
      assert.equal(first.ran.length, first.manifest.order.length);

      fs.renameSync(a, b);
      const lines: string[] = [];
      const plan = planIn(b);
      const again = await runSweep({ plan, handleSignals: false, write: (l) => lines.push(l) });
      assert.equal(again.exitCode, 0);
      assert.deepEqual(again.ran, [], `nothing re-runs after a move:\n${lines.join('\n')}`);
      assert.ok(!lines.some((l) => /changed since it ran/.test(l)), lines.join('\n'));
      assert.equal(again.counts.completed, plan.experiments.length);
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  it('status: a crashed runner (manifest running, lock left, process gone) is interrupted and resumable', () => {
    const entry = (status: 'completed' | 'running' | 'queued') => ({ status, specHash: 'h', budget: 1, params: 1, tokens: 1, attempts: status === 'queued' ? 0 : 1 });
    const manifest: Manifest = {
      version: 1, sweep: 's', configPath: '/c', createdAt: 't', updatedAt: 't', order: ['a', 'b', 'c'], state: 'running',
      experiments: { a: entry('completed'), b: entry('running'), c: entry('queued') },
    };
    const lock = { pid: 2 ** 22 + 7, host: 'h', startedAt: 't' };
    const dead = deriveSweepStatus({ manifest, lock, lockAlive: false });
    assert.equal(dead.status, 'interrupted');
    assert.equal(dead.label, 'interrupted — resumable');
    assert.equal(dead.resumable, true);
    assert.deepEqual([dead.counts.completed, dead.counts.stopped, dead.counts.queued, dead.counts.running], [1, 1, 1, 0]);
    assert.equal(deriveSweepStatus({ manifest, lock, lockAlive: true }).status, 'running');
    assert.equal(deriveSweepStatus({ lockAlive: false }).status, 'idle');
  });

  it('layout: every followed file is classified, and the watch glob reaches it from an ancestor', () => {
    const run = '/w/.flopsfit/s';
    assert.deepEqual(classifyRunPath(run, '/w/.flopsfit/s/manifest.json'), { kind: 'manifest' });
    assert.deepEqual(classifyRunPath(run, '/w/.flopsfit/s/runner.lock'), { kind: 'lock' });
    assert.deepEqual(classifyRunPath(run, '/w/.flopsfit/s/experiments/abc/metrics.jsonl'), { kind: 'metrics', id: 'abc' });
    assert.equal(classifyRunPath(run, '/w/.flopsfit/s/experiments/.abc.replaced-1/metrics.jsonl'), undefined);
    assert.equal(classifyRunPath(run, '/w/other/manifest.json'), undefined);
    assert.equal(runDirWatchGlob(run, '/w').startsWith('.flopsfit/s/{'), true);
    assert.equal(runDirWatchGlob(run, run).startsWith('{'), true);
  });
});

function planLike(root: string): Omit<ExperimentSpec, 'id'> {
  return {
    sweep: 's', budget: 1e9, budgetIndex: 0, sizeParam: 'width', sizeValue: 8, params: 1536, paramsTotal: 1536, tokens: 1000, tokensPerParam: 0.65,
    flopsPerParamPerToken: 6, hyperparameters: {}, seed: 0, root,
    model: { family: 'command', command: ['node', 'train.mjs'], cwd: path.join(root, 'trainer') },
    data: { source: 'text', path: path.join(root, 'data', 'corpus.txt'), validationFraction: 0.1 },
    training: {
      batchSize: 1, learningRate: 1e-3, schedule: 'cosine', warmupFraction: 0, minLrRatio: 0.1, weightDecay: 0,
      beta1: 0.9, beta2: 0.95, gradClip: 1, evalTokens: 1, evalInterval: 0, checkpointInterval: 0, backend: 'cpu', allowRepeat: false,
    },
  };
}
