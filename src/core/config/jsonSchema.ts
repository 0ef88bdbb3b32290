/**
 * The JSON Schema of the sweep config, generated from the zod schema (never hand-written), plus
 * small helpers that walk it by path: the editor's hover and completion, and the "did you mean"
 * quick fix for an unknown key.
 */
import { z } from 'zod';
import { SweepConfigSchema } from './schema';
import type { JsonPath } from './source';

export interface JsonSchema {
  $schema?: string;
  $id?: string;
  title?: string;
  type?: string | string[];
  description?: string;
  markdownDescription?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema | JsonSchema[];
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  required?: string[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  [k: string]: unknown;
}

export const SCHEMA_ID = 'https://flopsfit.dev/schemas/sweep.schema.json';

let cached: JsonSchema | undefined;

/** The JSON Schema (draft-07, input side: defaults shown, nothing required that has one). */
export function sweepJsonSchema(): JsonSchema {
  if (!cached) {
    const s = z.toJSONSchema(SweepConfigSchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as JsonSchema;
    cached = { $schema: s.$schema, $id: SCHEMA_ID, title: 'FlopsFit sweep config', ...s };
    tidy(cached);
  }
  return cached;
}

/** Drops JavaScript's safe-integer bounds zod adds to every int (noise on hover). */
function tidy(s: JsonSchema): void {
  if (s.maximum === Number.MAX_SAFE_INTEGER) delete s.maximum;
  if (s.minimum === Number.MIN_SAFE_INTEGER) delete s.minimum;
  for (const v of Object.values(s.properties ?? {})) tidy(v);
  for (const k of ['oneOf', 'anyOf', 'allOf'] as const) for (const v of s[k] ?? []) tidy(v);
  if (s.items && !Array.isArray(s.items)) tidy(s.items);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') tidy(s.additionalProperties);
}

/** The JSON text written to schemas/sweep.schema.json. */
export function sweepJsonSchemaText(): string {
  return JSON.stringify(sweepJsonSchema(), null, 2) + '\n';
}

function alternatives(s: JsonSchema): JsonSchema[] {
  return [...(s.oneOf ?? []), ...(s.anyOf ?? []), ...(s.allOf ?? [])];
}

function typeMatches(s: JsonSchema, v: unknown): boolean {
  if (s.const !== undefined) return s.const === v;
  const t = s.type;
  if (!t) {
    const alts = alternatives(s);
    return alts.length === 0 || alts.some((a) => typeMatches(a, v));
  }
  const types = Array.isArray(t) ? t : [t];
  const actual = Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
  return types.some((x) => x === actual || (x === 'integer' && actual === 'number') || (x === 'object' && actual === 'object'));
}

/**
 * The sub-schemas that apply at `path`, given the document value (used to choose between the
 * branches of a union, e.g. model.family).
 */
export function schemasAt(path: JsonPath, value: unknown, root: JsonSchema = sweepJsonSchema()): JsonSchema[] {
  let current: { s: JsonSchema; v: unknown }[] = [{ s: root, v: value }];
  for (const seg of path) {
    const next: { s: JsonSchema; v: unknown }[] = [];
    for (const { s, v } of expand(current)) {
      const child = v && typeof v === 'object' ? (v as Record<string | number, unknown>)[seg as string] : undefined;
      if (typeof seg === 'string' && s.properties && Object.prototype.hasOwnProperty.call(s.properties, seg)) {
        next.push({ s: s.properties[seg], v: child });
      } else if (typeof seg === 'string' && s.additionalProperties && typeof s.additionalProperties === 'object') {
        next.push({ s: s.additionalProperties, v: child });
      } else if (typeof seg === 'number' && s.items && !Array.isArray(s.items)) {
        next.push({ s: s.items, v: child });
      }
    }
    current = next;
    if (!current.length) return [];
  }
  return expand(current).map((c) => c.s);

  function expand(list: { s: JsonSchema; v: unknown }[]): { s: JsonSchema; v: unknown }[] {
    const out: { s: JsonSchema; v: unknown }[] = [];
    const visit = (s: JsonSchema, v: unknown, depth: number) => {
      const alts = alternatives(s);
      if (!alts.length || depth > 8) {
        out.push({ s, v });
        return;
      }
      if (s.properties || s.description) out.push({ s, v });
      // prefer the branches whose discriminating consts match the value
      const matching = alts.filter((a) => branchMatches(a, v));
      for (const a of matching.length ? matching : alts) visit(a, v, depth + 1);
    };
    for (const { s, v } of list) visit(s, v, 0);
    return out;
  }
}

function branchMatches(s: JsonSchema, v: unknown): boolean {
  if (!typeMatches(s, v)) return false;
  if (s.properties && v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, p] of Object.entries(s.properties)) {
      if (p.const !== undefined && (v as Record<string, unknown>)[k] !== undefined && (v as Record<string, unknown>)[k] !== p.const) return false;
    }
  }
  return true;
}

/** Known property names of the object at `path` (union of the applicable branches). */
export function propertiesAt(path: JsonPath, value: unknown): Map<string, JsonSchema> {
  const out = new Map<string, JsonSchema>();
  for (const s of schemasAt(path, value)) {
    for (const [k, p] of Object.entries(s.properties ?? {})) if (!out.has(k)) out.set(k, p);
  }
  return out;
}

/** The description shown on hover for `path`. */
export function describeAt(path: JsonPath, value: unknown): { description?: string; schema?: JsonSchema } {
  const list = schemasAt(path, value);
  const withDesc = list.find((s) => s.description) ?? list[0];
  return { description: withDesc?.description, schema: withDesc };
}

/** Allowed literal values at `path` (enums and consts), for completion. */
export function valuesAt(path: JsonPath, value: unknown): unknown[] {
  const out: unknown[] = [];
  const add = (v: unknown) => {
    if (!out.some((o) => o === v)) out.push(v);
  };
  const visit = (s: JsonSchema, depth: number) => {
    if (depth > 8) return;
    if (s.const !== undefined) add(s.const);
    for (const e of s.enum ?? []) add(e);
    if (s.type === 'boolean') {
      add(true);
      add(false);
    }
    for (const a of alternatives(s)) visit(a, depth + 1);
  };
  // no value-based branch choice for the value itself (it is being typed)
  for (const s of schemasAt(path, value)) visit(s, 0);
  if (path.length && typeof path[path.length - 1] === 'string') {
    const parent = path.slice(0, -1);
    const key = path[path.length - 1] as string;
    for (const s of schemasAt(parent, undefined)) {
      for (const a of [s, ...alternatives(s)]) {
        const p = a.properties?.[key];
        if (p) visit(p, 0);
      }
    }
  }
  return out;
}
