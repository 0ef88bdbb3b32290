/**
 * Inline validation of sweep configs (`*.sweep.yaml`, `*.sweep.yml`, `*.sweep.json`) as the user
 * types: syntax errors, every schema violation and the planner's semantic warnings, each on the key
 * or value it is about (src/core/plan/validate.ts does the work; this file is the VS Code glue).
 *
 * - Debounced per document by `flopsfit.validation.debounceMs`; a document is validated when it
 *   opens, on every edit, and again when the workspace becomes trusted.
 * - A command model's `countParams` runs only in a trusted workspace, asynchronously (never in the
 *   validation itself), through the sweep service's one counter (../sweeps/paramCounts.ts, shared with the
 *   planner); until the counts are in, an info diagnostic says how far it is.
 * - Hover, completion and quick fixes come from ./configLanguage (both registered by ./index.ts).
 */
import * as vscode from 'vscode';
import * as path from 'node:path';
import { SWEEP_FILE_PATTERN, type ConfigDiagnostic } from '../../core/config';
import { Disposable } from '../dispose';
import type { ParamCounts, Validations } from '../sweeps';
import { log } from '../log';

export const DIAGNOSTIC_SOURCE = 'flopsfit';

export function isSweepDocument(doc: vscode.TextDocument): boolean {
  return (doc.uri.scheme === 'file' || doc.uri.scheme === 'untitled' || doc.uri.scheme === 'vscode-remote') && SWEEP_FILE_PATTERN.test(doc.uri.path);
}

function toRange(r: ConfigDiagnostic['range']): vscode.Range {
  return new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
}

const SEVERITY: Record<ConfigDiagnostic['severity'], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  info: vscode.DiagnosticSeverity.Information,
};

export function toVscodeDiagnostic(d: ConfigDiagnostic): vscode.Diagnostic {
  const v = new vscode.Diagnostic(toRange(d.range), d.message, SEVERITY[d.severity]);
  v.source = DIAGNOSTIC_SOURCE;
  if (d.code) v.code = d.code;
  return v;
}

/** What the last validation of each document found (the quick fixes read it). */
export interface ValidatedDocument {
  version: number;
  diagnostics: ConfigDiagnostic[];
}

/** The diagnostics collection of sweep configs, kept current as documents open and change. */
export class SweepDiagnostics extends Disposable {
  private readonly collection = this._register(vscode.languages.createDiagnosticCollection(DIAGNOSTIC_SOURCE));
  private readonly timers = new Map<string, NodeJS.Timeout>();
  readonly results = new Map<string, ValidatedDocument>();
  constructor(
    private readonly counts: ParamCounts,
    private readonly validations: Validations,
  ) {
    super();
    // sizes counted (for the planner or for us): validate again with them
    this._register(counts.onDidCount(() => this.revalidateAll()));
    this._register(vscode.workspace.onDidOpenTextDocument((d) => this.schedule(d, 0)));
    this._register(vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document)));
    this._register(
      vscode.workspace.onDidCloseTextDocument((d) => {
        this.cancel(d);
        this.collection.delete(d.uri);
        this.results.delete(d.uri.toString());
      }),
    );
    this._register(vscode.workspace.onDidGrantWorkspaceTrust(() => this.revalidateAll()));
    this._register({ dispose: () => this.timers.forEach((t) => clearTimeout(t)) });
    for (const d of vscode.workspace.textDocuments) this.schedule(d, 0);
  }

  private debounceMs(doc: vscode.TextDocument): number {
    const v = vscode.workspace.getConfiguration('flopsfit', doc.uri).get<number>('validation.debounceMs', 200);
    return typeof v === 'number' && v >= 0 ? v : 200;
  }

  private cancel(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }

  schedule(doc: vscode.TextDocument, delay = this.debounceMs(doc)): void {
    if (!isSweepDocument(doc)) return;
    this.cancel(doc);
    const key = doc.uri.toString();
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        if (!doc.isClosed) this.validate(doc);
      }, delay),
    );
  }

  private revalidateAll(): void {
    for (const d of vscode.workspace.textDocuments) if (isSweepDocument(d)) this.schedule(d, 0);
  }

  /** Validates now (synchronously); returns the diagnostics set on the document. */
  validate(doc: vscode.TextDocument): ConfigDiagnostic[] {
    const t0 = performance.now();
    const text = doc.getText();
    const fileName = doc.uri.scheme === 'untitled' ? doc.uri.path : doc.uri.fsPath;
    const folder = vscode.workspace.getWorkspaceFolder(doc.uri)?.uri.fsPath;
    const configPath = doc.uri.scheme === 'file' ? doc.uri.fsPath : path.join(folder ?? '/', path.basename(doc.uri.path));
    // the sweep service's validation: the tree and the panel plan from the same result
    const id = doc.uri.toString();
    let result = this.validations.validate(id, text, fileName, { configPath, workspaceRoot: folder });
    let diagnostics = result.diagnostics;
    if (result.config?.model.family === 'command') {
      if (!vscode.workspace.isTrusted) {
        // validateSweepText already says that sizes are not counted here (an info on countParams)
      } else {
        const counted = this.counts.ready(result.config, configPath);
        if (counted) {
          result = this.validations.validate(id, text, fileName, { configPath, workspaceRoot: folder, countParams: counted.counter, commandStartupSeconds: counted.startupSeconds });
          diagnostics = result.diagnostics;
        } else {
          void this.counts.count(result.config, configPath);
          const p = this.counts.progress(result.config, configPath);
          diagnostics = diagnostics.map((d) =>
            d.code === 'params-unknown' ? { ...d, message: `counting parameters with countParams…${p ? ` (${p.done}/${p.total} sizes)` : ''}` } : d,
          );
        }
      }
    }
    this.results.set(id, { version: doc.version, diagnostics });
    this.collection.set(doc.uri, diagnostics.map(toVscodeDiagnostic));
    const ms = performance.now() - t0;
    if (ms > 50) log().info(`validated ${vscode.workspace.asRelativePath(doc.uri)} in ${ms.toFixed(1)} ms`);
    return diagnostics;
  }
}
