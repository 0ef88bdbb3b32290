/**
 * Hooks for the integration tests (a separate bundle that drives the real VS Code), registered only
 * in extension-test mode or under the integration harness (FLOPSFIT_INTEGRATION=1): never in a
 * user's editor.
 *   flopsfit._test.results <op> <configUri> [arg]   the results panel (see results/testHook.ts)
 *   flopsfit._test.extend answer <string|null>[]      answers for Extend Sweep's next dialogs, in order
 *                                                      (null: dismissed); the user is not asked
 *   flopsfit._test.extend shown                       the dialogs it showed since the last call
 */
import * as vscode from 'vscode';
import type { Results } from './results';
import type { ExtendFeature } from './extend';

export function isTestMode(context: vscode.ExtensionContext): boolean {
  return context.extensionMode === vscode.ExtensionMode.Test || process.env.FLOPSFIT_INTEGRATION === '1';
}

export function registerTestHooks(context: vscode.ExtensionContext, results: Results, extend: ExtendFeature): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('flopsfit._test.results', (op: string, configUri: string, arg?: unknown) => results.testHook(op, vscode.Uri.parse(configUri), arg)),
    vscode.commands.registerCommand('flopsfit._test.extend', (op: string, arg?: unknown) => {
      if (op === 'answer') {
        if (!Array.isArray(arg)) throw new Error('flopsfit._test.extend answer: expected an array of answers');
        extend.prompts.answers.push(...arg.map((a) => (typeof a === 'string' ? a : undefined)));
        return extend.prompts.answers.length;
      }
      if (op === 'shown') return extend.prompts.shown.splice(0);
      throw new Error(`flopsfit._test.extend: unknown op ${op}`);
    }),
  );
}
