/**
 * Bracket balance of a config's text, for one clear syntax error where the parsers give a
 * cascade: an unclosed `[` makes `yaml` complain about indentation lines below and jsonc about
 * every following token; one stray `]` gives dozens of "unexpected token" errors. This scan finds
 * the bracket that is not closed (or the closer that matches nothing) and its exact offset.
 *
 * It is only consulted when the parser already reported an error, so a heuristic miss can never
 * turn a valid file into an invalid one: it either names the bracket or leaves the parser's errors.
 */
import * as jsonc from 'jsonc-parser';
import type { Span } from './source';

export interface BracketProblem {
  /** 'bracket': unbalanced; 'depth': nested deeper than MAX_NESTING */
  kind: 'bracket' | 'depth';
  message: string;
  span: Span;
  /** where the cascade starts: parser errors at or after this offset are consequences */
  from: number;
}

interface Open {
  ch: '[' | '{';
  offset: number;
  /** indentation of the line the bracket is on */
  indent: number;
  line: number;
}

/**
 * How deeply a config may nest (lists and mappings together). A sweep config needs about 6; the
 * parsers and the schema recurse, so a hostile 200,000-deep file must be refused before them.
 */
export const MAX_NESTING = 64;

function tooDeep(offset: number): BracketProblem {
  return {
    kind: 'depth',
    message: `nesting too deep: this list or mapping is ${MAX_NESTING + 1} levels deep; the limit is ${MAX_NESTING} (a sweep config needs about 6)`,
    span: { start: offset, end: offset + 1 },
    from: offset,
  };
}

const CLOSER_OF = { '[': ']', '{': '}' } as const;
const KIND = { '[': 'list', '{': 'mapping' } as const;

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function lineOf(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function indentAt(text: string, lineStart: number): number {
  let i = lineStart;
  while (text[i] === ' ' || text[i] === '\t') i++;
  return i - lineStart;
}

function unclosed(o: Open): BracketProblem {
  return {
    kind: 'bracket',
    message: `'${o.ch}' opened here (line ${o.line + 1}) is never closed: add '${CLOSER_OF[o.ch]}' at the end of the ${KIND[o.ch]}`,
    span: { start: o.offset, end: o.offset + 1 },
    from: o.offset,
  };
}

function stray(ch: string, offset: number): BracketProblem {
  const opener = ch === ']' ? '[' : '{';
  return { kind: 'bracket', message: `unexpected '${ch}': no '${opener}' is open here; remove it`, span: { start: offset, end: offset + 1 }, from: offset };
}

/**
 * A closer `ch` at `offset`: pops `stack` when it matches, or returns the problem it reveals.
 * `atLineStart`/`closerIndent` let a closer that starts its line expose an opener left open
 * further in (the usual shape of a forgotten `]` in a multi-line file).
 */
function close(stack: Open[], ch: ']' | '}', offset: number, atLineStart: boolean, closerIndent: number): BracketProblem | undefined {
  const top = stack[stack.length - 1];
  if (!top) return stray(ch, offset);
  if (CLOSER_OF[top.ch] === ch) {
    if (atLineStart && closerIndent < top.indent && stack.length > 1) {
      // `}` back at an outer indentation closes an outer mapping: the inner one was left open
      const outer = stack.slice(0, -1).reverse().find((o) => CLOSER_OF[o.ch] === ch && o.indent <= closerIndent);
      if (outer) return unclosed(top);
    }
    stack.pop();
    return undefined;
  }
  // a closer of the other kind: the top opener was not closed when an outer one is open, else stray
  if (stack.some((o) => CLOSER_OF[o.ch] === ch)) return unclosed(top);
  return {
    kind: 'bracket',
    message: `unexpected '${ch}': the '${top.ch}' opened at line ${top.line + 1} is the one open here (close it with '${CLOSER_OF[top.ch]}', or remove this '${ch}')`,
    span: { start: offset, end: offset + 1 },
    from: offset,
  };
}

/** JSON/JSONC: the first bracket nested deeper than MAX_NESTING (jsonc's scanner, iterative). */
export function jsonNestingProblem(text: string): BracketProblem | undefined {
  const scanner = jsonc.createScanner(text, true);
  let depth = 0;
  for (let t = scanner.scan(); t !== jsonc.SyntaxKind.EOF; t = scanner.scan()) {
    if (t === jsonc.SyntaxKind.OpenBracketToken || t === jsonc.SyntaxKind.OpenBraceToken) {
      if (++depth > MAX_NESTING) return tooDeep(scanner.getTokenOffset());
    } else if (t === jsonc.SyntaxKind.CloseBracketToken || t === jsonc.SyntaxKind.CloseBraceToken) depth = Math.max(0, depth - 1);
  }
  return undefined;
}

/** JSON/JSONC: brackets are tokens; strings and comments are skipped by jsonc's scanner. */
export function jsonBracketProblem(text: string): BracketProblem | undefined {
  const starts = lineStarts(text);
  const scanner = jsonc.createScanner(text, false);
  const stack: Open[] = [];
  let lastLine = -1;
  for (let t = scanner.scan(); t !== jsonc.SyntaxKind.EOF; t = scanner.scan()) {
    if (t === jsonc.SyntaxKind.Trivia || t === jsonc.SyntaxKind.LineBreakTrivia || t === jsonc.SyntaxKind.LineCommentTrivia || t === jsonc.SyntaxKind.BlockCommentTrivia) continue;
    const offset = scanner.getTokenOffset();
    const line = lineOf(starts, offset);
    const first = line !== lastLine;
    lastLine = line;
    const indent = indentAt(text, starts[line]);
    if (t === jsonc.SyntaxKind.OpenBracketToken || t === jsonc.SyntaxKind.OpenBraceToken) {
      stack.push({ ch: t === jsonc.SyntaxKind.OpenBracketToken ? '[' : '{', offset, indent, line });
    } else if (t === jsonc.SyntaxKind.CloseBracketToken || t === jsonc.SyntaxKind.CloseBraceToken) {
      const p = close(stack, t === jsonc.SyntaxKind.CloseBracketToken ? ']' : '}', offset, first, indent);
      if (p) return p;
    }
  }
  const top = stack[stack.length - 1];
  return top ? unclosed(top) : undefined;
}

/**
 * YAML: brackets matter only in flow collections, which start where a value starts (after `key:`,
 * `- `, or at the start of a line); a `]` inside a plain scalar (`a: x]y`) is text. Quoted scalars,
 * comments and block scalars (`|`, `>`) are skipped. A flow collection may span lines, but a line
 * back at (or left of) the indentation where it opened, other than a closer, means it was not closed.
 */
export function yamlBracketProblem(text: string): BracketProblem | undefined {
  return yamlScan(text);
}

/** YAML: the first list or mapping nested deeper than MAX_NESTING (block indentation and flow brackets). */
export function yamlNestingProblem(text: string): BracketProblem | undefined {
  const p = yamlScan(text, true);
  return p?.kind === 'depth' ? p : undefined;
}

function yamlScan(text: string, depthOnly = false): BracketProblem | undefined {
  const starts = lineStarts(text);
  const stack: Open[] = [];
  // the indentations of the enclosing block collections (a deeper line opens one more level)
  const blockIndents: number[] = [];
  let blockScalarIndent = -1; // > -1: inside a block scalar whose parent line had this indentation
  let quote: '"' | "'" | undefined;
  for (let line = 0; line < starts.length; line++) {
    const ls = starts[line];
    const le = line + 1 < starts.length ? starts[line + 1] - 1 : text.length;
    const indent = indentAt(text, ls);
    let i = ls + indent;
    const blank = i >= le || text[i] === '\r' || text[i] === '#';
    if (blockScalarIndent >= 0) {
      if (blank || indent > blockScalarIndent) continue;
      blockScalarIndent = -1;
    }
    if (text.startsWith('---', ls) || text.startsWith('...', ls)) {
      if (!stack.length && !quote) continue;
    }
    if (stack.length && !quote && !blank) {
      const c = text[i];
      if (indent <= stack[0].indent && c !== ']' && c !== '}') {
        if (depthOnly) stack.length = 0;
        else return unclosed(stack[stack.length - 1]);
      }
    }
    if (!stack.length && !quote && !blank) {
      while (blockIndents.length && blockIndents[blockIndents.length - 1] >= indent) blockIndents.pop();
      blockIndents.push(indent);
      if (blockIndents.length > MAX_NESTING) return tooDeep(i);
    }
    let valueStart = !quote && !stack.length;
    let lineFirst = true;
    // just after a flow collection closed: only `:` (it was a key) or a comment may follow
    let afterFlow = false;
    // the offset where a plain scalar started at the start of the line (a key), else -1
    let keyStart = -1;
    while (i < le) {
      const c = text[i];
      if (quote) {
        if (c === quote) {
          if (quote === "'" && text[i + 1] === "'") i++;
          else quote = undefined;
        } else if (c === '\\' && quote === '"') i++;
        i++;
        continue;
      }
      if (c === '#' && (i === ls || text[i - 1] === ' ' || text[i - 1] === '\t')) break;
      if (c === ' ' || c === '\t' || c === '\r') {
        i++;
        continue;
      }
      if (stack.length) {
        // flow context
        // a quote starts a scalar only at its start (`[it's, b]` is the plain scalar it's)
        if ((c === '"' || c === "'") && (lineFirst || /[[{,:\s]/.test(text[i - 1] ?? ' '))) quote = c;
        else if (c === '[' || c === '{') {
          stack.push({ ch: c, offset: i, indent: stack[0].indent, line });
          if (stack.length + blockIndents.length > MAX_NESTING) return tooDeep(i);
        } else if (c === ']' || c === '}') {
          const p = close(stack, c, i, lineFirst, indent);
          if (p && !depthOnly) return p;
          if (p) stack.pop();
          if (!stack.length) {
            valueStart = false;
            afterFlow = true;
          }
        }
        lineFirst = false;
        i++;
        continue;
      }
      // block context
      if (afterFlow) {
        if ((c === ']' || c === '}') && !depthOnly) return stray(c, i);
        afterFlow = false;
      }
      if (valueStart) {
        if (c === '[' || c === '{') {
          stack.push({ ch: c, offset: i, indent, line });
          if (stack.length + blockIndents.length > MAX_NESTING) return tooDeep(i);
          lineFirst = false;
          i++;
          continue;
        }
        if ((c === ']' || c === '}') && !depthOnly) return stray(c, i);
        if (c === '"' || c === "'") {
          quote = c;
          valueStart = false;
          i++;
          continue;
        }
        if ((c === '|' || c === '>') && /^[|>][-+0-9]*\s*(#.*)?$/.test(text.slice(i, le).trimEnd())) {
          blockScalarIndent = indent;
          break;
        }
        if (c === '-' && (i + 1 >= le || /\s/.test(text[i + 1]))) {
          i++;
          continue; // a sequence entry: its value starts next
        }
        if (c === '?' && (i + 1 >= le || /\s/.test(text[i + 1]))) {
          i++;
          continue;
        }
        if (c === '&' || c === '!') {
          // anchor or tag, then the value
          while (i < le && !/\s/.test(text[i])) i++;
          continue;
        }
        valueStart = false;
        keyStart = lineFirst ? i : -1;
      }
      // `key:]` at the start of a line: the closer is stray, not part of the key
      if (keyStart >= 0 && (c === ']' || c === '}') && text[i - 1] === ':' && !depthOnly) return stray(c, i);
      // inside a plain scalar or after a quoted one: `: ` (or `:` at the end) starts a value
      if (c === ':' && (i + 1 >= le || /\s/.test(text[i + 1]))) {
        valueStart = true;
        keyStart = -1;
      }
      lineFirst = false;
      i++;
    }
  }
  const top = stack[stack.length - 1];
  return top && !depthOnly ? unclosed(top) : undefined;
}
