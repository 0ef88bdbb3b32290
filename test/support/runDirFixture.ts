/**
 * Synthetic run directories for the results panel's benchmark and integration tests: a plan,
 * a manifest, results.jsonl, metrics.jsonl learning curves that follow a Chinchilla-style law
 * L(N, D) = E + A/N^α + B/D^β (plus seeded noise), and a real fit.json from fitScalingLaws.
 * Everything is validated against src/core/contracts.ts before it is written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Manifest, Plan, type ExperimentSpec, type MetricsLine, type ResultsRow, RUN_FILES } from '../../src/core/contracts';
import { fitScalingLaws, type FitReport } from '../../src/core/fit';

export const LAW = { E: 1.2, A: 40, B: 90, alpha: 0.34, beta: 0.28 };

export function lawLoss(N: number, D: number): number {
  return LAW.E + LAW.A / Math.pow(N, LAW.alpha) + LAW.B / Math.pow(D, LAW.beta);
}

/** Small deterministic PRNG (mulberry32) so fixtures are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A plan of `budgets.length × sizesPerBudget` experiments centred on N_opt ≈ sqrt(C / 120). */
export function synthPlan(opts: { sweep: string; runDir: string; configPath: string; budgets: number[]; sizesPerBudget: number }): Plan {
  const experiments: ExperimentSpec[] = [];
  const budgets = opts.budgets.map((budget, index) => {
    const prior = Math.sqrt(budget / 120);
    const sizeValues: number[] = [];
    for (let j = 0; j < opts.sizesPerBudget; j++) {
      const f = opts.sizesPerBudget === 1 ? 0 : -1 + (2 * j) / (opts.sizesPerBudget - 1);
      const N = Math.round(prior * Math.pow(4, f));
      sizeValues.push(N);
      const tokens = Math.max(1, Math.round(budget / (6 * N)));
      const id = `${opts.sweep}-b${index}-s${j}`;
      experiments.push({
        id,
        sweep: opts.sweep,
        budget,
        budgetIndex: index,
        sizeParam: 'params',
        sizeValue: N,
        params: N,
        paramsTotal: N * 1.1,
        tokens,
        tokensPerParam: tokens / N,
        flopsPerParamPerToken: 6,
        hyperparameters: { learningRate: 0.003 },
        seed: 0,
        model: { family: 'transformer', dModel: 64, nLayers: 2, nHeads: 4, contextLength: 64, vocabSize: 128, mlpRatio: 4, tiedEmbeddings: true },
        data: { source: 'synthetic', vocabSize: 128, branching: 8, seed: 0 },
        training: {
          batchSize: 8,
          learningRate: 0.003,
          schedule: 'cosine',
          warmupFraction: 0.05,
          minLrRatio: 0.1,
          weightDecay: 0.1,
          beta1: 0.9,
          beta2: 0.95,
          gradClip: 1,
          evalTokens: 4096,
          evalInterval: 10,
          checkpointInterval: 0,
          backend: 'cpu',
          allowRepeat: false,
        },
      });
    }
    return { index, budget, priorOptimalParams: prior, sizeValues, experiments: opts.sizesPerBudget, brackets: true };
  });
  const totalFlops = experiments.reduce((s, e) => s + 6 * e.params * e.tokens, 0);
  return Plan.parse({
    version: 1,
    sweep: opts.sweep,
    configPath: opts.configPath,
    runDir: opts.runDir,
    experiments,
    budgets,
    totalFlops,
    totalTokens: experiments.reduce((s, e) => s + e.tokens, 0),
    estimatedSeconds: totalFlops / 5e9,
    estimatedSecondsRange: [totalFlops / 1e10, totalFlops / 2.5e9],
    throughputSource: 'fixture',
    warnings: [],
  });
}

/** Learning curve of one experiment: `points` metrics lines, eval every `evalEvery` lines and at the end. */
export function learningCurve(e: Pick<ExperimentSpec, 'params' | 'tokens' | 'id'>, points: number, evalEvery = 10, seed = 1): MetricsLine[] {
  const r = rng(seed ^ hash(e.id));
  const out: MetricsLine[] = [];
  const t0 = e.tokens / points;
  for (let i = 1; i <= points; i++) {
    const tokens = Math.round((e.tokens * i) / points);
    const clean = Math.min(Math.log(128), lawLoss(e.params, tokens + t0));
    const line: MetricsLine = { step: i, tokens, trainLoss: clean * (1 + 0.03 * (r() - 0.5)), lr: 0.003, tokensPerSecond: 5e4, elapsed: i * 0.1 };
    if (i % evalEvery === 0 || i === points) line.evalLoss = clean * (1 + 0.004 * (r() - 0.5)) + 0.01;
    out.push(line);
  }
  return out;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export interface WrittenFixture {
  plan: Plan;
  results: ResultsRow[];
  fit?: FitReport;
}

/**
 * Writes a finished (or, with `completed` < all, partly run) sweep into `runDir`: plan.json,
 * manifest.json, results.jsonl, experiments/<id>/metrics.jsonl and, when asked, fit.json.
 */
export function writeRunDir(runDir: string, plan: Plan, opts: { pointsPerExperiment: number; completed?: number; fit?: boolean; target?: number; bootstrap?: number }): WrittenFixture {
  fs.mkdirSync(path.join(runDir, RUN_FILES.experimentsDir), { recursive: true });
  fs.writeFileSync(path.join(runDir, RUN_FILES.plan), JSON.stringify(plan, null, 2));
  const completed = opts.completed ?? plan.experiments.length;
  const now = new Date().toISOString();
  const entries: Manifest['experiments'] = {};
  const results: ResultsRow[] = [];
  plan.experiments.forEach((e, i) => {
    const done = i < completed;
    const curve = learningCurve(e, opts.pointsPerExperiment);
    const dir = path.join(runDir, RUN_FILES.experimentsDir, e.id);
    fs.mkdirSync(dir, { recursive: true });
    const lines = done ? curve : curve.slice(0, Math.floor(curve.length / 2));
    if (i < completed + 1) fs.writeFileSync(path.join(dir, RUN_FILES.metrics), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const finalLoss = curve[curve.length - 1].evalLoss!;
    entries[e.id] = {
      status: done ? 'completed' : i === completed ? 'running' : 'queued',
      specHash: e.id,
      budget: e.budget,
      params: e.params,
      tokens: e.tokens,
      attempts: done || i === completed ? 1 : 0,
      ...(done ? { finalLoss, startedAt: now, endedAt: now } : {}),
    };
    if (done) {
      results.push({ id: e.id, budget: e.budget, params: e.params, tokens: e.tokens, flops: 6 * e.params * e.tokens, loss: finalLoss, seed: e.seed, sizeValue: e.sizeValue, hyperparameters: e.hyperparameters });
    }
  });
  const manifest = Manifest.parse({
    version: 1,
    sweep: plan.sweep,
    configPath: plan.configPath,
    createdAt: now,
    updatedAt: now,
    order: plan.experiments.map((e) => e.id),
    experiments: entries,
    state: completed >= plan.experiments.length ? 'finished' : 'running',
  });
  fs.writeFileSync(path.join(runDir, RUN_FILES.manifest), JSON.stringify(manifest, null, 2));
  fs.writeFileSync(path.join(runDir, RUN_FILES.results), results.map((r) => JSON.stringify(r)).join('\n') + (results.length ? '\n' : ''));
  let fit: FitReport | undefined;
  if (opts.fit) {
    fit = fitScalingLaws(
      results.map((r) => ({ N: r.params, D: r.tokens, C: r.flops, loss: r.loss, budget: r.budget, id: r.id })),
      { bootstrap: opts.bootstrap ?? 40, target: opts.target ?? Math.max(...plan.budgets.map((b) => b.budget)) * 100, seed: 0 },
    );
    fs.writeFileSync(path.join(runDir, RUN_FILES.fit), JSON.stringify(fit, null, 2));
  }
  return { plan, results, fit };
}
