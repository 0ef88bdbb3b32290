// Bundles the three targets with esbuild:
//   dist/extension.js  extension host (node, `vscode` external)
//   dist/flopsfit.js   the `flopsfit` process: CLI, runner and trainer (node)
//   dist/fitWorker.js  worker_threads entry of the parallel scaling-law fit (node)
//   dist/webview.js    the results panel (browser)
// and copies beside them the tfjs wasm binaries and dist/flopsfit_torch.py (the PyTorch engine).
// Flags: --production (minify, no source maps), --watch.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const common = {
  bundle: true,
  minify: production,
  sourcemap: !production,
  logLevel: 'warning',
  absWorkingDir: root,
};

/** Packages that are loaded only when present at run time (optional GPU backends). */
const optionalNative = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', 'webgpu', '@tensorflow/tfjs-backend-webgpu'];

const targets = [
  {
    ...common,
    entryPoints: { extension: 'src/extension/main.ts' },
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    // jsonc-parser's UMD "main" requires './impl/*' dynamically, which a bundle cannot resolve
    mainFields: ['module', 'main'],
  },
  {
    ...common,
    entryPoints: { flopsfit: 'src/cli/main.ts' },
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    mainFields: ['module', 'main'],
    external: optionalNative,
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    // worker_threads entry of the parallel fit (src/core/fit/parallel.ts loads it from beside the bundle)
    ...common,
    entryPoints: { fitWorker: 'src/core/fit/parallelWorker.ts' },
    outdir: 'dist',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    mainFields: ['module', 'main'],
  },
  {
    ...common,
    entryPoints: { webview: 'webview/main.ts' },
    outdir: 'dist',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
];

/** The wasm backend loads its .wasm binaries from beside the bundle at run time. */
function copyWasm() {
  const src = path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  const out = path.join(root, 'dist');
  fs.mkdirSync(out, { recursive: true });
  for (const f of fs.readdirSync(src)) {
    if (f.endsWith('.wasm')) fs.copyFileSync(path.join(src, f), path.join(out, f));
  }
}

/** The PyTorch engine's trainer runs from beside the bundle (src/engine/python.ts trainerScript). */
function copyTorchTrainer() {
  const out = path.join(root, 'dist');
  fs.mkdirSync(out, { recursive: true });
  fs.copyFileSync(path.join(root, 'src/engine/torch/flopsfit_torch.py'), path.join(out, 'flopsfit_torch.py'));
}

copyWasm();
copyTorchTrainer();
/**
 * In watch mode every rebuild prints `[watch] build started` / `[watch] build finished` and each
 * error as `file:line:col: error: message`: the lines .vscode/tasks.json's problem matcher reads.
 */
const watchReporter = {
  name: 'watch-reporter',
  setup(build) {
    build.onStart(() => console.log('[watch] build started'));
    build.onEnd((result) => {
      for (const e of result.errors) {
        const loc = e.location;
        console.error(loc ? `${loc.file}:${loc.line}:${loc.column + 1}: error: ${e.text}` : `error: ${e.text}`);
      }
      console.log('[watch] build finished');
    });
  },
};

if (watch) {
  for (const t of targets) {
    const ctx = await esbuild.context({ ...t, logLevel: 'silent', plugins: [...(t.plugins ?? []), watchReporter] });
    await ctx.watch();
  }
  console.log('[flopsfit] watching');
} else {
  await Promise.all(targets.map((t) => esbuild.build(t)));
  try {
    fs.chmodSync(path.join(root, 'dist/flopsfit.js'), 0o755);
  } catch {
    /* not fatal */
  }
  console.log(`[flopsfit] built dist/ (${production ? 'production' : 'development'})`);
}
