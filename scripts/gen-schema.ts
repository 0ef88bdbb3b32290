/**
 * Writes schemas/sweep.schema.json from the zod schema (src/core/config/schema.ts), the single
 * source of truth. Run by `npm run gen:schema` and `npm run build`; `--check` exits 1 when the
 * committed file is stale instead of writing it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sweepJsonSchemaText } from '../src/core/config/jsonSchema';

const file = path.resolve(__dirname, '..', 'schemas', 'sweep.schema.json');
const text = sweepJsonSchemaText();
const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
if (process.argv.includes('--check')) {
  if (current !== text) {
    console.error(`${path.relative(process.cwd(), file)} is stale: run npm run gen:schema`);
    process.exit(1);
  }
  console.log(`${path.relative(process.cwd(), file)} is up to date`);
} else if (current !== text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  console.log(`[flopsfit] wrote ${path.relative(process.cwd(), file)}`);
}
