/** The plan's warnings as located diagnostics for the editor and the CLI (placed on their config key). */
import type { Plan } from '../contracts';
import type { SweepConfig } from '../config/schema';
import { diagnosticAt, type ConfigDiagnostic, type Severity } from '../config/diagnostics';
import { locate, readSource, type SourceDocument } from '../config/source';

const SEVERITY: Record<string, Severity> = {
  'too-many-experiments': 'error',
  'cwd-missing': 'error',
  // the runner would fail every experiment on it
  'unknown-placeholder': 'error',
  'size-skipped': 'info',
  'params-unknown': 'info',
  'data-odd-size': 'info',
};

/**
 * The plan's warnings as located diagnostics (budget with no feasible size, grid that cannot
 * bracket the optimum, missing data file, too little data, …), placed on the config key they are
 * about. Without `source` they are placed at the start of the file.
 */
export function planSemanticDiagnostics(plan: Plan, source?: { text: string; fileName: string } | SourceDocument): ConfigDiagnostic[];
/** The same, in the (config, plan, text) form; the text's format follows plan.configPath. */
export function planSemanticDiagnostics(config: SweepConfig, plan: Plan, text?: string | { text: string; fileName: string } | SourceDocument): ConfigDiagnostic[];
export function planSemanticDiagnostics(
  a: Plan | SweepConfig,
  b?: Plan | { text: string; fileName: string } | SourceDocument,
  c?: string | { text: string; fileName: string } | SourceDocument,
): ConfigDiagnostic[] {
  if (!('experiments' in a)) {
    const plan = b as Plan;
    return semanticDiagnostics(plan, typeof c === 'string' ? { text: c, fileName: plan.configPath } : c);
  }
  return semanticDiagnostics(a, b as { text: string; fileName: string } | SourceDocument | undefined);
}

function semanticDiagnostics(plan: Plan, source?: { text: string; fileName: string } | SourceDocument): ConfigDiagnostic[] {
  let doc: SourceDocument | undefined;
  try {
    doc = source ? ('lines' in source ? source : readSource(source.text, source.fileName)) : undefined;
  } catch {
    doc = undefined;
  }
  return plan.warnings.map((w) => {
    const severity = SEVERITY[w.code] ?? 'warning';
    const p = w.path ?? [];
    if (!doc) return { severity, message: w.message, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, path: p, code: w.code };
    const onKey = w.code === 'hyperparameter-unused';
    const d = diagnosticAt(doc, p, w.message, { severity, code: w.code, where: onKey ? 'key' : 'value' });
    // a whole mapping is too much to underline: use its key
    const l = locate(doc, p, 'value');
    if (l.node && l.node.kind !== 'scalar' && l.keySpan && !onKey && p[0] !== 'budgets') d.range = doc.lines.range(l.keySpan);
    return d;
  });
}

