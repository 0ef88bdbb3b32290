/**
 * `flopsfit sample <checkpointDir>`: generates tokens from a checkpoint. Byte-level text data is
 * printed as text; other data as space-separated token ids.
 */
import { Backend } from '../../core/contracts';
import { CliError, numberOption, parseArgs } from '../util';

export const summary = 'generate text from a checkpoint';

const HELP = `Usage: flopsfit sample <checkpointDir> [--tokens N] [--prompt text] [--temperature t] [--seed s] [--backend b] [--json]

  --tokens N        tokens to generate (default 200)
  --prompt text     text for byte-level data; space/comma separated token ids otherwise
  --temperature t   softmax temperature; 0 = greedy (default 1)
  --seed s          sampling seed (default 0)`;

export async function run(args: string[]): Promise<number> {
  const a = parseArgs(args, { values: ['tokens', 'prompt', 'temperature', 'seed', 'backend'], flags: ['json', 'help'] });
  if (a.flags.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (a.positionals.length !== 1) throw new CliError(`sample needs exactly one checkpoint folder\n\n${HELP}`, 2);
  const tokens = numberOption(a, 'tokens', { integer: true, min: 1 }) ?? 200;
  const temperature = numberOption(a, 'temperature', { min: 0 }) ?? 1;
  const seed = numberOption(a, 'seed', { integer: true }) ?? 0;
  let backend: Backend | undefined;
  if (a.values.backend !== undefined) {
    const b = Backend.safeParse(a.values.backend);
    if (!b.success) throw new CliError(`--backend must be one of ${Backend.options.join(', ')}`, 2);
    backend = b.data;
  }
  const { sampleCheckpoint } = await import('../../engine/infer');
  let r: Awaited<ReturnType<typeof sampleCheckpoint>>;
  try {
    r = await sampleCheckpoint(a.positionals[0], { tokens, temperature, seed, prompt: a.values.prompt, backend });
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
  if (a.flags.json) process.stdout.write(JSON.stringify(r) + '\n');
  else if (r.bytes) process.stdout.write((a.values.prompt ?? '') + (r.text ?? '') + '\n');
  else process.stdout.write([...r.promptTokens, ...r.tokens].join(' ') + '\n');
  return 0;
}
