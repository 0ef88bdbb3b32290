/**
 * Inference from a checkpoint folder: recompute the validation loss (`flopsfit eval`) and generate
 * tokens (`flopsfit sample`). The checkpoint holds the spec, so model and data are rebuilt from it.
 */
import { type Backend, isTorchBackend } from '../core/contracts';
import { Rng } from '../core/data/synthetic';
import { type BackendInfo, initBackend, tf } from './backend';
import { loadCheckpoint, type LoadedCheckpoint } from './checkpoint';
import { findPython } from './python';
import { evalWithTorch } from './torchEngine';
import { openExperimentData, dataVocabSize } from './data';
import type { TransformerModel } from './model';
import { buildModel, evaluate, planTokens, restoreArrays } from './train';

export interface LoadedModel {
  ckpt: LoadedCheckpoint;
  model: TransformerModel;
  backend: BackendInfo;
}

/** Loads a checkpoint onto `backend` (default: the backend the run used, for identical numbers). */
export async function loadModel(dir: string, backend?: Backend, log?: (line: string) => void): Promise<LoadedModel> {
  const ckpt = loadCheckpoint(dir);
  const recorded = ckpt.state.backend as Backend;
  const info = await initBackend(backend ?? recorded, log);
  const model = buildModel(ckpt.spec);
  try {
    restoreArrays(ckpt.arrays, model);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { ckpt, model, backend: info };
}

export interface EvalResult {
  loss: number;
  /** the final loss recorded in the checkpoint (only on a finished run's final checkpoint) */
  recordedFinalLoss?: number;
  step: number;
  totalSteps: number;
  validationTokens: number;
  backend: Pick<BackendInfo, 'device'> & { name: string };
}

/**
 * The held-out loss of a checkpoint. A checkpoint of the PyTorch engine (or --backend torch) is
 * evaluated by PyTorch when a Python with torch is found, else by TensorFlow.js (logged); either
 * engine reads either engine's checkpoints.
 */
export async function evalCheckpoint(dir: string, backend?: Backend, log?: (line: string) => void): Promise<EvalResult> {
  const want = backend ?? loadCheckpoint(dir).state.backend;
  if (isTorchBackend(want)) {
    const { found, skipped } = findPython(log);
    if (found) {
      const r = evalWithTorch(dir, found.command, want === 'torch-cpu' ? 'cpu' : 'auto');
      return { ...r, recordedFinalLoss: r.recordedFinalLoss ?? undefined, backend: { name: 'torch', device: r.device } };
    }
    log?.(`eval: no Python with torch (${skipped.join('; ') || 'none found'}); evaluating with TensorFlow.js (wasm)`);
  }
  const { ckpt, model, backend: info } = await loadModel(dir, backend, log);
  try {
    const spec = ckpt.spec;
    const plan = planTokens(spec.tokens, spec.training.batchSize, model.spec.contextLength);
    // Only the validation set is needed; the training position does not matter here.
    const data = openExperimentData({ ...spec, training: { ...spec.training, allowRepeat: true } }, plan.sequences);
    try {
      const loss = await evaluate(model, data.validation, data.validationSequences, spec.training.batchSize);
      return {
        loss,
        recordedFinalLoss: ckpt.state.finalLoss,
        step: ckpt.state.step,
        totalSteps: ckpt.state.totalSteps,
        validationTokens: data.validationSequences * model.spec.contextLength,
        backend: info,
      };
    } finally {
      data.close();
    }
  } finally {
    model.dispose();
  }
}

export interface SampleOptions {
  tokens: number;
  /** text for byte-level data; whitespace/comma separated token ids otherwise */
  prompt?: string;
  /** 0 = greedy */
  temperature: number;
  seed: number;
  backend?: Backend;
}

export interface SampleResult {
  promptTokens: number[];
  tokens: number[];
  /** decoded text (byte-level text data only) */
  text?: string;
  bytes: boolean;
}

export function parsePrompt(prompt: string, bytes: boolean, vocab: number): number[] {
  if (bytes) return [...Buffer.from(prompt, 'utf8')];
  const parts = prompt.split(/[\s,]+/).filter(Boolean);
  return parts.map((p) => {
    const t = Number(p);
    if (!Number.isInteger(t) || t < 0 || t >= vocab) throw new Error(`prompt token '${p}' is not an integer in [0, ${vocab})`);
    return t;
  });
}

export async function sampleCheckpoint(dir: string, o: SampleOptions): Promise<SampleResult> {
  const { ckpt, model } = await loadModel(dir, o.backend);
  try {
    const bytes = ckpt.spec.data.source === 'text';
    const vocab = dataVocabSize(ckpt.spec.data);
    const prompt = parsePrompt(o.prompt ?? '', bytes, vocab);
    const ctx = prompt.length ? prompt.slice() : [bytes ? 10 : 0];
    const rng = new Rng(o.seed, 0x5a4e);
    const T = model.spec.contextLength;
    const out: number[] = [];
    for (let i = 0; i < o.tokens; i++) {
      const window = ctx.slice(-T);
      const row = tf.tidy(() => {
        const ids = tf.tensor2d(Int32Array.from(window), [1, window.length], 'int32');
        const logits = model.logits(ids);
        return tf.slice(logits, [window.length - 1, 0], [1, logits.shape[1]]);
      });
      const l = (await row.data()) as Float32Array;
      row.dispose();
      // Only the data's vocabulary can be sampled (the model's may be larger).
      let next = 0;
      if (o.temperature <= 0) {
        for (let j = 1; j < vocab; j++) if (l[j] > l[next]) next = j;
      } else {
        let max = -Infinity;
        for (let j = 0; j < vocab; j++) max = Math.max(max, l[j]);
        const p = new Float64Array(vocab);
        let sum = 0;
        for (let j = 0; j < vocab; j++) sum += p[j] = Math.exp((l[j] - max) / o.temperature);
        let u = rng.next() * sum;
        next = vocab - 1;
        for (let j = 0; j < vocab; j++) {
          u -= p[j];
          if (u < 0) {
            next = j;
            break;
          }
        }
      }
      ctx.push(next);
      out.push(next);
    }
    return {
      promptTokens: prompt,
      tokens: out,
      bytes,
      text: bytes ? Buffer.from(out).toString('utf8') : undefined,
    };
  } finally {
    model.dispose();
  }
}
