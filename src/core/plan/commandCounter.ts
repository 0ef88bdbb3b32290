/**
 * The parameter counter of a command model for the CLI and the task process: runs the config's
 * `countParams` argv with {size} filled in and reads the last number it prints. Results are cached
 * per size value. The extension host never uses this in an untrusted workspace.
 *
 * countCommandParams is the asynchronous form with progress (a counter that imports PyTorch takes
 * seconds a size, and a sweep probes dozens): `flopsfit plan`/`run` print its progress and the
 * editor shows it; it also times the command, whose start-up the plan's estimate then counts.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { CommandModelConfig, SweepConfig } from '../config/schema';
import { candidateValues, sizeMultiple, type ParamCounter } from './grid';
import { substituteSize } from './placeholders';

const NUMBER_RE = /[-+]?(?:\d[\d_,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/g;

/** The last number in a command's output ("N = 1,234,567" → 1234567). */
export function lastNumber(output: string): number | undefined {
  const all = output.match(NUMBER_RE);
  if (!all) return undefined;
  const v = Number(all[all.length - 1].replace(/[_,]/g, ''));
  return Number.isFinite(v) ? v : undefined;
}

export function createCommandParamCounter(model: CommandModelConfig, cwd: string, opts: { timeoutMs?: number } = {}): ParamCounter {
  const cache = new Map<number, number | { error: string }>();
  return (size: number) => {
    const hit = cache.get(size);
    if (hit !== undefined) return hit;
    let result: number | { error: string };
    let argv: string[] = [];
    try {
      argv = substituteSize(model.countParams, size);
      const r = spawnSync(argv[0], argv.slice(1), {
        cwd,
        env: { ...process.env, ...(model.env ?? {}) },
        encoding: 'utf8',
        timeout: opts.timeoutMs ?? 60_000,
        maxBuffer: 4 << 20,
        windowsHide: true,
      });
      if (r.error) result = { error: `countParams failed: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? `command not found: ${argv[0]}` : r.error.message}` };
      else if (r.status !== 0) {
        const err = (r.stderr || '').trim().split('\n').pop() ?? '';
        result = { error: `countParams exited with ${r.status ?? r.signal}${err ? `: ${err.slice(0, 200)}` : ''}` };
      } else {
        const n = lastNumber(r.stdout ?? '');
        result = n === undefined ? { error: 'countParams printed no number' } : n;
      }
    } catch (err) {
      result = { error: `countParams failed: ${err instanceof Error ? err.message : String(err)}` };
    }
    cache.set(size, result);
    return result;
  };
}

/** One size counted. */
export interface CountProgress {
  /** sizes finished so far (counted, failed or not tried), of `total` */
  done: number;
  total: number;
  size: number;
  result: number | { error: string };
  /** seconds since counting began */
  elapsedSeconds: number;
}

export interface CountOptions {
  timeoutMs?: number;
  /** called after every size */
  onProgress?: (p: CountProgress) => void;
  /** stops counting (the sizes left become errors) */
  signal?: AbortSignal;
  /** counts at once (default 2) */
  concurrency?: number;
}

export interface CountedParams {
  /** a synchronous counter over the results, for buildPlan (an uncounted size is an error) */
  counter: ParamCounter;
  results: Map<number, number | { error: string }>;
  /** median seconds of one successful count: the command's own start-up, at least (undefined: none succeeded) */
  startupSeconds?: number;
}

/** The size values the planner probes for a command model (the same list probeSizes walks). */
export function commandSizeValues(config: SweepConfig): number[] {
  const m = config.model;
  return candidateValues(m.size.min, m.size.max, sizeMultiple(config), m.size.probes);
}

function runCount(model: CommandModelConfig, cwd: string, size: number, timeoutMs: number, signal?: AbortSignal): Promise<{ result: number | { error: string }; seconds: number }> {
  const t0 = performance.now();
  const done = (result: number | { error: string }) => ({ result, seconds: (performance.now() - t0) / 1000 });
  let argv: string[];
  try {
    argv = substituteSize(model.countParams, size);
  } catch (err) {
    return Promise.resolve(done({ error: `countParams failed: ${err instanceof Error ? err.message : String(err)}` }));
  }
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (r: number | { error: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(done(r));
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(argv[0], argv.slice(1), { cwd, env: { ...process.env, ...(model.env ?? {}) }, windowsHide: true, stdio: ['ignore', 'pipe', 'pipe'], signal });
    } catch (err) {
      finish({ error: `countParams failed: ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ error: `countParams timed out after ${Math.round(timeoutMs / 1000)} s` });
    }, timeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < 4 << 20) stdout += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 1 << 16) stderr += d;
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.name === 'AbortError') finish({ error: 'countParams stopped' });
      else finish({ error: `countParams failed: ${err.code === 'ENOENT' ? `command not found: ${argv[0]}` : err.message}` });
    });
    child.on('close', (code, sig) => {
      if (code !== 0) {
        const last = stderr.trim().split('\n').pop() ?? '';
        finish({ error: `countParams exited with ${code ?? sig}${last ? `: ${last.slice(0, 200)}` : ''}` });
        return;
      }
      const n = lastNumber(stdout);
      finish(n === undefined ? { error: 'countParams printed no number' } : n);
    });
  });
}

/**
 * Counts N at every size value, `concurrency` commands at a time, reporting each. Like probeSizes,
 * it stops after the first 3 sizes all fail (a missing script or interpreter): the rest are
 * reported as not tried. Never rejects.
 */
export async function countCommandParams(model: CommandModelConfig, cwd: string, sizes: readonly number[], opts: CountOptions = {}): Promise<CountedParams> {
  const results = new Map<number, number | { error: string }>();
  const times: number[] = [];
  const t0 = performance.now();
  const total = sizes.length;
  let next = 0;
  let finished = 0;
  let failures = 0;
  let successes = 0;
  const report = (size: number, result: number | { error: string }) => {
    results.set(size, result);
    finished++;
    opts.onProgress?.({ done: finished, total, size, result, elapsedSeconds: (performance.now() - t0) / 1000 });
  };
  const worker = async () => {
    while (next < sizes.length) {
      const size = sizes[next++];
      if (results.has(size)) continue;
      if (opts.signal?.aborted) {
        report(size, { error: 'countParams stopped' });
        continue;
      }
      if (!successes && failures >= 3) {
        report(size, { error: 'not tried after 3 failures of countParams' });
        continue;
      }
      const r = await runCount(model, cwd, size, opts.timeoutMs ?? 60_000, opts.signal);
      if (typeof r.result === 'number') {
        successes++;
        times.push(r.seconds);
      } else failures++;
      report(size, r.result);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 2, sizes.length));
  await Promise.all(Array.from({ length: n }, worker));
  times.sort((a, b) => a - b);
  return {
    results,
    counter: (size: number) => results.get(size) ?? { error: 'not counted' },
    startupSeconds: times.length ? times[Math.floor(times.length / 2)] : undefined,
  };
}

/** A progress line for a terminal: "counting parameters: 12/64 sizes (width 256: N = 1.2M), 3 s". */
export function countProgressLine(p: CountProgress, sizeParam: string, formatCount: (n: number) => string): string {
  const what = typeof p.result === 'number' ? `N = ${formatCount(p.result)}` : p.result.error;
  return `counting parameters with countParams: ${p.done}/${p.total} sizes (${sizeParam} ${p.size}: ${what}), ${p.elapsedSeconds.toFixed(1)} s`;
}
