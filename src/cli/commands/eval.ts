/**
 * `flopsfit eval <checkpointDir>`: rebuilds the model and the validation set from a checkpoint
 * (or a run directory holding checkpoint/) and recomputes the held-out loss. On a finished run it
 * equals the recorded final loss; the command says whether it does.
 */
import { Backend } from '../../core/contracts';
import { CliError, parseArgs } from '../util';

export const summary = 'recompute the validation loss of a checkpoint';

const HELP = `Usage: flopsfit eval <checkpointDir> [--backend auto|wasm|cpu|…] [--json]

Recomputes the held-out validation loss (nats/token) of a checkpoint. <checkpointDir> is an
experiment's checkpoint/ folder or the experiment folder itself. Uses the backend the run used
unless --backend is given. Exit code 0, or 1 when a recorded final loss does not match.`;

export async function run(args: string[]): Promise<number> {
  const a = parseArgs(args, { values: ['backend'], flags: ['json', 'help'] });
  if (a.flags.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (a.positionals.length !== 1) throw new CliError(`eval needs exactly one checkpoint folder\n\n${HELP}`, 2);
  let backend: Backend | undefined;
  if (a.values.backend !== undefined) {
    const b = Backend.safeParse(a.values.backend);
    if (!b.success) throw new CliError(`--backend must be one of ${Backend.options.join(', ')}`, 2);
    backend = b.data;
  }
  const { evalCheckpoint } = await import('../../engine/infer');
  let r: Awaited<ReturnType<typeof evalCheckpoint>>;
  try {
    r = await evalCheckpoint(a.positionals[0], backend, (l) => process.stderr.write(l + '\n'));
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
  // Same backend and weights give the same numbers; allow float noise across backends.
  const match = r.recordedFinalLoss === undefined ? undefined : Math.abs(r.loss - r.recordedFinalLoss) <= 1e-5 * Math.max(1, Math.abs(r.recordedFinalLoss));
  if (a.flags.json) {
    process.stdout.write(JSON.stringify({ loss: r.loss, recordedFinalLoss: r.recordedFinalLoss, match, step: r.step, totalSteps: r.totalSteps, validationTokens: r.validationTokens, backend: r.backend.name }) + '\n');
  } else {
    process.stdout.write(`validation loss ${r.loss.toFixed(6)} nats/token over ${r.validationTokens} tokens (step ${r.step}/${r.totalSteps}, ${r.backend.name})\n`);
    if (r.recordedFinalLoss !== undefined) {
      process.stdout.write(`recorded final loss ${r.recordedFinalLoss.toFixed(6)}: ${match ? 'match' : 'MISMATCH'}\n`);
    }
  }
  return match === false ? 1 : 0;
}
