/**
 * `flopsfit`: the headless command line. Every command lives in ./commands/<name>.ts and exports
 * `run(args: string[]): Promise<number>` (the exit code). Commands are imported lazily so that
 * `flopsfit plan` never loads TensorFlow.js.
 */
import { CliError, printError } from './util';

type CommandModule = { run(args: string[]): Promise<number>; summary: string };

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  plan: () => import('./commands/plan'),
  run: () => import('./commands/run'),
  fit: () => import('./commands/fit'),
  train: () => import('./commands/train'),
  eval: () => import('./commands/eval'),
  sample: () => import('./commands/sample'),
  status: () => import('./commands/status'),
  stop: () => import('./commands/stop'),
  demo: () => import('./commands/demo'),
  schema: () => import('./commands/schema'),
};

const USAGE = `flopsfit — compute-optimal scaling-law experiments

Usage: flopsfit <command> [options]

Commands:
  plan <config> [--json]            validate a sweep config and print its IsoFLOP plan
  run <config> [options]            run (or resume) the sweep's experiments, then fit
  fit <config> | --input <file>     fit scaling laws to a sweep's results or to a CSV/JSON file
  train <spec.json> --out <dir>     train one experiment (used by 'run'; resumable)
  status <config>                   show each experiment's state (Slurm job, state, reason, node)
  stop <config>                     stop a sweep (its runner, or its detached Slurm jobs)
  eval <checkpoint>                 recompute the validation loss of a checkpoint
  sample <checkpoint>               generate text from a checkpoint
  demo                              plan, train and fit the built-in demo sweep
  schema                            print the sweep config JSON Schema

Run 'flopsfit <command> --help' for a command's options.`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`flopsfit: unknown command '${name}'\n\n${USAGE}\n`);
    return 2;
  }
  try {
    const mod = await load();
    return await mod.run(rest);
  } catch (err) {
    return printError(err);
  }
}

declare const __FLOPSFIT_VERSION__: string | undefined;
const VERSION = typeof __FLOPSFIT_VERSION__ === 'string' ? __FLOPSFIT_VERSION__ : '0.1.0';

if (require.main === module) {
  // `flopsfit plan x --json | head`: a closed pipe ends the output quietly, it is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.exitCode = printError(err);
    },
  );
}

export { CliError };
