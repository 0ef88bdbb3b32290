/**
 * A short throughput calibration on the chosen backend, for the plan's time estimate
 * (`flopsfit plan <config> --calibrate`). Runs only in the flopsfit process (it loads tfjs).
 *
 *   1. start the backend the config asks for (initBackend: the same fallbacks as training);
 *   2. time the plan's smallest and largest models (by work per step; the same model at two batch
 *      sizes when the plan has one size): build it, one untimed warm-up step, then timed steps of
 *      the real training step (train.ts trainStep: forward, backward, AdamW) on a fixed batch;
 *   3. fit `seconds per step = overhead + work per step / FLOP/s` (core/plan/calibration.ts);
 *   4. write `<runDir>/calibration.json` atomically.
 *
 * Hard time box (default 20 s, backend start included): a step starts only when the previous one
 * says it ends inside the box, and a model whose step would not fit is timed on fewer sequences
 * (work per step is linear in the sequences) or replaced by the largest model that fits. The one
 * exception: the smallest model always gets its warm-up and one timed step, so that a slow
 * backend start cannot leave the calibration without a figure.
 */
import * as path from 'node:path';
import { writeJsonAtomicSync } from '../core/atomic';
import type { Backend, ExperimentSpec, TransformerModelSpec } from '../core/contracts';
import { countTransformerParams } from '../core/model/transformer';
import { BUILTIN_THROUGHPUT } from '../core/plan/throughput';
import { CALIBRATION_FILE, Calibration, type CalibrationSample, fitCalibration } from '../core/plan/calibration';
import { initBackend, tf } from './backend';
import { experimentSmokeStep } from './backends/modelSmoke';
import { TransformerModel } from './model';
import { AdamW } from './optimizer';
import { trainStep } from './train';

export interface CalibrateOptions {
  /** the backend to calibrate (the config's training.backend) */
  backend: Backend;
  /** whole calibration, backend start included (default 20 s) */
  timeBoxSeconds?: number;
  /** most timed steps per sample (default 8) */
  maxSteps?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** for the file's measuredAt (tests) */
  now?: () => Date;
}

export interface CalibrateResult {
  calibration: Calibration;
  /** where it was written */
  file: string;
}

type TransformerExperiment = ExperimentSpec & { model: TransformerModelSpec };

interface Candidate {
  spec: TransformerExperiment;
  /** executed FLOPs of one sequence (T tokens) */
  workPerSequence: number;
}

function candidates(experiments: readonly ExperimentSpec[]): Candidate[] {
  const byShape = new Map<string, Candidate>();
  for (const e of experiments) {
    if (e.model.family !== 'transformer') continue;
    const m = e.model;
    const key = JSON.stringify([m, e.training.batchSize]);
    if (byShape.has(key)) continue;
    const c = countTransformerParams(m);
    byShape.set(key, { spec: e as TransformerExperiment, workPerSequence: m.contextLength * (6 * c.total + c.attentionFlopsPerToken) });
  }
  return [...byShape.values()].sort((a, b) => a.workPerSequence * a.spec.training.batchSize - b.workPerSequence * b.spec.training.batchSize);
}

/** Measures one model: warm-up step, then timed steps until its share of the box is used. */
async function timeModel(
  c: Candidate,
  sequences: number,
  deadlines: { sample: number; hard: number },
  opts: { maxSteps: number; mustTime: boolean; signal?: AbortSignal },
): Promise<CalibrationSample | undefined> {
  const spec = c.spec;
  const m = spec.model;
  const T = m.contextLength;
  const model = new TransformerModel(m, spec.seed);
  const opt = new AdamW(model.vars, model.layout.map((p) => p.decay), spec.training);
  const ids = new Int32Array(sequences * T);
  const targets = new Int32Array(sequences * T);
  for (let i = 0; i < ids.length; i++) {
    ids[i] = (i * 7919 + 13) % m.vocabSize;
    targets[i] = (i * 104729 + 1) % m.vocabSize;
  }
  const x = tf.tensor2d(ids, [sequences, T], 'int32');
  const y = tf.tensor2d(targets, [sequences, T], 'int32');
  const lr = Math.min(spec.training.learningRate, 1e-4);
  // reading one parameter back waits for the last update's kernels (GPU backends queue them)
  const settle = async () => void (await model.vars[model.vars.length - 1].data());
  try {
    let t = performance.now();
    const warmLoss = await trainStep(model, opt, x, y, lr);
    await settle();
    const warmupSeconds = (performance.now() - t) / 1000;
    if (!Number.isFinite(warmLoss)) throw new Error(`the warm-up step of d${m.dModel}/L${m.nLayers} gave a non-finite loss (${warmLoss})`);
    let steps = 0;
    let last = warmupSeconds; // the duration the next step is predicted to take
    t = performance.now();
    while (steps < opts.maxSteps) {
      if (opts.signal?.aborted) throw new Error('calibration stopped by request');
      // the first timed step may end past the sample's share (not past the box, unless it must)
      const limit = steps === 0 ? deadlines.hard : Math.min(deadlines.sample, deadlines.hard);
      if (performance.now() + last * 1000 > limit && !(steps === 0 && opts.mustTime)) break;
      const s0 = performance.now();
      await trainStep(model, opt, x, y, lr);
      await settle();
      last = (performance.now() - s0) / 1000;
      steps++;
      await new Promise<void>((r) => setImmediate(r));
    }
    // no timed step fitted in the box: the warm-up's time stands in (an upper bound on a step)
    const warmupOnly = steps === 0;
    const seconds = warmupOnly ? warmupSeconds : (performance.now() - t) / 1000;
    if (!(seconds > 0)) return undefined;
    if (warmupOnly) steps = 1;
    const c0 = countTransformerParams(m);
    return {
      ...(warmupOnly ? { warmupOnly } : {}),
      sizeValue: spec.sizeValue,
      paramsTotal: c0.total,
      dModel: m.dModel,
      nLayers: m.nLayers,
      contextLength: T,
      batchSequences: sequences,
      workPerStep: sequences * c.workPerSequence,
      warmupSeconds,
      steps,
      seconds,
      secondsPerStep: seconds / steps,
    };
  } finally {
    tf.dispose([x, y]);
    opt.dispose();
    model.dispose();
  }
}

/**
 * Calibrates the backend on representative experiments of a plan (built-in transformer only) and
 * returns the calibration without writing it.
 */
export async function measureCalibration(experiments: readonly ExperimentSpec[], opts: CalibrateOptions): Promise<Calibration> {
  const log = opts.log ?? (() => {});
  const box = (opts.timeBoxSeconds ?? 20) * 1000;
  if (!(box > 0)) throw new Error('the calibration time box must be positive');
  const start = performance.now();
  const hard = start + box;
  const list = candidates(experiments);
  if (!list.length) throw new Error('nothing to calibrate: the plan has no built-in transformer experiment');

  const smallest = list[0];
  const largest = list[list.length - 1];
  const backend = await initBackend(opts.backend, log, { smokeStep: experimentSmokeStep(largest.spec) });
  log(`calibrate: ${backend.name} on ${backend.device}`);
  const builtin = BUILTIN_THROUGHPUT[backend.name];

  const samples: CalibrationSample[] = [];
  // seconds of one step of `c` at `n` sequences, from what is known so far (pessimistic before)
  const predict = (c: Candidate, n: number): number => {
    if (samples.length) {
      const fit = fitCalibration(samples, builtin.stepOverheadSeconds);
      return fit.stepOverheadSeconds + (n * c.workPerSequence) / fit.flopsPerSecond;
    }
    return builtin.stepOverheadSeconds + (n * c.workPerSequence) / builtin.range[0];
  };
  // the most sequences (≤ the batch) for which warm-up + 2 steps fit in `seconds`
  const fitSequences = (c: Candidate, seconds: number): number => {
    const B = c.spec.training.batchSize;
    let n = B;
    while (n > 1 && 3 * predict(c, n) > seconds) n = Math.max(1, Math.floor(n / 2));
    return n;
  };

  // one model: time it again at a quarter of the sequences (two work sizes separate overhead and rate)
  const plan: Array<{ c: Candidate; quarter?: boolean }> = [{ c: smallest }];
  if (largest !== smallest) plan.push({ c: largest });
  else if (smallest.spec.training.batchSize > 1) plan.push({ c: smallest, quarter: true });

  for (let i = 0; i < plan.length; i++) {
    const now = performance.now();
    const remaining = (hard - now) / 1000;
    // the first model is always timed (one step at least): a calibration needs one figure
    if (remaining <= 0 && samples.length) break;
    const share = Math.max(remaining, 0) / (plan.length - i);
    let c = plan[i].c;
    let n: number;
    if (plan[i].quarter) {
      if (!samples.length || samples[0].batchSequences < 2) continue;
      n = Math.max(1, Math.floor(samples[0].batchSequences / 4));
    } else {
      n = fitSequences(c, share);
      if (i > 0 && 3 * predict(c, n) > share) {
        // even one sequence of the largest model does not fit: the largest model that does
        const fits = list.filter((d) => d !== smallest && 3 * predict(d, 1) <= share);
        const next = fits[fits.length - 1];
        if (!next) {
          log(`calibrate: skipped d${c.spec.model.dModel}/L${c.spec.model.nLayers}: one step would not fit in the ${(box / 1000).toFixed(0)} s box`);
          continue;
        }
        c = next;
        n = fitSequences(c, share);
      }
    }
    const m = c.spec.model;
    let sample: CalibrationSample | undefined;
    try {
      sample = await timeModel(c, n, { sample: now + share * 1000, hard }, { maxSteps: opts.maxSteps ?? 8, mustTime: samples.length === 0, signal: opts.signal });
    } catch (err) {
      // the first figure is required; a larger model that fails (out of memory) is only skipped
      if (!samples.length || opts.signal?.aborted) throw err;
      log(`calibrate: skipped d${m.dModel}/L${m.nLayers}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    if (!sample) {
      log(`calibrate: d${m.dModel}/L${m.nLayers}: no step finished`);
      continue;
    }
    samples.push(sample);
    log(
      `calibrate: d${m.dModel}/L${m.nLayers} (${sample.paramsTotal} params) × ${n}×${m.contextLength} tokens: ` +
        (sample.warmupOnly
          ? `no timed step fitted in the box, warm-up step of ${(sample.secondsPerStep * 1000).toFixed(1)} ms used, `
          : `${sample.steps} step${sample.steps === 1 ? '' : 's'} of ${(sample.secondsPerStep * 1000).toFixed(1)} ms (warm-up ${(sample.warmupSeconds * 1000).toFixed(0)} ms), `) +
        `${(sample.workPerStep / sample.secondsPerStep / 1e9).toFixed(2)} GFLOP/s`,
    );
  }
  if (!samples.length) throw new Error(`no calibration step finished within ${(box / 1000).toFixed(0)} s`);
  const fit = fitCalibration(samples, builtin.stepOverheadSeconds);
  const calibration: Calibration = {
    version: 1,
    requestedBackend: opts.backend,
    backend: backend.name,
    device: backend.device,
    flopsPerSecond: fit.flopsPerSecond,
    stepOverheadSeconds: fit.stepOverheadSeconds,
    measuredAt: (opts.now ?? (() => new Date()))().toISOString(),
    elapsedSeconds: (performance.now() - start) / 1000,
    sweep: list[0].spec.sweep,
    samples,
  };
  return Calibration.parse(calibration);
}

/** Calibrates (see measureCalibration) and writes `<runDir>/calibration.json` atomically. */
export async function calibrate(experiments: readonly ExperimentSpec[], runDir: string, opts: CalibrateOptions): Promise<CalibrateResult> {
  const calibration = await measureCalibration(experiments, opts);
  const file = path.join(runDir, CALIBRATION_FILE);
  writeJsonAtomicSync(file, calibration);
  return { calibration, file };
}
