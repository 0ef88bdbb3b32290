/**
 * Number formatting for everything a user reads: the CLI and the runner's lines, the plan table,
 * the explorer tree, the status bar, the plan preview and the results webview. One home, so the
 * same quantity reads the same everywhere (a unit test holds each caller to it). Pure: no `node:`
 * imports (the webview bundles it).
 *
 *   FLOPs      1.0e15                 (mantissa e exponent, never 1e+15)
 *   counts     950, 1.23k, 25.6M, 3G  (N, D, tokens/s: 3 significant digits, SI prefixes)
 *   durations  42s, 4m 30s, 25m, 1h 20m, 3d 2h
 *   losses     2.8735                 (nats per token, 4 decimals)
 *   values     3e-4, 0.1, 64          (hyperparameters and size values)
 * A missing or non-finite value is "–" (an infinite duration is "∞").
 */

export const MISSING = '–';

type Num = number | null | undefined;

const finite = (v: Num): v is number => typeof v === 'number' && Number.isFinite(v);

/** FLOPs: 1e15 → "1.0e15", 3.2e17 → "3.2e17"; `digits` significant digits (2: one decimal). */
export function formatFlops(c: Num, digits = 2): string {
  if (!finite(c)) return MISSING;
  if (c === 0) return '0';
  const [m, e] = c.toExponential(Math.max(0, digits - 1)).split('e') as [string, string];
  return `${m}e${Number(e)}`;
}

const PREFIXES: [number, string][] = [
  [1e18, 'E'],
  [1e15, 'P'],
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** Counts (parameters, tokens, tokens per second): 1234 → "1.23k", 25_600_000 → "25.6M", 3e9 → "3G". */
export function formatCount(n: Num, digits = 3): string {
  if (!finite(n)) return MISSING;
  const a = Math.abs(n);
  for (const [u, s] of PREFIXES) {
    // 999_999 → "1M", not "1000k"
    if (a >= u * (1 - 0.5 * 10 ** -digits)) return `${Number((n / u).toPrecision(digits))}${s}`;
  }
  if (a === 0) return '0';
  if (a < 1e-3) return formatFlops(n, digits);
  return String(Number(n.toPrecision(digits)));
}

/** Seconds → "42s", "4m 30s" (under 10 minutes), "25m", "1h 20m", "3d 2h". */
export function formatDuration(seconds: Num): string {
  if (seconds === Infinity) return '∞';
  if (!finite(seconds) || seconds < 0) return MISSING;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const mr = Math.round(s / 60);
  if (mr < 60) return `${mr}m`;
  const h = Math.floor(mr / 60);
  if (h < 48) return mr % 60 ? `${h}h ${mr % 60}m` : `${h}h`;
  const hr = Math.round(mr / 60);
  const d = Math.floor(hr / 24);
  return hr % 24 ? `${d}d ${hr % 24}h` : `${d}d`;
}

/** A loss in nats per token: four decimals. */
export function formatLoss(l: Num): string {
  return finite(l) ? l.toFixed(4) : MISSING;
}

/** A hyperparameter or size value: short, e.g. 0.0003 → "3e-4", 64 → "64", 0.1 → "0.1". */
export function formatValue(v: number | string | boolean): string {
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-2 || Math.abs(v) >= 1e6)) {
    const [m, e] = v.toExponential(2).split('e') as [string, string];
    return `${m.replace(/\.?0+$/, '')}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(4)));
}
