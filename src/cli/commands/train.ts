/** `flopsfit train` — placeholder until its issue lands. */
import { CliError } from '../util';

export const summary = 'train';

export async function run(_args: string[]): Promise<number> {
  throw new CliError('the "train" command is not implemented yet', 2);
}
