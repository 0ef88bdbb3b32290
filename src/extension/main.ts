/**
 * Composition root of the extension host side: every feature is registered here, in one place, and
 * gets what it needs as arguments. Each feature is a folder with an `index.ts` exposing one
 * `register*` function; the sweep service (./sweeps) is created first and handed to the others.
 * Nothing heavy happens here (no tfjs, no file scanning beyond what a feature does lazily). Training
 * never runs in this process: it runs as a VS Code task (./tasks) in the `flopsfit` CLI.
 */
import * as vscode from 'vscode';
import { log, logDisposable } from './log';
import { registerSweeps } from './sweeps';
import { registerConfig } from './config';
import { registerTasks } from './tasks';
import { registerExplorer, explorerApi, type ExplorerApi } from './explorer';
import { registerResults } from './results';
import { registerPlanPreview } from './planPreview';
import { registerCodeLens } from './codeLens';
import { registerStatusBar } from './statusBar';
import { registerNewSweep } from './newSweep';
import { registerCommands } from './commands';
import { registerExtend } from './extend';
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
  const sweeps = registerSweeps(context);
  // editing a config: diagnostics, hover, completion, quick fixes (the service's validation and countParams counter)
  registerConfig(context, sweeps);
  // the `flopsfit` task type: runs, resumes and fits execute as tasks in the flopsfit CLI
  registerTasks(context);
  // views on the service: the Sweeps tree, the results panels, the plan preview documents,
  // the config CodeLens and the status-bar progress
  const explorer = registerExplorer(context, sweeps);
  const results = registerResults(context, sweeps);
  registerPlanPreview(context, sweeps);
  registerCodeLens(context, sweeps);
  registerStatusBar(context, sweeps);
  // commands: "New Sweep", and the palette and tree actions on sweeps, experiments and results
  registerNewSweep(context, sweeps);
  registerCommands(context, { sweeps, explorer, results });
  // "Extend Sweep": the follow-up to a fit whose budgets do not bracket their optimum (flopsfit plan --extend)
  const testMode = isTestMode(context);
  const extend = registerExtend(context, { sweeps, explorer, testMode });
  if (testMode) registerTestHooks(context, results, extend);
  const activationMs = performance.now() - t0;
  log().info(`FlopsFit activated in ${activationMs.toFixed(1)} ms`);
  return { activationMs, explorer: explorerApi(explorer) };
}

export function deactivate(): void {
  // every disposable is in context.subscriptions
}
