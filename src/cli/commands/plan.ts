/** `flopsfit plan` — placeholder until its issue lands. */
import { CliError } from '../util';

export const summary = 'plan';

export async function run(_args: string[]): Promise<number> {
  throw new CliError('the "plan" command is not implemented yet', 2);
}
