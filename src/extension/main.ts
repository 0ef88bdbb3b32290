/**
 * Composition root of the extension host side. Each feature lives in its own file and exposes one
 * `register*` function; nothing heavy happens here (no tfjs, no file scanning beyond what a feature
 * does lazily). Training never runs in this process: it runs as a VS Code task (see ./tasks).
 */
import * as vscode from 'vscode';
import { log, logDisposable } from './log';
import { registerDiagnostics } from './diagnostics';
import { registerTasks } from './tasks';
import { registerExplorer, explorerApi, type ExplorerApi } from './explorer';
import { registerCommands } from './commands';
import { registerResultsPanel } from './resultsPanel';
import { SweepStore } from './sweepStore';
import { isTestMode, registerTestHooks } from './testHooks';

export interface FlopsFitApi {
  /** milliseconds spent in activate() (the extension's own code) */
  activationMs: number;
  /** the Sweeps tree as data, for tests */
  explorer: ExplorerApi;
}

export function activate(context: vscode.ExtensionContext): FlopsFitApi {
  const t0 = performance.now();
  context.subscriptions.push(logDisposable());
  // the sweep service: each config's text, parse and plan, its run directory's state and one
  // derived status, shared by every feature below (nothing is loaded until a feature asks)
  const sweeps = new SweepStore();
  context.subscriptions.push(sweeps);
  registerDiagnostics(context, sweeps.paramCounts);
  registerTasks(context);
  const explorerParts = registerExplorer(context, sweeps);
  registerResultsPanel(context, sweeps);
  registerCommands(context, explorerParts);
  if (isTestMode(context)) registerTestHooks(context);
  const activationMs = performance.now() - t0;
  log().info(`FlopsFit activated in ${activationMs.toFixed(1)} ms`);
  return { activationMs, explorer: explorerApi() };
}

export function deactivate(): void {
  // every disposable is in context.subscriptions
}
