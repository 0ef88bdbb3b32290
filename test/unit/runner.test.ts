import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Manifest, RunResult } from '../../src/core/contracts';
import { readResults } from '../../src/core/manifest';
import { runSweep, SweepRunner, type RunSweepOptions } from '../../src/engine/runner';
import { FAKE_ENGINE, engineSpec, fakePlan, fakeSpec, standardExperiments, tempDir } from './runnerHelpers';

function manifestOf(runDir: string): Manifest {
  return Manifest.parse(JSON.parse(fs.readFileSync(path.join(runDir, 'manifest.json'), 'utf8')));
}

function opts(_runDir: string, extra: Partial<RunSweepOptions> & Pick<RunSweepOptions, 'plan'>): RunSweepOptions & { lines: string[] } {
  const lines: string[] = [];
  return { parallel: 2, handleSignals: false, write: (l) => lines.push(l), lines, ...extra };
}

/** Resolves once `any`/`every` experiment has logged at least 2 metrics lines (fails after 20 s). */
async function untilTrained(runDir: string, ids: string[], mode: 'any' | 'every'): Promise<void> {
  const trained = (id: string) => {
    const f = path.join(runDir, 'experiments', id, 'metrics.jsonl');
    return fs.existsSync(f) && fs.readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).length >= 2;
  };
  for (const t0 = Date.now(); !(mode === 'any' ? ids.some(trained) : ids.every(trained)); ) {
    if (Date.now() - t0 > 20_000) assert.fail(`no experiment trained a step within 20 s (${mode})`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('runner', function () {
  this.timeout(60_000);
  let runDir: string;
  beforeEach(() => {
    runDir = path.join(tempDir(), 'run');
  });
  afterEach(() => fs.rmSync(path.dirname(runDir), { recursive: true, force: true }));

  it('runs every experiment, smallest budgets first, and collects the results', async () => {
    const plan = fakePlan(runDir, standardExperiments(['--steps', '4', '--step-ms', '5']));
    let fitCalledWith = '';
    const o = opts(runDir, {
      plan,
      fit: async (dir) => {
        fitCalledWith = dir;
        return ['fit: ok'];
      },
    });
    const out = await runSweep(o);
    assert.equal(out.exitCode, 0);
    const m = manifestOf(runDir);
    assert.deepEqual(m.order, ['exp04-100000000-8-0', 'exp03-100000000-16-0', 'exp02-1000000000-16-0', 'exp01-1000000000-32-0']);
    assert.equal(m.state, 'finished');
    for (const id of m.order) {
      const e = m.experiments[id];
      assert.equal(e.status, 'completed', `${id}: ${e.reason}`);
      assert.equal(e.attempts, 1);
      assert.ok(e.finalLoss! > 0);
      assert.equal(e.pid, undefined);
      const result = RunResult.parse(JSON.parse(fs.readFileSync(path.join(runDir, 'experiments', id, 'result.json'), 'utf8')));
      assert.equal(result.finalLoss, e.finalLoss);
      const metrics = fs.readFileSync(path.join(runDir, 'experiments', id, 'metrics.jsonl'), 'utf8').trim().split('\n');
      assert.equal(metrics.length, 4);
      assert.ok(fs.existsSync(path.join(runDir, 'experiments', id, 'spec.json')));
    }
    const { rows, errors } = readResults(path.join(runDir, 'results.jsonl'));
    assert.deepEqual(errors, []);
    assert.deepEqual(rows.map((r) => r.id), m.order);
    assert.equal(fitCalledWith, runDir);
    assert.ok(o.lines.includes('fit: ok'));
    assert.ok(!fs.existsSync(path.join(runDir, 'runner.lock')), 'lock released');
    assert.ok(fs.existsSync(path.join(runDir, 'plan.json')));

    // A second run resumes: nothing to do, nothing changes.
    const before = fs.readFileSync(path.join(runDir, 'results.jsonl'), 'utf8');
    const again = await runSweep(opts(runDir, { plan }));
    assert.equal(again.exitCode, 0);
    assert.deepEqual(again.ran, []);
    assert.equal(fs.readFileSync(path.join(runDir, 'results.jsonl'), 'utf8'), before);
  });

  it('records a failure with its exit code and last output, and --retry-failed re-runs it', async () => {
    const failing = fakeSpec(9, 1e8, 8, ['--steps', '6', '--step-ms', '5', '--fail-at', '4']);
    const plan = fakePlan(runDir, [fakeSpec(1, 1e8, 16, ['--steps', '3', '--step-ms', '5']), failing]);
    const out = await runSweep(opts(runDir, { plan }));
    assert.equal(out.exitCode, 1);
    const e = manifestOf(runDir).experiments[failing.id];
    assert.equal(e.status, 'failed');
    assert.match(e.reason!, /exit code 3/);
    assert.match(e.reason!, /CUDA out of memory/);
    assert.equal(readResults(path.join(runDir, 'results.jsonl')).rows.length, 1);

    // Without --retry-failed it is left alone.
    const skip = await runSweep(opts(runDir, { plan }));
    assert.deepEqual(skip.ran, []);
    const retry = await runSweep(opts(runDir, { plan, retryFailed: true }));
    assert.deepEqual(retry.ran, [failing.id]);
    assert.equal(manifestOf(runDir).experiments[failing.id].attempts, 2);
  });

  it('fails an experiment whose loss is not finite (Python-style NaN) and one that prints no result', async () => {
    const nan = fakeSpec(1, 1e8, 8, ['--steps', '8', '--step-ms', '20', '--nan-at', '2']);
    const noResult = fakeSpec(2, 1e8, 16, ['--steps', '2', '--step-ms', '5', '--no-result']);
    const out = await runSweep(opts(runDir, { plan: fakePlan(runDir, [nan, noResult]) }));
    assert.equal(out.exitCode, 1);
    const m = manifestOf(runDir);
    assert.equal(m.experiments[nan.id].status, 'failed');
    assert.match(m.experiments[nan.id].reason!, /non-finite training loss at step 2/);
    assert.equal(m.experiments[noResult.id].status, 'failed');
    assert.match(m.experiments[noResult.id].reason!, /without a result line/);
  });

  it('fails an experiment with an unknown placeholder, naming it', async () => {
    const bad = fakeSpec(1, 1e8, 8, ['--lr', '{lerningRate}']);
    await runSweep(opts(runDir, { plan: fakePlan(runDir, [bad]) }));
    const e = manifestOf(runDir).experiments[bad.id];
    assert.equal(e.status, 'failed');
    assert.match(e.reason!, /unknown placeholder \{lerningRate\}/);
  });

  it('stops gracefully and resumes from the checkpoint to the same results as an uninterrupted run', async () => {
    const args = ['--steps', '30', '--step-ms', '20'];
    const plan = fakePlan(runDir, standardExperiments(args));
    const runner = new SweepRunner(opts(runDir, { plan }));
    const pending = runner.run();
    // stop once an experiment has trained a few steps (not after a fixed delay: see below)
    await untilTrained(runDir, plan.experiments.map((e) => e.id), 'any');
    runner.stop();
    const stopped = await pending;
    assert.equal(stopped.exitCode, 130);
    const m = manifestOf(runDir);
    const states = m.order.map((id) => m.experiments[id].status);
    assert.ok(states.includes('stopped'), states.join(','));
    assert.ok(states.includes('queued'), states.join(','));
    for (const id of m.order.filter((i) => m.experiments[i].status === 'stopped')) {
      assert.ok(fs.existsSync(path.join(runDir, 'experiments', id, 'checkpoint', 'state.json')));
    }
    const resumed = await runSweep(opts(runDir, { plan }));
    assert.equal(resumed.exitCode, 0);
    const interrupted = readResults(path.join(runDir, 'results.jsonl')).rows;

    const cleanDir = runDir + '-clean';
    await runSweep(opts(cleanDir, { plan: fakePlan(cleanDir, standardExperiments(args)) }));
    const clean = readResults(path.join(cleanDir, 'results.jsonl')).rows;
    assert.equal(interrupted.length, 4);
    assert.deepEqual(interrupted.map((r) => [r.id, r.loss]), clean.map((r) => [r.id, r.loss]));
    // metrics of a resumed experiment have every step exactly once
    for (const id of manifestOf(runDir).order) {
      const steps = fs
        .readFileSync(path.join(runDir, 'experiments', id, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { step: number }).step);
      assert.deepEqual(steps, Array.from({ length: 30 }, (_, i) => i + 1));
    }
  });

  it('resumes an interrupted experiment (status running, process gone)', async () => {
    const plan = fakePlan(runDir, [fakeSpec(1, 1e8, 8, ['--steps', '3', '--step-ms', '5'])]);
    await runSweep(opts(runDir, { plan }));
    const m = manifestOf(runDir);
    const id = m.order[0];
    // Simulate a runner that died while the experiment ran, before it finished.
    fs.rmSync(path.join(runDir, 'experiments', id, 'result.json'));
    m.experiments[id] = { ...m.experiments[id], status: 'running', pid: 2 ** 22 + 12345 };
    fs.writeFileSync(path.join(runDir, 'manifest.json'), JSON.stringify(m));
    const out = await runSweep(opts(runDir, { plan }));
    assert.deepEqual(out.ran, [id]);
    assert.equal(manifestOf(runDir).experiments[id].status, 'completed');
    assert.equal(manifestOf(runDir).experiments[id].attempts, 2);
  });

  it('adopts a result that was written just before the runner died', async () => {
    const plan = fakePlan(runDir, [fakeSpec(1, 1e8, 8, ['--steps', '3', '--step-ms', '5'])]);
    await runSweep(opts(runDir, { plan }));
    const m = manifestOf(runDir);
    const id = m.order[0];
    m.experiments[id] = { ...m.experiments[id], status: 'running', pid: 2 ** 22 + 12345 };
    fs.writeFileSync(path.join(runDir, 'manifest.json'), JSON.stringify(m));
    fs.writeFileSync(path.join(runDir, 'results.jsonl'), '');
    const out = await runSweep(opts(runDir, { plan }));
    assert.deepEqual(out.ran, []);
    assert.equal(manifestOf(runDir).experiments[id].status, 'completed');
    assert.equal(readResults(path.join(runDir, 'results.jsonl')).rows.length, 1);
  });

  it('reports experiments that left the plan as orphaned and keeps them out of the results', async () => {
    const exps = standardExperiments(['--steps', '2', '--step-ms', '5']);
    await runSweep(opts(runDir, { plan: fakePlan(runDir, exps) }));
    const o = opts(runDir, { plan: fakePlan(runDir, exps.slice(0, 3)) });
    const out = await runSweep(o);
    assert.deepEqual(out.orphaned, [exps[3].id]);
    assert.ok(o.lines.some((l) => l.includes('no longer in the plan')));
    const rows = readResults(path.join(runDir, 'results.jsonl')).rows;
    assert.equal(rows.length, 3);
    assert.ok(!rows.some((r) => r.id === exps[3].id));
    assert.deepEqual(manifestOf(runDir).orphaned, [exps[3].id]);
  });

  it('re-plans an experiment whose stored settings differ from the plan', async () => {
    const exp = fakeSpec(1, 1e8, 8, ['--steps', '2', '--step-ms', '5']);
    await runSweep(opts(runDir, { plan: fakePlan(runDir, [exp]) }));
    const changed = { ...exp, training: { ...exp.training, learningRate: 0.5 } };
    const o = opts(runDir, { plan: fakePlan(runDir, [changed]) });
    const out = await runSweep(o);
    assert.deepEqual(out.ran, [exp.id]);
    assert.ok(o.lines.some((l) => l.includes('settings of') && l.includes('changed')));
    const stored = JSON.parse(fs.readFileSync(path.join(runDir, 'experiments', exp.id, 'spec.json'), 'utf8')) as { training: { learningRate: number } };
    assert.equal(stored.training.learningRate, 0.5);
  });

  it('--only runs just the named experiment (by unique prefix) and rejects unknown ids', async () => {
    const exps = standardExperiments(['--steps', '2', '--step-ms', '5']);
    const out = await runSweep(opts(runDir, { plan: fakePlan(runDir, exps), only: ['exp02'] }));
    assert.deepEqual(out.ran, [exps[1].id]);
    const m = manifestOf(runDir);
    assert.equal(m.experiments[exps[0].id].status, 'queued');
    assert.equal(m.state, 'idle');
    await assert.rejects(runSweep(opts(runDir, { plan: fakePlan(runDir, exps), only: ['nope'] })), /no experiment of the plan has this id/);
    await assert.rejects(runSweep(opts(runDir, { plan: fakePlan(runDir, exps), only: ['exp'] })), /ambiguous/);
  });

  it('--resume without a manifest is an error', async () => {
    await assert.rejects(runSweep(opts(runDir, { plan: fakePlan(runDir, standardExperiments()), resume: true })), /nothing to resume/);
  });

  it('runs built-in transformer experiments as `train <spec> --out <dir>` children and reads their result.json', async () => {
    const specs = [engineSpec(1, 0), engineSpec(2, 1), engineSpec(3, 2), engineSpec(4, 3)];
    const out = await runSweep(opts(runDir, { plan: fakePlan(runDir, specs), script: FAKE_ENGINE }));
    assert.equal(out.exitCode, 1);
    const m = manifestOf(runDir);
    const [ok, nan, noResult, crash] = specs.map((s) => m.experiments[s.id]);
    assert.equal(ok.status, 'completed');
    assert.equal(ok.backend, 'fake');
    assert.equal(ok.finalLoss, 1 + specs[0].params / 1e6);
    assert.equal(nan.status, 'failed');
    assert.equal(nan.reason, 'non-finite loss at step 3');
    assert.equal(noResult.status, 'failed');
    assert.match(noResult.reason!, /exited 0 but wrote no valid result\.json/);
    assert.equal(crash.status, 'failed');
    assert.match(crash.reason!, /exit code 7/);
    assert.match(crash.reason!, /Segmentation fault \(simulated\)/);
    assert.deepEqual(readResults(path.join(runDir, 'results.jsonl')).rows.map((r) => r.id), [specs[0].id]);
  });

  it('stops built-in experiments with SIGTERM and resumes them with --resume from their checkpoint', async () => {
    const specs = [engineSpec(1, 0), engineSpec(2, 0)];
    const plan = fakePlan(runDir, specs);
    const runner = new SweepRunner(opts(runDir, { plan, script: FAKE_ENGINE }));
    const pending = runner.run();
    // stop once both have trained a step (a fixed delay failed on a loaded machine, where the fake
    // engines had not started within it and the checkpoint was still at step 0)
    await untilTrained(runDir, specs.map((s) => s.id), 'every');
    runner.stop();
    assert.equal((await pending).exitCode, 130);
    const m = manifestOf(runDir);
    for (const s of specs) assert.equal(m.experiments[s.id].status, 'stopped', `${s.id}: ${m.experiments[s.id].reason}`);
    const out = await runSweep(opts(runDir, { plan, script: FAKE_ENGINE }));
    assert.equal(out.exitCode, 0);
    for (const s of specs) {
      const log = fs.readFileSync(path.join(runDir, 'experiments', s.id, 'log.txt'), 'utf8');
      assert.match(log, /=== attempt 2 .* --resume/);
      assert.match(log, /from step [1-9]/);
    }
  });
});
