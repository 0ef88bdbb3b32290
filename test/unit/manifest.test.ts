import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { Manifest, type RunResult } from '../../src/core/contracts';
import {
  acquireLock,
  collectResults,
  LockHeldError,
  readLock,
  readManifest,
  readResults,
  reconcileManifest,
  runOrder,
  writeManifest,
  writeResults,
} from '../../src/core/manifest';
import { parseProtocolLine, placeholderValues, substitute } from '../../src/engine/runner/protocol';
import { fakePlan, fakeSpec, standardExperiments, tempDir } from './runnerHelpers';

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('manifest', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('flopsfit-manifest-');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('orders experiments smallest budget first, then smaller models', () => {
    const exps = standardExperiments();
    assert.deepEqual(runOrder(exps), [exps[3].id, exps[2].id, exps[1].id, exps[0].id]);
  });

  it('reconciles: keeps entries, queues new experiments, orphans removed ones, resets changed ones', () => {
    const exps = standardExperiments();
    const plan = fakePlan(dir, exps);
    const first = reconcileManifest(plan, undefined).manifest;
    assert.equal(Object.keys(first.experiments).length, 4);
    first.experiments[exps[0].id].status = 'completed';
    first.experiments[exps[1].id].status = 'failed';
    const added = fakeSpec(7, 1e7, 4);
    const next = reconcileManifest(fakePlan(dir, [exps[0], exps[1], exps[2], added]), first, new Set([exps[1].id]));
    assert.equal(next.manifest.experiments[exps[0].id].status, 'completed');
    assert.equal(next.manifest.experiments[exps[1].id].status, 'queued');
    assert.deepEqual(next.changed, [exps[1].id]);
    assert.equal(next.manifest.experiments[added.id].status, 'queued');
    assert.deepEqual(next.orphaned, [exps[3].id]);
    assert.deepEqual(next.manifest.orphaned, [exps[3].id]);
    assert.equal(next.manifest.order[0], added.id);
    assert.equal(next.manifest.createdAt, first.createdAt);
    Manifest.parse(next.manifest);
  });

  it('writes the manifest atomically and refuses an invalid one', () => {
    const m = reconcileManifest(fakePlan(dir, standardExperiments()), undefined).manifest;
    writeManifest(dir, m);
    const r = readManifest(dir);
    assert.ok(r.ok);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    const bad = { ...m, version: 2 } as unknown as Manifest;
    assert.throws(() => writeManifest(dir, bad));
    assert.deepEqual(readManifest(dir), r, 'a refused write leaves the old file');
  });

  it('reports a missing, truncated or foreign manifest without throwing', () => {
    let r = readManifest(dir);
    assert.ok(!r.ok && r.missing);
    fs.writeFileSync(path.join(dir, 'manifest.json'), '{"version": 1, "swe');
    r = readManifest(dir);
    assert.ok(!r.ok && !r.missing && /not valid JSON/.test(r.error));
    fs.writeFileSync(path.join(dir, 'manifest.json'), '{"version": 1}');
    r = readManifest(dir);
    assert.ok(!r.ok && /sweep/.test(r.error));
  });

  it('collects only completed, valid results of planned experiments into results.jsonl', () => {
    const exps = standardExperiments();
    const plan = fakePlan(dir, exps);
    const m = reconcileManifest(plan, undefined).manifest;
    const put = (id: string, r: Partial<RunResult>) => {
      fs.mkdirSync(path.join(dir, 'experiments', id), { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'experiments', id, 'result.json'),
        JSON.stringify({ id, status: 'completed', finalLoss: 2.5, params: 100, tokens: 1000, steps: 10, flops: 6e5, backend: 'cpu', elapsedSeconds: 1, ...r }),
      );
    };
    put(exps[0].id, {});
    m.experiments[exps[0].id].status = 'completed';
    put(exps[1].id, { status: 'failed' });
    m.experiments[exps[1].id].status = 'completed';
    put(exps[2].id, {});
    m.experiments[exps[2].id].status = 'running'; // not completed in the manifest: left out
    fs.mkdirSync(path.join(dir, 'experiments', exps[3].id), { recursive: true });
    fs.writeFileSync(path.join(dir, 'experiments', exps[3].id, 'result.json'), '{"id": "x", "stat');
    m.experiments[exps[3].id].status = 'completed';
    const rows = collectResults(dir, plan, m);
    assert.deepEqual(rows.map((r) => r.id), [exps[0].id]);
    assert.equal(rows[0].loss, 2.5);
    assert.equal(rows[0].budget, exps[0].budget);
    assert.equal(writeResults(dir, plan, m), 1);
    const text = fs.readFileSync(path.join(dir, 'results.jsonl'), 'utf8');
    assert.ok(text.endsWith('\n'));
    assert.deepEqual(readResults(path.join(dir, 'results.jsonl')), { rows, errors: [] });
  });

  it('reports bad lines of results.jsonl with their line numbers', () => {
    fs.writeFileSync(path.join(dir, 'results.jsonl'), '{"id": "a"}\n\nnot json\n');
    const r = readResults(path.join(dir, 'results.jsonl'));
    assert.equal(r.rows.length, 0);
    assert.equal(r.errors.length, 2);
    assert.match(r.errors[0], /results\.jsonl:1:/);
    assert.match(r.errors[1], /results\.jsonl:3: not valid JSON/);
  });

  describe('lock', () => {
    it('a second acquire while the holder lives fails naming pid, host and start time', () => {
      const h = acquireLock(dir);
      try {
        assert.throws(
          () => acquireLock(dir),
          (err: unknown) =>
            err instanceof LockHeldError && err.message.includes(`pid ${process.pid}`) && err.message.includes(os.hostname()) && err.message.includes(h.lock.startedAt),
        );
      } finally {
        h.release();
      }
      assert.ok(!fs.existsSync(path.join(dir, 'runner.lock')));
      acquireLock(dir).release();
    });

    it('takes over a stale lock whose process is gone', () => {
      const stale = { pid: deadPid(), host: os.hostname(), startedAt: '2020-01-01T00:00:00.000Z', command: 'flopsfit run x' };
      fs.writeFileSync(path.join(dir, 'runner.lock'), JSON.stringify(stale));
      const h = acquireLock(dir);
      assert.deepEqual(h.tookOver, stale);
      const now = readLock(dir);
      assert.ok(now.ok && now.value.pid === process.pid);
      h.release();
    });

    it('takes over a lock whose pid now belongs to another program', () => {
      fs.writeFileSync(path.join(dir, 'runner.lock'), JSON.stringify({ pid: 1, host: os.hostname(), startedAt: 'x', command: 'flopsfit run something-else.sweep.yaml --parallel 7' }));
      const h = acquireLock(dir);
      assert.equal(h.tookOver?.pid, 1);
      h.release();
    });

    it('does not take a fresh unreadable lock (being written), but does take an old one', () => {
      const file = path.join(dir, 'runner.lock');
      fs.writeFileSync(file, '');
      assert.throws(() => acquireLock(dir), /being written/);
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(file, old, old);
      acquireLock(dir).release();
    });

    it('release leaves a lock that is not ours', () => {
      const h = acquireLock(dir);
      const other = { pid: 1, host: 'elsewhere', startedAt: 'y' };
      fs.writeFileSync(path.join(dir, 'runner.lock'), JSON.stringify(other));
      h.release();
      assert.ok(fs.existsSync(path.join(dir, 'runner.lock')));
      assert.throws(() => acquireLock(dir), /on elsewhere/);
    });
  });
});

describe('command protocol', () => {
  it('substitutes placeholders anywhere in an argument', () => {
    const spec = fakeSpec(1, 1e8, 16);
    spec.hyperparameters = { lr: 0.003 };
    const v = placeholderValues(spec, '/runs/x');
    assert.deepEqual(substitute(['train.py', '--width={size}', '{tokens}', '{seed}', '{runDir}/ck', '{lr}', '{batchSize}', '{width}', '{params}'], v), [
      'train.py',
      '--width=16',
      String(spec.tokens),
      '0',
      '/runs/x/ck',
      '0.003',
      '4',
      '16',
      String(spec.params),
    ]);
    assert.throws(() => substitute(['{nope}'], v), /unknown placeholder \{nope\}/);
  });

  it('parses metrics, results, NaN and ignores ordinary output', () => {
    assert.equal(parseProtocolLine('epoch 1 done'), undefined);
    assert.equal(parseProtocolLine('{"other": 1}'), undefined);
    assert.deepEqual(parseProtocolLine('{"step": 3, "tokens": 96, "trainLoss": 2.5}'), { kind: 'metrics', metrics: { step: 3, tokens: 96, trainLoss: 2.5 } });
    assert.deepEqual(parseProtocolLine('{"result": {"finalLoss": 2.1, "tokens": 100}}'), {
      kind: 'result',
      finalLoss: 2.1,
      tokens: 100,
      steps: undefined,
      finalTrainLoss: undefined,
      params: undefined,
    });
    const nan = parseProtocolLine('{"step": 4, "tokens": 128, "trainLoss": NaN}');
    assert.ok(nan?.kind === 'metrics' && nan.nonFinite === 'non-finite training loss at step 4');
    const inf = parseProtocolLine('{"result": {"finalLoss": Infinity}}');
    assert.ok(inf?.kind === 'result' && inf.nonFinite);
    assert.equal(parseProtocolLine('{"step": -1, "tokens": 0}')?.kind, 'invalid');
    assert.equal(parseProtocolLine('{"result": 3}')?.kind, 'invalid');
  });

  it('never throws on arbitrary lines', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json().map((j) => j), fc.json().map((j) => `{"step": 1, "tokens": 2, "x": ${j}}`), fc.json().map((j) => `{"result": ${j}}`)), (line) => {
        parseProtocolLine(line);
      }),
      { numRuns: 2000 },
    );
  });
});
