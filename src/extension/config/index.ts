/**
 * The sweep-config editing feature: inline diagnostics (./diagnostics.ts) and the language features
 * that read them (hover, completion, quick fixes: ./configLanguage.ts). One direction only:
 * configLanguage reads the diagnostics' last results through the function passed here.
 */
import * as vscode from 'vscode';
import { log } from '../log';
import type { SweepStore } from '../sweeps';
import { SweepDiagnostics } from './diagnostics';
import { registerConfigLanguage } from './configLanguage';

export function registerConfig(context: vscode.ExtensionContext, sweeps: Pick<SweepStore, 'paramCounts' | 'validations'>): void {
  try {
    const diagnostics = new SweepDiagnostics(sweeps.paramCounts, sweeps.validations);
    context.subscriptions.push(diagnostics);
    registerConfigLanguage(context, (uri: vscode.Uri) => diagnostics.results.get(uri.toString()));
  } catch (err) {
    log().error(`sweep config validation could not start: ${err instanceof Error ? err.message : String(err)}`);
  }
}
