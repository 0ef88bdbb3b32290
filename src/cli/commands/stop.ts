/**
 * `flopsfit stop <config>`: stops a sweep. A runner following it is interrupted (it stops its
 * experiments at their checkpoints); a detached Slurm sweep is attached and stopped: the stop
 * marker, pending tasks cancelled, running ones asked to checkpoint (SIGTERM), cancelled after
 * run.slurm.stopGraceSeconds.
 */
import { lockHolderAlive, readJsonFile, readLock } from '../../core/manifest';
import { CliError, parseArgs } from '../util';
import { executeSweep, prepareSweep, type PreparedSweep } from './run';
import { Plan, RUN_FILES } from '../../core/contracts';
import * as path from 'node:path';
import { loadSweepConfig } from '../../core/config';
import { resolveRunDir } from '../../core/plan';
import * as os from 'node:os';

export const summary = 'stop a sweep (its runner, or its detached Slurm jobs) at the experiments’ checkpoints';

const HELP = `Usage: flopsfit stop <config> [--out <dir>] [--workspace <dir>] [--executor local|slurm]

Stops the sweep: a runner that follows it is interrupted (like Ctrl+C: every running experiment
saves a checkpoint); experiments a detached run left on Slurm are stopped the same way (pending
tasks cancelled, running ones signalled to checkpoint). Resume with 'flopsfit run <config>'.`;

export async function run(args: string[]): Promise<number> {
  const parsed = parseArgs(args, { values: ['out', 'workspace', 'executor'], flags: ['help'] });
  if (parsed.flags.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (parsed.positionals.length !== 1) throw new CliError(`expected one sweep config\n\n${HELP}`, 2);
  const executor = parsed.values.executor;
  if (executor !== undefined && executor !== 'local' && executor !== 'slurm') throw new CliError(`--executor ${executor}: expected local or slurm`, 2);
  const configPath = path.resolve(parsed.positionals[0]);
  const loaded = loadSweepConfig(configPath);
  if (loaded.config) {
    const runDir = parsed.values.out ? path.resolve(parsed.values.out) : resolveRunDir(loaded.config, configPath, parsed.values.workspace ? path.resolve(parsed.values.workspace) : undefined);
    const lock = readLock(runDir);
    if (lock.ok && lockHolderAlive(lock.value)) {
      if (lock.value.host !== os.hostname()) throw new CliError(`the sweep is followed by a runner on ${lock.value.host} (pid ${lock.value.pid}): stop it there`, 3);
      process.kill(lock.value.pid, 'SIGINT');
      process.stdout.write(`flopsfit: asked the runner (pid ${lock.value.pid}) to stop; it stops its experiments at their checkpoints\n`);
      return 0;
    }
  }
  // Stop what was submitted: the run directory's own plan.json (no re-planning, which may take a while).
  let prep: PreparedSweep | undefined;
  if (loaded.config) {
    const runDir = parsed.values.out ? path.resolve(parsed.values.out) : resolveRunDir(loaded.config, configPath, parsed.values.workspace ? path.resolve(parsed.values.workspace) : undefined);
    const stored = readJsonFile(path.join(runDir, RUN_FILES.plan), Plan);
    if (stored.ok) prep = { config: loaded.config, plan: { ...stored.value, runDir }, configPath };
  }
  prep ??= await prepareSweep(parsed.positionals[0], { workspace: parsed.values.workspace, out: parsed.values.out });
  const outcome = await executeSweep(prep, { executor, stopOnly: true, fit: false });
  return outcome.exitCode === 130 ? 0 : outcome.exitCode;
}
