/** Stable experiment ids: a hash of the canonical JSON of every resolved setting. */
import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level (arrays keep their order); the same text as
 * `JSON.stringify` of a key-sorted copy. `memo` caches the text of objects shared between calls
 * (the plan hashes hundreds of experiments that share their data, model and training objects).
 */
export function canonicalJson(value: unknown, memo?: WeakMap<object, string>): string {
  return encode(value, memo);
}

function encode(v: unknown, memo: WeakMap<object, string> | undefined): string {
  if (v === null || typeof v !== 'object') {
    const s = JSON.stringify(v);
    return s === undefined ? 'null' : s;
  }
  const hit = memo?.get(v);
  if (hit !== undefined) return hit;
  let s: string;
  if (Array.isArray(v)) {
    s = '[' + v.map((x) => encode(x, memo)).join(',') + ']';
  } else {
    const parts: string[] = [];
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
      parts.push(JSON.stringify(k) + ':' + encode(x, memo));
    }
    s = '{' + parts.join(',') + '}';
  }
  memo?.set(v, s);
  return s;
}

export const ID_LENGTH = 16;

/** First 16 hex digits (64 bits) of the SHA-256 of the canonical JSON. */
export function stableId(value: unknown, memo?: WeakMap<object, string>): string {
  return createHash('sha256').update(canonicalJson(value, memo)).digest('hex').slice(0, ID_LENGTH);
}
