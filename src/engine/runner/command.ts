/** The command line of one experiment: the built-in trainer (`flopsfit train`) or the user's command. */
import type { ExperimentSpec } from '../../core/contracts';
import { placeholderValues, substitute } from './protocol';

export interface ExperimentCommand {
  command: string;
  args: string[];
  cwd: string;
  /** the variables the experiment gets on top of its parent's environment */
  env: Record<string, string>;
}

export interface CommandOptions {
  /** node executable for `flopsfit train` (default: process.execPath) */
  nodePath?: string;
  /** the bundled flopsfit.js (`train`) */
  script?: string;
  /** the sweep's run directory (the built-in trainer's cwd) */
  runDir: string;
}

/**
 * The command, working directory and FLOPSFIT_* variables of an experiment. Throws
 * `PlaceholderError` when a command trainer's placeholders cannot be filled.
 */
export function experimentCommand(
  launch: { id: string; spec: ExperimentSpec; dir: string; specFile: string; resuming: boolean; hasCheckpoint: boolean },
  opts: CommandOptions,
): ExperimentCommand {
  const { id, spec, dir } = launch;
  const env: Record<string, string> = {
    FLOPSFIT_EXPERIMENT_ID: id,
    FLOPSFIT_RUN_DIR: dir,
    FLOPSFIT_TOKENS: String(spec.tokens),
    FLOPSFIT_SEED: String(spec.seed),
  };
  if (launch.resuming) env.FLOPSFIT_RESUME = '1';
  if (spec.model.family === 'command') {
    const [command, ...args] = substitute(spec.model.command, placeholderValues(spec, dir));
    return { command, args, cwd: spec.model.cwd, env: { ...env, ...(spec.model.env ?? {}) } };
  }
  const script = opts.script ?? require.main?.filename ?? __filename;
  return {
    command: opts.nodePath ?? process.execPath,
    args: [script, 'train', launch.specFile, '--out', dir, ...(launch.hasCheckpoint ? ['--resume'] : [])],
    cwd: opts.runDir,
    env: { ...env, ELECTRON_RUN_AS_NODE: '1' },
  };
}
