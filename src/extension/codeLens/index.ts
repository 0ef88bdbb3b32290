/**
 * CodeLens on the first line of a sweep config: "▶ Run sweep · Preview plan · Results"
 * ("■ Stop sweep" instead of run while it runs; "Resume sweep" when it was interrupted).
 */
import * as vscode from 'vscode';
import { Disposable } from '../dispose';
import type { SweepStore } from '../sweeps';

export const SWEEP_SELECTOR: vscode.DocumentSelector = [
  { scheme: 'file', pattern: '**/*.sweep.{yaml,yml,json}' },
];

export class SweepCodeLensProvider extends Disposable implements vscode.CodeLensProvider {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeCodeLenses = this._onDidChange.event;

  constructor(private readonly store: SweepStore) {
    super();
    // only the sweep's overall state changes the lenses
    this._register(store.onDidChange((c) => c.structure && this._onDidChange.fire()));
    this._register(vscode.workspace.onDidGrantWorkspaceTrust(() => this._onDidChange.fire()));
  }

  async provideCodeLenses(document: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    await this.store.ensureLoaded();
    const sweep = this.store.getOrAdd(document.uri);
    const range = new vscode.Range(0, 0, 0, 0);
    const arg = [document.uri];
    const lenses: vscode.CodeLens[] = [];
    const state = sweep?.state ?? 'idle';
    if (state === 'running' || state === 'stopping') {
      lenses.push(new vscode.CodeLens(range, { title: '■ Stop sweep', command: 'flopsfit.stopSweep', arguments: arg }));
    } else {
      const trusted = vscode.workspace.isTrusted;
      const untrusted = trusted ? '' : ' (untrusted workspace)';
      if (state === 'resumable') {
        lenses.push(new vscode.CodeLens(range, { title: `▶ Resume sweep${untrusted}`, command: 'flopsfit.resumeSweep', arguments: arg }));
      }
      lenses.push(
        new vscode.CodeLens(range, {
          title: `▶ Run sweep${untrusted}`,
          tooltip: trusted ? 'Plan and train every experiment as a VS Code task' : 'Trust the workspace to run training',
          command: 'flopsfit.runSweep',
          arguments: arg,
        }),
      );
    }
    lenses.push(new vscode.CodeLens(range, { title: 'Preview plan', command: 'flopsfit.previewPlan', arguments: arg }));
    lenses.push(new vscode.CodeLens(range, { title: 'Results', command: 'flopsfit.openResults', arguments: arg }));
    return lenses;
  }
}

export function registerCodeLens(context: vscode.ExtensionContext, store: SweepStore): SweepCodeLensProvider {
  const provider = new SweepCodeLensProvider(store);
  context.subscriptions.push(provider, vscode.languages.registerCodeLensProvider(SWEEP_SELECTOR, provider));
  return provider;
}
