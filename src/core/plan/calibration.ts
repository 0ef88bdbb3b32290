/**
 * `<runDir>/calibration.json`: the result of `flopsfit plan --calibrate` (src/engine/calibrate.ts),
 * a few timed training steps of the plan's smallest and largest models on the chosen backend.
 * This file holds its schema, the fit `seconds per step = overhead + work per step / FLOP/s`, and
 * the reading side used by the plan's time estimate. Pure TypeScript: no tfjs, no `vscode`.
 *
 * Units are those of throughput.ts: executed FLOPs (6·N_total + attention per token) per second
 * of one experiment process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { Backend, RUN_FILES } from '../contracts';

/** File name inside the run directory. */
export const CALIBRATION_FILE = RUN_FILES.calibration;

/** Relative half-width of the estimate's range around a calibrated figure. */
export const CALIBRATION_SPREAD = 0.25;

export const CalibrationSample = z.object({
  /** the size-axis value and exact total parameter count of the model timed */
  sizeValue: z.number(),
  paramsTotal: z.number().int().positive(),
  dModel: z.number().int().positive(),
  nLayers: z.number().int().positive(),
  contextLength: z.number().int().positive(),
  /** sequences per timed step (the experiment's batch size, or fewer to fit the time box) */
  batchSequences: z.number().int().positive(),
  /** executed FLOPs of one step: sequences · T · (6·N_total + attention per token) */
  workPerStep: z.number().positive(),
  /** the untimed first step (kernel compilation, allocation) */
  warmupSeconds: z.number().min(0),
  /** timed steps and their total seconds */
  steps: z.number().int().positive(),
  seconds: z.number().positive(),
  secondsPerStep: z.number().positive(),
  /** no timed step fitted in the time box: the warm-up step's time is used (an upper bound) */
  warmupOnly: z.boolean().optional(),
});
export type CalibrationSample = z.infer<typeof CalibrationSample>;

export const Calibration = z.object({
  version: z.literal(1),
  /** the backend the config asked for (may be `auto`) */
  requestedBackend: Backend,
  /** the backend actually used */
  backend: Backend.exclude(['auto']),
  device: z.string(),
  /** executed FLOPs per second of one experiment process */
  flopsPerSecond: z.number().positive().finite(),
  /** fixed seconds per optimizer step */
  stepOverheadSeconds: z.number().min(0).finite(),
  /** ISO 8601 time of the measurement */
  measuredAt: z.string().datetime({ offset: true }),
  /** seconds the whole calibration took, backend start included */
  elapsedSeconds: z.number().min(0).optional(),
  sweep: z.string().optional(),
  samples: z.array(CalibrationSample).min(1),
});
export type Calibration = z.infer<typeof Calibration>;

/**
 * Least-squares fit of `secondsPerStep = overhead + workPerStep / flopsPerSecond`, clamped so the
 * overhead lies in [0, 0.9 · the fastest step] (part of every step is work) and the rate is
 * refitted with the overhead fixed, so the rate is always positive and finite. One sample, or
 * samples of one size, cannot separate the two: the overhead is then `fallbackOverheadSeconds`
 * (e.g. the backend's built-in figure; default 0), at most half the fastest step (a guess must
 * not turn a short step into an extreme rate).
 */
export function fitCalibration(
  samples: ReadonlyArray<Pick<CalibrationSample, 'workPerStep' | 'secondsPerStep'>>,
  fallbackOverheadSeconds = 0,
): {
  flopsPerSecond: number;
  stepOverheadSeconds: number;
} {
  const pts = samples.filter((s) => s.workPerStep > 0 && s.secondsPerStep > 0 && Number.isFinite(s.workPerStep) && Number.isFinite(s.secondsPerStep));
  if (!pts.length) throw new Error('no usable calibration sample');
  const n = pts.length;
  const mw = pts.reduce((a, s) => a + s.workPerStep, 0) / n;
  const mt = pts.reduce((a, s) => a + s.secondsPerStep, 0) / n;
  let sww = 0;
  let swt = 0;
  for (const s of pts) {
    sww += (s.workPerStep - mw) ** 2;
    swt += (s.workPerStep - mw) * (s.secondsPerStep - mt);
  }
  // distinct work per step (relative spread > 1e-6) is needed to separate overhead from rate
  const slope = sww > (mw * 1e-6) ** 2 * n ? swt / sww : NaN;
  let overhead = Number.isFinite(slope) ? (slope > 0 ? mt - slope * mw : 0) : fallbackOverheadSeconds;
  const fastest = Math.min(...pts.map((s) => s.secondsPerStep));
  overhead = Math.min(Math.max(overhead, 0), (Number.isFinite(slope) ? 0.9 : 0.5) * fastest);
  // rate with the overhead fixed: minimise Σ (t − a − w·b)² over b
  let num = 0;
  let den = 0;
  for (const s of pts) {
    num += s.workPerStep * (s.secondsPerStep - overhead);
    den += s.workPerStep ** 2;
  }
  const secondsPerFlop = num / den;
  return { flopsPerSecond: 1 / secondsPerFlop, stepOverheadSeconds: overhead };
}

/** Whether a calibration applies to a config asking for `backend`. */
export function calibrationMatches(cal: Pick<Calibration, 'requestedBackend' | 'backend'>, backend: Backend): boolean {
  return cal.requestedBackend === backend || cal.backend === backend;
}

export type CalibrationRead = { ok: true; calibration: Calibration } | { ok: false; reason: 'missing' | 'invalid' | 'other-backend'; message: string };

/** Reads `<runDir>/calibration.json` for a config asking for `backend`; never throws. */
export function readCalibration(runDir: string, backend: Backend): CalibrationRead {
  const file = path.join(runDir, CALIBRATION_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { ok: false, reason: 'missing', message: `no ${file}` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: 'invalid', message: `${file}: not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  const parsed = Calibration.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: 'invalid', message: `${file}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}` };
  }
  if (!calibrationMatches(parsed.data, backend)) {
    return { ok: false, reason: 'other-backend', message: `${file} was measured on ${parsed.data.backend} (asked: ${parsed.data.requestedBackend}), the config asks for ${backend}` };
  }
  return { ok: true, calibration: parsed.data };
}

/** The calendar date of an ISO time (what the estimate's source shows). */
export function calibrationDate(measuredAt: string): string {
  const d = new Date(measuredAt);
  return Number.isNaN(d.getTime()) ? measuredAt : d.toISOString().slice(0, 10);
}

/** The human-readable source line of a calibrated estimate. */
export function calibrationSource(cal: Pick<Calibration, 'backend' | 'device' | 'measuredAt'>): string {
  return `calibrated on ${cal.backend} (${cal.device}), ${calibrationDate(cal.measuredAt)}`;
}
