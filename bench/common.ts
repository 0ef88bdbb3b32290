/**
 * Shared by the engine benchmarks (bench/gpu-bench.ts and its bench/gpu-worker.ts, and
 * bench/train-worker.ts): the benchmark model's shape and the experiment spec the workers train,
 * so that every benchmark trains exactly the same way (synthetic data, cosine schedule, AdamW).
 */
import type { Backend, ExperimentSpec } from '../src/core/contracts';
import { countTransformerParams, type TransformerCounts } from '../src/core/model/transformer';

/** The benchmarked model and run length (`warmup` untimed steps, then `steps` timed ones). */
export interface BenchConfig {
  d: number;
  layers: number;
  heads: number;
  context: number;
  batch: number;
  vocab: number;
  steps: number;
  warmup: number;
}

export interface BenchExperiment {
  spec: ExperimentSpec;
  counts: TransformerCounts;
  /** warmup + steps */
  totalSteps: number;
  /** tokens the spec trains on: totalSteps × batch × context */
  tokens: number;
}

/** The experiment a benchmark worker trains for `c` (seeded by `seed`, on `backend`). */
export function benchExperiment(c: BenchConfig, opts: { id: string; backend: Backend; seed: number; allowRepeat: boolean }): BenchExperiment {
  const model = { family: 'transformer' as const, dModel: c.d, nLayers: c.layers, nHeads: c.heads, contextLength: c.context, vocabSize: c.vocab, mlpRatio: 4, tiedEmbeddings: false };
  const counts = countTransformerParams(model);
  const totalSteps = c.warmup + c.steps;
  const tokens = totalSteps * c.batch * c.context;
  const spec: ExperimentSpec = {
    id: opts.id,
    sweep: opts.id,
    budget: 6 * counts.nonEmbedding * tokens,
    budgetIndex: 0,
    sizeParam: 'dModel',
    sizeValue: c.d,
    params: counts.nonEmbedding,
    paramsTotal: counts.total,
    tokens,
    tokensPerParam: tokens / counts.nonEmbedding,
    flopsPerParamPerToken: 6,
    hyperparameters: {},
    seed: opts.seed,
    model,
    data: { source: 'synthetic', vocabSize: c.vocab, branching: 8, seed: 1 },
    training: {
      batchSize: c.batch,
      learningRate: 1e-3,
      schedule: 'cosine',
      warmupFraction: 0.1,
      minLrRatio: 0.1,
      weightDecay: 0.1,
      beta1: 0.9,
      beta2: 0.95,
      gradClip: 1,
      evalTokens: c.context,
      evalInterval: 0,
      checkpointInterval: 0,
      backend: opts.backend,
      allowRepeat: opts.allowRepeat,
    },
  };
  return { spec, counts, totalSteps, tokens };
}
