/**
 * `flopsfit run <config>`: plans the sweep, runs (or resumes) its experiments, then fits.
 * The orchestration lives in src/engine/runner; this file turns arguments into options and
 * errors into clear messages.
 */
import * as path from 'node:path';
import { loadSweepConfig, formatDiagnostic, type SweepConfig } from '../../core/config';
import type { Plan } from '../../core/contracts';
import { fitRunDirAsync } from '../../core/fit/parallel';
import { fitOptionsFromConfig } from '../../core/fit/configOptions';
import { LockHeldError, lockHolderAlive, lockPath, readLock } from '../../core/manifest';
import { buildPlan, planSemanticDiagnostics, resolveRunDir } from '../../core/plan';
import { RunnerError, runSweep, type SweepOutcome } from '../../engine/runner';
import { fitSummaryLines } from '../../engine/runner/fitSummary';
import { CliError, countParamsWithProgress, numberOption, parseArgs } from '../util';

export const summary = 'run (or resume) the sweep’s experiments, then fit';

const HELP = `Usage: flopsfit run <config> [options]

Runs the experiments of a sweep config (smallest budgets first, each in its own process), then fits
the scaling laws and writes fit.json. When the run directory already has a manifest, the sweep
resumes: completed experiments are kept, stopped and interrupted ones continue from their last
checkpoint. Ctrl+C stops gracefully (every running experiment saves a checkpoint); a second Ctrl+C
kills.

Options:
  --parallel <n>       experiments at once (default: run.parallel of the config, else one per CPU
                       core on the CPU backends and one on a GPU or for command trainers)
  --only <id>          run only this experiment (id or unique prefix; repeatable)
  --retry-failed       also re-run failed experiments (from their last checkpoint)
  --resume             resume only: fail when the sweep has no manifest yet
  --out <dir>          run directory (default: run.directory of the config, else
                       .flopsfit/<name>/ under the workspace)
  --workspace <dir>    workspace root for relative paths (default: the nearest folder above the
                       config with .vscode or .git, else the config's folder)
  --no-fit             do not fit after the last experiment
  --progress <sec>     seconds between progress lines of a running experiment (default 10)

Exit status: 0 all selected experiments completed; 1 some failed; 2 bad config or usage;
3 another runner holds the sweep's lock; 130 stopped.`;

export interface PreparedSweep {
  config: SweepConfig;
  plan: Plan;
  configPath: string;
}

/** Loads and validates a config (printing warnings), then plans it. Errors become CliErrors. */
export async function prepareSweep(file: string, opts: { workspace?: string; out?: string } = {}): Promise<PreparedSweep> {
  const configPath = path.resolve(file);
  const loaded = loadSweepConfig(configPath);
  const shown = path.relative(process.cwd(), configPath) || configPath;
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  for (const d of loaded.diagnostics) if (d.severity !== 'error') process.stderr.write(formatDiagnostic(shown, d) + '\n');
  if (errors.length || !loaded.config) {
    throw new CliError(`${shown} is not a valid sweep config:\n${errors.map((d) => '  ' + formatDiagnostic(shown, d)).join('\n') || '  (no config)'}`, 2);
  }
  const config = loaded.config;
  const workspaceRoot = opts.workspace ? path.resolve(opts.workspace) : undefined;
  // Fail fast, before planning (which may run countParams many times), when the sweep is locked.
  const runDir = opts.out ? path.resolve(opts.out) : resolveRunDir(config, configPath, workspaceRoot);
  const lock = readLock(runDir);
  if (lock.ok && lockHolderAlive(lock.value)) throw new CliError(new LockHeldError(lock.value, lockPath(runDir)).message, 3);
  const counted = await countParamsWithProgress(config, configPath);
  const plan = buildPlan(config, {
    configPath,
    ...(workspaceRoot ? { workspaceRoot } : {}),
    ...(counted ? { countParams: counted.counter, commandStartupSeconds: counted.startupSeconds } : {}),
  });
  plan.runDir = runDir;
  // what validation calls an error (a placeholder no experiment can fill, a missing cwd) would fail every experiment
  const planErrors = planSemanticDiagnostics(plan, loaded.source ?? (loaded.text !== undefined ? { text: loaded.text, fileName: configPath } : undefined)).filter((d) => d.severity === 'error');
  if (planErrors.length) throw new CliError(`${shown} is not a valid sweep config:\n${planErrors.map((d) => '  ' + formatDiagnostic(shown, d)).join('\n')}`, 2);
  if (plan.experiments.length === 0) {
    const why = plan.warnings.map((w) => `  ${w.message}`).join('\n');
    throw new CliError(`the plan of ${shown} has no experiments${why ? `:\n${why}` : ''}`, 2);
  }
  return { config: loaded.config, plan, configPath };
}

export interface ExecuteOptions {
  parallel?: number;
  only?: string[];
  retryFailed?: boolean;
  resume?: boolean;
  fit?: boolean;
  progressSeconds?: number;
}

/** Runs a prepared sweep; shared by `run` and `demo`. */
export async function executeSweep(prep: PreparedSweep, o: ExecuteOptions): Promise<SweepOutcome> {
  try {
    return await runSweep({
      plan: prep.plan,
      parallel: o.parallel ?? prep.config.run?.parallel,
      gpus: { gpusPerExperiment: prep.config.run?.gpusPerExperiment, experimentsPerGpu: prep.config.run?.experimentsPerGpu },
      only: o.only,
      retryFailed: o.retryFailed,
      resume: o.resume,
      progressIntervalSeconds: o.progressSeconds,
      fit:
        o.fit === false
          ? undefined
          : async (runDir) => {
              const report = await fitRunDirAsync(runDir, fitOptionsFromConfig(prep.config));
              return fitSummaryLines(report, path.join(runDir, 'fit.json'));
            },
    });
  } catch (err) {
    if (err instanceof LockHeldError) throw new CliError(err.message, 3);
    if (err instanceof RunnerError) throw new CliError(err.message, err.exitCode);
    throw err;
  }
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseArgs(args, {
    values: ['parallel', 'out', 'workspace', 'progress'],
    flags: ['retry-failed', 'resume', 'no-fit', 'help'],
    repeatable: ['only'],
  });
  if (parsed.flags.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (parsed.positionals.length !== 1) throw new CliError(`expected one sweep config\n\n${HELP}`, 2);
  const parallel = numberOption(parsed, 'parallel', { integer: true, min: 1 });
  const progressSeconds = numberOption(parsed, 'progress', { min: 0.1 });
  // A closed terminal (the task's pipe gone) must not crash the sweep: it goes on headless.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const prep = await prepareSweep(parsed.positionals[0], { workspace: parsed.values.workspace, out: parsed.values.out });
  const outcome = await executeSweep(prep, {
    parallel,
    only: parsed.lists.only,
    retryFailed: parsed.flags['retry-failed'],
    resume: parsed.flags.resume,
    fit: !parsed.flags['no-fit'],
    progressSeconds,
  });
  return outcome.exitCode;
}
