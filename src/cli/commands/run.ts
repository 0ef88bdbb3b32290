/**
 * `flopsfit run <config>`: plans the sweep, runs (or resumes) its experiments, then fits.
 * The orchestration lives in src/engine/runner; this file turns arguments into options and
 * errors into clear messages.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { loadSweepConfig, formatDiagnostic, SlurmConfig, type SweepConfig } from '../../core/config';
import type { Plan } from '../../core/contracts';
import { fitRunDirAsync } from '../../core/fit/parallel';
import { fitOptionsFromConfig } from '../../core/fit/configOptions';
import { LockHeldError, lockHolderAlive, lockPath, readLock } from '../../core/manifest';
import { buildPlan, planSemanticDiagnostics, resolveRunDir } from '../../core/plan';
import { RunnerError, runSweep, type SweepOutcome } from '../../engine/runner';
import { onPath } from '../../engine/runner/executors/slurm/commands';
import { SlurmCommandError, SlurmExecutor } from '../../engine/runner/executors/slurm';
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
  --executor <e>       local (processes on this machine) or slurm (one array job per submission;
                       default: run.executor of the config, else local)
  --detach             (slurm) submit, then exit; the jobs go on. 'flopsfit run' again re-attaches
                       (nothing queued or running is resubmitted), 'flopsfit status' shows them

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
  executor?: 'local' | 'slurm';
  detach?: boolean;
  /** follow what still runs and stop it (`flopsfit stop`) */
  stopOnly?: boolean;
  parallel?: number;
  only?: string[];
  retryFailed?: boolean;
  resume?: boolean;
  fit?: boolean;
  progressSeconds?: number;
}

/** Runs a prepared sweep; shared by `run` and `demo`. */
export async function executeSweep(prep: PreparedSweep, o: ExecuteOptions): Promise<SweepOutcome> {
  const kind = o.executor ?? prep.config.run?.executor ?? 'local';
  if (o.detach && kind !== 'slurm') throw new CliError('--detach needs the Slurm executor (--executor slurm or run.executor: slurm): local experiments end with their runner', 2);
  if (kind === 'slurm') {
    for (const cmd of ['sbatch', 'squeue', 'scancel']) {
      if (!onPath(cmd)) throw new CliError(`${cmd} was not found on PATH: the Slurm executor needs the Slurm client commands (run FlopsFit on the cluster's login node, or use --executor local)`, 2);
    }
  }
  checkWritable(prep.plan.runDir);
  const settings = SlurmConfig.parse(prep.config.run?.slurm ?? {});
  try {
    return await runSweep({
      plan: prep.plan,
      detach: o.detach,
      stopOnly: o.stopOnly,
      ...(kind === 'slurm'
        ? {
            executor: (events) =>
              new SlurmExecutor(
                {
                  runDir: prep.plan.runDir,
                  sweep: prep.plan.sweep,
                  settings,
                  arrayLimit: o.parallel ?? settings.arrayLimit ?? prep.config.run?.parallel,
                  progressIntervalSeconds: o.progressSeconds,
                },
                events,
              ),
          }
        : {}),
      parallel: kind === 'slurm' ? Number.MAX_SAFE_INTEGER : (o.parallel ?? prep.config.run?.parallel),
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
    if (err instanceof SlurmCommandError) throw new CliError(err.message, 1);
    throw err;
  }
}

/** The run directory (or the nearest existing folder above it) must be writable: a clear message instead of a stack trace. */
export function checkWritable(runDir: string): void {
  let dir = path.resolve(runDir);
  while (!fs.existsSync(dir)) {
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  try {
    if (!fs.statSync(dir).isDirectory()) throw new CliError(`the run directory ${runDir} cannot be created: ${dir} is not a folder (set run.directory or --out)`, 2);
    fs.accessSync(dir, fs.constants.W_OK);
    const probe = path.join(dir, `.flopsfit-write-test-${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe, { force: true });
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`the run directory ${runDir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message} at ${dir}); nothing was started (set run.directory or --out)`, 2);
  }
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseArgs(args, {
    values: ['parallel', 'out', 'workspace', 'progress', 'executor'],
    flags: ['retry-failed', 'resume', 'no-fit', 'help', 'detach'],
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
  const executor = parsed.values.executor;
  if (executor !== undefined && executor !== 'local' && executor !== 'slurm') throw new CliError(`--executor ${executor}: expected local or slurm`, 2);
  const prep = await prepareSweep(parsed.positionals[0], { workspace: parsed.values.workspace, out: parsed.values.out });
  const outcome = await executeSweep(prep, {
    executor,
    detach: parsed.flags.detach,
    parallel,
    only: parsed.lists.only,
    retryFailed: parsed.flags['retry-failed'],
    resume: parsed.flags.resume,
    fit: !parsed.flags['no-fit'],
    progressSeconds,
  });
  return outcome.exitCode;
}
