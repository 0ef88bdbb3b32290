/**
 * Status-bar progress of running sweeps, shown only while one runs:
 * "$(loading~spin) FlopsFit 3/12 · ETA 4m"; a click opens the results. Driven by the store's events
 * (manifest and metrics changes), never by a timer.
 */
import * as vscode from 'vscode';
import { statusText } from '../format';
import type { SweepStore } from '../sweeps';

export function registerStatusBar(context: vscode.ExtensionContext, store: SweepStore): vscode.StatusBarItem {
  const item = vscode.window.createStatusBarItem('flopsfit.progress', vscode.StatusBarAlignment.Left, 50);
  item.name = 'FlopsFit Sweep Progress';
  context.subscriptions.push(item);

  const update = () => {
    const running = store.running();
    if (running.length === 0) {
      item.hide();
      return;
    }
    let done = 0;
    let total = 0;
    let eta: number | undefined;
    for (const s of running) {
      const c = s.counts();
      done += c.completed;
      total += c.total;
      const e = s.etaSeconds();
      if (e !== undefined) eta = Math.max(eta ?? 0, e);
    }
    item.text = statusText(done, total, eta);
    const first = running[0]!;
    item.tooltip = new vscode.MarkdownString(
      running
        .map((s) => {
          const c = s.counts();
          return `**${s.name}**: ${c.completed}/${c.total} done, ${c.running} running${c.failed ? `, ${c.failed} failed` : ''}`;
        })
        .join('\n\n') + '\n\nClick to open the results.',
    );
    item.command = { command: 'flopsfit.openResults', title: 'Open Results', arguments: [first.uri] };
    item.show();
  };
  context.subscriptions.push(store.onDidChange(update), store.onDidChangeSweeps(update));
  // a flopsfit task started before the explorer was ever opened: load the model so progress shows
  context.subscriptions.push(
    vscode.tasks.onDidStartTask((e) => {
      if (e.execution.task.definition.type !== 'flopsfit') return;
      void store.ensureLoaded().then(() => store.noteTask(e.execution.task));
    }),
  );
  return item;
}
