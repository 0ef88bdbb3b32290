// The runner's Executor contract with an in-memory executor (no processes, no cluster): what the
// sweep loop hands over, how it records what the executor reports, detaching and re-attaching.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Manifest, type ExperimentSpec, type RunResult } from '../../src/core/contracts';
import { readResults } from '../../src/core/manifest';
import { RunnerError, runSweep, type Executor, type ExecutorEvents, type ExperimentLaunch, type RunSweepOptions } from '../../src/engine/runner';
import type { Recovery } from '../../src/engine/runner/executor';
import { fakePlan, standardExperiments, tempDir } from './runnerHelpers';

const manifestOf = (runDir: string) => Manifest.parse(JSON.parse(fs.readFileSync(path.join(runDir, 'manifest.json'), 'utf8')));
const resultOf = (spec: ExperimentSpec): RunResult => ({
  id: spec.id,
  status: 'completed',
  params: spec.params,
  tokens: spec.tokens,
  flops: 6 * spec.params * spec.tokens,
  steps: 10,
  backend: 'command',
  elapsedSeconds: 0.1,
  finalLoss: 2 + spec.params / 1e6,
});

/** Completes every experiment on the next tick, unless `hold` (then they stay running, like Slurm jobs). */
class MemoryExecutor implements Executor {
  readonly kind = 'memory';
  readonly detachable = true;
  launches: ExperimentLaunch[] = [];
  flushes = 0;
  recovered: string[] = [];
  private live = new Map<string, ExperimentSpec>();
  private wake?: () => void;
  constructor(
    private readonly events: ExecutorEvents,
    private readonly o: { hold?: boolean; recover?: (id: string) => Recovery } = {},
  ) {}
  open(): void {}
  close(): void {}
  freeSlots(): number {
    return 100;
  }
  active(): number {
    return this.live.size;
  }
  start(launch: ExperimentLaunch): void {
    this.launches.push(launch);
    this.live.set(launch.id, launch.spec);
    this.events.started(launch.id, { slurm: { submission: 's1', arrayJobId: '7', task: this.launches.length - 1, state: 'PENDING' } });
  }
  async flush(): Promise<void> {
    this.flushes++;
    if (!this.o.hold) setImmediate(() => this.completeAll());
  }
  completeAll(): void {
    for (const [id, spec] of this.live) {
      this.live.delete(id);
      this.events.finished(id, { status: 'completed', result: resultOf(spec) });
    }
    this.wake?.();
  }
  stop(): void {}
  changed(): Promise<void> {
    return new Promise((r) => (this.wake = r));
  }
  tick(): void {}
  async recoverInterrupted(id: string, _entry: unknown, spec: ExperimentSpec): Promise<Recovery> {
    this.recovered.push(id);
    const r = this.o.recover?.(id);
    if (r && 'attached' in r) {
      this.live.set(id, spec);
      setImmediate(() => this.completeAll());
    }
    return r;
  }
}

function options(runDir: string, make: (events: ExecutorEvents) => Executor, extra: Partial<RunSweepOptions> = {}): RunSweepOptions {
  return { plan: fakePlan(runDir, standardExperiments()), handleSignals: false, write: () => {}, executor: make, parallel: 100, ...extra };
}

describe('runner: executor interface', function () {
  it('hands every experiment to the executor smallest budget first, records what it reports', async function () {
    const runDir = tempDir();
    let ex!: MemoryExecutor;
    const out = await runSweep(options(runDir, (events) => (ex = new MemoryExecutor(events))));
    assert.equal(out.exitCode, 0);
    assert.deepEqual(
      ex.launches.map((l) => l.spec.budget),
      [1e8, 1e8, 1e9, 1e9],
    );
    assert.ok(ex.launches.every((l) => l.attempt === 1 && !l.resuming && fs.existsSync(l.specFile)));
    assert.equal(ex.flushes, 1, 'one flush for the round of starts');
    const m = manifestOf(runDir);
    assert.ok(Object.values(m.experiments).every((e) => e.status === 'completed' && e.attempts === 1 && e.slurm?.arrayJobId === '7'));
    assert.equal(readResults(path.join(runDir, 'results.jsonl')).rows.length, 4);
  });

  it('detaches with experiments still running, and a later run re-attaches without starting them again', async function () {
    const runDir = tempDir();
    const first = await runSweep(options(runDir, (events) => new MemoryExecutor(events, { hold: true }), { detach: true }));
    assert.equal(first.detached, true);
    assert.equal(first.exitCode, 0);
    assert.ok(Object.values(manifestOf(runDir).experiments).every((e) => e.status === 'running'));
    assert.equal(manifestOf(runDir).state, 'running');
    let ex!: MemoryExecutor;
    const second = await runSweep(options(runDir, (events) => (ex = new MemoryExecutor(events, { recover: () => ({ attached: true }) }))));
    assert.equal(ex.recovered.length, 4);
    assert.equal(ex.launches.length, 0, 'nothing was started again');
    assert.equal(second.exitCode, 0);
    assert.ok(Object.values(manifestOf(runDir).experiments).every((e) => e.status === 'completed' && e.attempts === 1));
  });

  it('records an outcome the executor found for an experiment that ended while no runner followed it', async function () {
    const runDir = tempDir();
    await runSweep(options(runDir, (events) => new MemoryExecutor(events, { hold: true }), { detach: true }));
    const failedId = manifestOf(runDir).order[0];
    let ex!: MemoryExecutor;
    const out = await runSweep(
      options(runDir, (events) => (ex = new MemoryExecutor(events, { recover: (id) => (id === failedId ? { outcome: { status: 'failed', reason: 'exit code 1\nboom' } } : { attached: true }) }))),
    );
    const m = manifestOf(runDir);
    assert.equal(m.experiments[failedId].status, 'failed');
    assert.match(m.experiments[failedId].reason ?? '', /boom/);
    assert.ok(!ex.launches.some((l) => l.id === failedId), 'a failed experiment is not re-run without --retry-failed');
    assert.equal(out.counts.completed, 3);
    assert.equal(out.exitCode, 1);
  });

  it('the local executor refuses a sweep whose experiments may still run on Slurm', async function () {
    const runDir = tempDir();
    await runSweep(options(runDir, (events) => new MemoryExecutor(events, { hold: true }), { detach: true }));
    await assert.rejects(runSweep({ plan: fakePlan(runDir, standardExperiments()), handleSignals: false, write: () => {} }), (err: unknown) => err instanceof RunnerError && /submitted to Slurm/.test(err.message) && err.exitCode === 2);
    assert.ok(Object.values(manifestOf(runDir).experiments).every((e) => e.status === 'running'), 'the manifest is untouched');
  });
});
