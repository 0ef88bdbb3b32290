/**
 * The results feature: one webview panel per sweep (./panel.ts) on an in-memory model of its run
 * directory (./model.ts), and the export of all its data and fits (./export.ts, ./exportFiles.ts).
 * `registerResults` restores panels after a reload and returns the handle commands use.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Snapshot } from '../../shared/protocol';
import { log } from '../log';
import type { SweepStore } from '../sweeps';
import { exportSnapshot } from './export';
import { RunDirModel } from './model';
import { RESULTS_VIEW_TYPE, ResultsPanel, resolveFrom, sweepOf } from './panel';
import { resultsTestHook } from './testHook';

/** The results feature as the commands and test hooks see it. */
export interface Results {
  /** opens (or reveals) the results panel of a sweep config */
  open(configUri: vscode.Uri): Promise<void>;
  /** exports all data and fits of a sweep (CSV or JSON, chosen in the save dialog), with or without the panel */
  export(configUri: vscode.Uri): Promise<void>;
  /** the integration tests' hook (./testHook.ts) */
  testHook(op: string, configUri: vscode.Uri, arg?: unknown): Promise<unknown>;
}

/** Exports all data and fits of a sweep: the open panel's snapshot, else one read from disk now. */
async function exportResults(store: SweepStore, configUri: vscode.Uri): Promise<void> {
  const open = ResultsPanel.panels.get(configUri.toString());
  let snapshot: Snapshot;
  let dir: string;
  if (open) {
    snapshot = open.snapshot();
    dir = snapshot.runDir && fs.existsSync(snapshot.runDir) ? snapshot.runDir : path.dirname(configUri.fsPath);
  } else {
    const sweep = await sweepOf(store, configUri);
    await store.ensurePlan(sweep);
    const r = resolveFrom(sweep);
    const model = r.runDir ? new RunDirModel(r.runDir) : undefined;
    model?.loadAll();
    snapshot = model
      ? model.snapshot({ sweep: r.sweep, configUri: configUri.toString() })
      : { sweep: r.sweep, configUri: configUri.toString(), phase: 'preview', plan: null, manifest: null, results: [], fit: null, series: [], problems: [] };
    snapshot.plan ??= r.previewPlan;
    dir = r.runDir && fs.existsSync(r.runDir) ? r.runDir : path.dirname(configUri.fsPath);
  }
  const msg = await exportSnapshot(snapshot, undefined, dir);
  if (msg) void vscode.window.showInformationMessage(`FlopsFit: ${msg}`);
}

/** Registers the panel's serializer and returns what commands and test hooks use of it. */
export function registerResults(context: vscode.ExtensionContext, store: SweepStore): Results {
  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(RESULTS_VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        const uri = state && typeof state === 'object' && typeof (state as { configUri?: unknown }).configUri === 'string' ? (state as { configUri: string }).configUri : undefined;
        if (!uri) {
          log().warn('[results] cannot restore a results panel without its config; closing it');
          panel.dispose();
          return;
        }
        await ResultsPanel.revive(context.extensionUri, store, panel, vscode.Uri.parse(uri));
      },
    }),
    { dispose: () => [...ResultsPanel.panels.values()].forEach((p) => p.dispose()) },
  );
  const open = async (configUri: vscode.Uri) => {
    await ResultsPanel.createOrShow(context.extensionUri, store, configUri);
  };
  return {
    open,
    export: (configUri) => exportResults(store, configUri),
    testHook: (op, configUri, arg) => resultsTestHook(open, op, configUri, arg),
  };
}
