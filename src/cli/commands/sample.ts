/** `flopsfit sample` — placeholder until its issue lands. */
import { CliError } from '../util';

export const summary = 'sample';

export async function run(_args: string[]): Promise<number> {
  throw new CliError('the "sample" command is not implemented yet', 2);
}
