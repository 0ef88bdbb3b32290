import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { buildMarkovChain, MarkovStream, Rng, syntheticEntropyRate } from '../../src/core/data/synthetic';
import { DataError, openExperimentData } from '../../src/engine/data';
import { learningRate } from '../../src/engine/optimizer';
import { planTokens } from '../../src/engine/train';
import { TINY_MODEL, tinySpec } from './engineHelpers';

describe('synthetic Markov source', () => {
  it('is deterministic in its seed and differs across seeds', () => {
    const a = buildMarkovChain({ vocabSize: 50, branching: 4, seed: 1 });
    const b = buildMarkovChain({ vocabSize: 50, branching: 4, seed: 2 });
    const s1 = new MarkovStream(a, 9, 1);
    const s2 = new MarkovStream(a, 9, 1);
    const s3 = new MarkovStream(b, 9, 1);
    const x = new Int32Array(500);
    const y = new Int32Array(500);
    const z = new Int32Array(500);
    s1.fill(x);
    s2.fill(y);
    s3.fill(z);
    assert.deepEqual(x, y);
    assert.notDeepEqual(x, z);
  });

  it('has a stationary distribution (πP = π) and only allowed transitions', () => {
    const c = buildMarkovChain({ vocabSize: 40, branching: 3, seed: 5 });
    const next = new Float64Array(40);
    for (let i = 0; i < 40; i++) for (let j = 0; j < 3; j++) next[c.successors[i * 3 + j]] += c.stationary[i] * c.probs[i * 3 + j];
    for (let i = 0; i < 40; i++) assert.ok(Math.abs(next[i] - c.stationary[i]) < 1e-10, `π not stationary at ${i}`);
    const s = new MarkovStream(c, 1, 2);
    let prev = s.nextToken();
    for (let t = 0; t < 2000; t++) {
      const cur = s.nextToken();
      const row = Array.from(c.successors.subarray(prev * 3, prev * 3 + 3));
      assert.ok(row.includes(cur), `transition ${prev}→${cur} not in the chain`);
      prev = cur;
    }
  });

  it('entropy rate equals the empirical loss of the true model', () => {
    const src = { vocabSize: 64, branching: 5, seed: 21 };
    const c = buildMarkovChain(src);
    const h = syntheticEntropyRate(src);
    const s = new MarkovStream(c, 4, 4);
    let prev = s.nextToken();
    let nll = 0;
    const n = 200000;
    for (let t = 0; t < n; t++) {
      const cur = s.nextToken();
      for (let j = 0; j < 5; j++) if (c.successors[prev * 5 + j] === cur) nll -= Math.log(c.probs[prev * 5 + j]);
      prev = cur;
    }
    const empirical = nll / n;
    assert.ok(h > 0.3 && h < Math.log(5), `h=${h}`);
    assert.ok(Math.abs(empirical - h) / h < 0.01, `empirical ${empirical} vs exact ${h}`);
  });

  it('branching 1 is deterministic: entropy rate 0', () => {
    assert.equal(syntheticEntropyRate({ vocabSize: 10, branching: 1, seed: 3 }), 0);
  });

  it('a stream resumed from its saved state continues identically', () => {
    const c = buildMarkovChain({ vocabSize: 30, branching: 4, seed: 8 });
    const a = new MarkovStream(c, 2, 7);
    a.fill(new Int32Array(123));
    const saved = a.state();
    const restOfA = new Int32Array(300);
    a.fill(restOfA);
    const b = new MarkovStream(c, 0, 0, JSON.parse(JSON.stringify(saved)));
    const restOfB = new Int32Array(300);
    b.fill(restOfB);
    assert.deepEqual(restOfA, restOfB);
  });

  it('Rng state round-trips', () => {
    const r = new Rng(42);
    r.next();
    const s = r.state();
    const a = [r.next(), r.next()];
    const r2 = Rng.fromState(s);
    assert.deepEqual([r2.next(), r2.next()], a);
  });
});

describe('token budget plan', () => {
  it('trains D rounded up to one sequence, with a partial last batch', () => {
    const p = planTokens(20000, 8, 32); // 78 full steps of 256 + 32 tokens
    assert.equal(p.steps, 79);
    assert.equal(p.lastBatchSequences, 1);
    assert.equal(p.tokens, 20000);
    const q = planTokens(1000, 4, 128); // 1 full step (512) + 488 → 4 sequences (512)
    assert.deepEqual([q.steps, q.lastBatchSequences, q.tokens], [2, 4, 1024]);
  });

  it('D ≤ trained < D + T for any budget (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 512 }), (D, B, T) => {
        const p = planTokens(D, B, T);
        return p.tokens >= D && p.tokens < D + T && p.steps === Math.ceil(D / (B * T)) && p.lastBatchSequences >= 1 && p.lastBatchSequences <= B;
      }),
    );
  });
});

describe('learning-rate schedule', () => {
  const t = { learningRate: 1e-3, schedule: 'cosine' as const, warmupFraction: 0.1, minLrRatio: 0.1 };
  it('warms up linearly, peaks, then decays to minLrRatio at the last step', () => {
    assert.ok(Math.abs(learningRate(0, 100, t) - 1e-4) < 1e-12);
    assert.ok(Math.abs(learningRate(9, 100, t) - 1e-3) < 1e-12);
    assert.ok(Math.abs(learningRate(10, 100, t) - 1e-3) < 1e-12);
    assert.ok(Math.abs(learningRate(99, 100, t) - 1e-4) < 1e-12);
    for (let s = 11; s < 100; s++) assert.ok(learningRate(s, 100, t) <= learningRate(s - 1, 100, t));
  });
  it('linear and constant schedules', () => {
    assert.ok(Math.abs(learningRate(55, 101, { ...t, schedule: 'linear', warmupFraction: 0 }) - 5.05e-4) < 1e-12);
    assert.equal(learningRate(80, 100, { ...t, schedule: 'constant' }), 1e-3);
  });
});

describe('file data', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-data-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('splits a text file into training windows and a trailing validation set', () => {
    const file = path.join(dir, 'a.txt');
    const bytes = Buffer.alloc(1000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
    fs.writeFileSync(file, bytes);
    const spec = tinySpec({
      model: { ...TINY_MODEL, vocabSize: 256 },
      data: { source: 'text', path: file, validationFraction: 0.2 },
      training: { ...tinySpec().training, evalTokens: 64 },
    });
    const d = openExperimentData(spec, 10);
    try {
      assert.equal(d.validationSequences, 4);
      assert.equal(d.validation[0], 800 % 251); // validation starts at token 800
      // Training windows: 49 per epoch ((800-1)/16), visited in a permutation.
      const seen = new Set<number>();
      for (let i = 0; i < 49; i++) {
        const w = d.train.next(1);
        assert.equal(w.length, 17);
        assert.ok(w[16] < 251);
        seen.add(w[0]);
      }
      assert.equal(seen.size, 49, 'one epoch visits every window once');
      assert.equal(d.train.sequencesPerEpoch, 49);
    } finally {
      d.close();
    }
  });

  it('refuses too little data before training unless allowRepeat', () => {
    const file = path.join(dir, 'small.txt');
    fs.writeFileSync(file, Buffer.alloc(500, 65));
    const spec = tinySpec({ model: { ...TINY_MODEL, vocabSize: 256 }, data: { source: 'text', path: file, validationFraction: 0.1 } });
    assert.throws(() => openExperimentData(spec, 100), (e: Error) => e instanceof DataError && /allowRepeat/.test(e.message));
    const ok = openExperimentData({ ...spec, training: { ...spec.training, allowRepeat: true } }, 100);
    ok.close();
  });

  it('reports uint16 tokens outside the vocabulary with their position', () => {
    const file = path.join(dir, 't.u16');
    const arr = new Uint16Array(400).fill(3);
    arr[5] = 900;
    fs.writeFileSync(file, Buffer.from(arr.buffer));
    const spec = tinySpec({ data: { source: 'uint16', path: file, vocabSize: 16, validationFraction: 0.5 }, training: { ...tinySpec().training, allowRepeat: true } });
    const d = openExperimentData(spec, 1);
    try {
      assert.throws(() => {
        for (let i = 0; i < 20; i++) d.train.next(1);
      }, /token 900 at position 5/);
    } finally {
      d.close();
    }
  });

  it('rejects a data vocabulary larger than the model and a missing file', () => {
    assert.throws(() => openExperimentData(tinySpec({ data: { source: 'synthetic', vocabSize: 64, branching: 2, seed: 1 } }), 1), /vocabSize is 16/);
    assert.throws(
      () => openExperimentData(tinySpec({ model: { ...TINY_MODEL, vocabSize: 256 }, data: { source: 'text', path: path.join(dir, 'nope.txt'), validationFraction: 0.1 } }), 1),
      /cannot open data file .*ENOENT/,
    );
  });
});
