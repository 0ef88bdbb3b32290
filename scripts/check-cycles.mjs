// Runtime import cycles, found by the bundler the project already uses (esbuild): bundles every
// entry point with a metafile (type-only imports are erased, as at run time), then looks for
// cycles among the project's own modules. Part of `npm run lint`; exit code 1 when one exists.
//
//   node scripts/check-cycles.mjs [--root <dir>] [entry ...]
import * as esbuild from 'esbuild';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
let root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entries = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--root') root = path.resolve(args[++i]);
  else entries.push(args[i]);
}
if (!entries.length) entries.push('src/extension/main.ts', 'src/cli/main.ts', 'webview/main.ts');

/** Every cycle of the import graph, each once (as the list of its modules, starting at its least). */
export function findCycles(graph) {
  const cycles = new Map();
  const state = new Map(); // 1: on the stack, 2: done
  const stack = [];
  const visit = (n) => {
    state.set(n, 1);
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 1) {
        const cyc = stack.slice(stack.indexOf(m));
        const start = cyc.indexOf([...cyc].sort()[0]);
        const norm = [...cyc.slice(start), ...cyc.slice(0, start)];
        cycles.set(norm.join(' → '), norm);
      } else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return [...cycles.values()];
}

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: entries,
  bundle: true,
  write: false,
  metafile: true,
  outdir: 'out/cycles',
  platform: 'node',
  format: 'cjs',
  packages: 'external',
  external: ['vscode'],
  logLevel: 'silent',
  loader: { '.wasm': 'binary' },
});
const graph = new Map();
for (const [file, info] of Object.entries(result.metafile.inputs)) {
  if (file.includes('node_modules')) continue;
  graph.set(file, info.imports.filter((i) => !i.external && !i.path.includes('node_modules')).map((i) => i.path));
}
const cycles = findCycles(graph);
if (cycles.length) {
  console.error(`import cycles (${cycles.length}):`);
  for (const c of cycles) console.error(`  ${[...c, c[0]].join(' → ')}`);
  process.exit(1);
}
console.log(`no import cycles among ${graph.size} modules`);
