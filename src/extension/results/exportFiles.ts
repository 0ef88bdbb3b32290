/**
 * The results export as files: all data and fits of a panel snapshot as one JSON document or three
 * CSV tables. Pure (no `vscode`), unit-tested in node; ./export.ts asks where to write them.
 */
import type { Snapshot } from '../../shared/protocol';

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: string[], rows: unknown[][]): string {
  return [header.map(csvCell).join(','), ...rows.map((r) => r.map(csvCell).join(','))].join('\n') + '\n';
}

/** Scalar leaves of a JSON value as [path, value] rows (for the fit CSV, whatever its shape). */
export function flattenJson(value: unknown, prefix = '', out: [string, unknown][] = []): [string, unknown][] {
  if (value === null || typeof value !== 'object') {
    out.push([prefix, value]);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => flattenJson(v, `${prefix}[${i}]`, out));
  } else {
    for (const [k, v] of Object.entries(value)) flattenJson(v, prefix ? `${prefix}.${k}` : k, out);
  }
  return out;
}

export interface ExportFiles {
  /** file suffix (after the chosen base name) → contents */
  [suffix: string]: string;
}

/**
 * All data and fits of a snapshot. JSON: one document. CSV: three tables — experiments (plan,
 * status, final loss), metrics (long format) and fit (flattened parameter paths).
 */
export function buildExport(s: Snapshot, format: 'csv' | 'json'): ExportFiles {
  if (format === 'json') {
    const metrics: Record<string, unknown> = {};
    for (const c of s.series) metrics[c.id] = { step: c.step, tokens: c.tokens, trainLoss: c.train, evalLoss: c.eval };
    const doc = {
      sweep: s.sweep,
      exportedAt: new Date().toISOString(),
      runDir: s.runDir,
      plan: s.plan,
      manifest: s.manifest,
      results: s.results,
      fit: s.fit,
      metrics,
    };
    return { '.json': JSON.stringify(doc, null, 2) + '\n' };
  }
  const results = new Map(s.results.map((r) => [r.id, r]));
  const expHeader = ['id', 'budget', 'sizeValue', 'params', 'tokens', 'tokensPerParam', 'seed', 'status', 'finalLoss', 'flops', 'hyperparameters'];
  const expRows: unknown[][] = [];
  const seen = new Set<string>();
  for (const e of s.plan?.experiments ?? []) {
    seen.add(e.id);
    const r = results.get(e.id);
    const m = s.manifest?.experiments[e.id];
    expRows.push([e.id, e.budget, e.sizeValue, e.params, e.tokens, e.tokensPerParam, e.seed, m?.status ?? 'planned', r?.loss ?? m?.finalLoss, r?.flops, e.hyperparameters]);
  }
  for (const r of s.results) {
    if (seen.has(r.id)) continue;
    expRows.push([r.id, r.budget, r.sizeValue, r.params, r.tokens, r.tokens / r.params, r.seed, 'completed', r.loss, r.flops, r.hyperparameters]);
  }
  const metricRows: unknown[][] = [];
  for (const c of s.series) {
    for (let i = 0; i < c.tokens.length; i++) metricRows.push([c.id, c.step[i], c.tokens[i], c.train[i], c.eval[i]]);
  }
  const files: ExportFiles = {
    '.csv': toCsv(expHeader, expRows),
    '.metrics.csv': toCsv(['id', 'step', 'tokens', 'trainLoss', 'evalLoss'], metricRows),
  };
  if (s.fit) files['.fit.csv'] = toCsv(['path', 'value'], flattenJson(s.fit));
  return files;
}
