/**
 * Config diagnostics: one shape for syntax errors, schema violations and the planner's semantic
 * warnings, located on the exact key or value they are about. Shared by the CLI (file:line:col)
 * and the editor (squiggles).
 */
import type { z } from 'zod';
import { locate, type JsonPath, type Range, type SourceDocument, type Span } from './source';
import { propertiesAt } from './jsonSchema';

export type Severity = 'error' | 'warning' | 'info';

export interface ConfigDiagnostic {
  severity: Severity;
  message: string;
  /** 0-based */
  range: Range;
  /** JSON path of the key or value the diagnostic is about */
  path: (string | number)[];
  code?: string;
  /** a single obvious edit (e.g. an unknown key close to a known one) */
  fix?: { title: string; replacement: string; range: Range };
}

/** `file:line:col: severity: message` (1-based), the format editors and CI annotate. */
export function formatDiagnostic(file: string, d: ConfigDiagnostic): string {
  return `${file}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.severity}: ${d.message}`;
}

export function sortDiagnostics(ds: ConfigDiagnostic[]): ConfigDiagnostic[] {
  return ds.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
}

export function diagnosticAt(
  doc: SourceDocument,
  path: JsonPath,
  message: string,
  opts: { severity?: Severity; code?: string; where?: 'key' | 'value' } = {},
): ConfigDiagnostic {
  const l = locate(doc, path, opts.where ?? 'value');
  return { severity: opts.severity ?? 'error', message, range: doc.lines.range(l.span), path: [...path], code: opts.code };
}

export function spanDiagnostic(doc: SourceDocument, span: Span, message: string, severity: Severity, code: string): ConfigDiagnostic {
  return { severity, message, range: doc.lines.range(span), path: [], code };
}

// ---------------------------------------------------------------------------------------------
// zod issues → diagnostics

type Issue = z.core.$ZodIssue;

function valueAt(root: unknown, path: JsonPath): { found: boolean; value: unknown } {
  let v: unknown = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, seg)) return { found: false, value: undefined };
    v = (v as Record<string | number, unknown>)[seg];
  }
  return { found: true, value: v };
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : Number.isFinite(v) ? 'a number' : 'an infinite number';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'boolean') return 'a boolean';
  if (typeof v === 'object') return v instanceof Uint8Array ? 'binary data' : 'a mapping';
  return typeof v;
}

function expectedName(t: string): string {
  switch (t) {
    case 'number':
      return 'a number';
    case 'int':
      return 'an integer';
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
      return 'a mapping';
    default:
      return t;
  }
}

function fmtNum(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v !== 'number') return String(v);
  return Math.abs(v) >= 1e6 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential().replace('e+', 'e') : String(v);
}

function lastKey(path: JsonPath): string {
  for (let i = path.length - 1; i >= 0; i--) if (typeof path[i] === 'string') return String(path[i]);
  return 'value';
}

/** Levenshtein distance, capped (cheap for the short keys of a config). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const m = a.length;
  const n = b.length;
  if (Math.abs(m - n) > 4) return Math.abs(m - n);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    const cur = [i];
    for (let j = 1; j <= n; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[n];
}

/** The known key an unknown key most likely meant, if one is close enough. */
export function closestKey(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const lower = key.toLowerCase();
  for (const k of known) {
    if (k.toLowerCase() === lower) return k;
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(key.length / 3)));
  return bestD <= limit ? best : undefined;
}

/** Converts the zod issues of a failed parse into located diagnostics. */
export function issuesToDiagnostics(doc: SourceDocument, issues: readonly Issue[], base: JsonPath = []): ConfigDiagnostic[] {
  const out: ConfigDiagnostic[] = [];
  for (const issue of issues) convert(issue, base);
  // a value of the wrong type also fails its length/size checks: keep only the type error
  const typeErrors = new Set(out.filter((d) => d.code === 'wrong-type').map((d) => JSON.stringify(d.path)));
  return out.filter((d) => d.code === 'wrong-type' || !typeErrors.has(JSON.stringify(d.path)));

  function push(path: JsonPath, message: string, where: 'key' | 'value' = 'value', code?: string) {
    out.push(diagnosticAt(doc, path, message, { code: code ?? 'schema', where }));
  }

  function convert(issue: Issue, prefix: JsonPath): void {
    const path = [...prefix, ...(issue.path as JsonPath)];
    const at = valueAt(doc.value, path);
    switch (issue.code) {
      case 'invalid_type': {
        if (!at.found || at.value === undefined) {
          const parent = path.slice(0, -1);
          const key = path[path.length - 1];
          if (typeof key === 'string') push(parent, `missing required key '${key}' (${expectedName(issue.expected)})`, 'key', 'missing-key');
          else push(path, `expected ${expectedName(issue.expected)}`);
          return;
        }
        if (issue.expected === 'int' || (issue.expected === 'number' && typeof at.value === 'number')) {
          push(path, `${lastKey(path)} must be ${issue.expected === 'int' ? 'an integer' : 'a finite number'}, got ${typeName(at.value)}`);
          return;
        }
        if (issue.expected === 'string' && doc.format === 'yaml' && at.value && typeof at.value === 'object') {
          const l = locate(doc, path, 'value');
          const src = doc.text.slice(l.span.start, l.span.end);
          if (/^\{\s*[A-Za-z_]\w*\s*\}$/.test(src.trim())) {
            push(path, `quote the placeholder: "${src.trim()}" (in YAML an unquoted {…} is a mapping)`, 'value', 'wrong-type');
            return;
          }
        }
        push(path, `${lastKey(path)}: expected ${expectedName(issue.expected)}, got ${typeName(at.value)}`, 'value', 'wrong-type');
        return;
      }
      case 'too_small':
      case 'too_big': {
        const small = issue.code === 'too_small';
        const bound = fmtNum(small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum);
        const inclusive = (issue as { inclusive?: boolean }).inclusive !== false;
        const origin = (issue as { origin?: string }).origin;
        let msg: string;
        if (origin === 'array' || origin === 'set') msg = `${lastKey(path)} needs ${small ? 'at least' : 'at most'} ${bound} item${bound === '1' ? '' : 's'}`;
        else if (origin === 'string') msg = small && bound === '1' ? `${lastKey(path)} must not be empty` : `${lastKey(path)} must have ${small ? 'at least' : 'at most'} ${bound} characters`;
        else {
          const op = small ? (inclusive ? '≥' : '>') : inclusive ? '≤' : '<';
          msg = `${lastKey(path)} must be ${op} ${bound}${at.found ? `, got ${fmtNum(at.value)}` : ''}`;
        }
        push(path, msg);
        return;
      }
      case 'invalid_value': {
        const values = (issue as z.core.$ZodIssueInvalidValue).values.map((v) => JSON.stringify(v));
        push(path, values.length === 1 ? `${lastKey(path)} must be ${values[0]}` : `${lastKey(path)} must be one of ${values.join(', ')}`);
        return;
      }
      case 'unrecognized_keys': {
        const known = propertiesAt(path, doc.value);
        for (const key of (issue as z.core.$ZodIssueUnrecognizedKeys).keys) {
          const keyPath = [...path, key];
          const l = locate(doc, keyPath, 'key');
          const suggestion = closestKey(key, known.keys());
          const d: ConfigDiagnostic = {
            severity: 'error',
            message: suggestion ? `unknown key '${key}'; did you mean '${suggestion}'?` : `unknown key '${key}'${known.size ? ` (known: ${[...known.keys()].filter((k) => k !== '$schema').join(', ')})` : ''}`,
            range: doc.lines.range(l.span),
            path: keyPath,
            code: 'unknown-key',
          };
          if (suggestion && l.depth === keyPath.length) {
            d.fix = { title: `Change '${key}' to '${suggestion}'`, replacement: keyReplacement(doc, l.span, suggestion), range: d.range };
          }
          out.push(d);
        }
        return;
      }
      case 'invalid_union': {
        if (!at.found && path.length && typeof path[path.length - 1] === 'string' && !(issue as { discriminator?: string }).discriminator) {
          push(path.slice(0, -1), `missing required key '${path[path.length - 1]}'`, 'key', 'missing-key');
          return;
        }
        const u = issue as z.core.$ZodIssueInvalidUnion & { discriminator?: string; options?: unknown[]; note?: string };
        if (u.discriminator) {
          const discPath = path; // zod puts the discriminator on the path
          const found = valueAt(doc.value, discPath);
          // a defaulted discriminator (model.family) lists `undefined` among its options
          const opts = (u.options ?? []).filter((o) => o !== undefined).map((o) => JSON.stringify(o)).join(', ');
          if (!found.found || found.value === undefined) push(discPath.slice(0, -1), `missing required key '${u.discriminator}' (one of ${opts})`, 'key', 'missing-key');
          else push(discPath, `${u.discriminator} must be one of ${opts}, got ${JSON.stringify(found.value)}`);
          return;
        }
        const branches = u.errors ?? [];
        // pick the branch that got furthest: no type error at the union's own level, fewest issues
        let best: readonly Issue[] | undefined;
        let bestScore = Infinity;
        for (const b of branches) {
          const rootType = b.some((i) => i.code === 'invalid_type' && i.path.length === 0);
          const score = (rootType ? 1000 : 0) + b.length;
          if (score < bestScore) {
            bestScore = score;
            best = b;
          }
        }
        if (!best || bestScore >= 1000) {
          const expected = [
            ...new Set(branches.flatMap((b) => b.filter((i) => i.code === 'invalid_type' && i.path.length === 0).map((i) => expectedName((i as z.core.$ZodIssueInvalidType).expected)))),
          ];
          push(path, expected.length ? `${lastKey(path)}: expected ${expected.join(' or ')}, got ${typeName(at.value)}` : `${lastKey(path)}: invalid value`);
          return;
        }
        for (const i of best) convert(i, path);
        return;
      }
      default: {
        push(path, issue.message || 'invalid value');
      }
    }
  }
}

/** The text that replaces an unknown key: the suggestion, in the quoting style of the original. */
function keyReplacement(doc: SourceDocument, span: Span, suggestion: string): string {
  const original = doc.text.slice(span.start, span.end);
  if (original.startsWith('"')) return JSON.stringify(suggestion);
  if (original.startsWith("'")) return `'${suggestion}'`;
  return suggestion;
}
