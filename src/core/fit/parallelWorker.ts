/**
 * Worker-thread entry of src/core/fit/parallel.ts (node only). Bundled as dist/fitWorker.js.
 * Each message is one chunk of independent work; the answer carries its id back.
 */
import { parentPort } from 'node:worker_threads';
import { fitParametricResample, type ParamState } from './parametricMethod';
import { runStarts, type MultiStartOptions } from './multiStart';
import { type ParametricData } from './parametric';

export type FitTask =
  | { id: number; kind: 'starts'; data: ParametricData; starts: Float64Array; opts: MultiStartOptions }
  | { id: number; kind: 'resamples'; data: ParametricData; warmStarts: Float64Array; n: number; indices: Int32Array };

/** One resample's outcome: [E, A, B, alpha, beta, a, b, G, objective], or NaN in slot 0 when it failed. */
export const RESAMPLE_FIELDS = 9;

export function runTask(task: FitTask): { result: unknown; transfer: ArrayBuffer[] } {
  if (task.kind === 'starts') {
    const r = runStarts(task.data, task.starts, task.opts);
    return { result: r, transfer: [r.x.buffer, r.f.buffer, r.converged.buffer, r.reason.buffer, r.iterations.buffer, r.evaluations.buffer] as ArrayBuffer[] };
  }
  const count = task.indices.length / task.n;
  const out = new Float64Array(count * RESAMPLE_FIELDS);
  const base = { data: task.data, warmStarts: task.warmStarts } as ParamState;
  for (let s = 0; s < count; s++) {
    const p = fitParametricResample(base, task.indices.subarray(s * task.n, (s + 1) * task.n));
    const o = s * RESAMPLE_FIELDS;
    if (!p) {
      out[o] = NaN;
      continue;
    }
    out.set([p.E, p.A, p.B, p.alpha, p.beta, p.a, p.b, p.G, p.objective], o);
  }
  return { result: out, transfer: [out.buffer as ArrayBuffer] };
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (task: FitTask) => {
    try {
      const { result, transfer } = runTask(task);
      port.postMessage({ id: task.id, result }, transfer);
    } catch (e) {
      port.postMessage({ id: task.id, error: e instanceof Error ? e.message : String(e) });
    }
  });
}
