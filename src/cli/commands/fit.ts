/** `flopsfit fit` — placeholder until its issue lands. */
import { CliError } from '../util';

export const summary = 'fit';

export async function run(_args: string[]): Promise<number> {
  throw new CliError('the "fit" command is not implemented yet', 2);
}
