// Shared command-line bits of the .mjs benchmark drivers (bench/train.mjs, bench/sweep.mjs).
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const argv = process.argv.slice(2);

/** The value after `--name`, else `def`. */
export const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};

/** Whether `--name` was given. */
export const flag = (name) => argv.includes(`--${name}`);
