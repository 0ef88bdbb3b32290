/** `flopsfit eval` — placeholder until its issue lands. */
import { CliError } from '../util';

export const summary = 'eval';

export async function run(_args: string[]): Promise<number> {
  throw new CliError('the "eval" command is not implemented yet', 2);
}
