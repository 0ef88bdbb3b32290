/**
 * The source text of a sweep config as a tree with offsets, so that every diagnostic lands on the
 * exact key or value it is about. JSON/JSONC through jsonc-parser, YAML through `yaml`'s CST ranges.
 * Nothing here throws on any input.
 */
import * as jsonc from 'jsonc-parser';
import * as YAML from 'yaml';
import { jsonBracketProblem, jsonNestingProblem, yamlBracketProblem, yamlNestingProblem, type BracketProblem } from './brackets';

export type JsonPath = (string | number)[];

export interface Position {
  /** 0-based */
  line: number;
  /** 0-based, UTF-16 code units (as VS Code counts) */
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}

/** Offset span [start, end) in the text. */
export interface Span {
  start: number;
  end: number;
}

/** A syntax error found while reading the text. */
export interface SyntaxProblem {
  message: string;
  span: Span;
  severity: 'error' | 'warning';
  code: string;
}

/** A node of the document: enough structure to locate paths, list keys and walk values. */
export interface SourceNode {
  kind: 'object' | 'array' | 'scalar';
  /** the value's span */
  span: Span;
  /** object members, in source order (the key span is where "unknown key" errors go) */
  members?: { key: string; keySpan: Span; value: SourceNode | undefined }[];
  items?: (SourceNode | undefined)[];
}

export interface SourceDocument {
  format: 'json' | 'yaml';
  text: string;
  /** the parsed value (undefined for an empty document) */
  value: unknown;
  root: SourceNode | undefined;
  problems: SyntaxProblem[];
  lines: LineIndex;
}

export function formatOf(fileName: string): 'json' | 'yaml' {
  return /\.json[c5]?$/i.test(fileName) ? 'json' : 'yaml';
}

// ---------------------------------------------------------------------------------------------
// offsets ↔ positions

export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) this.starts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        this.starts.push(i + 1);
      }
    }
  }

  get lineCount(): number {
    return this.starts.length;
  }

  position(offset: number): Position {
    const o = Math.max(0, Math.min(Number.isFinite(offset) ? Math.floor(offset) : 0, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: o - this.starts[lo] };
  }

  offset(p: Position): number {
    const line = Math.max(0, Math.min(p.line, this.starts.length - 1));
    const next = line + 1 < this.starts.length ? this.starts[line + 1] : this.text.length;
    return Math.min(this.starts[line] + Math.max(0, p.character), next);
  }

  range(span: Span): Range {
    const start = this.position(span.start);
    const end = this.position(Math.max(span.start, span.end));
    return { start, end };
  }
}

// ---------------------------------------------------------------------------------------------
// reading

export function readSource(text: string, fileName: string): SourceDocument {
  const format = formatOf(fileName);
  const lines = new LineIndex(text);
  // the parsers and the schema recurse: a hostile depth is refused before them, at its place
  const deep = format === 'json' ? jsonNestingProblem(text) : yamlNestingProblem(text);
  if (deep) return { format, text, value: undefined, root: undefined, problems: [{ message: deep.message, span: deep.span, severity: 'error', code: 'too-deep' }], lines };
  return format === 'json' ? readJson(text, lines) : readYaml(text, lines);
}

function readJson(text: string, lines: LineIndex): SourceDocument {
  const errors: jsonc.ParseError[] = [];
  const tree = jsonc.parseTree(text, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: true });
  const problems: SyntaxProblem[] = errors.map((e) => ({
    message: jsonErrorMessage(e.error),
    span: { start: e.offset, end: e.offset + Math.max(1, e.length) },
    severity: 'error',
    code: 'syntax',
  }));
  const root = tree ? jsonNode(tree, problems) : undefined;
  const value = tree ? jsonc.getNodeValue(tree) : undefined;
  return { format: 'json', text, value, root, problems: collapseBracketCascade(problems, () => jsonBracketProblem(text)), lines };
}

function jsonErrorMessage(code: jsonc.ParseErrorCode): string {
  switch (code) {
    case jsonc.ParseErrorCode.InvalidSymbol:
      return 'invalid symbol';
    case jsonc.ParseErrorCode.InvalidNumberFormat:
      return 'invalid number';
    case jsonc.ParseErrorCode.PropertyNameExpected:
      return 'property name expected';
    case jsonc.ParseErrorCode.ValueExpected:
      return 'value expected';
    case jsonc.ParseErrorCode.ColonExpected:
      return "':' expected";
    case jsonc.ParseErrorCode.CommaExpected:
      return "',' expected";
    case jsonc.ParseErrorCode.CloseBraceExpected:
      return "'}' expected";
    case jsonc.ParseErrorCode.CloseBracketExpected:
      return "']' expected";
    case jsonc.ParseErrorCode.EndOfFileExpected:
      return 'end of file expected';
    case jsonc.ParseErrorCode.UnexpectedEndOfComment:
      return 'unterminated comment';
    case jsonc.ParseErrorCode.UnexpectedEndOfString:
      return 'unterminated string';
    case jsonc.ParseErrorCode.UnexpectedEndOfNumber:
      return 'unterminated number';
    case jsonc.ParseErrorCode.InvalidUnicode:
      return 'invalid unicode escape';
    case jsonc.ParseErrorCode.InvalidEscapeCharacter:
      return 'invalid escape character';
    case jsonc.ParseErrorCode.InvalidCharacter:
      return 'invalid character';
    default:
      return 'syntax error';
  }
}

function jsonNode(n: jsonc.Node, problems: SyntaxProblem[]): SourceNode {
  const span = { start: n.offset, end: n.offset + n.length };
  if (n.type === 'object') {
    const members: NonNullable<SourceNode['members']> = [];
    const seen = new Set<string>();
    for (const prop of n.children ?? []) {
      const [k, v] = prop.children ?? [];
      if (!k || typeof k.value !== 'string') continue;
      const keySpan = { start: k.offset, end: k.offset + k.length };
      if (seen.has(k.value)) {
        problems.push({ message: `duplicate key '${k.value}' (the last one wins)`, span: keySpan, severity: 'warning', code: 'duplicate-key' });
      }
      seen.add(k.value);
      members.push({ key: k.value, keySpan, value: v ? jsonNode(v, problems) : undefined });
    }
    return { kind: 'object', span, members };
  }
  if (n.type === 'array') return { kind: 'array', span, items: (n.children ?? []).map((c) => jsonNode(c, problems)) };
  return { kind: 'scalar', span };
}

function readYaml(text: string, lines: LineIndex): SourceDocument {
  const problems: SyntaxProblem[] = [];
  let doc: YAML.Document.Parsed;
  try {
    // only the first document is read; more than one is reported
    const docs = YAML.parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true, strict: true, logLevel: 'error' });
    if (!Array.isArray(docs)) {
      // an empty stream
      return { format: 'yaml', text, value: undefined, root: undefined, problems, lines };
    }
    doc = docs[0];
    for (let i = 1; i < docs.length; i++) {
      const r = docs[i].range;
      problems.push({
        message: 'a sweep config holds one YAML document; this one is ignored',
        span: { start: r[0], end: Math.max(r[0] + 1, r[1]) },
        severity: 'error',
        code: 'syntax',
      });
    }
    if (!doc) return { format: 'yaml', text, value: undefined, root: undefined, problems, lines };
  } catch (err) {
    problems.push({ message: `cannot read YAML: ${errorMessage(err)}`, span: { start: 0, end: 1 }, severity: 'error', code: 'syntax' });
    return { format: 'yaml', text, value: undefined, root: undefined, problems, lines };
  }
  for (const e of doc.errors) problems.push(yamlProblem(e, 'error', text));
  for (const w of doc.warnings) problems.push(yamlProblem(w, 'warning', text));
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    problems.push({ message: `cannot read YAML: ${errorMessage(err)}`, span: { start: 0, end: 1 }, severity: 'error', code: 'syntax' });
    value = undefined;
  }
  let root: SourceNode | undefined;
  try {
    root = yamlNode(doc.contents, problems, 0);
  } catch {
    root = undefined;
  }
  return { format: 'yaml', text, value, root, problems: collapseBracketCascade(problems, () => yamlBracketProblem(text)), lines };
}

/** The code of the one syntax error that replaces a parser's cascade after an unbalanced bracket. */
export const BRACKET_CODE = 'unbalanced-bracket';

/**
 * When the parser reported errors and the cause is an unbalanced bracket, the bracket is the one
 * error: the parser's messages from the bracket on are its consequences (and land lines away).
 */
function collapseBracketCascade(problems: SyntaxProblem[], find: () => BracketProblem | undefined): SyntaxProblem[] {
  if (!problems.some((p) => p.severity === 'error')) return problems;
  let b: BracketProblem | undefined;
  try {
    b = find();
  } catch {
    b = undefined;
  }
  if (!b) return problems;
  const from = b.from;
  return [...problems.filter((p) => p.span.end <= from), { message: b.message, span: b.span, severity: 'error', code: BRACKET_CODE }];
}

function yamlProblem(e: YAML.YAMLError | YAML.YAMLWarning, severity: 'error' | 'warning', text: string): SyntaxProblem {
  const [a, b] = e.pos ?? [0, 1];
  const start = Math.max(0, Math.min(a, text.length));
  const end = Math.max(start + 1, Math.min(b, text.length));
  // the yaml messages end with a source excerpt after a colon+newline; keep the first line
  const message = String(e.message).split('\n')[0].replace(/\s+at line \d+, column \d+:?$/, '');
  return { message, span: { start, end: Math.min(end, Math.max(text.length, start)) }, severity, code: `yaml-${String(e.code).toLowerCase()}` };
}

function yamlRange(n: { range?: YAML.Range | null } | null | undefined): Span | undefined {
  const r = n?.range;
  if (!r) return undefined;
  return { start: r[0], end: Math.max(r[0], r[1]) };
}

function yamlNode(n: unknown, problems: SyntaxProblem[], depth: number): SourceNode | undefined {
  if (n == null || depth > 200) return undefined;
  if (YAML.isAlias(n)) {
    const span = yamlRange(n);
    return span ? { kind: 'scalar', span } : undefined;
  }
  if (YAML.isMap(n)) {
    const span = yamlRange(n) ?? { start: 0, end: 0 };
    const members: NonNullable<SourceNode['members']> = [];
    for (const pair of n.items) {
      const k = pair.key;
      const key = YAML.isScalar(k) ? String(k.value) : k == null ? '' : String(k);
      const keySpan = yamlRange(k as YAML.Node) ?? span;
      if (YAML.isCollection(k)) {
        problems.push({ message: 'a key must be a plain value, not a list or mapping', span: keySpan, severity: 'error', code: 'yaml-complex-key' });
      }
      members.push({ key, keySpan, value: yamlNode(pair.value, problems, depth + 1) });
    }
    return { kind: 'object', span, members };
  }
  if (YAML.isSeq(n)) {
    const span = yamlRange(n) ?? { start: 0, end: 0 };
    return { kind: 'array', span, items: n.items.map((i) => yamlNode(i, problems, depth + 1)) };
  }
  if (YAML.isScalar(n)) {
    const span = yamlRange(n);
    return span ? { kind: 'scalar', span } : undefined;
  }
  return undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// locating

export interface Located {
  /** the span the path resolved to */
  span: Span;
  /** how much of the path exists in the document (== path.length when the whole path exists) */
  depth: number;
  /** the node at that depth */
  node: SourceNode | undefined;
  /** the key span of the last existing member on the path, when it is an object member */
  keySpan?: Span;
}

/**
 * Finds the deepest existing node along `path`. `where` picks the key ('key') or the value
 * ('value') of the final member; a path that does not exist resolves to its nearest existing
 * ancestor's key (or the whole document's first line).
 */
export function locate(doc: SourceDocument, path: JsonPath, where: 'key' | 'value' = 'value'): Located {
  let node = doc.root;
  let keySpan: Span | undefined;
  let depth = 0;
  for (const seg of path) {
    if (!node) break;
    let next: SourceNode | undefined;
    let nextKey: Span | undefined;
    if (node.kind === 'object' && typeof seg === 'string') {
      // the last member with the key wins (as in JSON.parse)
      for (let i = (node.members?.length ?? 0) - 1; i >= 0; i--) {
        const m = node.members![i];
        if (m.key === seg) {
          next = m.value;
          nextKey = m.keySpan;
          if (!next) {
            // `key:` with no value: point at the key
            return { span: m.keySpan, depth: depth + 1, node: undefined, keySpan: m.keySpan };
          }
          break;
        }
      }
    } else if (node.kind === 'array' && typeof seg === 'number') {
      next = node.items?.[seg];
      nextKey = undefined;
    }
    if (!next) break;
    node = next;
    keySpan = nextKey;
    depth++;
  }
  if (!node) return { span: firstLineSpan(doc), depth: 0, node: undefined };
  if (depth === path.length && where === 'key') return { span: keySpan ?? headSpan(doc, node.span), depth, node, keySpan };
  if (depth < path.length) {
    // missing: report on the key of the nearest existing ancestor (or its first line)
    if (keySpan) return { span: keySpan, depth, node, keySpan };
    return { span: headSpan(doc, node.span), depth, node, keySpan };
  }
  return { span: node.span.end > node.span.start ? node.span : headSpan(doc, node.span), depth, node, keySpan };
}

/** The first line of a span (a whole object would underline half the file). */
function headSpan(doc: SourceDocument, span: Span): Span {
  const text = doc.text;
  let end = span.start;
  while (end < text.length && end < span.end && text[end] !== '\n' && text[end] !== '\r') end++;
  if (end === span.start) end = Math.min(text.length, span.start + 1);
  return { start: span.start, end: Math.max(end, span.start) };
}

function firstLineSpan(doc: SourceDocument): Span {
  return headSpan(doc, { start: 0, end: doc.text.length });
}

/** The keys present in the object at `path` (for completion), or undefined when it is not an object. */
export function keysAt(doc: SourceDocument, path: JsonPath): string[] | undefined {
  const l = locate(doc, path);
  if (l.depth !== path.length || l.node?.kind !== 'object') return undefined;
  return l.node.members?.map((m) => m.key) ?? [];
}

/**
 * The path of the innermost node containing `offset` and whether the offset is on a key, for
 * hover and completion.
 */
export function pathAtOffset(doc: SourceDocument, offset: number): { path: JsonPath; onKey: boolean; node?: SourceNode } {
  const path: JsonPath = [];
  let node = doc.root;
  const inside = (s: Span) => offset >= s.start && offset <= s.end;
  for (let guard = 0; node && guard < 256; guard++) {
    let advanced = false;
    if (node.kind === 'object') {
      for (const m of node.members ?? []) {
        if (inside(m.keySpan)) return { path: [...path, m.key], onKey: true, node: m.value };
        if (m.value && inside(m.value.span) && m.value.span.end > m.value.span.start) {
          path.push(m.key);
          node = m.value;
          advanced = true;
          break;
        }
      }
    } else if (node.kind === 'array') {
      const items = node.items ?? [];
      for (let i = 0; i < items.length; i++) {
        const it = items[i];
        if (it && inside(it.span)) {
          path.push(i);
          node = it;
          advanced = true;
          break;
        }
      }
    }
    if (!advanced) break;
  }
  return { path, onKey: false, node };
}
