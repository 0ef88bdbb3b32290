/** `flopsfit run` — placeholder until its issue lands. */
import { CliError } from '../util';

export const summary = 'run';

export async function run(_args: string[]): Promise<number> {
  throw new CliError('the "run" command is not implemented yet', 2);
}
