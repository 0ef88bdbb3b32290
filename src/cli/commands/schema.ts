/** `flopsfit schema` — placeholder until its issue lands. */
import { CliError } from '../util';

export const summary = 'schema';

export async function run(_args: string[]): Promise<number> {
  throw new CliError('the "schema" command is not implemented yet', 2);
}
