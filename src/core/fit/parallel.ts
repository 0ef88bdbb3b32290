/**
 * Node-only: the parametric multi-start and bootstrap spread over worker_threads. The work is
 * embarrassingly parallel (every start and every resample is an independent L-BFGS run), so it is
 * cut into chunks, run on a pool, and put back together in the original order; the results are
 * identical, bit for bit, to the single-threaded `multiStartFit`/`fitParametricData` and to
 * `fitParametricResample` in a loop, whatever the number of workers (each run does the same
 * floating-point operations on whichever thread it lands; the winner and the kept optima are then
 * chosen on the main thread by the same in-order rule).
 *
 * The browser and the unit tests keep using the pure single-threaded API in ./parametric and ./fit.
 * The worker entry is ./parallelWorker.ts; in the esbuild bundle it is dist/fitWorker.js next to
 * dist/flopsfit.js (scripts/build.mjs builds it).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ParamState } from './fit';
import {
  concatStartRuns,
  polishBest,
  reduceStarts,
  HUBER_DELTA,
  type MultiStartOptions,
  type ParametricData,
  type ParametricParams,
  type PolishedFit,
  type StartRuns,
} from './parametric';
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

  constructor(readonly size = defaultWorkers()) {
    const entry = size > 1 ? fitWorkerEntry() : undefined;
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

export type ResampleFit = (ParametricParams & { objective: number }) | undefined;

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
