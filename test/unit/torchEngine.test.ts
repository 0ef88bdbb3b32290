/**
 * The PyTorch engine (src/engine/torch/flopsfit_torch.py + src/engine/torchEngine.ts): the same
 * files and semantics as the TensorFlow.js engine, the same data and model, and the engine
 * selection. Runs /usr/bin/python3 (Debian's python3-torch); where torch must exist
 * (FLOPSFIT_REQUIRE_TORCH=1, CI) a missing torch fails these tests instead of skipping them.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ExperimentSpec, MetricsLine, type TransformerModelSpec } from '../../src/core/contracts';
import { countTransformerParams } from '../../src/core/model/transformer';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import { openExperimentData } from '../../src/engine/data';
import { evalCheckpoint, sampleCheckpoint } from '../../src/engine/infer';
import { clearPythonCache, findPython, trainerScript } from '../../src/engine/python';
import { evalWithTorch, selectEngine, trainAny } from '../../src/engine/torchEngine';
import { planTokens, trainExperiment } from '../../src/engine/train';
import { TINY_MODEL, tinySpec } from './engineHelpers';
import { readMetrics, readResult } from './engineHelpers';
import { requireTorch, TEST_PYTHON, torchEnv } from './torchHelpers';


function torchSpec(over: Partial<ExperimentSpec> = {}): ExperimentSpec {
  const s = tinySpec(over);
  return { ...s, training: { ...s.training, backend: 'torch-cpu', ...(over.training ?? {}) } };
}

/** Runs the trainer script's `stream` command and reads the int32 tokens it wrote. */
function pythonStream(spec: ExperimentSpec, which: 'train' | 'validation', sequences: number, dir: string): Int32Array {
  const specFile = path.join(dir, `stream-${which}.json`);
  const out = path.join(dir, `stream-${which}.bin`);
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const r = spawnSync(TEST_PYTHON, [trainerScript(), 'stream', specFile, '--which', which, '--sequences', String(sequences), '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const buf = fs.readFileSync(out);
  return new Int32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
}

function firstDifference(a: Int32Array, b: Int32Array): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `first difference at token ${i}: ${a[i]} vs ${b[i]}`;
  return a.length === b.length ? 'equal' : `lengths ${a.length} vs ${b.length}`;
}

describe('torch engine', function () {
  this.timeout(240_000);
  let root: string;
  before(function () {
    requireTorch(this);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-torch-'));
  });
  after(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });
  const env = (extra: NodeJS.ProcessEnv = {}) => torchEnv(extra);

  describe('same model and data as the TypeScript engine', () => {
    const shapes: TransformerModelSpec[] = [
      { family: 'transformer', dModel: 16, nLayers: 1, nHeads: 2, contextLength: 8, vocabSize: 16, mlpRatio: 4, tiedEmbeddings: false },
      { family: 'transformer', dModel: 32, nLayers: 3, nHeads: 4, contextLength: 16, vocabSize: 50, mlpRatio: 2, tiedEmbeddings: true },
      { family: 'transformer', dModel: 24, nLayers: 2, nHeads: 3, contextLength: 12, vocabSize: 7, mlpRatio: 1, tiedEmbeddings: false },
      { family: 'transformer', dModel: 128, nLayers: 4, nHeads: 4, contextLength: 128, vocabSize: 256, mlpRatio: 4, tiedEmbeddings: false },
    ];
    for (const m of shapes) {
      it(`builds exactly the closed-form parameter count (d${m.dModel} L${m.nLayers} r${m.mlpRatio}${m.tiedEmbeddings ? ' tied' : ''})`, () => {
        const specFile = path.join(root, `params-${m.dModel}.json`);
        fs.writeFileSync(specFile, JSON.stringify(tinySpec({ model: m })));
        const r = spawnSync(TEST_PYTHON, [trainerScript(), 'params', specFile], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        const got = JSON.parse(r.stdout) as { total: number };
        assert.equal(got.total, countTransformerParams(m).total);
      });
    }

    it('reads token for token the same synthetic stream (first 100k training tokens, and the validation set)', () => {
      const spec = tinySpec({ seed: 12345, data: { source: 'synthetic', vocabSize: 16, branching: 3, seed: 11 }, training: { ...tinySpec().training, evalTokens: 20_000 } });
      const T = TINY_MODEL.contextLength;
      const n = Math.ceil(100_000 / (T + 1));
      const ts = openExperimentData(spec, n);
      const tsTrain = ts.train.next(n);
      const py = pythonStream(spec, 'train', n, root);
      assert.equal(firstDifference(py, tsTrain), 'equal');
      assert.equal(firstDifference(pythonStream(spec, 'validation', 1, root), ts.validation), 'equal');
      ts.close();
    });

    it('a larger chain (vocabulary 512, branching 16) gives the same stream too', () => {
      const spec = tinySpec({ seed: 2 ** 33 + 7, model: { ...TINY_MODEL, vocabSize: 512 }, data: { source: 'synthetic', vocabSize: 512, branching: 16, seed: -5 } });
      const n = 2000;
      const ts = openExperimentData(spec, n);
      assert.equal(firstDifference(pythonStream(spec, 'train', n, root), ts.train.next(n)), 'equal');
      ts.close();
    });

    it('reads the same text and uint16 windows, over several epochs (first 100k tokens)', () => {
      const bytes = Buffer.alloc(30_011);
      let x = 7;
      for (let i = 0; i < bytes.length; i++) {
        x = (x * 1103515245 + 12345) % 2147483648;
        bytes[i] = x >> 16;
      }
      const textFile = path.join(root, 'data.txt');
      fs.writeFileSync(textFile, bytes);
      const u16 = new Uint16Array(20_000);
      for (let i = 0; i < u16.length; i++) u16[i] = (i * 7919 + (i >> 3)) % 1000;
      const u16File = path.join(root, 'data.u16');
      fs.writeFileSync(u16File, Buffer.from(u16.buffer));
      const training = { ...tinySpec().training, allowRepeat: true, evalTokens: 2000 };
      const cases: ExperimentSpec[] = [
        tinySpec({ seed: 9, model: { ...TINY_MODEL, vocabSize: 256 }, data: { source: 'text', path: textFile, validationFraction: 0.1 }, training }),
        tinySpec({ seed: 10, model: { ...TINY_MODEL, vocabSize: 1000 }, data: { source: 'uint16', path: u16File, vocabSize: 1000, validationFraction: 0.05 }, training }),
      ];
      for (const spec of cases) {
        const n = Math.ceil(100_000 / (TINY_MODEL.contextLength + 1));
        const ts = openExperimentData(spec, n);
        assert.equal(firstDifference(pythonStream(spec, 'train', n, root), ts.train.next(n)), 'equal', spec.data.source);
        assert.equal(firstDifference(pythonStream(spec, 'validation', 1, root), ts.validation), 'equal', `${spec.data.source} validation`);
        ts.close();
      }
    });

    it('starts from the same weights and follows the TensorFlow.js losses', async () => {
      const a = path.join(root, 'same-tf');
      const b = path.join(root, 'same-torch');
      const tf = await trainExperiment({ ...tinySpec(), training: { ...tinySpec().training, backend: 'cpu' } }, a);
      const th = await trainAny(torchSpec(), b, { env: env() });
      assert.equal(th.backend, 'torch');
      assert.match(th.device ?? '', /^PyTorch .* on cpu/);
      const [ma, mb] = [readMetrics(a), readMetrics(b)];
      assert.equal(mb.length, ma.length);
      assert.ok(Math.abs(mb[0].trainLoss! - ma[0].trainLoss!) < 1e-5, `first step: ${mb[0].trainLoss} vs ${ma[0].trainLoss}`);
      assert.ok(Math.abs(th.finalLoss! - tf.finalLoss!) < 2e-3, `final: ${th.finalLoss} vs ${tf.finalLoss}`);
    });
  });

  describe('same files and semantics', () => {
    it('trains exactly the planned tokens (partial last batch) and writes the run files', async () => {
      const dir = path.join(root, 'exact');
      const spec = torchSpec({ tokens: 4096 + 40, training: { ...torchSpec().training, precision: 'fp32', compile: 'off' } });
      const r = await trainAny(spec, dir, { env: env({ FLOPSFIT_TORCH_PRECISION: 'bf16' }) });
      assert.match(r.device ?? '', /, fp32, /, 'training.precision wins over the environment');
      const plan = planTokens(spec.tokens, spec.training.batchSize, TINY_MODEL.contextLength);
      assert.equal(r.status, 'completed', r.reason);
      assert.equal(r.tokens, plan.tokens);
      assert.equal(r.tokens, 4096 + 48);
      assert.equal(r.steps, plan.steps);
      assert.equal(r.flops, 6 * spec.params * r.tokens);
      assert.deepEqual(readResult(dir), r);
      const lines = readMetrics(dir);
      assert.equal(lines.length, plan.steps);
      assert.equal(lines[lines.length - 1].tokens, plan.tokens);
      assert.equal(lines[lines.length - 1].evalLoss, r.finalLoss);
      const ck = loadCheckpoint(path.join(dir, 'checkpoint'));
      assert.equal(ck.state.step, plan.steps);
      assert.equal(ck.state.finalLoss, r.finalLoss);
      assert.equal(ck.state.backend, 'torch');
      assert.equal(fs.readdirSync(dir).filter((f) => f.startsWith('.torch-')).length, 0, 'temporary files are removed');
    });

    it('a stopped run (SIGTERM) writes a checkpoint and resumes to exactly the uninterrupted run', async () => {
      const spec = torchSpec({ training: { ...torchSpec().training, checkpointInterval: 10, evalInterval: 16 } });
      const a = path.join(root, 'resume-a');
      const ref = await trainAny(spec, a, { env: env() });
      const c = path.join(root, 'resume-c');
      const stopped = await trainAny(spec, c, { env: env({ FLOPSFIT_TORCH_SIGNAL_AT_STEP: '23' }) });
      assert.equal(stopped.status, 'stopped');
      assert.equal(stopped.steps, 23);
      assert.equal(loadCheckpoint(path.join(c, 'checkpoint')).state.step, 23);
      // Lines logged after the checkpoint by a crashed process: resume drops them.
      fs.appendFileSync(path.join(c, 'metrics.jsonl'), JSON.stringify({ step: 24, tokens: 1, trainLoss: 9 }) + '\n{"step":3');
      const resumed = await trainAny(spec, c, { env: env(), resume: true });
      assert.equal(resumed.status, 'completed');
      assert.equal(resumed.tokens, ref.tokens);
      const strip = (l: MetricsLine) => [l.step, l.tokens, l.trainLoss, l.evalLoss, l.lr];
      assert.deepEqual(readMetrics(c).map(strip), readMetrics(a).map(strip));
      assert.equal(resumed.finalLoss, ref.finalLoss);
      assert.deepEqual(fs.readFileSync(path.join(c, 'checkpoint', 'weights.bin')), fs.readFileSync(path.join(a, 'checkpoint', 'weights.bin')));
    });

    it('the GPU step order (next batch prepared during the step) trains and resumes identically', async () => {
      const spec = torchSpec({ training: { ...torchSpec().training, checkpointInterval: 10 } });
      const a = path.join(root, 'overlap-a');
      const ref = await trainAny(spec, a, { env: env() });
      const c = path.join(root, 'overlap-c');
      const stopped = await trainAny(spec, c, { env: env({ FLOPSFIT_TORCH_OVERLAP: '1', FLOPSFIT_TORCH_SIGNAL_AT_STEP: '17' }) });
      assert.equal(stopped.status, 'stopped');
      assert.equal(stopped.steps, 17);
      const resumed = await trainAny(spec, c, { env: env({ FLOPSFIT_TORCH_OVERLAP: '1' }), resume: true });
      assert.equal(resumed.finalLoss, ref.finalLoss);
      assert.deepEqual(fs.readFileSync(path.join(c, 'checkpoint', 'weights.bin')), fs.readFileSync(path.join(a, 'checkpoint', 'weights.bin')));
    });

    it('flopsfit train: SIGTERM → checkpoint, result "stopped", exit code 130', async () => {
      const dir = path.join(root, 'cli-stop');
      fs.mkdirSync(dir, { recursive: true });
      const spec = torchSpec({ tokens: 4 * 16 * 5000 });
      const specFile = path.join(dir, 'spec.json');
      fs.writeFileSync(specFile, JSON.stringify(spec));
      const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/cli/main.ts'), 'train', specFile, '--out', dir], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let sent = false;
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (!sent && out.includes('training tiny:')) {
          sent = true;
          child.kill('SIGTERM');
        }
      });
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      assert.equal(code, 130, out);
      const r = readResult(dir);
      assert.equal(r.status, 'stopped');
      assert.ok(r.steps < 5000, `stopped at step ${r.steps}`);
      assert.equal(loadCheckpoint(path.join(dir, 'checkpoint')).state.step, r.steps);
    });

    it('a non-finite loss fails the run with a reason', async () => {
      const dir = path.join(root, 'nan');
      const spec = torchSpec({ training: { ...torchSpec().training, learningRate: 1e30, gradClip: 0, warmupFraction: 0 } });
      const r = await trainAny(spec, dir, { env: env() });
      assert.equal(r.status, 'failed');
      assert.match(r.reason ?? '', /non-finite training loss \((NaN|Infinity|-Infinity)\) at step \d+/);
      assert.equal(readResult(dir).status, 'failed');
    });

    it('a data problem fails before training with the same message as the TensorFlow.js engine', async () => {
      const spec = torchSpec({ data: { source: 'text', path: path.join(root, 'missing.txt'), validationFraction: 0.1 }, model: { ...TINY_MODEL, vocabSize: 256 } });
      const r = await trainAny(spec, path.join(root, 'bad'), { env: env() });
      assert.equal(r.status, 'failed');
      assert.match(r.reason ?? '', /cannot open data file .*missing\.txt: ENOENT/);
    });

    it('asking for cuda without a CUDA device fails the run with the reason', async function () {
      const probe = findPython(() => {}, env()).found?.probe;
      if (probe?.cuda?.length) this.skip(); // this machine has CUDA: nothing to refuse
      const r = await trainAny(torchSpec({ training: { ...torchSpec().training, backend: 'torch' } }), path.join(root, 'nocuda'), { env: env({ FLOPSFIT_TORCH_DEVICE: 'cuda' }) });
      assert.equal(r.status, 'failed');
      assert.match(r.reason ?? '', /device cuda: this torch .* has no CUDA device/);
    });
  });

  describe('weights interchange', () => {
    it('a TensorFlow.js checkpoint evaluates in PyTorch, and a PyTorch one in TensorFlow.js, within 1e-4', async () => {
      const a = path.join(root, 'x-tf');
      const b = path.join(root, 'x-torch');
      const tf = await trainExperiment({ ...tinySpec({ seed: 21 }), training: { ...tinySpec().training, backend: 'cpu' } }, a);
      const th = await trainAny(torchSpec({ seed: 22 }), b, { env: env() });
      const inTorch = evalWithTorch(a, TEST_PYTHON, 'cpu');
      assert.ok(Math.abs(inTorch.loss - tf.finalLoss!) <= 1e-4, `${inTorch.loss} vs ${tf.finalLoss}`);
      const inTf = await evalCheckpoint(b, 'cpu');
      assert.ok(Math.abs(inTf.loss - th.finalLoss!) <= 1e-4, `${inTf.loss} vs ${th.finalLoss}`);
      // and flopsfit eval on a torch checkpoint uses PyTorch by default (the recorded backend)
      const again = await evalCheckpoint(b);
      assert.ok(Math.abs(again.loss - th.finalLoss!) <= 1e-9);
      assert.equal(again.backend.name, 'torch');
      // flopsfit sample reads a PyTorch checkpoint (through TensorFlow.js)
      const sampled = await sampleCheckpoint(b, { tokens: 12, temperature: 0, seed: 0 });
      assert.equal(sampled.tokens.length, 12);
      assert.ok(sampled.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < 16));
    });
  });
});

describe('torch engine selection', function () {
  this.timeout(120_000);
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-torchsel-'));
    clearPythonCache();
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('backend torch without any Python: logged, trained on wasm', async () => {
    const lines: string[] = [];
    const spec = torchSpec({ training: { ...torchSpec().training, backend: 'torch' } });
    const r = await trainAny(spec, path.join(root, 'nopy'), { env: torchEnv({ FLOPSFIT_PYTHON: path.join(root, 'no-such-python') }), log: (l) => lines.push(l) });
    assert.equal(r.status, 'completed');
    assert.equal(r.backend, 'wasm');
    assert.ok(lines.some((l) => /no-such-python \(FLOPSFIT_PYTHON\): not found/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /backend torch: no Python with torch found .* training on wasm instead/.test(l)), lines.join('\n'));
  });

  it('a Python without torch is skipped with its reason; torch-cpu falls back to wasm', async function () {
    if (process.platform === 'win32') this.skip();
    const fake = path.join(root, 'fake');
    fs.mkdirSync(path.join(fake, 'torch'), { recursive: true });
    fs.writeFileSync(path.join(fake, 'torch', '__init__.py'), 'raise ImportError("torch is not installed here")\n');
    const py = path.join(root, 'python-without-torch');
    fs.writeFileSync(py, `#!/bin/sh\nPYTHONPATH='${fake}' exec ${TEST_PYTHON} "$@"\n`, { mode: 0o755 });
    const lines: string[] = [];
    const r = await trainAny(torchSpec(), path.join(root, 'notorch'), { env: torchEnv({ FLOPSFIT_PYTHON: py }), log: (l) => lines.push(l) });
    assert.equal(r.backend, 'wasm');
    assert.equal(r.status, 'completed');
    assert.ok(lines.some((l) => l.includes('python-without-torch (FLOPSFIT_PYTHON): Python') && l.includes('has no torch (ImportError: torch is not installed here)')), lines.join('\n'));
  });

  it('the setting comes before FLOPSFIT_PYTHON, which comes before PATH', async function () {
    requireTorch(this);
    const lines: string[] = [];
    const env = torchEnv({ FLOPSFIT_PYTHON_SETTING: path.join(root, 'from-setting'), FLOPSFIT_PYTHON: TEST_PYTHON });
    const found = findPython((l) => lines.push(l), env).found;
    assert.equal(found?.source, 'FLOPSFIT_PYTHON');
    assert.match(lines[0], /from-setting \(setting flopsfit.pythonPath\): not found/);
  });

  it('a successful probe is reused by the next process until the interpreter changes', function () {
    requireTorch(this);
    if (process.platform === 'win32') this.skip();
    const counter = path.join(root, 'probes.txt');
    const py = path.join(root, 'counting-python');
    fs.writeFileSync(py, `#!/bin/sh\necho x >> '${counter}'\nexec ${TEST_PYTHON} "$@"\n`, { mode: 0o755 });
    const count = () => (fs.existsSync(counter) ? fs.readFileSync(counter, 'utf8').split('\n').filter(Boolean).length : 0);
    const env = torchEnv({ FLOPSFIT_PYTHON: py });
    clearPythonCache(); // the in-process cache; the file cache is what a new process sees
    assert.equal(findPython(() => {}, env).found?.command, py);
    assert.equal(count(), 1);
    clearPythonCache();
    assert.equal(findPython(() => {}, env).found?.command, py);
    assert.equal(count(), 1, 'probed again although nothing changed');
    clearPythonCache();
    assert.ok(findPython(() => {}, { ...env, FLOPSFIT_PYTHON_PROBE_CACHE: '0' }).found);
    assert.equal(count(), 2);
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(py, later, later);
    clearPythonCache();
    assert.ok(findPython(() => {}, env).found);
    assert.equal(count(), 3, 'a changed interpreter is probed again');
  });

  it('auto without a GPU picks PyTorch on the CPU when torch is there', async function () {
    requireTorch(this);
    const lines: string[] = [];
    const choice = await selectEngine({ ...torchSpec(), training: { ...torchSpec().training, backend: 'auto' } }, (l) => lines.push(l), torchEnv());
    if (choice.engine === 'torch' && choice.device === 'auto') this.skip(); // a GPU machine: torch with the GPU is right
    assert.equal(choice.engine, 'torch', lines.join('\n'));
    assert.equal(choice.engine === 'torch' && choice.device, 'cpu');
    assert.ok(lines.some((l) => l.startsWith('backend auto: no GPU; PyTorch on the CPU')), lines.join('\n'));
  });

  it('wasm and cpu stay TensorFlow.js without probing Python', async () => {
    const lines: string[] = [];
    const choice = await selectEngine(tinySpec(), (l) => lines.push(l), torchEnv({ FLOPSFIT_PYTHON: path.join(root, 'never-probed') }));
    assert.equal(choice.engine, 'tfjs');
    assert.deepEqual(lines, []);
  });
});
