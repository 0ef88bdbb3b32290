/** The explorer's per-sweep model (src/extension/sweeps/sweepModel.ts): state, counts, ETA, run-state diffs. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import type { ExperimentSpec, Manifest, ManifestEntry, Plan, RunnerLock, RunStatus } from '../../src/core/contracts';
import { isError, Sweep, toProblem } from '../../src/extension/sweeps/sweepModel';
import { readLastJsonLine } from '../../src/core/runDir';

function fakeUri(fsPath: string): vscode.Uri {
  return { fsPath, scheme: 'file', toString: () => `file://${fsPath}` } as unknown as vscode.Uri;
}

function spec(id: string, budgetIndex: number, budget: number, params: number): ExperimentSpec {
  const tokens = Math.round(budget / (6 * params));
  return {
    id,
    sweep: 's',
    budget,
    budgetIndex,
    sizeParam: 'dModel',
    sizeValue: Math.round(Math.sqrt(params / 12)),
    params,
    paramsTotal: params,
    tokens,
    tokensPerParam: tokens / params,
    flopsPerParamPerToken: 6,
    hyperparameters: {},
    seed: 0,
    model: { family: 'command', command: ['x'], cwd: '/' },
    data: { source: 'synthetic', vocabSize: 16, branching: 2, seed: 0 },
    training: {
      batchSize: 1, learningRate: 1e-3, schedule: 'cosine', warmupFraction: 0, minLrRatio: 0.1, weightDecay: 0,
      beta1: 0.9, beta2: 0.95, gradClip: 1, evalTokens: 1, evalInterval: 0, checkpointInterval: 0, backend: 'cpu', allowRepeat: false,
    },
  };
}

/** Two budgets (1e12: a, b; 1e13: c, d) — 1e13 is ten times the work of 1e12. */
function plan(): Plan {
  const experiments = [spec('a', 0, 1e12, 1e4), spec('b', 0, 1e12, 4e4), spec('c', 1, 1e13, 4e4), spec('d', 1, 1e13, 1.6e5)];
  const totalFlops = experiments.reduce((s, e) => s + 6 * e.params * e.tokens, 0);
  return {
    version: 1, sweep: 's', configPath: '/w/s.sweep.yaml', runDir: '/w/.flopsfit/s', experiments,
    budgets: [
      { index: 0, budget: 1e12, priorOptimalParams: 2e4, sizeValues: [29, 58], experiments: 2, brackets: true },
      { index: 1, budget: 1e13, priorOptimalParams: 6e4, sizeValues: [58, 115], experiments: 2, brackets: true },
    ],
    totalFlops, totalTokens: experiments.reduce((s, e) => s + e.tokens, 0),
    estimatedSeconds: 220, estimatedSecondsRange: [100, 400], throughputSource: 'test', warnings: [],
  };
}

function entry(status: RunStatus, extra: Partial<ManifestEntry> = {}): ManifestEntry {
  return { status, specHash: 'h', budget: 1, params: 1, tokens: 1, attempts: status === 'queued' ? 0 : 1, ...extra };
}

function manifest(statuses: Record<string, RunStatus>, extra: Record<string, Partial<ManifestEntry>> = {}): Manifest {
  const experiments: Record<string, ManifestEntry> = {};
  for (const [id, st] of Object.entries(statuses)) experiments[id] = entry(st, extra[id]);
  return { version: 1, sweep: 's', configPath: '/w/s.sweep.yaml', createdAt: 't', updatedAt: 't', order: Object.keys(statuses), experiments };
}

const LOCK: RunnerLock = { pid: 1, host: 'h', startedAt: new Date(1_000_000).toISOString() };

function sweep(): Sweep {
  const s = new Sweep(fakeUri('/w/s.sweep.yaml'));
  s.setPlan(plan());
  return s;
}

describe('explorer sweep model', () => {
  it('names the sweep after its config name, else the file', () => {
    const s = new Sweep(fakeUri('/w/my-run.sweep.yaml'));
    assert.equal(s.name, 'my-run');
    s.config = { name: 'Named' } as Sweep['config'];
    assert.equal(s.name, 'Named');
  });

  it('groups experiments by budget, sorted by N', () => {
    const s = sweep();
    assert.deepEqual(s.experimentsOf(0).map((e) => e.id), ['a', 'b']);
    assert.deepEqual(s.experimentsOf(1).map((e) => e.id), ['c', 'd']);
    assert.deepEqual(s.experimentsOf(7), []);
  });

  it('derives the overall state: idle → running → resumable → finished', () => {
    const s = sweep();
    assert.equal(s.state, 'idle');
    s.applyRunState(manifest({ a: 'queued', b: 'queued', c: 'queued', d: 'queued' }), undefined, false);
    assert.equal(s.state, 'idle', 'a manifest with nothing started is still idle');
    s.applyRunState(manifest({ a: 'completed', b: 'running', c: 'queued', d: 'queued' }), LOCK, true);
    assert.equal(s.state, 'running');
    s.applyRunState(manifest({ a: 'completed', b: 'running', c: 'queued', d: 'queued' }), LOCK, false);
    assert.equal(s.state, 'interrupted', 'a dead lock holder: interrupted, resumable');
    assert.equal(s.status('b'), 'stopped', 'its running experiment is shown stopped (it resumes from its checkpoint)');
    assert.equal(s.derived.resumable, true);
    s.applyRunState(manifest({ a: 'completed', b: 'completed', c: 'completed', d: 'completed' }), undefined, false);
    assert.equal(s.state, 'finished');
  });

  it('a runner killed with -9 leaves manifest.state running and its lock: interrupted, never running forever', () => {
    const s = sweep();
    const crashed = { ...manifest({ a: 'completed', b: 'running', c: 'queued', d: 'queued' }), state: 'running' as const };
    s.applyRunState(crashed, LOCK, false);
    assert.equal(s.state, 'interrupted');
    assert.equal(s.derived.runnerAlive, false);
    assert.equal(s.derived.resumable, true);
    s.applyRunState(crashed, LOCK, true);
    assert.equal(s.state, 'running', 'the same files with a live runner: running');
  });

  it('a finished sweep reads as finished before it is planned (from the manifest alone)', () => {
    const s = new Sweep(fakeUri('/w/s.sweep.yaml'));
    s.applyRunState({ ...manifest({ a: 'completed', b: 'completed' }), state: 'finished' }, undefined, false);
    assert.equal(s.state, 'finished');
  });

  it('stops after a clean stop are resumable; stopping with a live runner is stopping', () => {
    const s = sweep();
    s.applyRunState(manifest({ a: 'completed', b: 'stopped', c: 'queued', d: 'queued' }), undefined, false);
    assert.equal(s.state, 'resumable');
    s.applyRunState({ ...manifest({ a: 'completed', b: 'running', c: 'queued', d: 'queued' }), state: 'stopping' }, LOCK, true);
    assert.equal(s.state, 'stopping');
  });

  it('counts statuses per budget and overall', () => {
    const s = sweep();
    s.applyRunState(manifest({ a: 'completed', b: 'failed', c: 'running', d: 'stopped' }), LOCK, true);
    assert.deepEqual(s.counts(0), { total: 2, completed: 1, running: 0, failed: 1, stopped: 0 });
    assert.deepEqual(s.counts(1), { total: 2, completed: 0, running: 1, failed: 0, stopped: 1 });
    assert.deepEqual(s.counts(), { total: 4, completed: 1, running: 1, failed: 1, stopped: 1 });
    assert.equal(s.status('zzz'), 'queued');
  });

  it('reports only what changed between two run states', () => {
    const s = sweep();
    const first = s.applyRunState(manifest({ a: 'running', b: 'queued', c: 'queued', d: 'queued' }), LOCK, true);
    assert.equal(first?.structure, true, 'idle → running changes the sweep row');
    assert.deepEqual(first?.budgets, [0]);
    // the same manifest again: nothing
    assert.equal(s.applyRunState(manifest({ a: 'running', b: 'queued', c: 'queued', d: 'queued' }), LOCK, true), undefined);
    // a's loss is recorded, b starts: two experiments and one budget; the sweep keeps running
    const next = s.applyRunState(
      manifest({ a: 'completed', b: 'running', c: 'queued', d: 'queued' }, { a: { finalLoss: 3.2 } }),
      LOCK,
      true,
    );
    assert.equal(next?.structure, false);
    assert.deepEqual(next?.experiments?.sort(), ['a', 'b']);
    assert.deepEqual(next?.budgets, [0]);
    // a reason added to a failed entry changes that experiment only (counts unchanged)
    s.applyRunState(manifest({ a: 'completed', b: 'failed', c: 'queued', d: 'queued' }, { a: { finalLoss: 3.2 } }), LOCK, true);
    const reason = s.applyRunState(
      manifest({ a: 'completed', b: 'failed', c: 'queued', d: 'queued' }, { a: { finalLoss: 3.2 }, b: { reason: 'exit 3' } }),
      LOCK,
      true,
    );
    assert.deepEqual(reason?.experiments, ['b']);
    assert.deepEqual(reason?.budgets, []);
  });

  it('drops the live metrics of an experiment that stopped running', () => {
    const s = sweep();
    s.applyRunState(manifest({ a: 'running', b: 'queued', c: 'queued', d: 'queued' }), LOCK, true);
    s.live.set('a', { step: 3, tokens: 10, loss: 4 });
    assert.equal(s.view('a')?.live?.loss, 4);
    s.applyRunState(manifest({ a: 'completed', b: 'queued', c: 'queued', d: 'queued' }), LOCK, true);
    assert.equal(s.view('a')?.live, undefined);
  });

  it('ETA: the plan estimate scaled before any progress, then the observed rate', () => {
    const s = sweep();
    const p = s.plan!;
    const flops = (id: string) => { const e = s.experiment(id)!; return 6 * e.params * e.tokens; };
    // no run state yet: the plan's own estimate
    assert.ok(Math.abs(s.etaSeconds()! - 220) < 1e-6);
    // running, nothing done yet: the estimate scaled by the remaining fraction (all of it)
    s.applyRunState(manifest({ a: 'running', b: 'queued', c: 'queued', d: 'queued' }), LOCK, true);
    assert.ok(Math.abs(s.etaSeconds(undefined, 1_000_000 + 5_000)! - 220) < 1e-6);
    // a and b completed in the 100 s since the lock was taken: rate = (a+b)/100 s
    const started = new Date(1_000_000 + 1_000).toISOString();
    s.applyRunState(
      manifest({ a: 'completed', b: 'completed', c: 'running', d: 'queued' }, { a: { startedAt: started }, b: { startedAt: started }, c: { startedAt: started } }),
      LOCK,
      true,
    );
    const now = 1_000_000 + 100_000;
    const rate = (flops('a') + flops('b')) / 100;
    const expectAll = (flops('c') + flops('d')) / rate;
    assert.ok(Math.abs(s.etaSeconds(undefined, now)! - expectAll) / expectAll < 1e-9, `${s.etaSeconds(undefined, now)} vs ${expectAll}`);
    // per budget: only that budget's remaining work
    assert.equal(s.etaSeconds(0, now), 0);
    assert.ok(Math.abs(s.etaSeconds(1, now)! - expectAll) / expectAll < 1e-9);
    // half of c done (live metrics): counts as progress too
    s.live.set('c', { step: 1, tokens: s.experiment('c')!.tokens / 2 });
    const rate2 = (flops('a') + flops('b') + flops('c') / 2) / 100;
    const expect2 = (flops('c') / 2 + flops('d')) / rate2;
    assert.ok(Math.abs(s.etaSeconds(undefined, now)! - expect2) / expect2 < 1e-9);
    assert.ok(p.totalFlops > 0);
  });

  it('reads the last complete line of a JSONL file being appended', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-model-'));
    const f = path.join(dir, 'metrics.jsonl');
    try {
      assert.equal(readLastJsonLine(f), undefined, 'missing file');
      fs.writeFileSync(f, '');
      assert.equal(readLastJsonLine(f), undefined, 'empty file');
      const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ step: i, tokens: i * 10, trainLoss: 5 - i / 5000 }));
      fs.writeFileSync(f, lines.join('\n') + '\n{"step": 5000, "tok');
      assert.deepEqual(readLastJsonLine(f), JSON.parse(lines[4999]!), 'a half-written last line is skipped');
      fs.appendFileSync(f, 'ens": 50000}\n');
      assert.deepEqual(readLastJsonLine(f), { step: 5000, tokens: 50000 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('turns config diagnostics into one-line problems; only errors count', () => {
    const d = { severity: 'error', message: 'budgets[0]: must be positive', range: { start: { line: 1, character: 10 }, end: { line: 1, character: 12 } } };
    assert.deepEqual(toProblem(d), { message: 'budgets[0]: must be positive', line: 1, character: 10 });
    assert.equal(isError(d), true);
    assert.equal(isError({ ...d, severity: 'warning' }), false);
    const s = new Sweep(fakeUri('/w/x.sweep.yaml'));
    s.problems = [toProblem(d)];
    assert.equal(s.firstProblem, 'budgets[0]: must be positive (line 2)');
    assert.equal(s.valid, false);
  });
});
