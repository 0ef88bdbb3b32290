import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ExperimentSpec } from '../../src/core/contracts';
import { countTransformerParams } from '../../src/core/model/transformer';
import { Calibration, CALIBRATION_FILE, readCalibration } from '../../src/core/plan/calibration';
import { calibratedThroughput } from '../../src/core/plan/throughput';
import { tf } from '../../src/engine/backend';
import { spawnSync } from 'node:child_process';
import { run as planCommand } from '../../src/cli/commands/plan';
import { Plan } from '../../src/core/contracts';
import { calibrate } from '../../src/engine/calibrate';
import { TINY_MODEL, tinySpec } from './engineHelpers';
import { capture } from './cliHelpers';

/** Two tiny sizes of the engine tests' model, on wasm. */
function experiments(): ExperimentSpec[] {
  const small = tinySpec({ id: 'small', training: { ...tinySpec().training, backend: 'wasm' } });
  const bigModel = { ...TINY_MODEL, dModel: 32, nLayers: 2, nHeads: 4 };
  const big = tinySpec({ id: 'big', sizeValue: 32, model: bigModel, training: { ...tinySpec().training, backend: 'wasm' } });
  // a duplicate shape must not be timed twice
  return [small, big, { ...small, id: 'small-again', seed: 9 }];
}

describe('engine calibrate', function () {
  this.timeout(60000);
  let tmp: string;
  let previous: string | undefined;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flopsfit-calibrate-'));
    previous = tf.getBackend();
  });
  after(async () => {
    fs.rmSync(tmp, { recursive: true, force: true });
    // leave the process on the backend the other engine tests set up
    if (previous && tf.getBackend() !== previous) await tf.setBackend(previous);
  });

  it('times the smallest and largest model on wasm and writes a valid calibration.json', async () => {
    const runDir = path.join(tmp, 'run');
    const lines: string[] = [];
    const box = 10;
    const before = tf.memory().numTensors;
    const { calibration, file } = await calibrate(experiments(), runDir, { backend: 'wasm', timeBoxSeconds: box, maxSteps: 3, log: (l) => lines.push(l) });
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    assert.equal(file, path.join(runDir, CALIBRATION_FILE));
    const onDisk = Calibration.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
    assert.deepEqual(onDisk, JSON.parse(JSON.stringify(calibration)));
    assert.equal(onDisk.backend, 'wasm');
    assert.equal(onDisk.requestedBackend, 'wasm');
    assert.ok(onDisk.device.length > 0);
    assert.ok(Number.isFinite(onDisk.flopsPerSecond) && onDisk.flopsPerSecond > 0);
    assert.ok(Number.isFinite(onDisk.stepOverheadSeconds) && onDisk.stepOverheadSeconds >= 0);
    // the smallest and the largest shape, once each
    assert.deepEqual(
      onDisk.samples.map((s) => s.dModel),
      [16, 32],
    );
    for (const s of onDisk.samples) {
      const c = countTransformerParams({ ...TINY_MODEL, dModel: s.dModel, nLayers: s.nLayers });
      assert.equal(s.paramsTotal, c.total);
      assert.equal(s.workPerStep, s.batchSequences * s.contextLength * (6 * c.total + c.attentionFlopsPerToken));
      assert.ok(s.steps >= 1 && s.steps <= 3);
      assert.ok(Math.abs(s.secondsPerStep - s.seconds / s.steps) < 1e-12);
    }
    // the time box: no step starts once it would end past the box (the first timed step and a
    // warm-up may overrun it by their own length)
    const longest = Math.max(...onDisk.samples.flatMap((s) => [s.warmupSeconds, s.secondsPerStep]));
    assert.ok((onDisk.elapsedSeconds ?? 0) <= box + 2 * longest + 1, `took ${onDisk.elapsedSeconds} s`);
    assert.ok(lines.some((l) => /calibrate: wasm on /.test(l)));

    // the plan side reads it back for a config asking for wasm
    const read = readCalibration(runDir, 'wasm');
    assert.ok(read.ok);
    const tp = calibratedThroughput(read.calibration);
    assert.match(tp.source, /^calibrated on wasm \(/);
    assert.equal(tp.flopsPerSecond, onDisk.flopsPerSecond);
  });

  it('times a one-size plan at two batch sizes (full and a quarter), so overhead and rate separate', async () => {
    const runDir = path.join(tmp, 'one');
    const [small] = experiments();
    const { calibration } = await calibrate([{ ...small, training: { ...small.training, batchSize: 8 } }], runDir, { backend: 'wasm', timeBoxSeconds: 5, maxSteps: 2 });
    assert.deepEqual(
      calibration.samples.map((s) => [s.dModel, s.batchSequences]),
      [
        [16, 8],
        [16, 2],
      ],
    );
    assert.ok(calibration.flopsPerSecond > 0 && Number.isFinite(calibration.flopsPerSecond));
  });

  it('flopsfit plan --calibrate writes calibration.json and estimates from it', async () => {
    const ws = path.join(tmp, 'cli');
    fs.mkdirSync(ws);
    const file = path.join(ws, 'cal.sweep.yaml');
    fs.writeFileSync(file, 'name: cal\nbudgets: [3e9]\nplanning: {sizesPerBudget: 2}\nmodel: {family: transformer, contextLength: 16}\ntraining: {backend: wasm, batchSize: 4}\n');
    const before = await capture(() => planCommand([file, '--json', '--workspace', ws]));
    assert.equal(before.code, 0, before.err);
    assert.match(Plan.parse(JSON.parse(before.out)).throughputSource, /^built-in estimate for wasm/);

    // in a child process, as a user runs it (the CLI imports the engine lazily with import(),
    // which mocha's tsx/cjs hook does not resolve; the tsx CLI and the bundle do)
    const main = path.join(__dirname, '..', '..', 'src', 'cli', 'main.ts');
    const child = spawnSync(process.execPath, [require.resolve('tsx/cli'), main, 'plan', file, '--json', '--workspace', ws, '--calibrate', '--calibrate-seconds', '5'], {
      encoding: 'utf8',
      timeout: 50000,
    });
    const r = { code: child.status, out: child.stdout, err: child.stderr };
    assert.equal(r.code, 0, r.err);
    const plan = Plan.parse(JSON.parse(r.out));
    assert.match(plan.throughputSource, /^calibrated on wasm \(/);
    assert.match(r.err, /calibrated wasm .* GFLOP\/s per process/);
    const cal = Calibration.parse(JSON.parse(fs.readFileSync(path.join(ws, '.flopsfit', 'cal', CALIBRATION_FILE), 'utf8')));
    assert.equal(cal.samples.length, 2);
    // later plans keep using it
    const again = await capture(() => planCommand([file, '--json', '--workspace', ws]));
    assert.equal(JSON.parse(again.out).estimatedSeconds, plan.estimatedSeconds);

    const usage = await capture(() => planCommand([file, '--calibrate-seconds', '5']).catch((e: Error) => (process.stderr.write(e.message), 2)));
    assert.equal(usage.code, 2);
    assert.match(usage.err, /--calibrate-seconds needs --calibrate/);
  });

  it('flopsfit plan --calibrate on a command trainer says where its throughput comes from', async () => {
    const ws = path.join(tmp, 'cmd');
    fs.mkdirSync(ws);
    const file = path.join(ws, 'cmd.sweep.yaml');
    fs.writeFileSync(file, 'name: cmd\nbudgets: [1e15]\nmodel:\n  family: command\n  command: [python, train.py, "--width={size}"]\n  countParams: [python, count.py, "{size}"]\n  size: {param: width, min: 128, max: 512}\n');
    const r = await capture(() => planCommand([file, '--workspace', ws, '--calibrate', '--no-count']));
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /a command trainer cannot be calibrated by flopsfit; its throughput comes from the runs already finished in/);
    assert.equal(fs.existsSync(path.join(ws, '.flopsfit', 'cmd', CALIBRATION_FILE)), false);
  });

  it('refuses a plan without a built-in transformer experiment, writing nothing', async () => {
    const runDir = path.join(tmp, 'none');
    await assert.rejects(calibrate([], runDir, { backend: 'wasm', timeBoxSeconds: 5 }), /nothing to calibrate/);
    assert.equal(fs.existsSync(path.join(runDir, CALIBRATION_FILE)), false);
  });
});
