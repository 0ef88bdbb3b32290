/** Export of a results snapshot to files the user picks (save dialog; contents: ./exportFiles.ts). */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Snapshot } from '../../shared/protocol';
import { log } from '../log';
import { buildExport } from './exportFiles';

/** Asks where to save (CSV or JSON by the chosen extension) and writes the export. */
export async function exportSnapshot(s: Snapshot, format: 'csv' | 'json' | undefined, dir: string): Promise<string | undefined> {
  const base = s.sweep.replace(/[^\w.-]+/g, '_') || 'flopsfit';
  const filters: Record<string, string[]> = format === 'json' ? { JSON: ['json'] } : format === 'csv' ? { CSV: ['csv'] } : { CSV: ['csv'], JSON: ['json'] };
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(dir, `${base}-results.${format ?? 'csv'}`)),
    filters,
    title: `Export ${s.sweep}: all data and fits`,
  });
  if (!target) return undefined;
  const fmt: 'csv' | 'json' = format ?? (target.path.toLowerCase().endsWith('.json') ? 'json' : 'csv');
  const stem = target.path.replace(/\.(csv|json)$/i, '');
  const files = buildExport(s, fmt);
  const written: string[] = [];
  try {
    for (const [suffix, text] of Object.entries(files)) {
      const uri = target.with({ path: `${stem}${suffix}` });
      await vscode.workspace.fs.writeFile(uri, Buffer.from(text, 'utf8'));
      written.push(uri.fsPath);
    }
  } catch (err) {
    void vscode.window.showErrorMessage(`FlopsFit: export failed: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
  const msg = `Exported ${written.map((w) => path.basename(w)).join(', ')} to ${path.dirname(written[0])}`;
  log().info(`[results] ${msg}`);
  return msg;
}
