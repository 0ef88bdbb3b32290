/**
 * Wall-time estimates. Throughput is counted in "plan FLOPs" per second (k·N·D per second, the
 * same units as RunResult.flops / elapsedSeconds), so that measured runs and the built-in figures
 * compare directly. Sources, most trusted first: an injected figure, the runs already finished in
 * the run directory, `<runDir>/calibration.json` (flopsfit plan --calibrate, see calibration.ts),
 * built-in figures per backend (shared/engine-bench.md).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExperimentSpec, RUN_FILES, RunResult, type Backend } from '../contracts';
import { countTransformerParams } from '../model/transformer';
import { CALIBRATION_SPREAD, calibrationSource, type Calibration } from './calibration';

export interface ThroughputEstimate {
  /** executed FLOPs (see experimentWork) per second of ONE experiment process */
  flopsPerSecond: number;
  /** plausible [low, high] of the same */
  range: [number, number];
  source: string;
  /** whether the backend trains on a GPU (one experiment at a time by default) */
  gpu: boolean;
  /** fixed cost per optimizer step (kernel launches, data), seconds; 0 for measured figures */
  stepOverheadSeconds?: number;
  /** fixed cost per experiment (process start, model build, first step), seconds */
  startupSeconds?: number;
  /**
   * The rate is the built-in kernels' at a reference width: narrower models run slower (see
   * widthFactor), and attention with a head size that is not a multiple of 4 runs on the slow
   * fallback. Measured and calibrated rates already include what their runs had.
   */
  kernelModel?: { knee: number; referenceWidth: number; attentionFallbackFlopsPerSecond?: number };
  /** add the periodic and final evaluations (forward passes over evalTokens) to the estimate */
  countsEval?: boolean;
}

/**
 * Relative speed of the built-in CPU kernels at width d: d/(d+knee), normalised to the reference
 * width. Fitted to the engine bench (24.5 / 31.9 / 36.8 GFLOP/s at d64 / d128 / d256) and to runs
 * of a small sweep at d16–d48 on 2 cores (12 / 19 / 24 GFLOP/s): tiny widths are bound by
 * per-operation costs, not arithmetic.
 */
export function widthFactor(width: number, knee: number, referenceWidth: number): number {
  if (!(width > 0)) return 1;
  return width / (width + knee) / (referenceWidth / (referenceWidth + knee));
}

/**
 * FLOPs an experiment actually executes. For the built-in transformer that is more than the
 * plan's k·N·D: every parameter (embeddings and the output head too) costs 6 FLOPs per token, plus
 * the attention term 6·L·T·d per token — at the small widths a CPU sweep uses, these dominate.
 * For a command trainer only k·N·D is known.
 */
export function experimentWork(spec: Pick<ExperimentSpec, 'model' | 'tokens' | 'params' | 'flopsPerParamPerToken'>): number {
  if (spec.model.family === 'transformer') {
    const c = countTransformerParams(spec.model);
    return spec.tokens * (6 * c.total + c.attentionFlopsPerToken);
  }
  return spec.flopsPerParamPerToken * spec.params * spec.tokens;
}

/** Optimizer steps of an experiment (command trainers: unknown, counted as one). */
export function experimentSteps(spec: Pick<ExperimentSpec, 'model' | 'tokens' | 'training'>): number {
  if (spec.model.family !== 'transformer') return 1;
  return Math.ceil(spec.tokens / (spec.training.batchSize * spec.model.contextLength));
}

/** Evaluation passes of an experiment: one every evalInterval steps and a final one. */
export function evaluationPasses(spec: Pick<ExperimentSpec, 'model' | 'tokens' | 'training'>): number {
  if (spec.model.family !== 'transformer') return 0;
  const steps = experimentSteps(spec);
  return (spec.training.evalInterval > 0 ? Math.floor(steps / spec.training.evalInterval) : 0) + 1;
}

/**
 * Seconds one experiment process needs at the given throughput: start-up (process, model build,
 * first step), the training work, the per-step overhead and, for built-in figures, evaluation and
 * the kernels' speed at this width.
 */
export function experimentSeconds(
  spec: Pick<ExperimentSpec, 'model' | 'tokens' | 'params' | 'flopsPerParamPerToken' | 'training'>,
  tp: Pick<ThroughputEstimate, 'stepOverheadSeconds' | 'startupSeconds' | 'kernelModel' | 'countsEval'>,
  flopsPerSecond: number,
): number {
  const fixed = experimentSteps(spec) * (tp.stepOverheadSeconds ?? 0) + (tp.startupSeconds ?? 0);
  if (spec.model.family !== 'transformer' || (!tp.kernelModel && !tp.countsEval)) return experimentWork(spec) / flopsPerSecond + fixed;
  const m = spec.model;
  const c = countTransformerParams(m);
  let rate = flopsPerSecond;
  let attentionRate = flopsPerSecond;
  if (tp.kernelModel) {
    rate = flopsPerSecond * widthFactor(m.dModel, tp.kernelModel.knee, tp.kernelModel.referenceWidth);
    attentionRate = rate;
    const headDim = m.dModel / m.nHeads;
    if (tp.kernelModel.attentionFallbackFlopsPerSecond && headDim % 4 !== 0) attentionRate = tp.kernelModel.attentionFallbackFlopsPerSecond;
  }
  // per token: 6 FLOPs per parameter (forward 2, backward 4) plus attention; evaluation is the forward third
  const trainSeconds = spec.tokens * (6 * c.total / rate + c.attentionFlopsPerToken / attentionRate);
  const evalTokens = tp.countsEval ? evaluationPasses(spec) * spec.training.evalTokens : 0;
  const evalSeconds = (evalTokens * (6 * c.total / rate + c.attentionFlopsPerToken / attentionRate)) / 3;
  return trainSeconds + evalSeconds + fixed;
}

/**
 * Built-in per-process figures in executed FLOP/s (6·N_total + attention per token). wasm, with
 * the engine's own SIMD kernels (bench/README.md, "Engine"): 24.5 / 31.9 / 36.8 GFLOP/s at d64/L2,
 * d128/L4 and d256/L4 on a Xeon with relaxed SIMD (fused multiply-add); without FMA, or on an
 * older or slower core, expect up to about half that. Tiny models are bound by the per-step cost
 * (a d32/L2 step of 512 tokens takes 10 ms). cpu: 0.18–0.26; GPU paths were not measured here, so
 * their ranges are wide.
 */
export const BUILTIN_THROUGHPUT: Record<
  Exclude<Backend, 'auto'>,
  { point: number; range: [number, number]; gpu: boolean; stepOverheadSeconds: number; startupSeconds: number }
> = {
  wasm: { point: 25e9, range: [10e9, 40e9], gpu: false, stepOverheadSeconds: 0.005, startupSeconds: 0.5 },
  cpu: { point: 0.2e9, range: [0.1e9, 0.26e9], gpu: false, stepOverheadSeconds: 0.1, startupSeconds: 1 },
  tensorflow: { point: 15e9, range: [5e9, 40e9], gpu: false, stepOverheadSeconds: 0.01, startupSeconds: 2 },
  webgpu: { point: 50e9, range: [1e9, 1000e9], gpu: true, stepOverheadSeconds: 0.02, startupSeconds: 5 },
  'tensorflow-gpu': { point: 500e9, range: [50e9, 5000e9], gpu: true, stepOverheadSeconds: 0.005, startupSeconds: 5 },
};

/**
 * The wasm kernels' speed by width (widthFactor, reference d64, where the 25 GFLOP/s point was
 * measured) and the attention fallback for head sizes that are not a multiple of 4 (the SIMD
 * kernels need dh % 4 == 0, src/engine/kernels/attention.c): 0.6 GFLOP/s, measured at d24 with
 * 4 heads (dh 6) in a small sweep, 4–6× the estimate without it.
 */
export const WASM_KERNEL_MODEL = { knee: 36, referenceWidth: 64, attentionFallbackFlopsPerSecond: 0.6e9 } as const;

export function builtinThroughput(backend: Backend): ThroughputEstimate {
  // `auto` on a machine without a GPU library ends up on wasm; that is what we assume
  const key = backend === 'auto' ? 'wasm' : backend;
  const b = BUILTIN_THROUGHPUT[key];
  return {
    flopsPerSecond: b.point,
    range: [...b.range],
    source: `built-in estimate for ${key}${backend === 'auto' ? ' (backend auto)' : ''}: ${fmtG(b.range[0])}–${fmtG(b.range[1])} GFLOP/s per process${key === 'wasm' ? ' at d64 (less when narrower)' : ''}`,
    gpu: b.gpu,
    stepOverheadSeconds: b.stepOverheadSeconds,
    startupSeconds: b.startupSeconds,
    ...(key === 'wasm' ? { kernelModel: WASM_KERNEL_MODEL } : {}),
    countsEval: true,
  };
}

/**
 * The estimate of a calibration (see calibration.ts): its rate ±25 %, its per-step overhead, and
 * the built-in start-up cost of the backend it ran on (a calibration does not time process start).
 */
export function calibratedThroughput(cal: Pick<Calibration, 'backend' | 'device' | 'measuredAt' | 'flopsPerSecond' | 'stepOverheadSeconds'>): ThroughputEstimate {
  const b = BUILTIN_THROUGHPUT[cal.backend];
  const f = cal.flopsPerSecond;
  return {
    flopsPerSecond: f,
    range: [f * (1 - CALIBRATION_SPREAD), f * (1 + CALIBRATION_SPREAD)],
    source: `${calibrationSource(cal)}: ${fmtG(f)} GFLOP/s per process, ${fmtMs(cal.stepOverheadSeconds)} per step`,
    gpu: b.gpu,
    stepOverheadSeconds: cal.stepOverheadSeconds,
    startupSeconds: b.startupSeconds,
    countsEval: true,
  };
}

function fmtMs(seconds: number): string {
  const ms = seconds * 1000;
  return `${ms >= 10 ? Math.round(ms) : ms.toFixed(1)} ms`;
}

function fmtG(v: number): string {
  const g = v / 1e9;
  return g >= 10 ? g.toFixed(0) : g.toPrecision(2);
}

/** Throughput of the runs already completed in a run directory, or undefined when there are none. */
export function measuredThroughput(runDir: string, maxFiles = 500): ThroughputEstimate | undefined {
  const dir = path.join(runDir, RUN_FILES.experimentsDir);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  const rates: number[] = [];
  let gpu = false;
  for (const name of names.slice(0, maxFiles)) {
    try {
      const raw = JSON.parse(fs.readFileSync(path.join(dir, name, RUN_FILES.result), 'utf8'));
      const r = RunResult.safeParse(raw);
      if (!r.success || r.data.status !== 'completed' || r.data.elapsedSeconds <= 0 || r.data.flops <= 0) continue;
      // the same units as the estimate: executed FLOPs of the spec the run trained
      let work = r.data.flops;
      try {
        const spec = ExperimentSpec.safeParse(JSON.parse(fs.readFileSync(path.join(dir, name, RUN_FILES.spec), 'utf8')));
        if (spec.success) work = experimentWork({ ...spec.data, tokens: r.data.tokens || spec.data.tokens });
      } catch {
        // no spec beside the result: fall back to k·N·D
      }
      rates.push(work / r.data.elapsedSeconds);
      if (/gpu/i.test(r.data.backend)) gpu = true;
    } catch {
      // a missing or half-written result: not a measurement
    }
  }
  if (!rates.length) return undefined;
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)];
  const lo = Math.min(rates[0], median * 0.8);
  const hi = Math.max(rates[rates.length - 1], median * 1.25);
  return {
    flopsPerSecond: median,
    range: [lo, hi],
    source: `measured: median of ${rates.length} finished run${rates.length === 1 ? '' : 's'} (${fmtG(median)} GFLOP/s per process)`,
    gpu,
  };
}

/** Measured on 2 cores: two wasm processes give 1.72–1.81× one (engine-bench.md). */
const PARALLEL_EFFICIENCY = 0.88;

/**
 * Seconds to run experiments of the given FLOPs with `parallel` processes: the larger of the
 * total work spread over the processes and the longest single experiment.
 */
export function estimateSeconds(flops: number[], flopsPerSecond: number, parallel: number): number {
  if (!flops.length || !(flopsPerSecond > 0)) return 0;
  return wallSeconds(flops.map((f) => f / flopsPerSecond), parallel);
}

/** Wall time of experiments taking `seconds` each with `parallel` processes. */
export function wallSeconds(seconds: number[], parallel: number): number {
  if (!seconds.length) return 0;
  const p = Math.max(1, Math.floor(parallel));
  const eff = p === 1 ? 1 : PARALLEL_EFFICIENCY;
  let total = 0;
  let longest = 0;
  for (const s of seconds) {
    total += s;
    longest = Math.max(longest, s);
  }
  const t = Math.max(total / (p * eff), longest);
  return Number.isFinite(t) ? t : Number.MAX_VALUE;
}
