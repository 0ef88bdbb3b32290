/**
 * GPUs shared out by the runner: which NVIDIA GPUs exist, which can take an experiment now, and
 * the CUDA_VISIBLE_DEVICES each experiment gets.
 *
 *   - discovery: one `nvidia-smi --query-gpu=… --format=csv,noheader,nounits` call (queryGpus);
 *     parseNvidiaSmi reads its output, so tests feed it fixed text
 *   - placement (GpuPool): every experiment takes `gpusPerExperiment` GPUs (default 1); a GPU holds
 *     at most `experimentsPerGpu` experiments at once (default 1; more packs small models). Before
 *     placing, the pool re-queries: a GPU that does not answer (an nvidia-smi error field), that
 *     another process keeps busy, or whose free memory is below what the experiment needs is
 *     skipped, with the reason logged once per change
 *   - retry: an experiment that failed with a CUDA error (isCudaError) is retried once on another
 *     GPU (retryOnAnotherGpu), the failing GPU excluded
 *
 * Pure placement logic: no process is started here; the runner's executor asks `acquire` for a
 * slot before it starts an experiment, puts `env` into the experiment's environment, and calls
 * `release` when the experiment ends.
 */
import { spawnSync } from 'node:child_process';
import type { ExperimentSpec } from '../../core/contracts';
import { countTransformerParams } from '../../core/model/transformer';

export interface GpuInfo {
  index: number;
  uuid?: string;
  name: string;
  memoryTotalMiB: number;
  memoryUsedMiB: number;
  /** percent, when reported */
  utilization?: number;
  /** why this GPU cannot be used (an error or "[N/A]" where a number belongs) */
  error?: string;
}

export const NVIDIA_SMI_ARGS = ['--query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu', '--format=csv,noheader,nounits'];

const BAD_FIELD = /^\[.*\]$|^ERR!?$|^N\/A$/i;

/** Reads `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(text: string): GpuInfo[] {
  const out: GpuInfo[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const f = line.split(',').map((s) => s.trim());
    if (f.length < 6 || !/^\d+$/.test(f[0])) continue; // not a GPU row (a warning line)
    const [index, uuid, name, total, used, util] = f;
    const bad = [
      ['memory.total', total],
      ['memory.used', used],
    ].filter(([, v]) => BAD_FIELD.test(v) || !Number.isFinite(Number(v)));
    const gpu: GpuInfo = {
      index: Number(index),
      uuid: BAD_FIELD.test(uuid) ? undefined : uuid,
      name,
      memoryTotalMiB: Number(total) || 0,
      memoryUsedMiB: Number(used) || 0,
      utilization: BAD_FIELD.test(util) || !Number.isFinite(Number(util)) ? undefined : Number(util),
    };
    if (bad.length) gpu.error = `nvidia-smi reports ${bad.map(([k, v]) => `${k} ${v}`).join(', ')}`;
    out.push(gpu);
  }
  return out;
}

/** Runs nvidia-smi; the GPUs, or why there are none. */
export function queryGpus(run: (cmd: string, args: string[]) => { status: number | null; stdout: string; stderr: string; error?: Error } = defaultRun): { gpus: GpuInfo[]; reason?: string } {
  const r = run('nvidia-smi', NVIDIA_SMI_ARGS);
  if (r.error) return { gpus: [], reason: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'nvidia-smi not found (no NVIDIA driver)' : `nvidia-smi: ${r.error.message}` };
  const gpus = parseNvidiaSmi(r.stdout);
  if (r.status !== 0 && !gpus.length) return { gpus, reason: `nvidia-smi failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}` };
  return { gpus, reason: gpus.length ? undefined : 'nvidia-smi lists no GPU' };
}

function defaultRun(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string; error?: Error } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/**
 * Rough GPU memory an experiment of the built-in transformer needs (MiB): weights, gradients and
 * the two AdamW moments in fp32 (16 bytes per parameter), activations kept for the backward pass
 * (about 34·d + 5·H·T bytes per token per layer in bf16, Korthikanti et al. 2022, plus the fp32
 * logits twice), and 600 MiB of CUDA context. Command trainers: 0 (unknown).
 */
export function estimateExperimentMemoryMiB(spec: Pick<ExperimentSpec, 'model' | 'training'>): number {
  if (spec.model.family !== 'transformer') return 0;
  const m = spec.model;
  const params = countTransformerParams(m).total;
  const tokens = spec.training.batchSize * m.contextLength;
  const activations = tokens * (m.nLayers * (34 * m.dModel + 5 * m.nHeads * m.contextLength) + 8 * m.vocabSize);
  return Math.ceil((16 * params + activations) / 2 ** 20) + 600;
}

/** Whether a failure reason or log tail shows a CUDA error (worth a retry on another GPU). */
export function isCudaError(text: string): boolean {
  return /CUDA (error|out of memory)|cudaError\w*|CUBLAS_STATUS_\w+|CUDNN_STATUS_\w+|device-side assert|an illegal memory access|NCCL error|uncorrectable ECC/i.test(text);
}

export interface GpuPoolOptions {
  gpusPerExperiment?: number;
  experimentsPerGpu?: number;
  /** a GPU at or above this utilization (percent) with no experiment of ours is busy (default 50) */
  busyUtilization?: number;
  log?: (line: string) => void;
  /** the GPU query (default: nvidia-smi) */
  query?: () => { gpus: GpuInfo[]; reason?: string };
}

export interface GpuSlot {
  /** GPU indices given to the experiment */
  gpus: number[];
  /** put into the experiment's environment */
  env: { CUDA_VISIBLE_DEVICES: string };
}

export class GpuPool {
  readonly gpusPerExperiment: number;
  readonly experimentsPerGpu: number;
  private readonly busy: number;
  private readonly log: (line: string) => void;
  private readonly query: () => { gpus: GpuInfo[]; reason?: string };
  /** experiment id → its GPUs and the memory it was placed with */
  private readonly placed = new Map<string, { gpus: number[]; memoryMiB: number }>();
  private readonly lastSkip = new Map<number, string>();

  constructor(o: GpuPoolOptions = {}) {
    this.gpusPerExperiment = o.gpusPerExperiment ?? 1;
    this.experimentsPerGpu = o.experimentsPerGpu ?? 1;
    if (!Number.isInteger(this.gpusPerExperiment) || this.gpusPerExperiment < 1) throw new Error(`gpusPerExperiment must be an integer ≥ 1 (got ${o.gpusPerExperiment})`);
    if (!Number.isInteger(this.experimentsPerGpu) || this.experimentsPerGpu < 1) throw new Error(`experimentsPerGpu must be an integer ≥ 1 (got ${o.experimentsPerGpu})`);
    this.busy = o.busyUtilization ?? 50;
    this.log = o.log ?? (() => {});
    this.query = o.query ?? (() => queryGpus());
  }

  /** Experiments that can run at once on `gpuCount` GPUs: the runner's parallelism, and the plan's. */
  static parallelism(gpuCount: number, gpusPerExperiment = 1, experimentsPerGpu = 1): number {
    if (gpusPerExperiment > 1) return Math.floor(gpuCount / gpusPerExperiment);
    return gpuCount * experimentsPerGpu;
  }

  private ours(index: number): { count: number; memoryMiB: number } {
    let count = 0;
    let memoryMiB = 0;
    for (const p of this.placed.values()) {
      if (p.gpus.includes(index)) {
        count++;
        memoryMiB += p.memoryMiB;
      }
    }
    return { count, memoryMiB };
  }

  private skip(index: number, why: string): void {
    if (this.lastSkip.get(index) === why) return;
    this.lastSkip.set(index, why);
    this.log(`gpu ${index}: skipped: ${why}`);
  }

  /**
   * GPUs for experiment `id` needing `memoryMiB` on each, never one in `exclude`; undefined when
   * no GPU can take it now (each skipped GPU logged with its reason).
   */
  acquire(id: string, memoryMiB: number, exclude: readonly number[] = []): GpuSlot | undefined {
    if (this.placed.has(id)) throw new Error(`experiment ${id} already holds GPUs`);
    const { gpus, reason } = this.query();
    if (!gpus.length) {
      this.log(`gpus: none available (${reason ?? 'nvidia-smi lists no GPU'})`);
      return undefined;
    }
    const usable: number[] = [];
    for (const g of gpus) {
      if (exclude.includes(g.index)) continue;
      if (g.error) {
        this.skip(g.index, `not answering (${g.error})`);
        continue;
      }
      const ours = this.ours(g.index);
      if (ours.count >= this.experimentsPerGpu) continue; // full of our own experiments: not worth a line
      if (ours.count === 0 && g.utilization !== undefined && g.utilization >= this.busy) {
        this.skip(g.index, `busy (${g.utilization} % utilization by another process)`);
        continue;
      }
      // memory.used includes what our running experiments have allocated so far (each re-query)
      const free = g.memoryTotalMiB - g.memoryUsedMiB;
      if (free < memoryMiB) {
        this.skip(g.index, `full (${free} MiB free of ${g.memoryTotalMiB} MiB, the experiment needs about ${memoryMiB} MiB)`);
        continue;
      }
      this.lastSkip.delete(g.index);
      usable.push(g.index);
    }
    if (usable.length < this.gpusPerExperiment) return undefined;
    // least loaded first, then lowest index: spreads experiments before packing them
    usable.sort((a, b) => this.ours(a).count - this.ours(b).count || a - b);
    const chosen = usable.slice(0, this.gpusPerExperiment).sort((a, b) => a - b);
    this.placed.set(id, { gpus: chosen, memoryMiB });
    return { gpus: chosen, env: { CUDA_VISIBLE_DEVICES: chosen.join(',') } };
  }

  /** Experiments at once on the GPUs that answer now: the runner's default parallelism on GPUs. */
  capacity(): number {
    const { gpus } = this.query();
    return Math.max(1, GpuPool.parallelism(gpus.filter((g) => !g.error).length, this.gpusPerExperiment, this.experimentsPerGpu));
  }

  /** Whether one more experiment could be placed now (with no memory estimate): the executor's free slots. */
  canPlace(): boolean {
    const probe = `\0probe`;
    const slot = this.acquire(probe, 0);
    this.placed.delete(probe);
    return !!slot;
  }

  release(id: string): void {
    this.placed.delete(id);
  }

  /** GPUs experiment `id` holds (for a retry's exclude list). */
  held(id: string): number[] {
    return this.placed.get(id)?.gpus.slice() ?? [];
  }
}

/**
 * Whether a failed experiment should run once more on another GPU: it failed with a CUDA error,
 * and it has not been retried for one yet. `exclude` are the GPUs it failed on.
 */
export function retryOnAnotherGpu(reasonOrLog: string, gpuRetries: number, failedOn: readonly number[]): { retry: boolean; exclude: number[]; why?: string } {
  if (!isCudaError(reasonOrLog)) return { retry: false, exclude: [] };
  if (gpuRetries >= 1) return { retry: false, exclude: [...failedOn], why: 'a CUDA error again after a retry on another GPU' };
  return { retry: true, exclude: [...failedOn], why: `a CUDA error on GPU ${failedOn.join(',')}: retrying once on another GPU` };
}

/** Backends that may train on an NVIDIA GPU (the runner then places experiments on GPUs). */
const GPU_BACKENDS = new Set(['torch', 'auto', 'tensorflow-gpu']);

/**
 * The GPU pool for a sweep: only when some experiment may train on an NVIDIA GPU and nvidia-smi
 * lists at least one (else undefined: experiments run as before, and nothing is queried again).
 */
export function gpuPoolFor(
  specs: readonly Pick<ExperimentSpec, 'model' | 'training'>[],
  o: Omit<GpuPoolOptions, 'query'> & { query?: GpuPoolOptions['query'] } = {},
): GpuPool | undefined {
  if (!specs.some((s) => s.model.family === 'transformer' && GPU_BACKENDS.has(s.training.backend))) return undefined;
  const query = o.query ?? (() => queryGpus());
  const first = query();
  if (!first.gpus.length) return undefined;
  o.log?.(`gpus: ${first.gpus.map((g) => `${g.index} ${g.name} (${g.memoryTotalMiB} MiB)`).join(', ')}; ${o.gpusPerExperiment ?? 1} per experiment, up to ${o.experimentsPerGpu ?? 1} experiment(s) per GPU`);
  return new GpuPool({ ...o, query });
}
