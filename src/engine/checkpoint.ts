/**
 * Checkpoints: `<runDir>/checkpoint/` holds
 *   model.json   tfjs-style weights manifest (weightsManifest → weights.bin): the parameters in
 *                layout order, then the AdamW moments as `opt/m/<name>` and `opt/v/<name>`
 *   weights.bin  float32 little-endian, in manifest order
 *   state.json   CheckpointState: step, tokens, AdamW step and beta powers, data position / RNG,
 *                elapsed time, pending log accumulators, the final eval loss once finished
 *   spec.json    the ExperimentSpec, so eval/sample can rebuild model and data from the folder
 *
 * Atomic: everything is written into a sibling temp folder (each file fsynced), then the old
 * checkpoint is renamed aside, the new one renamed into place and the old one removed. A crash
 * leaves either the old or the new complete folder (a leftover `checkpoint.old-*` is picked up
 * if `checkpoint/` itself is missing).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { writeFileSyncedSync } from '../core/atomic';
import { ExperimentSpec } from '../core/contracts';
import type { DataState } from './data';

export const CheckpointState = z.object({
  format: z.literal('flopsfit-checkpoint'),
  version: z.literal(1),
  /** completed optimizer steps */
  step: z.number().int().min(0),
  totalSteps: z.number().int().min(0),
  /** training tokens consumed so far */
  tokens: z.number().min(0),
  optimizer: z.object({ step: z.number().int().min(0), accBeta1: z.number(), accBeta2: z.number() }),
  /** data position; for synthetic data it includes the stream's RNG state */
  data: z.union([
    z.object({
      kind: z.literal('synthetic'),
      stream: z.object({ rng: z.tuple([z.number(), z.number(), z.number(), z.number()]), current: z.number().int(), emitted: z.number() }),
    }),
    z.object({ kind: z.literal('file'), sequence: z.number().int().min(0) }),
  ]),
  elapsedSeconds: z.number().min(0),
  /** training-loss accumulator since the last metrics line (so resumed lines match) */
  pending: z.object({ lossSum: z.number(), steps: z.number().int().min(0), tokens: z.number().min(0), seconds: z.number().min(0).optional() }),
  lastTrainLoss: z.number().optional(),
  lastEvalLoss: z.number().optional(),
  /** set on the final checkpoint: the held-out loss recorded as the run's finalLoss */
  finalLoss: z.number().optional(),
  backend: z.string(),
  device: z.string().optional(),
  savedAt: z.string(),
});
export type CheckpointState = z.infer<typeof CheckpointState>;

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface LoadedCheckpoint {
  dir: string;
  spec: ExperimentSpec;
  state: CheckpointState;
  arrays: Map<string, NamedArray>;
}

/** A missing or unreadable checkpoint, with a message for the user. */
export class CheckpointError extends Error {}

export function saveCheckpoint(dir: string, spec: ExperimentSpec, state: CheckpointState, arrays: NamedArray[]): void {
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  const total = arrays.reduce((a, x) => a + x.data.length, 0);
  const bin = Buffer.allocUnsafe(total * 4);
  let off = 0;
  for (const a of arrays) {
    Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).copy(bin, off);
    off += a.data.byteLength;
  }
  const manifest = {
    format: 'flopsfit-checkpoint',
    generatedBy: 'flopsfit',
    weightsManifest: [{ paths: ['weights.bin'], weights: arrays.map((a) => ({ name: a.name, shape: a.shape, dtype: 'float32' })) }],
  };
  writeFileSyncedSync(path.join(tmp, 'weights.bin'), bin);
  writeFileSyncedSync(path.join(tmp, 'model.json'), JSON.stringify(manifest, null, 1) + '\n');
  writeFileSyncedSync(path.join(tmp, 'spec.json'), JSON.stringify(spec, null, 2) + '\n');
  writeFileSyncedSync(path.join(tmp, 'state.json'), JSON.stringify(state, null, 2) + '\n');
  const old = `${dir}.old-${process.pid}`;
  const hadOld = fs.existsSync(dir);
  if (hadOld) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  if (hadOld) fs.rmSync(old, { recursive: true, force: true });
}

/** The folder to read: `dir`, or a complete `dir.old-*` left by a crash during the swap. */
function resolveDir(dir: string): string | undefined {
  if (fs.existsSync(path.join(dir, 'state.json'))) return dir;
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(parent);
  } catch {
    return undefined;
  }
  const old = entries.find((e) => e.startsWith(`${base}.old-`) && fs.existsSync(path.join(parent, e, 'state.json')));
  return old ? path.join(parent, old) : undefined;
}

export function checkpointExists(dir: string): boolean {
  return resolveDir(dir) !== undefined;
}

export function loadCheckpoint(dirIn: string): LoadedCheckpoint {
  // Accept the run directory as well as its checkpoint/ folder.
  let dir = dirIn;
  if (!fs.existsSync(path.join(dir, 'state.json')) && fs.existsSync(path.join(dir, 'checkpoint'))) dir = path.join(dir, 'checkpoint');
  const found = resolveDir(dir);
  if (!found) throw new CheckpointError(`no checkpoint in ${dirIn} (expected state.json, model.json, weights.bin, spec.json)`);
  const readJson = (name: string): unknown => {
    const file = path.join(found, name);
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new CheckpointError(`${file}: ${(err as Error).message}`);
    }
  };
  const stateParsed = CheckpointState.safeParse(readJson('state.json'));
  if (!stateParsed.success) throw new CheckpointError(`${path.join(found, 'state.json')}: not a FlopsFit checkpoint state (${stateParsed.error.issues[0]?.message})`);
  const specParsed = ExperimentSpec.safeParse(readJson('spec.json'));
  if (!specParsed.success) throw new CheckpointError(`${path.join(found, 'spec.json')}: invalid experiment spec (${specParsed.error.issues[0]?.path.join('.')}: ${specParsed.error.issues[0]?.message})`);
  const manifest = readJson('model.json') as { weightsManifest?: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[] };
  const group = manifest.weightsManifest?.[0];
  if (!group || !Array.isArray(group.weights)) throw new CheckpointError(`${path.join(found, 'model.json')}: no weightsManifest`);
  const bin = fs.readFileSync(path.join(found, group.paths[0] ?? 'weights.bin'));
  const arrays = new Map<string, NamedArray>();
  let off = 0;
  for (const w of group.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (off + n * 4 > bin.length) throw new CheckpointError(`${path.join(found, 'weights.bin')}: truncated (needs more than ${bin.length} bytes)`);
    const data = new Float32Array(n);
    Buffer.from(data.buffer).set(bin.subarray(off, off + n * 4));
    arrays.set(w.name, { name: w.name, shape: w.shape, data });
    off += n * 4;
  }
  if (off !== bin.length) throw new CheckpointError(`${path.join(found, 'weights.bin')}: size ${bin.length} does not match the manifest (${off})`);
  return { dir: found, spec: specParsed.data, state: stateParsed.data, arrays };
}

export function removeCheckpoint(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export type { DataState };
