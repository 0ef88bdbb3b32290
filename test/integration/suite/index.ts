/**
 * Entry point that VS Code's extension host loads in extension-test mode (--extensionTestsPath).
 * Runs every compiled `*.test.js` next to this file with mocha (BDD: describe/it).
 * Resolves when all tests pass, rejects otherwise; the runner prints mocha's output.
 * FLOPSFIT_TEST_GREP (set by `npm run test:integration -- --grep <pattern>`) filters tests.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import * as vscode from 'vscode';
import { ACTIVATION_STATE_KEY, EXTENSION_ID, type ActivationState } from '../harness';

/**
 * Before any test can call activate(): wait for the extension's own activation events
 * (workspaceContains:**\/*.sweep.yaml) to activate it, and record whether they did, so that the
 * foundation test can tell activation by event from activation by a test.
 */
async function awaitActivationByEvent(timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  while (ext && !ext.isActive && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 50));
  const state: ActivationState = { found: !!ext, activeBeforeTests: !!ext?.isActive, waitedMs: Date.now() - t0 };
  (globalThis as Record<string, unknown>)[ACTIVATION_STATE_KEY] = state;
}

export async function run(): Promise<void> {
  // an empty folder holds no sweep config: nothing activates the extension by itself there
  if (!process.env.FLOPSFIT_TEST_FILES) await awaitActivationByEvent();
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60_000, reporter: 'spec' });
  const grep = process.env.FLOPSFIT_TEST_GREP;
  if (grep) mocha.grep(grep);
  // FLOPSFIT_TEST_FILES / FLOPSFIT_TEST_EXCLUDE: the session's files (runTest.mjs runs the first-sweep
  // test on an empty folder, the others on the test workspace)
  const only = process.env.FLOPSFIT_TEST_FILES?.split(',').filter(Boolean) ?? [];
  const except = process.env.FLOPSFIT_TEST_EXCLUDE?.split(',').filter(Boolean) ?? [];
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.js'))
    .filter((f) => (only.length === 0 || only.some((o) => f.startsWith(`${o}.`))) && !except.some((o) => f.startsWith(`${o}.`)))
    .sort();
  for (const f of files) mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => {
    try {
      mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} integration test(s) failed`)) : resolve()));
    } catch (e) {
      reject(e instanceof Error ? e : new Error(String(e)));
    }
  });
}
