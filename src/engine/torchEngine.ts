/**
 * The PyTorch engine: the built-in transformer trained by PyTorch in a Python child process
 * (src/engine/torch/flopsfit_torch.py, shipped beside the bundle), with the same spec, files and
 * semantics as the TensorFlow.js engine (src/engine/train.ts).
 *
 * Which engine trains an experiment (`selectEngine`), from `training.backend`:
 *   torch       PyTorch, device auto (cuda, then mps, then cpu; FLOPSFIT_TORCH_DEVICE=cuda|mps|cpu
 *               forces one, and a missing one fails the run with the reason)
 *   torch-cpu   PyTorch on the CPU
 *   auto        PyTorch with a GPU, then the TensorFlow.js GPU backends, then PyTorch on the CPU,
 *               then the rest of the TensorFlow.js chain (tensorflow, wasm, cpu)
 *   otherwise   TensorFlow.js
 * torch/torch-cpu without a Python with torch fall back to wasm, with the reason logged.
 *
 * What this side does for a torch run: checks the data with the same code as the TensorFlow.js
 * engine (so data errors read the same), writes the seeded initial values (one home for the init:
 * src/engine/model.ts initialValues), starts the trainer, relays its output and stop requests, and
 * makes sure result.json exists when the child dies without writing it.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { writeJsonAtomicSync } from '../core/atomic';
import { type ExperimentSpec, isTorchBackend, RUN_FILES, RunResult } from '../core/contracts';
import { gpuLikely } from '../core/plan/parallelism';
import { findPython, type FoundPython, describeProbe, trainerScript } from './python';
import { initGpuBackend } from './backend';
import { experimentSmokeStep } from './backends/modelSmoke';
import { checkpointExists } from './checkpoint';
import { DataError, openExperimentData } from './data';
import { initialValues, parameterLayout } from './model';
import { planTokens, trainExperiment } from './train';

export type TorchDevice = 'auto' | 'cuda' | 'mps' | 'cpu';

export type EngineChoice = { engine: 'torch'; python: FoundPython; device: TorchDevice } | { engine: 'tfjs'; reason?: string };

export interface TrainOptionsLike {
  resume?: boolean;
  signal?: AbortSignal;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

function deviceFromEnv(env: NodeJS.ProcessEnv): TorchDevice {
  const v = (env.FLOPSFIT_TORCH_DEVICE ?? 'auto').trim().toLowerCase() || 'auto';
  if (v === 'auto' || v === 'cuda' || v === 'mps' || v === 'cpu') return v;
  throw new DataError(`FLOPSFIT_TORCH_DEVICE must be auto, cuda, mps or cpu, not '${env.FLOPSFIT_TORCH_DEVICE}'`);
}

/** Picks the engine for a spec (see the file comment); every skipped choice is logged. */
export async function selectEngine(spec: ExperimentSpec, log: (line: string) => void = () => {}, env: NodeJS.ProcessEnv = process.env): Promise<EngineChoice> {
  const b = spec.training.backend;
  if (spec.model.family !== 'transformer') return { engine: 'tfjs' };
  if (b !== 'auto' && !isTorchBackend(b)) return { engine: 'tfjs' };
  const { found, skipped } = findPython(log, env);
  if (isTorchBackend(b)) {
    if (!found) {
      const reason = `backend ${b}: no Python with torch found (${skipped.length ? skipped.join('; ') : 'no python3 on PATH or in the usual places'}; set flopsfit.pythonPath or FLOPSFIT_PYTHON); training on wasm instead`;
      log(reason);
      return { engine: 'tfjs', reason };
    }
    const device = b === 'torch-cpu' ? 'cpu' : deviceFromEnv(env);
    log(`backend ${b}: ${found.command} (${found.source}): ${describeProbe(found.probe)}`);
    return { engine: 'torch', python: found, device };
  }
  // auto
  const gpu = found && ((found.probe.cuda?.length ?? 0) > 0 || found.probe.mps === true);
  if (found && gpu) {
    log(`backend auto: PyTorch with a GPU: ${found.command} (${describeProbe(found.probe)})`);
    return { engine: 'torch', python: found, device: 'auto' };
  }
  // The TensorFlow.js GPU backends, where they could work at all (their modules and a device):
  // elsewhere trying them would only repeat the skips the tfjs chain logs anyway.
  if (gpuLikely()) {
    const tfGpu = await initGpuBackend(log, { smokeStep: experimentSmokeStep(spec), smokeStepBackends: ['tensorflow-gpu', 'webgpu'] });
    if (tfGpu.info) return { engine: 'tfjs' };
  } else {
    // every skip is logged with its reason, as the TensorFlow.js chain does
    for (const b of ['tensorflow-gpu', 'webgpu']) log(`backend: skipped ${b}: no GPU device (no NVIDIA device and no hardware render node; a software adapter is never picked automatically)`);
  }
  if (found) {
    log(`backend auto: no GPU; PyTorch on the CPU: ${found.command} (${describeProbe(found.probe)})`);
    return { engine: 'torch', python: found, device: 'cpu' };
  }
  return { engine: 'tfjs' };
}

/** Trains with whichever engine `selectEngine` picks. Never throws for run-time problems. */
export async function trainAny(spec: ExperimentSpec, runDir: string, opts: TrainOptionsLike & { onStep?: (step: number, loss: number) => void } = {}): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  let choice: EngineChoice;
  try {
    choice = await selectEngine(spec, log, opts.env);
  } catch (err) {
    return failedResult(spec, runDir, (err as Error).message);
  }
  if (choice.engine === 'torch') return trainWithTorch(spec, runDir, { ...opts, python: choice.python.command, device: choice.device });
  return trainExperiment(spec, runDir, opts);
}

function failedResult(spec: ExperimentSpec, runDir: string, reason: string, extra: Partial<RunResult> = {}): RunResult {
  fs.mkdirSync(runDir, { recursive: true });
  const r: RunResult = { id: spec.id, status: 'failed', params: spec.params, tokens: 0, steps: 0, flops: 0, backend: 'torch', elapsedSeconds: 0, reason, ...extra };
  writeJsonAtomicSync(path.join(runDir, RUN_FILES.result), r);
  return r;
}

/** Children still running, killed when this process exits (a second Ctrl-C, a crash). */
const children = new Set<import('node:child_process').ChildProcess>();
let exitHook = false;

/** Trains one experiment with the PyTorch trainer. */
export async function trainWithTorch(spec: ExperimentSpec, runDir: string, opts: TrainOptionsLike & { python: string; device: TorchDevice; quiet?: boolean }): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  fs.mkdirSync(runDir, { recursive: true });
  const resultFile = path.join(runDir, RUN_FILES.result);
  if (spec.model.family !== 'transformer') return failedResult(spec, runDir, 'the built-in trainer needs model.family "transformer"');
  const m = spec.model;
  const plan = planTokens(spec.tokens, spec.training.batchSize, m.contextLength);
  // The data checks and messages of the TensorFlow.js engine, before any Python starts.
  try {
    openExperimentData(spec, plan.sequences).close();
  } catch (err) {
    const msg = (err as Error).message;
    log(`failed: ${msg}`);
    return failedResult(spec, runDir, msg);
  }
  const tmp = path.join(runDir, `.torch-${process.pid}`);
  const specFile = `${tmp}-spec.json`;
  const initFile = `${tmp}-init.f32`;
  const resuming = opts.resume === true && checkpointExists(path.join(runDir, RUN_FILES.checkpoint));
  try {
    fs.writeFileSync(specFile, JSON.stringify(spec));
    if (!resuming) writeInitialValues(spec, initFile);
    const args = [trainerScript(), 'train', specFile, '--out', runDir, '--device', opts.device, ...(opts.resume ? ['--resume'] : []), ...(resuming ? [] : ['--init', initFile])];
    const env = { ...(opts.env ?? process.env), PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };
    const child = spawn(opts.python, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const c of children) c.kill('SIGKILL');
      });
    }
    let stderrTail = '';
    readline.createInterface({ input: child.stdout! }).on('line', (l) => log(l));
    readline.createInterface({ input: child.stderr! }).on('line', (l) => {
      stderrTail = l;
      log(l);
    });
    let stopSent = false;
    const onAbort = () => {
      if (!stopSent && child.exitCode === null) {
        stopSent = true;
        child.kill('SIGTERM');
      }
    };
    opts.signal?.addEventListener('abort', onAbort);
    if (opts.signal?.aborted) onAbort();
    const { code, signal, error } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.on('error', (e) => resolve({ code: null, signal: null, error: e }));
      child.on('close', (c, s) => resolve({ code: c, signal: s }));
    });
    children.delete(child);
    opts.signal?.removeEventListener('abort', onAbort);
    let written: RunResult | undefined;
    try {
      const r = RunResult.safeParse(JSON.parse(fs.readFileSync(resultFile, 'utf8')));
      if (r.success) written = r.data;
    } catch {
      /* not written */
    }
    if (written && !error) return written;
    const why = error ? `could not start ${opts.python}: ${error.message}` : `the PyTorch trainer (${opts.python}) ended with ${signal ? `signal ${signal}` : `exit code ${code}`} without a result${stderrTail ? `: ${stderrTail.slice(0, 300)}` : ''}`;
    log(`failed: ${why}`);
    return failedResult(spec, runDir, why, { elapsedSeconds: (Date.now() - t0) / 1000 });
  } catch (err) {
    return failedResult(spec, runDir, (err as Error).message);
  } finally {
    fs.rmSync(specFile, { force: true });
    fs.rmSync(initFile, { force: true });
  }
}

/** The seeded initial values of the model (src/engine/model.ts), float32 little-endian, layout order. */
export function writeInitialValues(spec: ExperimentSpec, file: string): void {
  if (spec.model.family !== 'transformer') throw new DataError('the built-in trainer needs a transformer model');
  const values = initialValues(parameterLayout(spec.model), spec.seed);
  const fd = fs.openSync(file, 'w');
  try {
    for (const v of values) fs.writeSync(fd, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  } finally {
    fs.closeSync(fd);
  }
}

export interface TorchEval {
  loss: number;
  step: number;
  totalSteps: number;
  validationTokens: number;
  recordedFinalLoss?: number | null;
  device: string;
}

/** The held-out loss of a checkpoint (either engine's), computed by PyTorch. */
export function evalWithTorch(dir: string, python: string, device: TorchDevice = 'auto', env: NodeJS.ProcessEnv = process.env): TorchEval {
  const r = spawnSync(python, [trainerScript(), 'eval', dir, '--device', device], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw new Error(`could not start ${python}: ${r.error.message}`);
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{')) {
    const err = (r.stderr ?? '').trim().split('\n').pop() ?? `exit code ${r.status}`;
    throw new Error(err.replace(/^flopsfit torch engine: /, ''));
  }
  return JSON.parse(last) as TorchEval;
}
