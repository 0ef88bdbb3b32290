/**
 * Number and duration formatting for the explorer, status bar and plan preview: a thin re-export of
 * the one home, src/core/format.ts (the CLI, the runner and the webview use it too). No `vscode` import.
 */
import { formatDuration } from '../core/format';

export { formatCount, formatDuration, formatFlops, formatLoss, formatValue } from '../core/format';

/** The status-bar text of running sweeps: "$(loading~spin) FlopsFit 3/12 · ETA 4m". */
export function statusText(done: number, total: number, etaSeconds: number | undefined): string {
  return `$(loading~spin) FlopsFit ${done}/${total}${etaSeconds !== undefined ? ` · ETA ${formatDuration(etaSeconds)}` : ''}`;
}
