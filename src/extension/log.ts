/** The extension's one log output channel ("FlopsFit"). */
import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

export function log(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('FlopsFit', { log: true });
  return channel;
}
