// ESLint flat config: typescript-eslint's recommended rules for the TypeScript sources (plus the
// type-aware promise rules), ESLint's recommended rules for the plain JavaScript/ESM scripts, and the
// architecture's layers as import rules (ARCHITECTURE.md): what each folder may import. Runtime
// import cycles are checked by scripts/check-cycles.mjs, the second half of `npm run lint`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** A folder may not import these (no-restricted-imports patterns, matched against the import path). */
const layer = (message, patterns, paths = []) => ({
  'no-restricted-imports': ['error', { paths: paths.map((name) => ({ name, message })), patterns: [{ group: patterns, message }] }],
});

/** The layers: each folder and what it must not import (see ARCHITECTURE.md). */
export const LAYERS = [
  {
    files: ['src/core/**/*.ts'],
    rules: layer('src/core is the domain: pure TypeScript, no VS Code, no engine, extension or CLI code', ['**/engine', '**/engine/**', '**/extension', '**/extension/**', '**/cli', '**/cli/**', '**/shared/**'], ['vscode']),
  },
  {
    files: ['src/extension/**/*.ts'],
    rules: layer('the extension host never trains or runs the CLI: it starts the flopsfit process as a task', ['**/engine', '**/engine/**', '**/cli', '**/cli/**']),
  },
  {
    files: ['src/engine/**/*.ts', 'src/cli/**/*.ts'],
    rules: layer('the flopsfit process never imports VS Code glue', ['**/extension', '**/extension/**'], ['vscode']),
  },
  {
    files: ['src/shared/**/*.ts'],
    rules: layer('the webview protocol depends on the domain types only', ['**/engine/**', '**/extension/**', '**/cli/**', 'node:*'], ['vscode']),
  },
  {
    files: ['webview/**/*.ts'],
    rules: layer('the webview is browser code: it talks to the host only through src/shared/protocol', ['**/extension', '**/extension/**', '**/engine/**', '**/cli/**', 'node:*'], ['vscode', 'fs', 'path', 'os', 'child_process']),
  },
  {
    files: ['test/**/*.ts'],
    rules: layer('tests do not depend on the benchmarks', ['**/bench/**']),
  },
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'out/**',
      'node_modules/**',
      'test/harness/**',
      'test-results/**',
      'bench/results/**',
      '**/*.d.ts',
      '*.vsix',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: {
      // `_`-prefixed parameters and variables are intentionally unused (stubs, callbacks).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Empty catch blocks with a comment are used on purpose for best-effort clean-up.
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // Browser code (the results webview).
    files: ['webview/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Type-aware: a promise is awaited, returned or explicitly voided; no promise where a plain
    // value or a void callback is expected.
    files: ['src/**/*.ts', 'webview/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/no-floating-promises': 'error', '@typescript-eslint/no-misused-promises': 'error' },
  },
  ...LAYERS,
  {
    // the tests of the GPU benchmark's own logic (its output parser and worker; the torch bench's spec)
    files: ['test/unit/backends-gpubench.test.ts', 'test/unit/gpuBench.test.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // CommonJS fixtures and scripts.
    files: ['**/*.cjs', 'test/fixtures/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node, ...globals.mocha } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Tests: mocha globals; `require.cache` inspection in integration tests.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    languageOptions: { globals: { ...globals.node, ...globals.mocha } },
  },
);
