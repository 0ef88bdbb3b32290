/**
 * trainExperiment: trains one ExperimentSpec into a run directory (see src/core/contracts.ts for
 * the layout): metrics.jsonl (appended per logged step), checkpoint/ (atomic, at intervals and at
 * the end) and result.json (atomic, always written once the spec is valid — completed, stopped or
 * failed with a reason).
 *
 * Token budget (exact up to one sequence): with T = contextLength, B = batchSize, D = spec.tokens,
 *   steps     = ⌈D / (B·T)⌉
 *   last step = ⌈(D − (steps−1)·B·T) / T⌉ sequences (a partial batch; all other steps are full)
 *   trained   = ((steps−1)·B + lastSequences)·T tokens, i.e. D rounded up to a whole sequence
 *               (D ≤ trained < D + T). The tokens actually trained are what result.json records,
 *               and flops = k·N·trained.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ExperimentSpec, ExperimentSpec as ExperimentSpecSchema, type MetricsLine, RUN_FILES, type RunResult, type TransformerModelSpec } from '../core/contracts';
import { writeJsonAtomicSync } from '../core/atomic';
import { countTransformerParams } from '../core/model/transformer';
import { type BackendInfo, initBackend, tf } from './backend';
import { experimentSmokeStep } from './backends/modelSmoke';
import { type CheckpointState, checkpointExists, loadCheckpoint, type NamedArray, removeCheckpoint, saveCheckpoint } from './checkpoint';
import { DataError, type ExperimentData, openExperimentData } from './data';
import { TransformerModel } from './model';
import { AdamW, learningRate } from './optimizer';

export interface TrainOptions {
  resume?: boolean;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** called after every completed step (progress display, tests) */
  onStep?: (step: number, trainLoss: number) => void;
}

export interface TokenPlan {
  steps: number;
  batchSize: number;
  contextLength: number;
  lastBatchSequences: number;
  /** tokens actually trained when all steps run */
  tokens: number;
  /** sequences read from the training data in total */
  sequences: number;
}

/** The exact step/batch plan for a token budget (see the file comment for the rounding). */
export function planTokens(tokens: number, batchSize: number, contextLength: number): TokenPlan {
  const perStep = batchSize * contextLength;
  const steps = Math.max(1, Math.ceil(tokens / perStep));
  const rest = tokens - (steps - 1) * perStep;
  const lastBatchSequences = Math.max(1, Math.ceil(rest / contextLength));
  const sequences = (steps - 1) * batchSize + lastBatchSequences;
  return { steps, batchSize, contextLength, lastBatchSequences, sequences, tokens: sequences * contextLength };
}

/** Splits T+1-token windows into inputs [n, T] and targets [n, T]. */
export function batchTensors(windows: Int32Array, nSeq: number, T: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const xs = new Int32Array(nSeq * T);
  const ys = new Int32Array(nSeq * T);
  for (let s = 0; s < nSeq; s++) {
    const o = s * (T + 1);
    xs.set(windows.subarray(o, o + T), s * T);
    ys.set(windows.subarray(o + 1, o + T + 1), s * T);
  }
  return { x: tf.tensor2d(xs, [nSeq, T], 'int32'), y: tf.tensor2d(ys, [nSeq, T], 'int32') };
}

/**
 * Mean held-out loss (nats/token) over the validation windows, in batches of `batchSize`.
 * Every forward pass runs inside tf.tidy; sums accumulate in float64.
 */
export async function evaluate(model: TransformerModel, validation: Int32Array, nSeq: number, batchSize: number): Promise<number> {
  const T = model.spec.contextLength;
  let total = 0;
  for (let s = 0; s < nSeq; s += batchSize) {
    const n = Math.min(batchSize, nSeq - s);
    const sum = tf.tidy(() => {
      const { x, y } = batchTensors(validation.subarray(s * (T + 1), (s + n) * (T + 1)), n, T);
      return tf.sum(model.nll(x, y));
    });
    const v = (await sum.data())[0];
    sum.dispose();
    total += v;
  }
  return total / (nSeq * T);
}

export function transformerSpec(spec: ExperimentSpec): TransformerModelSpec {
  if (spec.model.family !== 'transformer') {
    throw new DataError(`experiment ${spec.id}: the built-in trainer needs model.family "transformer" (got "${spec.model.family}")`);
  }
  return spec.model;
}

/** Builds the model and checks it against the closed-form parameter count. */
export function buildModel(spec: ExperimentSpec): TransformerModel {
  const m = transformerSpec(spec);
  const model = new TransformerModel(m, spec.seed);
  const expected = countTransformerParams(m).total;
  if (model.parameterCount !== expected) {
    model.dispose();
    throw new Error(`internal: the built model has ${model.parameterCount} parameters, the closed form ${expected}`);
  }
  return model;
}

/** Assigns checkpointed values to the model (and optimizer moments when given). */
export function restoreArrays(arrays: Map<string, NamedArray>, model: TransformerModel, opt?: AdamW): void {
  const assign = (v: tf.Variable, name: string) => {
    const a = arrays.get(name);
    if (!a) throw new Error(`checkpoint has no tensor '${name}'`);
    if (a.shape.join('x') !== v.shape.join('x')) throw new Error(`checkpoint tensor '${name}' has shape [${a.shape}], the model [${v.shape}]`);
    const t = tf.tensor(a.data, a.shape, 'float32');
    v.assign(t);
    t.dispose();
  };
  model.layout.forEach((p, i) => {
    assign(model.vars[i], p.name);
    if (opt) {
      assign(opt.m[i], `opt/m/${p.name}`);
      assign(opt.v[i], `opt/v/${p.name}`);
    }
  });
}

async function collectArrays(model: TransformerModel, opt: AdamW): Promise<NamedArray[]> {
  const out: NamedArray[] = [];
  const add = async (name: string, v: tf.Variable) => out.push({ name, shape: v.shape.slice(), data: (await v.data()) as Float32Array });
  for (let i = 0; i < model.vars.length; i++) await add(model.layout[i].name, model.vars[i]);
  for (let i = 0; i < model.vars.length; i++) await add(`opt/m/${model.layout[i].name}`, opt.m[i]);
  for (let i = 0; i < model.vars.length; i++) await add(`opt/v/${model.layout[i].name}`, opt.v[i]);
  return out;
}

/**
 * One optimizer step on a batch: forward + backward, then AdamW with clipping at `lr`. Returns
 * the batch's mean training loss; when it is not finite, no update is applied. Leaves no tensors
 * behind (the caller owns x and y).
 */
export async function trainStep(model: TransformerModel, opt: AdamW, x: tf.Tensor2D, y: tf.Tensor2D, lr: number): Promise<number> {
  const { value, grads } = tf.variableGrads(() => model.loss(x, y), model.vars);
  try {
    const loss = (await value.data())[0];
    if (Number.isFinite(loss)) opt.apply(model.vars.map((v) => grads[v.name]), lr);
    return loss;
  } finally {
    value.dispose();
    tf.dispose(Object.values(grads));
  }
}

function readMetricsUpTo(file: string, step: number): string[] {
  if (!fs.existsSync(file)) return [];
  const keep: string[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const m = JSON.parse(line) as MetricsLine;
      if (typeof m.step === 'number' && m.step <= step) keep.push(line);
    } catch {
      /* a torn last line from a crash: drop it */
    }
  }
  return keep;
}

function fmt(x: number | undefined, digits = 4): string {
  return x === undefined || !Number.isFinite(x) ? String(x) : x.toFixed(digits);
}

/** Trains one experiment. Never throws for run-time problems: they end up in result.json. */
export async function trainExperiment(specIn: ExperimentSpec, runDir: string, opts: TrainOptions = {}): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  const parsed = ExperimentSpecSchema.safeParse(specIn);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DataError(`invalid experiment spec at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  const spec = parsed.data;
  fs.mkdirSync(runDir, { recursive: true });
  const metricsFile = path.join(runDir, RUN_FILES.metrics);
  const resultFile = path.join(runDir, RUN_FILES.result);
  const ckptDir = path.join(runDir, RUN_FILES.checkpoint);
  const t0 = performance.now();

  let backend: BackendInfo | undefined;
  let elapsedBefore = 0;
  let tokens = 0;
  let step = 0;
  let lastTrainLoss: number | undefined;
  let lastEvalLoss: number | undefined;
  const plan = planTokens(spec.tokens, spec.training.batchSize, transformerSafeContext(spec));
  const attnPerToken = spec.model.family === 'transformer' ? countTransformerParams(spec.model).attentionFlopsPerToken : 0;
  const k = spec.flopsPerParamPerToken;
  const elapsed = () => elapsedBefore + (performance.now() - t0) / 1000;
  const result = (status: RunResult['status'], extra: Partial<RunResult> = {}): RunResult => {
    const r: RunResult = {
      id: spec.id,
      status,
      params: spec.params,
      tokens,
      steps: step,
      flops: k * spec.params * tokens,
      attentionFlops: attnPerToken * tokens,
      backend: backend?.name ?? 'none',
      device: backend?.device,
      elapsedSeconds: elapsed(),
      ...(lastTrainLoss !== undefined && Number.isFinite(lastTrainLoss) ? { finalTrainLoss: lastTrainLoss } : {}),
      ...extra,
    };
    writeJsonAtomicSync(resultFile, r);
    return r;
  };

  let data: ExperimentData | undefined;
  let model: TransformerModel | undefined;
  let opt: AdamW | undefined;
  try {
    fs.rmSync(resultFile, { force: true });
    const m = transformerSpec(spec);
    const T = m.contextLength;
    let resumeFrom: ReturnType<typeof loadCheckpoint> | undefined;
    if (opts.resume && checkpointExists(ckptDir)) {
      resumeFrom = loadCheckpoint(ckptDir);
      if (resumeFrom.spec.id !== spec.id || JSON.stringify(resumeFrom.spec) !== JSON.stringify(spec)) {
        throw new DataError(`the checkpoint in ${ckptDir} belongs to a different spec (id ${resumeFrom.spec.id}); remove it or run without --resume`);
      }
    } else if (opts.resume) {
      log('resume: no checkpoint yet, starting from the beginning');
    }
    data = openExperimentData(spec, plan.sequences, resumeFrom?.state.data);
    for (const n of data.notes) log(n);
    // A run-size smoke step costs a whole training step; it pays off only where memory limits bite.
    backend = await initBackend(spec.training.backend, log, {
      smokeStep: experimentSmokeStep(spec),
      smokeStepBackends: ['tensorflow-gpu', 'webgpu'],
    });
    model = buildModel(spec);
    backend = { ...backend, device: `${backend.device}; ${model.kernelDescription()}` };
    opt = new AdamW(model.vars, model.layout.map((p) => p.decay), spec.training);
    const pending = { lossSum: 0, steps: 0, tokens: 0, seconds: 0 };
    let finalLoss: number | undefined;
    if (resumeFrom) {
      const st = resumeFrom.state;
      restoreArrays(resumeFrom.arrays, model, opt);
      opt.state = { ...st.optimizer };
      step = st.step;
      tokens = st.tokens;
      elapsedBefore = st.elapsedSeconds;
      lastTrainLoss = st.lastTrainLoss;
      lastEvalLoss = st.lastEvalLoss;
      finalLoss = st.finalLoss;
      Object.assign(pending, { seconds: 0, ...st.pending });
      const keep = readMetricsUpTo(metricsFile, step);
      fs.writeFileSync(metricsFile, keep.map((l) => l + '\n').join(''));
      log(`resumed from step ${step}/${plan.steps} (${tokens} tokens)`);
      if (st.backend !== backend.name) log(`note: the checkpoint was trained on ${st.backend}; continuing on ${backend.name} (not bit-identical)`);
      else if (st.device && st.device !== backend.device) log(`note: the checkpoint was trained on ${st.device}; continuing on ${backend.device} (not bit-identical)`);
    } else {
      removeCheckpoint(ckptDir);
      fs.writeFileSync(metricsFile, '');
    }
    log(
      `training ${spec.id}: N=${spec.params} (total ${model.parameterCount}), D=${spec.tokens} → ${plan.steps} steps × ${plan.batchSize}×${T} ` +
        `(last ${plan.lastBatchSequences} seqs; ${plan.tokens} tokens) on ${backend.name} [${backend.device}]`,
    );
    const logEvery = plan.steps <= 2000 ? 1 : Math.ceil(plan.steps / 2000);
    const evalEvery = spec.training.evalInterval;
    const ckptEvery = spec.training.checkpointInterval;
    const perEpoch = data.train.sequencesPerEpoch;
    let lastLogTime = performance.now();
    const setupSeconds = (performance.now() - t0) / 1000;

    const snapshot = async (final?: number): Promise<void> => {
      const state: CheckpointState = {
        format: 'flopsfit-checkpoint',
        version: 1,
        step,
        totalSteps: plan.steps,
        tokens,
        optimizer: { ...opt!.state },
        data: data!.train.state(),
        elapsedSeconds: elapsed(),
        pending: { ...pending, seconds: pending.seconds + (performance.now() - lastLogTime) / 1000 },
        lastTrainLoss,
        lastEvalLoss,
        finalLoss: final,
        backend: backend!.name,
        device: backend!.device,
        savedAt: new Date().toISOString(),
      };
      saveCheckpoint(ckptDir, spec, state, await collectArrays(model!, opt!));
    };
    const epochs = () => (Number.isFinite(perEpoch) ? tokens / (perEpoch * T) : 1);

    if (finalLoss !== undefined) {
      log(`already finished: final eval loss ${fmt(finalLoss)}`);
      return result('completed', { finalLoss, epochs: epochs() });
    }

    while (step < plan.steps) {
      // wasm/cpu resolve data() as microtasks: yield to the event loop so signals get delivered.
      await new Promise<void>((r) => setImmediate(r));
      if (opts.signal?.aborted) {
        await snapshot();
        log(`stopped at step ${step}/${plan.steps}; checkpoint written`);
        return result('stopped', { reason: 'stopped by request (checkpoint written; resume continues the run)', epochs: epochs() });
      }
      const nSeq = step === plan.steps - 1 ? plan.lastBatchSequences : plan.batchSize;
      const windows = data.train.next(nSeq);
      const { x, y } = batchTensors(windows, nSeq, T);
      const lr = learningRate(step, plan.steps, spec.training);
      const lossValue = await trainStep(model, opt, x, y, lr);
      tf.dispose([x, y]);
      if (!Number.isFinite(lossValue)) {
        lastTrainLoss = lossValue;
        log(`step ${step + 1}: training loss is ${lossValue}; stopping`);
        return result('failed', { reason: `non-finite training loss (${lossValue}) at step ${step + 1}; lower the learning rate or check the data`, epochs: epochs() });
      }
      step++;
      tokens += nSeq * T;
      lastTrainLoss = lossValue;
      pending.lossSum += lossValue;
      pending.steps++;
      pending.tokens += nSeq * T;
      opts.onStep?.(step, lossValue);

      const isLast = step === plan.steps;
      const doEval = isLast || (evalEvery > 0 && step % evalEvery === 0);
      if (isLast || doEval || step % logEvery === 0) {
        const now = performance.now(); // throughput excludes the eval below
        let evalLoss: number | undefined;
        if (doEval) {
          evalLoss = await evaluate(model, data.validation, data.validationSequences, plan.batchSize);
          lastEvalLoss = evalLoss;
          if (isLast) finalLoss = evalLoss;
        }
        const line: MetricsLine = {
          step,
          tokens,
          trainLoss: pending.lossSum / pending.steps,
          lr,
          tokensPerSecond: pending.tokens / Math.max(1e-9, pending.seconds + (now - lastLogTime) / 1000),
          elapsed: elapsed(),
          ...(evalLoss !== undefined ? { evalLoss } : {}),
        };
        fs.appendFileSync(metricsFile, JSON.stringify(line) + '\n');
        lastLogTime = performance.now();
        pending.lossSum = 0;
        pending.steps = 0;
        pending.tokens = 0;
        pending.seconds = 0;
        if (step === 1) log(`first step done after ${fmt((performance.now() - t0) / 1000, 2)} s (setup ${fmt(setupSeconds, 2)} s)`);
        if (doEval || step % Math.max(logEvery, Math.ceil(plan.steps / 20)) === 0) {
          log(
            `step ${step}/${plan.steps}  loss ${fmt(line.trainLoss)}${evalLoss !== undefined ? `  eval ${fmt(evalLoss)}` : ''}  lr ${lr.toExponential(2)}  ${Math.round(line.tokensPerSecond ?? 0)} tok/s`,
          );
        }
      }
      if (isLast) {
        await snapshot(finalLoss);
      } else if (ckptEvery > 0 && step % ckptEvery === 0) {
        await snapshot();
      }
    }
    log(`done: final eval loss ${fmt(finalLoss)} after ${tokens} tokens in ${fmt(elapsed(), 1)} s`);
    return result('completed', { finalLoss, epochs: epochs() });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log(`failed: ${msg}`);
    return result('failed', { reason: msg });
  } finally {
    data?.close();
    opt?.dispose();
    model?.dispose();
  }
}

function transformerSafeContext(spec: ExperimentSpec): number {
  return spec.model.family === 'transformer' ? spec.model.contextLength : 1;
}
