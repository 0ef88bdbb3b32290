/**
 * Node-only: the parametric multi-start and bootstrap spread over worker_threads. The work is
 * embarrassingly parallel (every start and every resample is an independent L-BFGS run), so it is
 * cut into chunks, run on a pool, and put back together in the original order; the results are
 * identical, bit for bit, to the single-threaded `multiStartFit`/`fitParametricData` and to
 * `fitParametricResample` in a loop, whatever the number of workers (each run does the same
 * floating-point operations on whichever thread it lands; the winner and the kept optima are then
 * chosen on the main thread by the same in-order rule).
 *
 * `fitScalingLawsAsync` / `fitRunDirAsync` run the whole fit this way (the CLI's `flopsfit fit` and
 * the post-sweep fit of `flopsfit run` use them): `fitScalingLawsSteps` yields its multi-start and
 * its parametric bootstrap batch as requests, answered here on the pool.
 *
 * The browser and the unit tests keep using the pure single-threaded API in ./parametric and ./fit.
 * The worker entry is ./parallelWorker.ts; in the esbuild bundle it is dist/fitWorker.js next to
 * dist/flopsfit.js (scripts/build.mjs builds it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fitScalingLawsSteps } from './fit';
import type { ParamState, ResampleFit } from './parametricMethod';
import { serveFitRequest, type FitRequest, type FitResponse, type FitSteps } from './steps';
import { readRunDirPoints, writeRunDirFit } from './io';
import { addRunDirExtras } from './extras';
import { withBacktest } from './backtest';
import type { FitOptions, FitPoint, FitReport } from './types';
import {
  concatStartRuns,
  polishBest,
  reduceStarts,
  type MultiStartOptions,
  type PolishedFit,
  type StartRuns,
} from './multiStart';
import { HUBER_DELTA, type ParametricData } from './parametric';
import { RESAMPLE_FIELDS, runTask, type FitTask } from './parallelWorker';

/** Where the worker entry lives: beside this file when run from source (tsx), else beside the bundle. */
export function fitWorkerEntry(): string | undefined {
  const candidates = __filename.endsWith('.ts') ? [path.join(__dirname, 'parallelWorker.ts')] : [path.join(__dirname, 'fitWorker.js')];
  return candidates.find((f) => fs.existsSync(f));
}

/** Default pool size: the cores node may use. */
export function defaultWorkers(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** A task without its id (the pool numbers them). */
type TaskBody = FitTask extends infer T ? (T extends FitTask ? Omit<T, 'id'> : never) : never;

type Job = { task: TaskBody; resolve: (r: unknown) => void; reject: (e: Error) => void };

/**
 * A small pool of fit workers. `workers ≤ 1` (or no worker entry found) runs every task on the
 * calling thread, so callers need no second code path.
 */
export class FitPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly pending = new Map<number, Job>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 0;
  private failure: Error | undefined;

  /** `entry` overrides the worker file (tests use it to make workers fail). */
  constructor(
    readonly size = defaultWorkers(),
    entry: string | undefined = size > 1 ? fitWorkerEntry() : undefined,
  ) {
    if (size <= 1) return;
    if (!entry) return;
    for (let i = 0; i < size; i++) {
      // From source (tsx), the worker registers tsx's require hook before loading the .ts entry.
      const w = entry.endsWith('.ts')
        ? new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs', { paths: [__dirname] }))}); require(${JSON.stringify(entry)});`, { eval: true })
        : new Worker(entry);
      w.on('message', (m: { id: number; result?: unknown; error?: string }) => {
        const job = this.pending.get(m.id);
        this.pending.delete(m.id);
        this.busy.delete(w);
        w.unref(); // an idle pool does not keep the process alive
        this.idle.push(w);
        if (job) {
          if (m.error !== undefined) job.reject(new Error(m.error));
          else job.resolve(m.result);
        }
        this.pump();
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`fit worker exited with code ${code}`));
      });
      w.unref();
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  /** Number of threads doing the work (1 when running in-thread). */
  get threads(): number {
    return Math.max(1, this.workers.length);
  }

  run<T>(task: TaskBody): Promise<T> {
    if (this.workers.length === 0) {
      try {
        return Promise.resolve(runTask({ ...task, id: 0 } as FitTask).result as T);
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ task, resolve: resolve as (r: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      const id = this.nextId++;
      this.pending.set(id, job);
      this.busy.set(w, id);
      w.ref();
      w.postMessage({ ...job.task, id });
    }
  }

  private fail(e: Error): void {
    this.failure = e;
    for (const job of [...this.pending.values(), ...this.queue]) job.reject(e);
    this.pending.clear();
    this.queue.length = 0;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
    this.idle.length = 0;
  }
}

/** Copies the data arrays (structured clone would do it anyway; this keeps weight optional). */
function plainData(d: ParametricData): ParametricData {
  return d.weight ? { logN: d.logN, logD: d.logD, logL: d.logL, weight: d.weight } : { logN: d.logN, logD: d.logD, logL: d.logL };
}

/**
 * `fitParametricData` on a pool: the starts in chunks of `chunk` rows, the in-order choice of the
 * winner and of the kept optima, then the polish on this thread. Same result as
 * `fitParametricData(data, starts, opts)`.
 */
export async function fitParametricDataParallel(pool: FitPool, data: ParametricData, starts: Float64Array, opts: MultiStartOptions = {}, chunk = 150): Promise<PolishedFit> {
  const count = starts.length / 5;
  const { keepOptima, ...lbfgs } = opts;
  const parts: Promise<StartRuns>[] = [];
  for (let s = 0; s < count; s += chunk) {
    const e = Math.min(count, s + chunk);
    parts.push(pool.run<StartRuns>({ kind: 'starts', data: plainData(data), starts: starts.slice(s * 5, e * 5), opts: lbfgs }));
  }
  const ms = reduceStarts(concatStartRuns(await Promise.all(parts)), keepOptima ?? 0);
  return polishBest(data, ms, opts.delta ?? HUBER_DELTA);
}

export type { ResampleFit };

/**
 * `fitParametricResample(base, indices)` for every resample (rows of `indices`, n = base's point
 * count each) on a pool, in order: entry s is exactly what the single-threaded call gives.
 */
export async function fitParametricResamplesParallel(pool: FitPool, base: Pick<ParamState, 'data' | 'warmStarts'>, indices: readonly Int32Array[], chunk = 10): Promise<ResampleFit[]> {
  const n = base.data.logN.length;
  const parts: Promise<Float64Array>[] = [];
  for (let s = 0; s < indices.length; s += chunk) {
    const e = Math.min(indices.length, s + chunk);
    const flat = new Int32Array((e - s) * n);
    for (let k = s; k < e; k++) flat.set(indices[k], (k - s) * n);
    parts.push(pool.run<Float64Array>({ kind: 'resamples', data: plainData(base.data), warmStarts: base.warmStarts.slice(), n, indices: flat }));
  }
  const out: ResampleFit[] = [];
  for (const r of await Promise.all(parts)) {
    for (let o = 0; o < r.length; o += RESAMPLE_FIELDS) {
      if (Number.isNaN(r[o])) {
        out.push(undefined);
        continue;
      }
      out.push({ E: r[o], A: r[o + 1], B: r[o + 2], alpha: r[o + 3], beta: r[o + 4], a: r[o + 5], b: r[o + 6], G: r[o + 7], objective: r[o + 8] });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The whole fit on a pool

/** Default `workers` of the async fit: the cores node may use, at most this many. */
export const MAX_DEFAULT_FIT_WORKERS = 4;

export interface ParallelFitOptions {
  /** Worker threads (default: the cores, at most MAX_DEFAULT_FIT_WORKERS); ≤ 1 runs on this thread. */
  workers?: number;
  /** Where the one-line notice goes when the workers cannot be used (default: stderr). */
  notice?: (line: string) => void;
  /** Overrides the worker file (tests). */
  workerEntry?: string;
}

/** The default worker count of the async fit. */
export function defaultFitWorkers(): number {
  return Math.min(MAX_DEFAULT_FIT_WORKERS, defaultWorkers());
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs fit steps with the expensive requests answered on a pool of `workers` threads. Any failure
 * of the pool (no worker entry, a worker that does not start or dies) gives one notice and the
 * rest of the fit runs on this thread; the answers, and so the result, are the same either way.
 * The pool is always closed before this returns.
 */
export async function runFitStepsParallel<T>(steps: FitSteps<T>, par: ParallelFitOptions = {}): Promise<T> {
  const workers = Math.floor(par.workers ?? defaultFitWorkers());
  const notice = par.notice ?? ((line: string) => void process.stderr.write(line + '\n'));
  let pool: FitPool | undefined;
  let step = steps.next(); // bad options or points throw here, before any thread starts
  if (step.done) return step.value;
  if (workers > 1) {
    try {
      pool = new FitPool(workers, par.workerEntry ?? fitWorkerEntry());
      if (pool.threads === 1) {
        notice(`flopsfit: fit worker file not found (${path.basename(fitWorkerEntry() ?? 'fitWorker.js')}); fitting on one thread`);
        await pool.close();
        pool = undefined;
      }
    } catch (e) {
      notice(`flopsfit: could not start fit workers (${describe(e)}); fitting on one thread`);
      await pool?.close().catch(() => undefined);
      pool = undefined;
    }
  }
  try {
    for (;;) {
      const req: FitRequest = step.value;
      let res: FitResponse;
      if (pool) {
        try {
          res = await servePooled(pool, req);
        } catch (e) {
          notice(`flopsfit: fit workers failed (${describe(e)}); fitting on one thread`);
          const p = pool;
          pool = undefined;
          await p.close().catch(() => undefined);
          res = serveFitRequest(req);
        }
      } else res = serveFitRequest(req);
      const next = steps.next(res);
      if (next.done) return next.value;
      step = next;
    }
  } finally {
    await pool?.close().catch(() => undefined);
  }
}

function servePooled(pool: FitPool, req: FitRequest): Promise<FitResponse> {
  return req.kind === 'multistart' ? fitParametricDataParallel(pool, req.data, req.starts, req.opts) : fitParametricResamplesParallel(pool, req.base, req.indices);
}

/** `fitScalingLaws` on a worker pool: the same report, bit for bit, for any worker count. */
export function fitScalingLawsAsync(points: readonly FitPoint[], options: FitOptions = {}, par: ParallelFitOptions = {}): Promise<FitReport> {
  return runFitStepsParallel(fitScalingLawsSteps(points, options), par);
}

/** `fitRunDir` on a worker pool: fits `<runDir>/results.jsonl` and writes `<runDir>/fit.json`. */
export async function fitRunDirAsync(runDir: string, options: FitOptions = {}, par: ParallelFitOptions = {}): Promise<FitReport> {
  const { points, warnings } = readRunDirPoints(runDir);
  const fitter = (pts: readonly FitPoint[], o: FitOptions) => fitScalingLawsAsync(pts, o, par);
  const report = await withBacktest(await fitter(points, options), points, options, fitter);
  return writeRunDirFit(runDir, addRunDirExtras(report, runDir, options), warnings);
}
