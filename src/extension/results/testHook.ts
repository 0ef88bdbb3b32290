/** The results panel's integration-test hook: what `flopsfit._test.results` does (see ../testHooks.ts). */
import type * as vscode from 'vscode';
import { TabId } from '../../shared/protocol';
import { ResultsPanel } from './panel';

/**
 * Integration-test hook of the results panel, reachable as the command `flopsfit._test.results` in test mode:
 *   open → opens the panel; state → { ready, rendered, rejected, webviewErrors, problems };
 *   postRaw → posts `arg` to the webview unvalidated; receiveRaw → handles `arg` as if the webview
 *   sent it; report → asks the webview to report what it drew; flush → applies pending file events.
 */
export async function resultsTestHook(openResults: (configUri: vscode.Uri) => Promise<void>, op: string, configUri: vscode.Uri, arg?: unknown): Promise<unknown> {
  if (op === 'open') {
    await openResults(configUri);
    return true;
  }
  const p = ResultsPanel.panels.get(configUri.toString());
  if (!p) return undefined;
  switch (op) {
    case 'state':
      return {
        ready: p.isReady,
        rendered: Object.fromEntries(p.rendered),
        rejected: [...p.rejected],
        webviewErrors: [...p.webviewErrors],
        problems: p.snapshot().problems,
        phase: p.snapshot().phase,
        planExperiments: p.snapshot().plan?.experiments.length,
        hostPoints: p.snapshot().series.reduce((n, c) => n + c.tokens.length, 0),
        title: p.panel.title,
      };
    case 'postRaw':
      return p.postRaw(arg);
    case 'receiveRaw':
      p.receive(arg);
      return true;
    case 'report':
      p.post({ type: 'reportRendered' });
      return true;
    case 'showTab':
      p.post({ type: 'showTab', tab: TabId.parse(arg) });
      return true;
    case 'reveal':
      p.panel.reveal(undefined, false);
      return true;
    case 'flush':
      p.flushFileEvents();
      return true;
    case 'close':
      p.dispose();
      return true;
    default:
      throw new Error(`unknown results test op ${op}`);
  }
}
