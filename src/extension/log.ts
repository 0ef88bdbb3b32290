/**
 * The extension's one log output channel ("FlopsFit"). Disposed with the extension; a late call
 * (a file event or a task ending while the extension deactivates) gets a silent logger instead of
 * a disposed channel ("used after disposal").
 */
import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;
let closed = false;

const silent = new Proxy({} as vscode.LogOutputChannel, {
  get: (_t, prop) => (prop === 'name' ? 'FlopsFit' : prop === 'logLevel' ? vscode.LogLevel.Off : () => undefined),
});

export function log(): vscode.LogOutputChannel {
  if (closed) return silent;
  channel ??= vscode.window.createOutputChannel('FlopsFit', { log: true });
  return channel;
}

/** Registered first in activate(): disposes the channel and silences later calls. */
export function logDisposable(): vscode.Disposable {
  closed = false;
  return {
    dispose: () => {
      closed = true;
      channel?.dispose();
      channel = undefined;
    },
  };
}
