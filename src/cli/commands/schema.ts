/** `flopsfit schema [--out <file>]` — print (or write) the sweep config JSON Schema. */
import { sweepJsonSchemaText } from '../../core/config';
import { writeFileAtomicSync } from '../../core/atomic';
import { parseArgs } from '../util';

export const summary = 'print the sweep config JSON Schema';

export async function run(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write('Usage: flopsfit schema [--out <file>]\n\nPrints the JSON Schema of sweep configs (generated from the validator itself).\n');
    return 0;
  }
  const parsed = parseArgs(args, { values: ['out'] });
  const text = sweepJsonSchemaText();
  if (parsed.values.out) writeFileAtomicSync(parsed.values.out, text);
  else process.stdout.write(text);
  return 0;
}
