/**
 * bench/gpu.sh's driver: trains the same model with FlopsFit's engine on each available GPU
 * backend (tensorflow-gpu, webgpu) and with PyTorch on the same GPU, each in its own process with
 * a time box, and prints tokens/s, achieved TFLOP/s, MFU against the card's peak and the ratio to
 * PyTorch. See bench/README.md ("GPU") for how to bring the repo to an offline GPU machine.
 *
 * FLOPs per token (model FLOPs, the same for every engine):
 *   6·(N_nonemb + d·V) + 6·L·T·d
 * i.e. 6 FLOPs per parameter per token for every matmul weight (non-embedding parameters plus the
 * output head; the token/position embeddings are lookups) plus Kaplan's attention term (forward
 * 2·L·T·d per token, ×3 for training).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliError, numberOption, parseArgs, printError } from '../src/cli/util';
import { detectNvidiaGpus, detectTfjsNode, type NvidiaGpu } from '../src/engine/backends/tfjsNode';
import { findSharedLibrary } from '../src/engine/backends/webgpu';
import type { BenchConfig } from './common';

/** torch-*: the reference script bench/gpu_torch.py; flopsfit-torch: FlopsFit's own PyTorch engine (bench/torch-engine.ts). */
export const ENGINES = ['torch-fp32', 'torch-tf32', 'torch-bf16', 'flopsfit-torch', 'tensorflow-gpu', 'webgpu'] as const;
export type Engine = (typeof ENGINES)[number];

export type { BenchConfig };

/** Dense (no sparsity) peak TFLOP/s: fp32 on CUDA cores, TF32 and BF16 (FP16 where no BF16) tensor cores. */
export interface GpuPeak {
  name: string;
  fp32: number;
  tf32?: number;
  bf16?: number;
  note?: string;
}

/** First match wins: order more specific names first. Figures are NVIDIA's datasheet dense peaks. */
export const PEAKS: { pattern: RegExp; peak: GpuPeak }[] = [
  { pattern: /H100.*PCIe/i, peak: { name: 'H100 PCIe', fp32: 51.2, tf32: 378, bf16: 756 } },
  { pattern: /H100.*NVL/i, peak: { name: 'H100 NVL', fp32: 60, tf32: 418, bf16: 835 } },
  { pattern: /GH200|H100/i, peak: { name: 'H100 SXM', fp32: 66.9, tf32: 494.7, bf16: 989.4 } },
  { pattern: /H200.*NVL/i, peak: { name: 'H200 NVL', fp32: 60, tf32: 418, bf16: 835 } },
  { pattern: /H200/i, peak: { name: 'H200 SXM', fp32: 66.9, tf32: 494.7, bf16: 989.4 } },
  { pattern: /A100/i, peak: { name: 'A100', fp32: 19.5, tf32: 156, bf16: 312 } },
  { pattern: /L40S/i, peak: { name: 'L40S', fp32: 91.6, tf32: 183, bf16: 362 } },
  { pattern: /L40\b/i, peak: { name: 'L40', fp32: 90.5, tf32: 90.5, bf16: 181 } },
  { pattern: /\bL4\b/i, peak: { name: 'L4', fp32: 30.3, tf32: 60, bf16: 121 } },
  { pattern: /A10\b(?!0)/i, peak: { name: 'A10', fp32: 31.2, tf32: 62.5, bf16: 125 } },
  { pattern: /RTX 4090/i, peak: { name: 'RTX 4090', fp32: 82.6, tf32: 82.6, bf16: 165.2 } },
  { pattern: /RTX 3090/i, peak: { name: 'RTX 3090', fp32: 35.6, tf32: 35.6, bf16: 71 } },
  { pattern: /RTX A6000/i, peak: { name: 'RTX A6000', fp32: 38.7, tf32: 77.4, bf16: 154.8 } },
  { pattern: /V100/i, peak: { name: 'V100', fp32: 15.7, bf16: 125, note: 'no BF16/TF32: the bf16 column is the FP16 tensor peak' } },
  { pattern: /\bT4\b/i, peak: { name: 'T4', fp32: 8.1, bf16: 65, note: 'no BF16/TF32: the bf16 column is the FP16 tensor peak' } },
];

export function lookupPeak(gpuName: string): GpuPeak | undefined {
  return PEAKS.find((p) => p.pattern.test(gpuName))?.peak;
}

export function flopsPerToken(c: Pick<BenchConfig, 'd' | 'layers' | 'context' | 'vocab'>): number {
  const nNonEmb = c.layers * (12 * c.d * c.d + 13 * c.d) + 2 * c.d;
  return 6 * (nNonEmb + c.d * c.vocab) + 6 * c.layers * c.context * c.d;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Which peak an engine's MFU is measured against: the precision it computes in. */
export function precisionOf(engine: Engine): 'fp32' | 'tf32' | 'bf16' {
  if (engine === 'torch-tf32') return 'tf32';
  if (engine === 'torch-bf16') return 'bf16';
  // the PyTorch engine's default on CUDA: bf16 autocast where the GPU supports it (FLOPSFIT_TORCH_PRECISION)
  if (engine === 'flopsfit-torch') return (process.env.FLOPSFIT_TORCH_PRECISION ?? 'auto') === 'fp32' ? 'fp32' : 'bf16';
  // tfjs computes in fp32; libtensorflow may use TF32 tensor cores on Ampere+ (TF 2.9 default),
  // WebGPU cannot use tensor cores at all.
  return 'fp32';
}

export interface RunOutcome {
  engine: Engine;
  ok: boolean;
  /** why it did not run or did not finish */
  reason?: string;
  device?: string;
  stepMs?: number[];
  losses?: number[];
  partial?: boolean;
  wallSeconds: number;
  firstStepMs?: number;
}

export interface Row {
  engine: Engine;
  device: string;
  msPerStep: number;
  tokensPerSecond: number;
  tflops: number;
  mfu?: number;
  mfuBf16?: number;
  ratioTorchFp32?: number;
  ratioTorchBest?: number;
  partial: boolean;
  steps: number;
}

export function summarize(outcomes: RunOutcome[], c: BenchConfig, peak: GpuPeak | undefined): Row[] {
  const perStepFlops = flopsPerToken(c) * c.batch * c.context;
  const rows: Row[] = [];
  for (const o of outcomes) {
    if (!o.ok || !o.stepMs?.length) continue;
    const ms = median(o.stepMs);
    const tflops = perStepFlops / (ms / 1000) / 1e12;
    const prec = precisionOf(o.engine);
    const own = peak?.[prec];
    rows.push({
      engine: o.engine,
      device: o.device ?? '?',
      msPerStep: ms,
      tokensPerSecond: (c.batch * c.context) / (ms / 1000),
      tflops,
      mfu: own ? tflops / own : undefined,
      mfuBf16: peak?.bf16 ? tflops / peak.bf16 : undefined,
      partial: o.partial === true,
      steps: o.stepMs.length,
    });
  }
  const fp32 = rows.find((r) => r.engine === 'torch-fp32');
  const best = rows.filter((r) => r.engine.startsWith('torch-')).sort((a, b) => b.tokensPerSecond - a.tokensPerSecond)[0];
  for (const r of rows) {
    if (fp32) r.ratioTorchFp32 = r.tokensPerSecond / fp32.tokensPerSecond;
    if (best) r.ratioTorchBest = r.tokensPerSecond / best.tokensPerSecond;
  }
  return rows;
}

const pct = (x: number | undefined) => (x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
const fix = (x: number | undefined, d = 2) => (x === undefined ? '—' : x.toFixed(d));

export function formatTable(rows: Row[], outcomes: RunOutcome[]): string {
  const head = ['engine', 'ms/step', 'tokens/s', 'TFLOP/s', 'MFU (own precision)', 'MFU vs bf16 peak', '÷ torch fp32', '÷ best torch', 'device'];
  const lines = [head];
  for (const r of rows) {
    lines.push([
      r.engine + (r.partial ? ' (partial)' : ''),
      r.msPerStep.toFixed(1),
      Math.round(r.tokensPerSecond).toLocaleString('en-US'),
      r.tflops >= 1 ? r.tflops.toFixed(1) : r.tflops.toPrecision(2),
      `${pct(r.mfu)} (${precisionOf(r.engine)})`,
      pct(r.mfuBf16),
      fix(r.ratioTorchFp32),
      fix(r.ratioTorchBest),
      r.device,
    ]);
  }
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  const out = lines.map((l) => l.map((cell, i) => (i === l.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd());
  out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  for (const o of outcomes.filter((x) => !x.ok)) out.push(`${o.engine}: not measured: ${o.reason}`);
  return out.join('\n');
}

/** Step times from a worker's stderr progress lines, for a run killed by its time box. */
export function salvageSteps(stderr: string): number[] {
  const out: number[] = [];
  for (const m of stderr.matchAll(/step \d+(?: \(warmup\))?: ([\d.]+) ms/g)) {
    if (!m[0].includes('(warmup)')) out.push(Number(m[1]));
  }
  return out;
}

const HELP = `Usage: bench/gpu.sh [options]

Trains the same transformer with FlopsFit's engine on each GPU backend (tensorflow-gpu via
@tensorflow/tfjs-node-gpu, webgpu via Dawn) and with PyTorch on the same GPU, and prints
tokens/s, achieved TFLOP/s, MFU against the card's peak and the ratio to PyTorch.

Model (defaults: a GPU-sized width):
  --d N              d_model (768)          --layers N   layers (8)
  --heads N          heads (12)             --context N  context length (512)
  --batch N          batch size (32)        --vocab N    vocabulary (256, byte-level)
  --steps N          timed steps (10)       --warmup N   untimed steps first (2)
  --tiny             d 64, 2 layers, 2 heads, context 64, batch 4, 3 steps, 1 warmup (for testing)
Runs:
  --engines LIST     comma-separated, from ${ENGINES.join(',')} (all)
  --time-box S       seconds per engine run before it is killed (150)
  --budget S         seconds for everything; later runs are skipped past it (540)
  --python PATH      python with torch (default: $PYTHON, python3, /usr/bin/python3)
  --json FILE        also write every outcome and row as JSON (default bench/results/gpu-<time>.json)
  --allow-no-gpu     run without an NVIDIA GPU (PyTorch on the CPU, WebGPU on whatever adapter
                     exists, MFU not computed): only to test this script
Exit codes: 0 measured, 2 usage, 3 no NVIDIA GPU (nothing run), 4 nothing could be measured.`;

interface Options {
  config: BenchConfig;
  engines: Engine[];
  timeBox: number;
  budget: number;
  python?: string;
  json?: string;
  allowNoGpu: boolean;
}

export function parseOptions(argv: string[]): Options | 'help' {
  const a = parseArgs(argv, {
    values: ['d', 'layers', 'heads', 'context', 'batch', 'vocab', 'steps', 'warmup', 'engines', 'time-box', 'budget', 'python', 'json'],
    flags: ['tiny', 'allow-no-gpu', 'help'],
  });
  if (a.flags.help) return 'help';
  if (a.positionals.length) throw new CliError(`unexpected argument '${a.positionals[0]}' (see --help)`, 2);
  const base: BenchConfig = a.flags.tiny
    ? { d: 64, layers: 2, heads: 2, context: 64, batch: 4, vocab: 256, steps: 3, warmup: 1 }
    : { d: 768, layers: 8, heads: 12, context: 512, batch: 32, vocab: 256, steps: 10, warmup: 2 };
  const config = { ...base };
  for (const k of ['d', 'layers', 'heads', 'context', 'batch', 'vocab', 'steps'] as const) {
    config[k] = numberOption(a, k, { integer: true, min: 1 }) ?? config[k];
  }
  config.warmup = numberOption(a, 'warmup', { integer: true, min: 0 }) ?? config.warmup;
  if (config.d % config.heads !== 0) throw new CliError(`--d ${config.d} is not divisible by --heads ${config.heads}`, 2);
  let engines: Engine[] = [...ENGINES];
  if (a.values.engines !== undefined) {
    const list = a.values.engines.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = list.filter((e) => !(ENGINES as readonly string[]).includes(e));
    if (bad.length || !list.length) throw new CliError(`--engines: unknown engine '${bad[0] ?? ''}' (choose from ${ENGINES.join(', ')})`, 2);
    engines = ENGINES.filter((e) => list.includes(e));
  }
  return {
    config,
    engines,
    timeBox: numberOption(a, 'time-box', { min: 5 }) ?? 150,
    budget: numberOption(a, 'budget', { min: 10 }) ?? 540,
    python: a.values.python,
    json: a.values.json,
    allowNoGpu: a.flags['allow-no-gpu'] === true,
  };
}

interface PythonInfo {
  python: string;
  torch: string;
  cuda: boolean;
}

function findPython(explicit: string | undefined): PythonInfo | { reason: string } {
  const candidates = explicit ? [explicit] : [process.env.PYTHON, 'python3', '/usr/bin/python3', 'python'].filter((x): x is string => !!x);
  const tried: string[] = [];
  for (const py of [...new Set(candidates)]) {
    const r = spawnSync(py, ['-c', 'import json, torch; print(json.dumps({"torch": torch.__version__, "cuda": torch.cuda.is_available()}))'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
    if (r.status === 0 && line.startsWith('{')) {
      const info = JSON.parse(line) as { torch: string; cuda: boolean };
      return { python: py, torch: info.torch, cuda: info.cuda };
    }
    tried.push(`${py}: ${r.error ? (r.error as NodeJS.ErrnoException).code : (r.stderr ?? '').trim().split('\n').pop()}`);
  }
  return { reason: `no python with torch found (${tried.join('; ')})` };
}

function runProcess(cmd: string, args: string[], timeoutS: number, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean; seconds: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: path.resolve(__dirname, '..'), env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      const s = b.toString();
      stderr += s;
      for (const line of s.split('\n')) if (/^\[[\w-]+\] /.test(line)) process.stderr.write(`  ${line}\n`);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutS * 1000);
    child.on('error', (err) => {
      stderr += String(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

function lastJson(stdout: string): Record<string, unknown> | undefined {
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function configArgs(c: BenchConfig): string[] {
  return ['--d', c.d, '--layers', c.layers, '--heads', c.heads, '--context', c.context, '--batch', c.batch, '--vocab', c.vocab, '--steps', c.steps, '--warmup', c.warmup].map(String);
}

async function runEngine(engine: Engine, o: Options, gpu: boolean, python: PythonInfo | { reason: string }, timeBox: number): Promise<RunOutcome> {
  const c = o.config;
  let cmd: string;
  let args: string[];
  const env = { ...process.env };
  const maxSeconds = String(Math.max(5, Math.round(timeBox * 0.4)));
  if (engine === 'flopsfit-torch') {
    if ('reason' in python) return { engine, ok: false, reason: python.reason, wallSeconds: 0 };
    if (gpu && !python.cuda) return { engine, ok: false, reason: `${python.python}: torch ${python.torch} sees no CUDA device`, wallSeconds: 0 };
    cmd = process.execPath;
    args = ['--import', 'tsx', path.join(__dirname, 'torch-engine.ts'), ...configArgs(c), '--device', gpu ? 'cuda' : 'cpu', '--python', python.python];
  } else if (engine.startsWith('torch-')) {
    if ('reason' in python) return { engine, ok: false, reason: python.reason, wallSeconds: 0 };
    if (gpu && !python.cuda) return { engine, ok: false, reason: `${python.python}: torch ${python.torch} sees no CUDA device`, wallSeconds: 0 };
    const dtype = engine.slice('torch-'.length);
    if (!gpu && dtype !== 'fp32') return { engine, ok: false, reason: `--dtype ${dtype} needs CUDA`, wallSeconds: 0 };
    cmd = python.python;
    args = [path.join(__dirname, 'gpu_torch.py'), ...configArgs(c), '--dtype', dtype, '--device', gpu ? 'cuda' : 'cpu', '--max-seconds', maxSeconds];
  } else {
    if (engine === 'tensorflow-gpu') {
      const det = detectTfjsNode();
      if (!det.installed.includes('tfjs-node-gpu')) {
        return { engine, ok: false, reason: '@tensorflow/tfjs-node-gpu is not installed (its install downloads libtensorflow: install it where there is internet and bring node_modules)', wallSeconds: 0 };
      }
    }
    if (engine === 'webgpu') {
      try {
        require.resolve('webgpu');
        require.resolve('@tensorflow/tfjs-backend-webgpu');
      } catch {
        return { engine, ok: false, reason: 'the optional packages webgpu / @tensorflow/tfjs-backend-webgpu are not installed', wallSeconds: 0 };
      }
    }
    cmd = process.execPath;
    args = ['--import', 'tsx', path.join(__dirname, 'gpu-worker.ts'), '--backend', engine, ...configArgs(c), '--max-seconds', maxSeconds, '--allow-software', gpu ? '0' : '1'];
  }
  process.stderr.write(`\n== ${engine} (time box ${Math.round(timeBox)} s)\n`);
  const r = await runProcess(cmd, args, timeBox, env);
  const j = lastJson(r.stdout);
  if (j && typeof j.error !== 'string' && Array.isArray(j.stepMs)) {
    return {
      engine,
      ok: true,
      device: String(j.device),
      stepMs: j.stepMs as number[],
      losses: j.losses as number[],
      firstStepMs: typeof j.firstStepMs === 'number' ? j.firstStepMs : undefined,
      wallSeconds: r.seconds,
    };
  }
  if (r.timedOut) {
    const steps = salvageSteps(r.stderr);
    const device = /backend \S+ on (.+) \(\d+ ms\)/.exec(r.stderr)?.[1];
    if (steps.length) return { engine, ok: true, partial: true, device, stepMs: steps, wallSeconds: r.seconds };
    return { engine, ok: false, reason: `no timed step within the ${Math.round(timeBox)} s time box${device ? ` on ${device}` : ''}`, wallSeconds: r.seconds };
  }
  const why = typeof j?.error === 'string' ? j.error : r.stderr.trim().split('\n').filter((l) => /error|Error|failed/.test(l)).pop() ?? `exit code ${r.code}`;
  return { engine, ok: false, reason: why, wallSeconds: r.seconds };
}

function webGpuDiagnostics(): string[] {
  const notes: string[] = [];
  if (process.platform !== 'linux') return notes;
  if (!findSharedLibrary('libvulkan.so.1')) notes.push('libvulkan.so.1 not found: Dawn cannot use Vulkan (apt install libvulkan1; in containers also the NVIDIA driver\'s Vulkan ICD, NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics)');
  const icds = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'].flatMap((d) => {
    try {
      return fs.readdirSync(d).filter((f) => /nvidia/i.test(f));
    } catch {
      return [];
    }
  });
  if (!icds.length) notes.push('no NVIDIA Vulkan ICD (nvidia_icd.json) in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d');
  return notes;
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseOptions(argv);
  if (parsed === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const o = parsed;
  const t0 = performance.now();
  const det = detectNvidiaGpus();
  const gpu: NvidiaGpu | undefined = det.gpus[0];
  if (!gpu && !o.allowNoGpu) {
    process.stderr.write(`bench/gpu.sh: ${det.reason ?? 'no NVIDIA GPU found'}.\nThis benchmark measures training on an NVIDIA GPU; nothing was run. (--allow-no-gpu runs it anyway, to test the script.)\n`);
    return 3;
  }
  const peak = gpu ? lookupPeak(gpu.name) : undefined;
  const c = o.config;
  const fpt = flopsPerToken(c);
  process.stdout.write(
    `GPU: ${gpu ? `${gpu.name}${gpu.memoryMiB ? `, ${gpu.memoryMiB} MiB` : ''}${gpu.driver ? `, driver ${gpu.driver}` : ''}` : 'none (--allow-no-gpu: PyTorch on the CPU, WebGPU on any adapter)'}\n` +
      `peak (dense TFLOP/s): ${peak ? `fp32 ${peak.fp32}, tf32 ${peak.tf32 ?? '—'}, bf16 ${peak.bf16 ?? '—'} (${peak.name}${peak.note ? `; ${peak.note}` : ''})` : gpu ? `unknown for "${gpu.name}": MFU not computed (add it to PEAKS in bench/gpu-bench.ts)` : '—'}\n` +
      `model: d ${c.d}, ${c.layers} layers, ${c.heads} heads, context ${c.context}, batch ${c.batch}, vocab ${c.vocab}: ` +
      `${(fpt / 1e6).toFixed(1)} MFLOP/token, ${((fpt * c.batch * c.context) / 1e12).toFixed(3)} TFLOP/step; ${c.warmup} warmup + ${c.steps} timed steps\n`,
  );
  if (o.engines.includes('webgpu') && gpu) for (const n of webGpuDiagnostics()) process.stdout.write(`webgpu note: ${n}\n`);
  const python = o.engines.some((e) => e.startsWith('torch-') || e === 'flopsfit-torch') ? findPython(o.python) : { reason: 'not needed' };
  if ('torch' in python) process.stdout.write(`python: ${python.python} (torch ${python.torch}, CUDA ${python.cuda ? 'available' : 'not available'})\n`);
  const outcomes: RunOutcome[] = [];
  for (const engine of o.engines) {
    const left = o.budget - (performance.now() - t0) / 1000;
    if (left < 15) {
      outcomes.push({ engine, ok: false, reason: `skipped: the ${o.budget} s budget is spent`, wallSeconds: 0 });
      continue;
    }
    outcomes.push(await runEngine(engine, o, !!gpu, python, Math.min(o.timeBox, left)));
  }
  const rows = summarize(outcomes, c, peak);
  process.stdout.write(`\n${formatTable(rows, outcomes)}\n`);
  process.stdout.write(`\ntotal ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  const jsonFile = o.json ?? path.join(__dirname, 'results', `gpu-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  try {
    fs.mkdirSync(path.dirname(jsonFile), { recursive: true });
    fs.writeFileSync(jsonFile, JSON.stringify({ gpu: gpu ?? null, peak: peak ?? null, config: c, flopsPerToken: fpt, outcomes, rows }, null, 2) + '\n');
    process.stdout.write(`results: ${path.relative(process.cwd(), jsonFile)}\n`);
  } catch (err) {
    process.stderr.write(`could not write ${jsonFile}: ${(err as Error).message}\n`);
  }
  return rows.length ? 0 : 4;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof CliError) {
        process.stderr.write(`bench/gpu.sh: ${err.message}\n`);
        process.exitCode = err.exitCode;
      } else process.exitCode = printError(err);
    },
  );
}
