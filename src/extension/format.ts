/** Number and duration formatting for the explorer, status bar and plan preview. No `vscode` import. */

/** 1e15 → "1.0e15", 3.2e17 → "3.2e17" (FLOPs are always shown in this form). */
export function formatFlops(c: number): string {
  if (!Number.isFinite(c)) return String(c);
  if (c === 0) return '0';
  const [m, e] = c.toExponential(1).split('e') as [string, string];
  return `${m}e${Number(e)}`;
}

/** 1234 → "1.2K", 25_600_000 → "25.6M", 3.2e9 → "3.2B". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [v, u] of units) {
    if (a >= v) {
      const x = n / v;
      return `${x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1).replace(/\.0$/, '') : x.toFixed(2).replace(/\.?0+$/, '')}${u}`;
    }
  }
  return Number.isInteger(n) ? String(n) : n.toPrecision(3);
}

/** Seconds → "42s", "4m", "4m 30s" (under 10 min), "1h 20m", "2d 3h". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 >= 5 ? `${m}m ${s % 60}s` : `${m}m`;
  if (m < 60) return `${Math.round(s / 60)}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** A loss: three decimals (nats/token). */
export function formatLoss(l: number): string {
  return Number.isFinite(l) ? l.toFixed(3) : String(l);
}

/** A hyperparameter value: short, e.g. 0.0003 → "3e-4", 64 → "64". */
export function formatValue(v: number | string | boolean): string {
  if (typeof v !== 'number') return String(v);
  if (v !== 0 && (Math.abs(v) < 1e-2 || Math.abs(v) >= 1e6)) {
    const [m, e] = v.toExponential(2).split('e') as [string, string];
    return `${m.replace(/\.?0+$/, '')}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(4)));
}

/** The status-bar text of running sweeps: "$(loading~spin) FlopsFit 3/12 · ETA 4m". */
export function statusText(done: number, total: number, etaSeconds: number | undefined): string {
  return `$(loading~spin) FlopsFit ${done}/${total}${etaSeconds !== undefined ? ` · ETA ${formatDuration(etaSeconds)}` : ''}`;
}
