import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type TransformerModelSpec } from '../../src/core/contracts';
import { countTransformerParams } from '../../src/core/model/transformer';
import { initBackend, tf } from '../../src/engine/backend';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import { evalCheckpoint, sampleCheckpoint } from '../../src/engine/infer';
import { embed, linear, resolveKernels, TransformerModel } from '../../src/engine/model';
import { AdamW } from '../../src/engine/optimizer';
import { batchTensors, trainExperiment, trainStep } from '../../src/engine/train';
import { tinySpec } from './engineHelpers';
import { readMetrics, readResult } from './engineHelpers';


const SHAPES: TransformerModelSpec[] = [
  { family: 'transformer', dModel: 16, nLayers: 1, nHeads: 2, contextLength: 8, vocabSize: 16, mlpRatio: 4, tiedEmbeddings: false },
  { family: 'transformer', dModel: 32, nLayers: 3, nHeads: 4, contextLength: 16, vocabSize: 50, mlpRatio: 2, tiedEmbeddings: true },
  { family: 'transformer', dModel: 24, nLayers: 2, nHeads: 3, contextLength: 12, vocabSize: 7, mlpRatio: 1, tiedEmbeddings: false },
];

describe('engine model', () => {
  before(async () => {
    await initBackend('cpu');
  });

  for (const s of SHAPES) {
    it(`has exactly the closed-form parameter count (d${s.dModel} L${s.nLayers} r${s.mlpRatio}${s.tiedEmbeddings ? ' tied' : ''})`, () => {
      const m = new TransformerModel(s, 1);
      try {
        const counts = countTransformerParams(s);
        const sizes = m.vars.map((v) => v.size);
        assert.equal(
          sizes.reduce((a, b) => a + b, 0),
          counts.total,
        );
        const nonEmb = m.layout.reduce((a, p, i) => (['wte', 'wpe', 'head.w'].includes(p.name) ? a : a + sizes[i]), 0);
        assert.equal(nonEmb, counts.nonEmbedding);
        assert.equal(m.layout.some((p) => p.name === 'head.w'), !s.tiedEmbeddings);
      } finally {
        m.dispose();
      }
    });
  }

  it('custom-gradient layers give the autodiff gradients', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([6, 5], 0, 1, 'float32', 1) as tf.Tensor2D;
      const w = tf.randomNormal([5, 3], 0, 1, 'float32', 2) as tf.Tensor2D;
      const b = tf.randomNormal([3], 0, 1, 'float32', 3) as tf.Tensor1D;
      const ref = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.square(tf.add(tf.matMul(xx, ww), bb))));
      const ours = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.square(linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D))));
      const gr = ref([x, w, b]);
      const go = ours([x, w, b]);
      for (let i = 0; i < 3; i++) {
        const diff = tf.max(tf.abs(tf.sub(gr[i], go[i]))).dataSync()[0];
        assert.ok(diff < 1e-4, `gradient ${i} differs by ${diff}`);
      }
      const oh = tf.cast(tf.oneHot(tf.tensor1d([0, 2, 1], 'int32'), 5), 'float32') as tf.Tensor2D;
      const ge = tf.grad((ww: tf.Tensor) => tf.sum(tf.square(embed(oh, ww as tf.Tensor2D))))(w);
      const gref = tf.grad((ww: tf.Tensor) => tf.sum(tf.square(tf.gather(ww, tf.tensor1d([0, 2, 1], 'int32')))))(w);
      assert.ok(tf.max(tf.abs(tf.sub(ge, gref))).dataSync()[0] < 1e-5);
    });
  });

  it('is causal: a later token does not change earlier logits', () => {
    const m = new TransformerModel(SHAPES[0], 4);
    try {
      const [a, b] = tf.tidy(() => {
        const x1 = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8]], [1, 8], 'int32');
        const x2 = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 9]], [1, 8], 'int32');
        return [m.logits(x1).arraySync() as number[][], m.logits(x2).arraySync() as number[][]];
      });
      for (let t = 0; t < 7; t++) for (let j = 0; j < 16; j++) assert.ok(Math.abs(a[t][j] - b[t][j]) < 1e-5);
      assert.ok(a[7].some((v, j) => Math.abs(v - b[7][j]) > 1e-6), 'the last position sees its own token');
    } finally {
      m.dispose();
    }
  });

  it('leaks no tensors over 1000 training steps (wasm)', async function () {
    this.timeout(120000);
    await initBackend('wasm');
    const spec = tinySpec();
    const m = new TransformerModel(spec.model as TransformerModelSpec, 1);
    const opt = new AdamW(m.vars, m.layout.map((p) => p.decay), spec.training);
    const windows = Int32Array.from({ length: 4 * 17 }, (_, i) => (i * 7) % 16);
    const step = async () => {
      const { x, y } = batchTensors(windows, 4, 16);
      await trainStep(m, opt, x, y, 1e-3);
      tf.dispose([x, y]);
    };
    try {
      await step(); // first step creates the cached causal mask
      assert.equal(resolveKernels(m.kernels), 'heap', 'the wasm backend trains on the engine kernels');
      const before = tf.memory().numTensors;
      const bytesBefore = tf.memory().numBytes;
      for (let i = 0; i < 1000; i++) await step();
      assert.equal(tf.memory().numTensors - before, 0);
      assert.equal(tf.memory().numBytes - bytesBefore, 0);
    } finally {
      opt.dispose();
      m.dispose();
      await initBackend('cpu');
    }
  });

  it('wasm and cpu backends compute the same losses', async function () {
    this.timeout(60000);
    const losses: Record<string, number[]> = {};
    for (const b of ['cpu', 'wasm'] as const) {
      const info = await initBackend(b);
      assert.equal(info.name, b);
      const spec = tinySpec();
      const m = new TransformerModel(spec.model as TransformerModelSpec, 1);
      const opt = new AdamW(m.vars, m.layout.map((p) => p.decay), spec.training);
      losses[b] = [];
      for (let i = 0; i < 4; i++) {
        const windows = Int32Array.from({ length: 4 * 17 }, (_, k) => (k * 5 + i) % 16);
        const { x, y } = batchTensors(windows, 4, 16);
        losses[b].push(await trainStep(m, opt, x, y, 1e-2));
        tf.dispose([x, y]);
      }
      opt.dispose();
      m.dispose();
    }
    await initBackend('cpu');
    assert.ok(losses.wasm[0] > 2, `wasm loss ${losses.wasm[0]} (float32 oneHot bug would give 0)`);
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(losses.cpu[i] - losses.wasm[i]) < 1e-4, `step ${i}: cpu ${losses.cpu[i]} wasm ${losses.wasm[i]}`);
  });
});

describe('trainExperiment (cpu regression)', function () {
  this.timeout(120000);
  let root: string;
  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-train-'));
    await initBackend('cpu');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  // 4096 + 37 tokens: 64 full steps of 4×16 and a partial last step of 3 sequences (48 tokens).
  const spec = tinySpec({ tokens: 4096 + 37, training: { ...tinySpec().training, evalInterval: 20, checkpointInterval: 25 } });

  it('trains the exact budget, writes valid files, and round-trips through eval and sample', async () => {
    const dir = path.join(root, 'a');
    const r = await trainExperiment(spec, dir);
    assert.equal(r.status, 'completed', r.reason);
    assert.deepEqual(readResult(dir), r);
    assert.equal(r.steps, 65);
    assert.equal(r.tokens, 4096 + 48);
    assert.equal(r.flops, 6 * spec.params * r.tokens);
    assert.equal(r.attentionFlops, countTransformerParams(spec.model as TransformerModelSpec).attentionFlopsPerToken * r.tokens);
    assert.equal(r.backend, 'cpu');
    const lines = readMetrics(dir);
    assert.deepEqual(
      lines.map((l) => l.step),
      Array.from({ length: 65 }, (_, i) => i + 1),
    );
    assert.equal(lines[64].tokens, r.tokens);
    assert.deepEqual(
      lines.filter((l) => l.evalLoss !== undefined).map((l) => l.step),
      [20, 40, 60, 65],
    );
    assert.equal(lines[64].evalLoss, r.finalLoss);
    assert.ok(lines[64].trainLoss! < lines[0].trainLoss! - 0.3, 'the loss goes down');
    // The held-out loss cannot beat the source's entropy rate by more than noise.
    const ck = loadCheckpoint(path.join(dir, 'checkpoint'));
    assert.equal(ck.state.step, 65);
    assert.equal(ck.state.finalLoss, r.finalLoss);
    const ev = await evalCheckpoint(path.join(dir, 'checkpoint'));
    assert.equal(ev.loss, r.finalLoss);
    const s = await sampleCheckpoint(path.join(dir, 'checkpoint'), { tokens: 12, temperature: 1, seed: 1, prompt: '1 2 3' });
    assert.equal(s.tokens.length, 12);
    assert.ok(s.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < 16));
    const s2 = await sampleCheckpoint(dir, { tokens: 12, temperature: 1, seed: 1, prompt: '1 2 3' });
    assert.deepEqual(s2.tokens, s.tokens, 'sampling is seeded');
  });

  it('is deterministic, and a stopped run resumes to the uninterrupted result', async () => {
    const a = path.join(root, 'a');
    const b = path.join(root, 'b');
    await trainExperiment(spec, b);
    assert.deepEqual(
      readMetrics(b).map((l) => [l.trainLoss, l.evalLoss]),
      readMetrics(a).map((l) => [l.trainLoss, l.evalLoss]),
    );
    const c = path.join(root, 'c');
    const ctl = new AbortController();
    const stopped = await trainExperiment(spec, c, { signal: ctl.signal, onStep: (s) => s === 33 && ctl.abort() });
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.steps, 33);
    assert.equal(readResult(c).status, 'stopped');
    assert.equal(loadCheckpoint(path.join(c, 'checkpoint')).state.step, 33);
    // Simulate lines logged after the checkpoint by a crashed process: resume must drop them.
    fs.appendFileSync(path.join(c, 'metrics.jsonl'), JSON.stringify({ step: 34, tokens: 1, trainLoss: 9 }) + '\n{"step":3');
    const resumed = await trainExperiment(spec, c, { resume: true });
    assert.equal(resumed.status, 'completed');
    assert.equal(resumed.tokens, 4096 + 48);
    const ref = readMetrics(a);
    const got = readMetrics(c);
    assert.deepEqual(
      got.map((l) => l.step),
      ref.map((l) => l.step),
    );
    for (let i = 0; i < ref.length; i++) {
      assert.ok(Math.abs(got[i].trainLoss! - ref[i].trainLoss!) <= 1e-6, `step ${i + 1}: ${got[i].trainLoss} vs ${ref[i].trainLoss}`);
    }
    assert.ok(Math.abs(resumed.finalLoss! - readResult(a).finalLoss!) <= 1e-6);
  });

  it('says so when a checkpoint resumes on another device or kernel build', async () => {
    const d = path.join(root, 'device');
    const ctl = new AbortController();
    await trainExperiment(spec, d, { signal: ctl.signal, onStep: (s) => s === 5 && ctl.abort() });
    const stateFile = path.join(d, 'checkpoint', 'state.json');
    const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    const lines: string[] = [];
    await trainExperiment(spec, path.join(root, 'device-same'), { log: (l) => lines.push(l) }); // reference: no note on a fresh run
    assert.ok(!lines.some((l) => l.includes('not bit-identical')));
    fs.writeFileSync(stateFile, JSON.stringify({ ...state, device: 'wasm SIMD (1 thread), another CPU; tfjs kernels (XNNPACK)' }));
    const logged: string[] = [];
    const r = await trainExperiment(spec, d, { resume: true, log: (l) => logged.push(l) });
    assert.equal(r.status, 'completed');
    const note = logged.find((l) => l.includes('not bit-identical'));
    assert.ok(note, logged.join('\n'));
    assert.match(note!, /trained on wasm SIMD \(1 thread\), another CPU; tfjs kernels \(XNNPACK\); continuing on /);
  });

  it('a non-finite loss fails the run with a reason', async () => {
    const dir = path.join(root, 'nan');
    const r = await trainExperiment({ ...spec, training: { ...spec.training, learningRate: 1e30, gradClip: 0, warmupFraction: 0 } }, dir);
    assert.equal(r.status, 'failed');
    assert.match(r.reason ?? '', /non-finite training loss/);
    assert.equal(readResult(dir).status, 'failed');
  });

  it('a data problem fails before training with a clear reason', async () => {
    const dir = path.join(root, 'bad');
    const file = path.join(root, 'short.txt');
    fs.writeFileSync(file, 'hello world, this is far too short for the budget '.repeat(4));
    const r = await trainExperiment({ ...spec, model: { ...(spec.model as TransformerModelSpec), vocabSize: 256 }, data: { source: 'text', path: file, validationFraction: 0.2 } }, dir);
    assert.equal(r.status, 'failed');
    assert.equal(r.steps, 0);
    assert.match(r.reason ?? '', /training tokens .* allowRepeat/);
  });

  it('trains on a text file with allowRepeat, records epochs and samples text', async () => {
    const dir = path.join(root, 'text');
    const file = path.join(root, 'corpus.txt');
    fs.writeFileSync(file, 'the quick brown fox jumps over the lazy dog. '.repeat(40));
    const t = { ...spec, tokens: 2048, model: { ...(spec.model as TransformerModelSpec), vocabSize: 256 }, data: { source: 'text' as const, path: file, validationFraction: 0.25 }, training: { ...spec.training, allowRepeat: true } };
    const r = await trainExperiment(t, dir);
    assert.equal(r.status, 'completed', r.reason);
    const perEpoch = Math.floor((Math.floor(1800 * 0.75) - 1) / 16) * 16;
    assert.ok(Math.abs(r.epochs! - 2048 / perEpoch) < 1e-9, `epochs ${r.epochs}`);
    const s = await sampleCheckpoint(dir, { tokens: 20, temperature: 0.5, seed: 2, prompt: 'the ' });
    assert.equal(s.bytes, true);
    assert.equal(typeof s.text, 'string');
    assert.equal(s.tokens.length, 20);
    // Resume across an epoch boundary reads the same windows as the uninterrupted run.
    const dir2 = path.join(root, 'text2');
    const ctl = new AbortController();
    const stopped = await trainExperiment(t, dir2, { signal: ctl.signal, onStep: (k) => k === 23 && ctl.abort() });
    assert.equal(stopped.status, 'stopped');
    const resumed = await trainExperiment(t, dir2, { resume: true });
    assert.equal(resumed.status, 'completed');
    assert.equal(resumed.finalLoss, r.finalLoss);
    assert.deepEqual(
      readMetrics(dir2).map((l) => l.trainLoss),
      readMetrics(dir).map((l) => l.trainLoss),
    );
  });
});
