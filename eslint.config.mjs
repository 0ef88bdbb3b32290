// ESLint flat config: typescript-eslint's recommended rules for the TypeScript sources, ESLint's
// recommended rules for the plain JavaScript/ESM scripts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

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
