/**
 * One engine benchmark process (bundled by bench/train.mjs exactly like dist/flopsfit.js).
 * Trains the benchmark model on the synthetic source with the real engine code (data stream,
 * model, AdamW, trainStep) and prints one JSON line:
 *   phases  ms from process start: script start, tfjs import, backend init, data open, model
 *           build, first step done  (the per-run overhead of a sweep experiment)
 *   stepMs  wall time of every timed step (after `warmup` untimed steps)
 *   rssMB   resident set size at the end, numTensors before/after the timed steps
 */
import { benchExperiment, type BenchConfig } from './common'; // pure and tiny: the engine itself is imported (and timed) below

const tScript = performance.now();

interface Args extends BenchConfig {
  backend: string;
  seed: number;
}

function parse(argv: string[]): Args {
  const a: Args = { d: 128, layers: 4, heads: 4, context: 128, batch: 16, vocab: 256, steps: 8, warmup: 1, backend: 'wasm', seed: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '') as keyof Args;
    const v = argv[i + 1];
    if (k === 'backend') a.backend = v;
    else (a as unknown as Record<string, number>)[k] = Number(v);
  }
  return a;
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  const { initBackend, tf } = await import('../src/engine/backend');
  const tImport = performance.now();
  const info = await initBackend(a.backend as 'wasm');
  const tBackend = performance.now();
  const { openExperimentData } = await import('../src/engine/data');
  const { buildModel, batchTensors, trainStep, planTokens } = await import('../src/engine/train');
  const { AdamW, learningRate } = await import('../src/engine/optimizer');
  const { spec, counts, totalSteps, tokens } = benchExperiment(a, { id: 'bench', backend: 'wasm', seed: a.seed, allowRepeat: false });
  const plan = planTokens(tokens, a.batch, a.context);
  const data = openExperimentData(spec, plan.sequences);
  const tData = performance.now();
  const m = buildModel(spec);
  const opt = new AdamW(m.vars, m.layout.map((p) => p.decay), spec.training);
  const tModel = performance.now();
  const losses: number[] = [];
  const stepMs: number[] = [];
  let tFirst = 0;
  let tensorsBefore = 0;
  let rssWarmMB = 0;
  for (let s = 0; s < totalSteps; s++) {
    const t0 = performance.now();
    const { x, y } = batchTensors(data.train.next(a.batch), a.batch, a.context);
    losses.push(await trainStep(m, opt, x, y, learningRate(s, totalSteps, spec.training)));
    tf.dispose([x, y]);
    const t1 = performance.now();
    if (s === 0) tFirst = t1;
    if (s === a.warmup - 1 || (a.warmup === 0 && s === 0)) {
      tensorsBefore = tf.memory().numTensors;
      rssWarmMB = process.memoryUsage().rss / 2 ** 20;
    }
    if (s >= a.warmup) stepMs.push(t1 - t0);
  }
  const out = {
    engine: 'flopsfit',
    backend: info.name,
    device: info.device,
    config: a,
    paramsNonEmbedding: counts.nonEmbedding,
    paramsTotal: counts.total,
    timeOrigin: performance.timeOrigin,
    phases: { script: tScript, import: tImport, backend: tBackend, data: tData, model: tModel, firstStep: tFirst },
    stepMs,
    losses,
    tensorsBefore,
    tensorsAfter: tf.memory().numTensors,
    rssWarmMB,
    rssMB: process.memoryUsage().rss / 2 ** 20,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  data.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`train-worker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
