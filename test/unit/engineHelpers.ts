/** Shared fixtures of the engine tests. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MetricsLine, RunResult, type ExperimentSpec, type TransformerModelSpec } from '../../src/core/contracts';
import { tf } from '../../src/engine/backend';

export const TINY_MODEL: TransformerModelSpec = { family: 'transformer', dModel: 16, nLayers: 1, nHeads: 2, contextLength: 16, vocabSize: 16, mlpRatio: 4, tiedEmbeddings: false };

/** A tiny experiment (d16, 1 layer, T16, B4) that trains in about a second on the cpu backend. */
export function tinySpec(over: Partial<ExperimentSpec> = {}): ExperimentSpec {
  return {
    id: 'tiny',
    sweep: 'test',
    budget: 1e9,
    budgetIndex: 0,
    sizeParam: 'dModel',
    sizeValue: 16,
    params: 3000,
    paramsTotal: 4000,
    tokens: 4096,
    tokensPerParam: 1,
    flopsPerParamPerToken: 6,
    hyperparameters: {},
    seed: 3,
    model: TINY_MODEL,
    data: { source: 'synthetic', vocabSize: 16, branching: 3, seed: 11 },
    training: {
      batchSize: 4,
      learningRate: 0.01,
      schedule: 'cosine',
      warmupFraction: 0.1,
      minLrRatio: 0.1,
      weightDecay: 0.1,
      beta1: 0.9,
      beta2: 0.95,
      gradClip: 1,
      evalTokens: 256,
      evalInterval: 0,
      checkpointInterval: 0,
      backend: 'cpu',
      allowRepeat: false,
    },
    ...over,
  };
}

/** Causal attention in plain tfjs ops, the model's 'tfjs' path written out independently. */
export function referenceAttention(qkv: tf.Tensor2D, B: number, T: number, H: number): tf.Tensor2D {
  const d = qkv.shape[1] / 3;
  const dh = d / H;
  const [q, k, v] = tf.split(qkv, 3, 1);
  const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [B, T, H, dh]), [0, 2, 1, 3]);
  const s = tf.div(tf.matMul(heads(q), heads(k), false, true), Math.sqrt(dh));
  const causal = tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
  const masked = tf.where(tf.cast(causal, 'bool'), s, tf.fill(s.shape, -1e9));
  const y = tf.matMul(tf.softmax(masked), heads(v));
  return tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B * T, d]) as tf.Tensor2D;
}

/** Seeded int32 token ids [B, T] in [0, V) and targets (an LCG: identical on every backend). */
export function tokenBatch(B: number, T: number, V: number, seed: number): [tf.Tensor2D, tf.Tensor2D] {
  const ids = new Int32Array(B * T);
  const tg = new Int32Array(B * T);
  let x = seed;
  for (let i = 0; i < ids.length; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    ids[i] = x % V;
    tg[i] = (x >> 8) % V;
  }
  return [tf.tensor2d(ids, [B, T], 'int32'), tf.tensor2d(tg, [B, T], 'int32')];
}

/** The metrics.jsonl lines an engine wrote, schema-checked. */
export function readMetrics(dir: string): MetricsLine[] {
  return fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => MetricsLine.parse(JSON.parse(l)));
}

/** The result.json an engine wrote, schema-checked. */
export function readResult(dir: string): RunResult {
  return RunResult.parse(JSON.parse(fs.readFileSync(path.join(dir, 'result.json'), 'utf8')));
}
