/** Stable experiment ids: a hash of the canonical JSON of every resolved setting. */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

export const ID_LENGTH = 16;

/** First 16 hex digits (64 bits) of the SHA-256 of the canonical JSON. */
export function stableId(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, ID_LENGTH);
}
