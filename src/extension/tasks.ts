/** Placeholder until its issue lands. */
import * as vscode from 'vscode';

export function registerTasks(_context: vscode.ExtensionContext): void {
  // not implemented yet
}
