/**
 * Inline validation of sweep configs (`*.sweep.yaml`, `*.sweep.yml`, `*.sweep.json`) as the user
 * types: syntax errors, every schema violation and the planner's semantic warnings, each on the key
 * or value it is about (src/core/plan/validate.ts does the work; this file is the VS Code glue).
 *
 * - Debounced per document by `flopsfit.validation.debounceMs`; a document is validated when it
 *   opens, on every edit, and again when the workspace becomes trusted.
 * - A command model's `countParams` runs only in a trusted workspace, asynchronously (never in the
 *   validation itself); until the counts are in, an info diagnostic says so.
 * - Hover, completion and quick fixes come from ./configLanguage (registered here).
 */
import * as vscode from 'vscode';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { SWEEP_FILE_PATTERN, type ConfigDiagnostic, type SweepConfig } from '../core/config';
import { candidateValues, commandCwd, type ParamCounter } from '../core/plan';
import { sizeMultiple } from '../core/plan/grid';
import { lastNumber } from '../core/plan/commandCounter';
import { validateSweepText } from '../core/plan/validate';
import { Disposable } from './dispose';
import { log } from './log';
import { registerConfigLanguage } from './configLanguage';

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

/**
 * Parameter counts of command models, run asynchronously with `countParams` (trusted workspaces
 * only), cached by (argv template, cwd, env, size).
 */
class CommandCounts {
  private readonly results = new Map<string, number | { error: string }>();
  private readonly running = new Set<string>();

  constructor(private readonly onCounted: () => void) {}

  /** A counter when every size is counted; otherwise starts the counting and returns undefined. */
  counter(config: SweepConfig, configPath: string, _workspaceRoot: string | undefined): ParamCounter | undefined {
    const m = config.model;
    if (m.family !== 'command') return undefined;
    const cwd = commandCwd(m, configPath);
    const base = JSON.stringify([m.countParams, cwd, m.env ?? {}]);
    const values = candidateValues(m.size.min, m.size.max, sizeMultiple(config), m.size.probes);
    const key = (v: number) => `${base}|${v}`;
    const missing = values.filter((v) => !this.results.has(key(v)));
    if (!missing.length) return (v) => this.results.get(key(v)) ?? { error: 'not counted' };
    if (!this.running.has(base)) {
      this.running.add(base);
      void this.count(m.countParams, cwd, m.env, missing, key).finally(() => {
        this.running.delete(base);
        this.onCounted();
      });
    }
    return undefined;
  }

  private async count(template: string[], cwd: string, env: Record<string, string> | undefined, values: number[], key: (v: number) => string): Promise<void> {
    let failures = 0;
    let successes = 0;
    for (const v of values) {
      if (!successes && failures >= 3) {
        this.results.set(key(v), { error: 'not tried after 3 failures of countParams' });
        continue;
      }
      const argv = template.map((a) => a.replace(/\{size\}/g, String(v)));
      const r = await new Promise<number | { error: string }>((resolve) => {
        execFile(argv[0], argv.slice(1), { cwd, env: { ...process.env, ...(env ?? {}) }, timeout: 60_000, maxBuffer: 4 << 20, windowsHide: true }, (err, stdout, stderr) => {
          if (err) {
            const code = (err as NodeJS.ErrnoException).code;
            const last = String(stderr ?? '').trim().split('\n').pop() ?? '';
            resolve({ error: code === 'ENOENT' ? `countParams failed: command not found: ${argv[0]}` : `countParams failed: ${last || err.message}`.slice(0, 300) });
          } else {
            const n = lastNumber(String(stdout));
            resolve(n === undefined ? { error: 'countParams printed no number' } : n);
          }
        });
      });
      if (typeof r === 'number') successes++;
      else failures++;
      this.results.set(key(v), r);
    }
  }
}

class SweepDiagnostics extends Disposable {
  private readonly collection = this._register(vscode.languages.createDiagnosticCollection(DIAGNOSTIC_SOURCE));
  private readonly timers = new Map<string, NodeJS.Timeout>();
  readonly results = new Map<string, ValidatedDocument>();
  private readonly counts = new CommandCounts(() => this.revalidateAll());

  constructor() {
    super();
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
    let result = validateSweepText(text, fileName, { configPath, workspaceRoot: folder });
    if (result.config?.model.family === 'command') {
      if (!vscode.workspace.isTrusted) {
        // validateSweepText already says that sizes are not counted here (an info on countParams)
      } else {
        const counter = this.counts.counter(result.config, configPath, folder);
        if (counter) result = validateSweepText(text, fileName, { configPath, workspaceRoot: folder, countParams: counter });
        else {
          result.diagnostics = result.diagnostics.map((d) =>
            d.code === 'params-unknown' ? { ...d, message: 'counting parameters with countParams…' } : d,
          );
        }
      }
    }
    this.results.set(doc.uri.toString(), { version: doc.version, diagnostics: result.diagnostics });
    this.collection.set(doc.uri, result.diagnostics.map(toVscodeDiagnostic));
    const ms = performance.now() - t0;
    if (ms > 50) log().info(`validated ${vscode.workspace.asRelativePath(doc.uri)} in ${ms.toFixed(1)} ms`);
    return result.diagnostics;
  }
}

let instance: SweepDiagnostics | undefined;

/** The config diagnostics of a document as last computed (for quick fixes and tests). */
export function lastValidation(uri: vscode.Uri): ValidatedDocument | undefined {
  return instance?.results.get(uri.toString());
}

export function registerDiagnostics(context: vscode.ExtensionContext): void {
  try {
    instance = new SweepDiagnostics();
    context.subscriptions.push(instance, { dispose: () => (instance = undefined) });
    registerConfigLanguage(context, lastValidation);
  } catch (err) {
    log().error(`sweep config validation could not start: ${err instanceof Error ? err.message : String(err)}`);
  }
}
