/** Test helpers for the runner tests: a hand-built plan of fake-trainer experiments. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ExperimentSpec, Plan } from '../../src/core/contracts';

export const FAKE_TRAINER = path.resolve(__dirname, '../fixtures/runner/fake-trainer.mjs');
export const FAKE_ENGINE = path.resolve(__dirname, '../fixtures/runner/fake-engine.mjs');

export function tempDir(prefix = 'flopsfit-runner-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function fakeSpec(i: number, budget: number, size: number, extraArgs: string[] = [], seed = 0): ExperimentSpec {
  const params = 24 * size * size;
  const tokens = Math.round(budget / (6 * params));
  return {
    id: `exp${String(i).padStart(2, '0')}-${budget}-${size}-${seed}`,
    sweep: 'fake',
    budget,
    budgetIndex: 0,
    sizeParam: 'width',
    sizeValue: size,
    params,
    paramsTotal: params,
    tokens,
    tokensPerParam: tokens / params,
    flopsPerParamPerToken: 6,
    hyperparameters: {},
    seed,
    model: {
      family: 'command',
      command: [process.execPath, FAKE_TRAINER, '--size', '{size}', '--tokens', '{tokens}', '--seed', '{seed}', '--out', '{runDir}', ...extraArgs],
      cwd: path.dirname(FAKE_TRAINER),
    },
    data: { source: 'synthetic', vocabSize: 16, branching: 2, seed: 0 },
    training: {
      batchSize: 4,
      learningRate: 0.001,
      schedule: 'cosine',
      warmupFraction: 0.1,
      minLrRatio: 0.1,
      weightDecay: 0,
      beta1: 0.9,
      beta2: 0.95,
      gradClip: 1,
      evalTokens: 100,
      evalInterval: 0,
      checkpointInterval: 0,
      backend: 'cpu',
      allowRepeat: false,
    },
  };
}

export function fakePlan(runDir: string, experiments: ExperimentSpec[]): Plan {
  return {
    version: 1,
    sweep: 'fake',
    configPath: path.join(runDir, '..', 'fake.sweep.yaml'),
    runDir,
    experiments,
    budgets: [],
    totalFlops: experiments.reduce((s, e) => s + e.budget, 0),
    totalTokens: experiments.reduce((s, e) => s + e.tokens, 0),
    estimatedSeconds: 1,
    estimatedSecondsRange: [1, 2],
    throughputSource: 'test',
    warnings: [],
  };
}

/** Four experiments over two budgets, listed largest budget first (the runner must reorder). */
export function standardExperiments(extraArgs: string[] = []): ExperimentSpec[] {
  return [
    fakeSpec(1, 1e9, 32, extraArgs),
    fakeSpec(2, 1e9, 16, extraArgs),
    fakeSpec(3, 1e8, 16, extraArgs),
    fakeSpec(4, 1e8, 8, extraArgs),
  ];
}

/** A built-in transformer experiment; with FAKE_ENGINE as the runner's script, its seed picks the behaviour. */
export function engineSpec(i: number, seed: number): ExperimentSpec {
  const base = fakeSpec(i, 1e8, 8 + 8 * i, [], seed);
  return {
    ...base,
    id: `eng${i}-seed${seed}`,
    model: { family: 'transformer', dModel: base.sizeValue, nLayers: 2, nHeads: 2, contextLength: 16, vocabSize: 16, mlpRatio: 4, tiedEmbeddings: false },
  };
}
