/**
 * The parameter counter of a command model for the CLI and the task process: runs the config's
 * `countParams` argv with {size} filled in and reads the last number it prints. Results are cached
 * per size value. The extension host never uses this in an untrusted workspace.
 */
import { spawnSync } from 'node:child_process';
import type { CommandModelConfig } from '../config/schema';
import type { ParamCounter } from './grid';
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
