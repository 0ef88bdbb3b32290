/**
 * Hooks for the integration tests (a separate bundle that drives the real VS Code), registered only
 * in extension-test mode or under the integration harness (FLOPSFIT_INTEGRATION=1): never in a
 * user's editor.
 *   flopsfit._test.results <op> <configUri> [arg]   the results panel (see results/testHook.ts)
 */
import * as vscode from 'vscode';
import type { Results } from './results';

export function isTestMode(context: vscode.ExtensionContext): boolean {
  return context.extensionMode === vscode.ExtensionMode.Test || process.env.FLOPSFIT_INTEGRATION === '1';
}

export function registerTestHooks(context: vscode.ExtensionContext, results: Results): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('flopsfit._test.results', (op: string, configUri: string, arg?: unknown) => results.testHook(op, vscode.Uri.parse(configUri), arg)),
  );
}
