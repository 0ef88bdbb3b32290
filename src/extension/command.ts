/**
 * How every FlopsFit command is registered: an error it throws becomes one error message (and a log
 * line; a stack trace only for unexpected errors), never an unhandled rejection.
 */
import * as vscode from 'vscode';
import { log } from './log';

/** An expected failure of a command: its message is shown as is, without a stack trace in the log. */
export class CommandError extends Error {}

export function registerCommand(context: vscode.ExtensionContext, id: string, fn: (...args: unknown[]) => unknown): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        log().error(`${id}: ${err instanceof CommandError ? msg : (err as Error)?.stack ?? msg}`);
        void vscode.window.showErrorMessage(`FlopsFit: ${msg}`);
        return undefined;
      }
    }),
  );
}
