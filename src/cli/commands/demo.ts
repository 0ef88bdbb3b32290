/** `flopsfit demo` — placeholder until its issue lands. */
import { CliError } from '../util';

export const summary = 'demo';

export async function run(_args: string[]): Promise<number> {
  throw new CliError('the "demo" command is not implemented yet', 2);
}
