/**
 * `flopsfit train <spec.json> --out <runDir> [--resume]`: trains one experiment in this process
 * (the runner spawns one per experiment). SIGINT/SIGTERM/SIGHUP stop it gracefully: the current
 * step finishes, a checkpoint is written and result.json says "stopped".
 * Exit codes: 0 completed, 1 failed (reason in result.json and on stderr), 130 stopped, 2 usage.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExperimentSpec } from '../../core/contracts';
import { CliError, parseArgs } from '../util';

export const summary = 'train one experiment spec into a run directory (resumable)';

const HELP = `Usage: flopsfit train <spec.json> --out <runDir> [--resume] [--quiet]

Trains one experiment (an ExperimentSpec JSON file, as written by the planner to
experiments/<id>/spec.json) and writes metrics.jsonl, checkpoint/ and result.json in <runDir>.

  --out <dir>   run directory (default: the folder of spec.json)
  --resume      continue from <dir>/checkpoint when it exists
  --quiet       no progress lines

Signals SIGINT/SIGTERM/SIGHUP write a checkpoint and stop (exit code 130).
training.backend torch/torch-cpu (or auto with a GPU) trains with PyTorch in a Python child
process (flopsfit.pythonPath / FLOPSFIT_PYTHON, else python3); same files and semantics.`;

export function readSpec(file: string): ExperimentSpec {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new CliError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = ExperimentSpec.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError(`${file}: invalid experiment spec at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return parsed.data;
}

export async function run(args: string[]): Promise<number> {
  const a = parseArgs(args, { values: ['out'], flags: ['resume', 'quiet', 'help'] });
  if (a.flags.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (a.positionals.length !== 1) throw new CliError(`train needs exactly one spec file\n\n${HELP}`, 2);
  const specFile = path.resolve(a.positionals[0]);
  const spec = readSpec(specFile);
  if (spec.model.family !== 'transformer') {
    throw new CliError(`${specFile}: 'flopsfit train' runs the built-in transformer; model.family is "${spec.model.family}"`, 2);
  }
  const runDir = path.resolve(a.values.out ?? path.dirname(specFile));
  // A closed stdout (parent gone, `| head`) must not kill training mid-step: stop gracefully.
  const controller = new AbortController();
  let stdoutClosed = false;
  const onStdoutError = () => {
    stdoutClosed = true;
    controller.abort();
  };
  process.stdout.on('error', onStdoutError);
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      process.stdout.write(`${sig}: stopping after the current step (checkpoint follows)\n`);
      controller.abort();
    } else {
      process.stderr.write(`${sig} again: exiting without a final checkpoint\n`);
      process.exit(130);
    }
  };
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of sigs) process.on(s, onSignal);
  try {
    // The spec's backend picks the engine: TensorFlow.js in this process, or PyTorch in a child.
    const { trainAny } = await import('../../engine/torchEngine');
    const quiet = a.flags.quiet === true;
    const result = await trainAny(spec, runDir, {
      resume: a.flags.resume === true,
      signal: controller.signal,
      log: (line) => {
        if (!quiet && !stdoutClosed) process.stdout.write(line + '\n');
      },
    });
    if (result.status === 'completed') return 0;
    if (result.status === 'stopped') return 130;
    process.stderr.write(`flopsfit: training failed: ${result.reason ?? 'unknown reason'}\n`);
    return 1;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(err instanceof Error ? err.message : String(err));
  } finally {
    for (const s of sigs) process.off(s, onSignal);
    process.stdout.off('error', onStdoutError);
  }
}
