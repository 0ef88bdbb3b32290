/**
 * Reading and validating sweep configs: text → { config, diagnostics }. Never throws, whatever
 * the input (truncated YAML, wrong types, NaN, 10 MB files): every problem becomes a located
 * diagnostic. Pure TypeScript: no `vscode` import.
 */
import * as fs from 'node:fs';
import { SweepConfigSchema, type SweepConfig } from './schema';
import { BRACKET_CODE, readSource, type SourceDocument } from './source';
import { issuesToDiagnostics, sortDiagnostics, spanDiagnostic, type ConfigDiagnostic } from './diagnostics';

export * from './schema';
export { formatDiagnostic, closestKey, type ConfigDiagnostic, type Severity } from './diagnostics';
export { readSource, formatOf, locate, pathAtOffset, LineIndex, type SourceDocument, type JsonPath, type Range, type Position } from './source';
export { sweepJsonSchema, sweepJsonSchemaText, SCHEMA_ID } from './jsonSchema';

/** A sweep config is a few hundred lines; anything this large is the wrong file. */
export const MAX_CONFIG_CHARS = 1 << 20;

/** File names the extension and the explorer treat as sweep configs (one home: src/core/sweepFiles.ts). */
export { SWEEP_FILE_RE as SWEEP_FILE_PATTERN } from '../sweepFiles';

export interface ParseResult {
  config?: SweepConfig;
  diagnostics: ConfigDiagnostic[];
  /** the parsed source (offsets and paths), when the text could be read */
  source?: SourceDocument;
}

/**
 * Parses and validates a sweep config. JSON/JSONC for `.json`/`.jsonc` names, YAML otherwise.
 * `config` is set when there is no error (warnings allow a config).
 */
export function parseSweepConfig(text: string, fileName: string): ParseResult {
  try {
    return parseUnsafe(typeof text === 'string' ? text : String(text), String(fileName ?? ''));
  } catch (err) {
    // a bug of ours must not take the editor or the CLI down: report it at the start of the file
    const message = err instanceof Error ? err.message : String(err);
    return {
      diagnostics: [
        { severity: 'error', message: `internal error while validating: ${message}`, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, path: [], code: 'internal' },
      ],
    };
  }
}

function parseUnsafe(text: string, fileName: string): ParseResult {
  if (text.length > MAX_CONFIG_CHARS) return { diagnostics: [tooLarge(text.length, 'characters')] };
  const doc = readSource(text, fileName);
  const diagnostics: ConfigDiagnostic[] = doc.problems.map((p) => spanDiagnostic(doc, p.span, p.message, p.severity, p.code));
  const syntaxErrors = doc.problems.some((p) => p.severity === 'error');
  if (doc.value === undefined || doc.value === null) {
    if (!syntaxErrors) {
      diagnostics.push({
        severity: 'error',
        message: 'empty sweep config: it needs at least `name` and `budgets`',
        range: doc.lines.range({ start: 0, end: Math.min(text.length, 1) }),
        path: [],
        code: 'empty',
      });
    }
    return { diagnostics: sortDiagnostics(diagnostics), source: doc };
  }
  // after an unbalanced bracket the parsed value is a guess: its schema errors would be noise
  if (doc.problems.some((p) => p.code === BRACKET_CODE)) return { diagnostics: sortDiagnostics(diagnostics), source: doc };
  const r = SweepConfigSchema.safeParse(doc.value);
  if (!r.success) {
    let schemaDiagnostics = issuesToDiagnostics(doc, r.error.issues);
    // a truncated document lacks keys it will have: do not pile "missing key" on a syntax error
    if (syntaxErrors) schemaDiagnostics = schemaDiagnostics.filter((d) => d.code !== 'missing-key');
    diagnostics.push(...schemaDiagnostics);
    return { diagnostics: sortDiagnostics(dedupe(diagnostics)), source: doc };
  }
  const ok = !diagnostics.some((d) => d.severity === 'error');
  return { config: ok ? r.data : undefined, diagnostics: sortDiagnostics(diagnostics), source: doc };
}

/** The real size against the limit (a 20 MB file is "20.0 MiB", never rounded to the limit). */
function tooLarge(size: number, unit: 'characters' | 'bytes'): ConfigDiagnostic {
  const mib = size / (1 << 20);
  return {
    severity: 'error',
    message: `file too large for a sweep config: ${mib >= 10 ? mib.toFixed(1) : mib.toFixed(2)} MiB (${size.toLocaleString('en-US')} ${unit}); the limit is ${MAX_CONFIG_CHARS >> 20} MiB (${MAX_CONFIG_CHARS.toLocaleString('en-US')} characters)`,
    range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    path: [],
    code: 'too-large',
  };
}

function dedupe(ds: ConfigDiagnostic[]): ConfigDiagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const k = `${d.range.start.line}:${d.range.start.character}:${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Reads a config file: the same result as parseSweepConfig, plus I/O errors as diagnostics. */
export function loadSweepConfig(file: string): ParseResult & { text?: string } {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    // UTF-8 takes at least one byte a character: more bytes than 4× the limit cannot fit (and are not read)
    if (st.size > 4 * MAX_CONFIG_CHARS) return { diagnostics: [tooLarge(st.size, 'bytes')] };
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory, not a sweep config' : `cannot read: ${(err as Error).message}`;
    return {
      diagnostics: [{ severity: 'error', message, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, path: [], code: 'io' }],
    };
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return { ...parseSweepConfig(text, file), text };
}
