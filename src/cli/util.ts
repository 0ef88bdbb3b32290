/** Small helpers shared by the CLI commands: argument parsing, error reporting, counting with progress. */
import type { SweepConfig } from '../core/config/schema';
import { formatCount } from '../core/format';
import { commandCwd, commandSizeValues, countCommandParams, countProgressLine } from '../core/plan';
import type { CountedParams } from '../core/plan/commandCounter';

/** An error meant for the user: printed as one clear message, never with a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function printError(err: unknown): number {
  if (err instanceof CliError) {
    process.stderr.write(`flopsfit: ${err.message}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`flopsfit: internal error: ${message}\n`);
  if (process.env.FLOPSFIT_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  return 70;
}

export interface OptionSpec {
  /** options that take a value, e.g. ['out', 'parallel'] */
  values?: readonly string[];
  /** boolean flags, e.g. ['json', 'resume'] */
  flags?: readonly string[];
  /** options that may be repeated (values collected in order) */
  repeatable?: readonly string[];
}

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string | undefined>;
  lists: Record<string, string[]>;
  flags: Record<string, boolean>;
}

/** Parses `--name value`, `--name=value` and `--flag`; rejects unknown options with a clear error. */
export function parseArgs(args: string[], spec: OptionSpec): ParsedArgs {
  const values = new Set(spec.values ?? []);
  const flags = new Set(spec.flags ?? []);
  const repeatable = new Set(spec.repeatable ?? []);
  const out: ParsedArgs = { positionals: [], values: {}, lists: {}, flags: {} };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      out.positionals.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '-') {
      out.positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    if (flags.has(name)) {
      if (eq !== -1) throw new CliError(`option --${name} takes no value`, 2);
      out.flags[name] = true;
    } else if (values.has(name) || repeatable.has(name)) {
      let v: string | undefined;
      if (eq !== -1) v = a.slice(eq + 1);
      else {
        v = args[i + 1];
        i++;
      }
      if (v === undefined) throw new CliError(`option --${name} needs a value`, 2);
      if (repeatable.has(name)) (out.lists[name] ??= []).push(v);
      else out.values[name] = v;
    } else {
      throw new CliError(`unknown option --${name}`, 2);
    }
  }
  return out;
}

export function numberOption(parsed: ParsedArgs, name: string, opts: { integer?: boolean; min?: number } = {}): number | undefined {
  const raw = parsed.values[name];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || (opts.integer && !Number.isInteger(v)) || (opts.min !== undefined && v < opts.min)) {
    throw new CliError(`option --${name}: '${raw}' is not a valid ${opts.integer ? 'integer' : 'number'}${opts.min !== undefined ? ` ≥ ${opts.min}` : ''}`, 2);
  }
  return v;
}

/**
 * Counts a command model's parameters at every probed size, printing progress on stderr (at most
 * once a second, and the last line), so a slow countParams is never silent. Undefined for the
 * built-in transformer.
 */
export async function countParamsWithProgress(config: SweepConfig, configPath: string): Promise<CountedParams | undefined> {
  if (config.model.family !== 'command') return undefined;
  const sizes = commandSizeValues(config);
  const sizeParam = config.model.size.param;
  let last = 0;
  let printed = false;
  const counted = await countCommandParams(config.model, commandCwd(config.model, configPath), sizes, {
    onProgress: (p) => {
      if (p.elapsedSeconds - last < 1 && !(printed && p.done === p.total)) return;
      last = p.elapsedSeconds;
      printed = true;
      process.stderr.write(`flopsfit: ${countProgressLine(p, sizeParam, formatCount)}\n`);
    },
  });
  return counted;
}
