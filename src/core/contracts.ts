/**
 * The on-disk contract between the planner, the task process (runner + engine), the extension
 * host and the webview. Every file FlopsFit writes under a run directory has its schema here, and
 * every reader parses with these schemas: a half-written or foreign file is reported, never trusted.
 *
 * Layout of a run directory (default `<workspace>/.flopsfit/<sweep name>/`):
 *
 *   plan.json                 the resolved plan (Plan, see ./plan)
 *   manifest.json             Manifest: status of every experiment (written atomically)
 *   runner.lock               RunnerLock: who is running this sweep
 *   results.jsonl             one ResultsRow per completed experiment (what the fit reads)
 *   fit.json                  the fit report (see ./fit)
 *   calibration.json          measured throughput for the time estimate (see ./plan/calibration)
 *   experiments/<id>/spec.json        ExperimentSpec (resolved settings)
 *   experiments/<id>/metrics.jsonl    MetricsLine per line, appended and flushed while training
 *   experiments/<id>/result.json      RunResult (written atomically at the end)
 *   experiments/<id>/checkpoint/      engine checkpoint (model.json, weights.bin, state.json)
 *   experiments/<id>/log.txt          stdout/stderr of the experiment process
 *
 * Pure TypeScript: no `vscode` import.
 */
import { z } from 'zod';

/** TensorFlow.js backends (src/engine/backend.ts), run inside the flopsfit process. */
export const TFJS_BACKENDS = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
/** The PyTorch engine (src/engine/torchEngine.ts): 'torch' on cuda, mps or the CPU; 'torch-cpu' on the CPU. */
export const TORCH_BACKENDS = ['torch', 'torch-cpu'] as const;
export const BACKENDS = ['auto', ...TFJS_BACKENDS, ...TORCH_BACKENDS] as const;
export const Backend = z.enum(BACKENDS);
export type Backend = z.infer<typeof Backend>;
export type TfjsBackend = (typeof TFJS_BACKENDS)[number];
export type TorchBackend = (typeof TORCH_BACKENDS)[number];
export function isTorchBackend(b: string): b is TorchBackend {
  return (TORCH_BACKENDS as readonly string[]).includes(b);
}

/** Built-in decoder-only transformer, fully resolved for one experiment. */
export const TransformerModelSpec = z.object({
  family: z.literal('transformer'),
  dModel: z.number().int().positive(),
  nLayers: z.number().int().positive(),
  nHeads: z.number().int().positive(),
  contextLength: z.number().int().positive(),
  vocabSize: z.number().int().positive(),
  mlpRatio: z.number().int().positive(),
  tiedEmbeddings: z.boolean(),
});
export type TransformerModelSpec = z.infer<typeof TransformerModelSpec>;

/** User-supplied training command (bring-your-own trainer), placeholders already known. */
export const CommandModelSpec = z.object({
  family: z.literal('command'),
  /** argv template with placeholders such as {size}, {tokens}, {seed}, {runDir}. */
  command: z.array(z.string()).min(1),
  /** working directory (absolute) */
  cwd: z.string(),
  env: z.record(z.string(), z.string()).optional(),
  /** tokens per example, for the {steps} placeholder (steps = ceil(tokens / (batchSize · contextLength))) */
  contextLength: z.number().int().positive().optional(),
});
export type CommandModelSpec = z.infer<typeof CommandModelSpec>;

export const ModelSpec = z.discriminatedUnion('family', [TransformerModelSpec, CommandModelSpec]);
export type ModelSpec = z.infer<typeof ModelSpec>;

export const DataSpec = z.discriminatedUnion('source', [
  z.object({
    source: z.literal('synthetic'),
    /** vocabulary of the Markov chain (≤ model vocab) */
    vocabSize: z.number().int().min(2),
    /** out-degree of each state (sparsity of the transition matrix) */
    branching: z.number().int().min(1),
    /** seed of the chain itself (not the data order) */
    seed: z.number().int(),
  }),
  z.object({
    source: z.literal('text'),
    /** absolute path of a UTF-8 / byte text file; tokens are bytes (vocab 256) */
    path: z.string(),
    validationFraction: z.number().gt(0).lt(1),
  }),
  z.object({
    source: z.literal('uint16'),
    /** absolute path of a little-endian uint16 token file */
    path: z.string(),
    vocabSize: z.number().int().positive(),
    validationFraction: z.number().gt(0).lt(1),
  }),
]);
export type DataSpec = z.infer<typeof DataSpec>;

export const TrainingSpec = z.object({
  batchSize: z.number().int().positive(),
  learningRate: z.number().positive(),
  schedule: z.enum(['cosine', 'linear', 'constant']),
  /** fraction of total steps spent in linear warmup */
  warmupFraction: z.number().min(0).max(1),
  /** final learning rate as a fraction of the peak (cosine/linear) */
  minLrRatio: z.number().min(0).max(1),
  weightDecay: z.number().min(0),
  beta1: z.number().min(0).lt(1),
  beta2: z.number().min(0).lt(1),
  gradClip: z.number().min(0),
  /** tokens in the fixed held-out validation set */
  evalTokens: z.number().int().positive(),
  /** evaluate every this many steps (0: only at the end) */
  evalInterval: z.number().int().min(0),
  /** checkpoint every this many steps (0: only at the end) */
  checkpointInterval: z.number().int().min(0),
  backend: Backend,
  /** allow more than one pass over the training data */
  allowRepeat: z.boolean(),
  /** PyTorch engine: autocast precision (absent: auto) */
  precision: z.enum(['auto', 'bf16', 'fp32']).optional(),
  /** PyTorch engine: torch.compile (absent: auto) */
  compile: z.enum(['auto', 'on', 'off']).optional(),
});
export type TrainingSpec = z.infer<typeof TrainingSpec>;

export const HyperValue = z.union([z.number(), z.string(), z.boolean()]);
export type HyperValue = z.infer<typeof HyperValue>;

/** One experiment, fully resolved: everything the task process needs, nothing else. */
export const ExperimentSpec = z.object({
  /** stable id: a hash of every resolved setting below */
  id: z.string().min(1),
  sweep: z.string(),
  budget: z.number().positive(),
  budgetIndex: z.number().int().min(0),
  /** name of the swept model parameter, e.g. "dModel" */
  sizeParam: z.string(),
  sizeValue: z.number(),
  /** N used by the scaling law (non-embedding unless the config counts embeddings) */
  params: z.number().positive(),
  /** every trainable parameter */
  paramsTotal: z.number().positive(),
  /** planned training tokens D = C / (k·N) rounded to whole tokens */
  tokens: z.number().int().positive(),
  tokensPerParam: z.number().positive(),
  /** k in C = k·N·D (default 6) */
  flopsPerParamPerToken: z.number().positive(),
  hyperparameters: z.record(z.string(), HyperValue),
  seed: z.number().int(),
  model: ModelSpec,
  data: DataSpec,
  training: TrainingSpec,
  /** the folder (workspace root) the plan resolved relative paths against; ids hash paths relative to it */
  root: z.string().optional(),
});
export type ExperimentSpec = z.infer<typeof ExperimentSpec>;

/** One line of experiments/<id>/metrics.jsonl. */
export const MetricsLine = z.object({
  step: z.number().int().min(0),
  tokens: z.number().min(0),
  trainLoss: z.number().optional(),
  evalLoss: z.number().optional(),
  lr: z.number().optional(),
  tokensPerSecond: z.number().optional(),
  elapsed: z.number().optional(),
});
export type MetricsLine = z.infer<typeof MetricsLine>;

export const RUN_STATUSES = ['queued', 'running', 'completed', 'failed', 'stopped'] as const;
export const RunStatus = z.enum(RUN_STATUSES);
export type RunStatus = z.infer<typeof RunStatus>;

/** experiments/<id>/result.json, written once when the experiment process ends. */
export const RunResult = z.object({
  id: z.string(),
  status: z.enum(['completed', 'failed', 'stopped']),
  /** held-out evaluation loss at the end (nats/token); the loss the fit uses */
  finalLoss: z.number().optional(),
  finalTrainLoss: z.number().optional(),
  params: z.number().positive(),
  tokens: z.number().min(0),
  steps: z.number().int().min(0),
  /** k·N·D actually trained */
  flops: z.number().min(0),
  /** attention FLOPs (6·L·T·d per token), reported separately, not part of C */
  attentionFlops: z.number().min(0).optional(),
  epochs: z.number().min(0).optional(),
  backend: z.string(),
  device: z.string().optional(),
  elapsedSeconds: z.number().min(0),
  reason: z.string().optional(),
});
export type RunResult = z.infer<typeof RunResult>;

/**
 * Where an experiment stands on a Slurm cluster (manifest entries of `run.executor: slurm`). The
 * manifest's `status` stays the one source of truth for the runner (running = handed to Slurm,
 * pending or running there); this is what the cluster said at the last poll, for display and
 * for re-attaching to the job.
 */
export const SlurmEntry = z.object({
  /** the submission (folder slurm/<submission>/ of the run directory) */
  submission: z.string(),
  /** the array job's id */
  arrayJobId: z.string(),
  /** the task index in the array */
  task: z.number().int().min(0),
  /** the task's own job id, once Slurm has given it one (`<arrayJobId>_<task>` until then) */
  jobId: z.string().optional(),
  /** Slurm's state at the last poll (PENDING, RUNNING, COMPLETED, TIMEOUT, …), or LOST / UNREACHABLE */
  state: z.string().optional(),
  /** Slurm's reason while pending (Priority, Resources, …) */
  reason: z.string().optional(),
  /** the node it runs on */
  node: z.string().optional(),
  /** when the state was last learned */
  polledAt: z.string().optional(),
  /** byte offset in the experiment's log where this attempt's output starts */
  logOffset: z.number().int().min(0).optional(),
});
export type SlurmEntry = z.infer<typeof SlurmEntry>;

export const ManifestEntry = z.object({
  status: RunStatus,
  /** hash of the spec this entry was run with (equals the id for plan-made experiments) */
  specHash: z.string(),
  budget: z.number(),
  params: z.number(),
  tokens: z.number(),
  attempts: z.number().int().min(0),
  queuedAt: z.string().optional(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  pid: z.number().int().optional(),
  reason: z.string().optional(),
  finalLoss: z.number().optional(),
  backend: z.string().optional(),
  device: z.string().optional(),
  /** set while (and after) the experiment runs on Slurm */
  slurm: SlurmEntry.optional(),
});
export type ManifestEntry = z.infer<typeof ManifestEntry>;

export const Manifest = z.object({
  version: z.literal(1),
  sweep: z.string(),
  configPath: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** experiment ids in run order */
  order: z.array(z.string()),
  experiments: z.record(z.string(), ManifestEntry),
  /** experiments of an earlier plan that no longer exist in the current one */
  orphaned: z.array(z.string()).optional(),
  state: z.enum(['idle', 'running', 'stopping', 'finished']).optional(),
});
export type Manifest = z.infer<typeof Manifest>;

export const RunnerLock = z.object({
  pid: z.number().int(),
  host: z.string(),
  startedAt: z.string(),
  command: z.string().optional(),
});
export type RunnerLock = z.infer<typeof RunnerLock>;

/** One line of results.jsonl: a completed experiment, as the fit reads it. */
export const ResultsRow = z.object({
  id: z.string(),
  budget: z.number().positive(),
  params: z.number().positive(),
  tokens: z.number().positive(),
  /** C actually trained: k·N·D */
  flops: z.number().positive(),
  loss: z.number().positive(),
  seed: z.number().int(),
  sizeValue: z.number(),
  hyperparameters: z.record(z.string(), HyperValue),
});
export type ResultsRow = z.infer<typeof ResultsRow>;

/** Run-directory file names, in one place. */
export const RUN_FILES = {
  plan: 'plan.json',
  manifest: 'manifest.json',
  lock: 'runner.lock',
  results: 'results.jsonl',
  fit: 'fit.json',
  /** throughput measured by `flopsfit plan --calibrate` (schema in ./plan/calibration) */
  calibration: 'calibration.json',
  experimentsDir: 'experiments',
  spec: 'spec.json',
  metrics: 'metrics.jsonl',
  result: 'result.json',
  checkpoint: 'checkpoint',
  log: 'log.txt',
} as const;

export const PlanWarning = z.object({
  code: z.string(),
  message: z.string(),
  budget: z.number().optional(),
  /** JSON path into the config the warning is about, when there is one */
  path: z.array(z.union([z.string(), z.number()])).optional(),
});
export type PlanWarning = z.infer<typeof PlanWarning>;

export const BudgetPlan = z.object({
  index: z.number().int().min(0),
  budget: z.number().positive(),
  /** N at the prior optimum (C / (k · tokensPerParam)) the grid is centred on */
  priorOptimalParams: z.number().positive(),
  /** size values chosen for this budget, ascending */
  sizeValues: z.array(z.number()),
  experiments: z.number().int().min(0),
  /** whether the chosen sizes bracket the prior optimum in N */
  brackets: z.boolean(),
  skipped: z.string().optional(),
});
export type BudgetPlan = z.infer<typeof BudgetPlan>;

/** plan.json, and the output of `flopsfit plan --json`. */
export const Plan = z.object({
  version: z.literal(1),
  sweep: z.string(),
  configPath: z.string(),
  /** absolute run directory */
  runDir: z.string(),
  experiments: z.array(ExperimentSpec),
  budgets: z.array(BudgetPlan),
  totalFlops: z.number().min(0),
  totalTokens: z.number().min(0),
  /** point estimate of the wall time (seconds) at the configured parallelism */
  estimatedSeconds: z.number().min(0),
  /** the range the estimate may fall in */
  estimatedSecondsRange: z.tuple([z.number().min(0), z.number().min(0)]),
  /** where the throughput behind the estimate came from */
  throughputSource: z.string(),
  /** training settings given by a rule (training.learningRate / batchSize), as text, e.g. { learningRate: '0.3118·C^-0.125' } */
  rules: z.record(z.string(), z.string()).optional(),
  warnings: z.array(PlanWarning),
});
export type Plan = z.infer<typeof Plan>;
