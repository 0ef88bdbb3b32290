/**
 * Wall-time estimates. Throughput is counted in "plan FLOPs" per second (k·N·D per second, the
 * same units as RunResult.flops / elapsedSeconds), so that measured runs and the built-in figures
 * compare directly. Sources, most trusted first: an injected calibration, the runs already
 * finished in the run directory, built-in figures per backend (shared/engine-bench.md).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RUN_FILES, RunResult, type Backend } from '../contracts';

export interface ThroughputEstimate {
  /** plan FLOPs per second of ONE experiment process */
  flopsPerSecond: number;
  /** plausible [low, high] of the same */
  range: [number, number];
  source: string;
  /** whether the backend trains on a GPU (one experiment at a time by default) */
  gpu: boolean;
}

/**
 * Built-in per-process figures. wasm: measured 1.7–5.0 GFLOP/s of 6·N_nonemb·D on a 2-core
 * EPYC (d64/L2 … d256/L4, engine-bench.md); cpu: 0.13–0.25; GPU paths were not measured here, so
 * their ranges are wide.
 */
export const BUILTIN_THROUGHPUT: Record<Exclude<Backend, 'auto'>, { point: number; range: [number, number]; gpu: boolean }> = {
  wasm: { point: 2.5e9, range: [1.5e9, 5e9], gpu: false },
  cpu: { point: 0.18e9, range: [0.1e9, 0.25e9], gpu: false },
  tensorflow: { point: 15e9, range: [5e9, 40e9], gpu: false },
  webgpu: { point: 50e9, range: [1e9, 1000e9], gpu: true },
  'tensorflow-gpu': { point: 500e9, range: [50e9, 5000e9], gpu: true },
};

export function builtinThroughput(backend: Backend): ThroughputEstimate {
  // `auto` on a machine without a GPU library ends up on wasm; that is what we assume
  const key = backend === 'auto' ? 'wasm' : backend;
  const b = BUILTIN_THROUGHPUT[key];
  return {
    flopsPerSecond: b.point,
    range: [...b.range],
    source: `built-in estimate for ${key}${backend === 'auto' ? ' (backend auto)' : ''}: ${fmtG(b.range[0])}–${fmtG(b.range[1])} GFLOP/s per process`,
    gpu: b.gpu,
  };
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
      rates.push(r.data.flops / r.data.elapsedSeconds);
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

/** How many experiments run at once: the config's, else one per core on CPU, one on a GPU. */
export function defaultParallel(gpu: boolean): number {
  if (gpu) return 1;
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, n || 1);
}

/** Measured on 2 cores: two wasm processes give 1.72–1.81× one (engine-bench.md). */
const PARALLEL_EFFICIENCY = 0.88;

/**
 * Seconds to run experiments of the given FLOPs with `parallel` processes: the larger of the
 * total work spread over the processes and the longest single experiment.
 */
export function estimateSeconds(flops: number[], flopsPerSecond: number, parallel: number): number {
  if (!flops.length || !(flopsPerSecond > 0)) return 0;
  const p = Math.max(1, Math.floor(parallel));
  const eff = p === 1 ? 1 : PARALLEL_EFFICIENCY;
  let total = 0;
  let longest = 0;
  for (const f of flops) {
    total += f;
    longest = Math.max(longest, f);
  }
  const t = Math.max(total / (flopsPerSecond * p * eff), longest / flopsPerSecond);
  return Number.isFinite(t) ? t : Number.MAX_VALUE;
}
