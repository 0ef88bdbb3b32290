/**
 * Language features of sweep configs, from the same zod-generated JSON Schema as the validator:
 *
 * - hover: the description, type, default and allowed values of the key under the cursor;
 * - completion: the keys allowed at the cursor (not yet present) and the allowed values of enums;
 * - quick fixes: the fix a diagnostic carries (e.g. an unknown key → the close known key).
 *
 * Hover and completion are provided for YAML, where nothing else provides them (unless Red Hat's
 * YAML extension is installed: it reads the schema from `yamlValidation` itself). For
 * `*.sweep.json`, VS Code's built-in JSON language features read the schema from `jsonValidation`.
 */
import * as vscode from 'vscode';
import { readSource, pathAtOffset, keysAt, type JsonPath, type SourceDocument } from '../../core/config/source';
import { describeAt, propertiesAt, valuesAt, type JsonSchema } from '../../core/config/jsonSchema';
import type { ValidatedDocument } from './diagnostics';

const SWEEP_YAML: vscode.DocumentSelector = [{ pattern: '**/*.sweep.{yaml,yml}' }];
const SWEEP_ALL: vscode.DocumentSelector = [{ pattern: '**/*.sweep.{yaml,yml,json}' }];

/** One parse per document version, shared by hover and completion. */
const cache = new WeakMap<vscode.TextDocument, { version: number; doc: SourceDocument }>();
function sourceOf(document: vscode.TextDocument): SourceDocument {
  const hit = cache.get(document);
  if (hit && hit.version === document.version) return hit.doc;
  const doc = readSource(document.getText(), document.fileName);
  cache.set(document, { version: document.version, doc });
  return doc;
}

function typeLabel(s: JsonSchema | undefined): string {
  if (!s) return '';
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(' | ');
  if (s.type) return Array.isArray(s.type) ? s.type.join(' | ') : s.type === 'array' && s.items && !Array.isArray(s.items) ? `${typeLabel(s.items)}[]` : String(s.type);
  const alts = [...(s.oneOf ?? []), ...(s.anyOf ?? [])];
  if (alts.length) return [...new Set(alts.map(typeLabel))].join(' | ');
  return '';
}

function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_{}[\]<>#|]/g, (c) => `\\${c}`);
}

function bounds(s: JsonSchema | undefined): string {
  if (!s) return '';
  const parts: string[] = [];
  if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) parts.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`< ${s.exclusiveMaximum}`);
  return parts.join(', ');
}

export function hoverMarkdown(path: JsonPath, value: unknown): vscode.MarkdownString | undefined {
  // an array item is described by its array
  let p = path;
  while (p.length && typeof p[p.length - 1] === 'number') p = p.slice(0, -1);
  if (!p.length) return undefined;
  const { description, schema } = describeAt(p, value);
  if (!description && !schema) return undefined;
  const md = new vscode.MarkdownString();
  const type = typeLabel(schema);
  md.appendMarkdown(`**${p.join('.')}**${type ? ` \`${type.length > 80 ? type.slice(0, 77) + '…' : type}\`` : ''}\n\n`);
  if (description) md.appendMarkdown(escapeMarkdown(description) + '\n\n');
  const b = bounds(schema);
  if (b) md.appendMarkdown(`Range: ${b}\n\n`);
  if (schema?.default !== undefined && (typeof schema.default !== 'object' || JSON.stringify(schema.default).length < 80)) {
    md.appendMarkdown(`Default: \`${JSON.stringify(schema.default)}\``);
  }
  return md;
}

// ---------------------------------------------------------------------------------------------
// YAML completion context (line based: it must work while the text does not parse)

interface YamlContext {
  /** path of the mapping the cursor is in */
  parent: JsonPath;
  /** the key whose value is being typed, when after `key:` */
  key?: string;
  /** the range of the word being typed */
  range: vscode.Range;
  indent: string;
}

const KEY_LINE = /^(\s*)([A-Za-z_$][\w$]*)\s*:\s*(#.*)?$/;

export function yamlContext(lines: string[], line: number, character: number): YamlContext | undefined {
  const prefix = lines[line].slice(0, character);
  if (/#/.test(prefix) || /[{}[\]]/.test(prefix)) return undefined;
  const typingKey = /^(\s*)([A-Za-z_$][\w$]*)?$/.exec(prefix);
  const typingValue = /^(\s*)([A-Za-z_$][\w$]*)\s*:\s+([\w.+-]*)$/.exec(prefix);
  const m = typingKey ?? typingValue;
  if (!m) return undefined;
  const indent = m[1];
  const parent: string[] = [];
  let current = indent.length;
  for (let i = line - 1; i >= 0 && current > 0; i--) {
    const text = lines[i];
    if (!text.trim() || /^\s*#/.test(text)) continue;
    const lead = text.length - text.trimStart().length;
    if (lead >= current) continue;
    const k = KEY_LINE.exec(text);
    if (!k) return undefined; // a list or flow collection: no completion
    parent.unshift(k[2]);
    current = lead;
  }
  const word = typingValue ? typingValue[3] : (typingKey?.[2] ?? '');
  const range = new vscode.Range(line, character - word.length, line, character);
  return { parent, key: typingValue ? typingValue[2] : undefined, range, indent };
}

function completionItems(doc: SourceDocument, ctx: YamlContext): vscode.CompletionItem[] {
  const value = doc.value;
  if (ctx.key !== undefined) {
    const path = [...ctx.parent, ctx.key];
    return valuesAt(path, value).map((v) => {
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      const item = new vscode.CompletionItem(text, vscode.CompletionItemKind.EnumMember);
      item.range = ctx.range;
      const d = describeAt(path, value).description;
      if (d) item.documentation = d;
      return item;
    });
  }
  const present = new Set(keysAt(doc, ctx.parent) ?? []);
  const items: vscode.CompletionItem[] = [];
  for (const [key, schema] of propertiesAt(ctx.parent, value)) {
    if (present.has(key) || key === '$schema') continue;
    const item = new vscode.CompletionItem(key, vscode.CompletionItemKind.Property);
    item.range = ctx.range;
    const type = typeLabel(schema);
    item.detail = type.length > 60 ? type.slice(0, 57) + '…' : type;
    if (schema.description) item.documentation = new vscode.MarkdownString().appendText(schema.description);
    const isObject = schema.type === 'object' || (!!schema.oneOf && schema.oneOf.every((o) => o.type === 'object'));
    item.insertText = isObject ? new vscode.SnippetString(`${key}:\n${ctx.indent}  $0`) : new vscode.SnippetString(`${key}: $0`);
    if (isObject || valuesAt([...ctx.parent, key], value).length) item.command = { command: 'editor.action.triggerSuggest', title: 'values' };
    items.push(item);
  }
  return items;
}

// ---------------------------------------------------------------------------------------------

export function registerConfigLanguage(context: vscode.ExtensionContext, lastValidation: (uri: vscode.Uri) => ValidatedDocument | undefined): void {
  const yamlExtension = vscode.extensions.getExtension('redhat.vscode-yaml');
  if (!yamlExtension) {
    context.subscriptions.push(
      vscode.languages.registerHoverProvider(SWEEP_YAML, {
        provideHover(document, position) {
          const doc = sourceOf(document);
          const { path, onKey } = pathAtOffset(doc, document.offsetAt(position));
          if (!path.length) return undefined;
          const md = hoverMarkdown(path, doc.value);
          if (!md) return undefined;
          const range = document.getWordRangeAtPosition(position, onKey ? /[\w$]+/ : /[^\s,:[\]{}]+/);
          return new vscode.Hover(md, range);
        },
      }),
      vscode.languages.registerCompletionItemProvider(
        SWEEP_YAML,
        {
          provideCompletionItems(document, position) {
            const lines = document.getText().split(/\r?\n/);
            const ctx = yamlContext(lines, position.line, position.character);
            if (!ctx) return undefined;
            return completionItems(sourceOf(document), ctx);
          },
        },
        ':',
        ' ',
      ),
    );
  }
  context.subscriptions.push(
    vscode.languages.registerCodeActionsProvider(
      SWEEP_ALL,
      {
        provideCodeActions(document, _range, ctx) {
          const validated = lastValidation(document.uri);
          if (!validated || validated.version !== document.version) return undefined;
          const actions: vscode.CodeAction[] = [];
          for (const diag of ctx.diagnostics) {
            if (diag.source !== 'flopsfit') continue;
            const match = validated.diagnostics.find(
              (d) =>
                d.fix &&
                d.message === diag.message &&
                d.range.start.line === diag.range.start.line &&
                d.range.start.character === diag.range.start.character,
            );
            if (!match?.fix) continue;
            const action = new vscode.CodeAction(match.fix.title, vscode.CodeActionKind.QuickFix);
            const r = match.fix.range;
            action.edit = new vscode.WorkspaceEdit();
            action.edit.replace(document.uri, new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character), match.fix.replacement);
            action.diagnostics = [diag];
            action.isPreferred = true;
            actions.push(action);
          }
          return actions;
        },
      },
      { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] },
    ),
  );
}
