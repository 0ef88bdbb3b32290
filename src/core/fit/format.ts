/** Compact number formatting for the fit's messages. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(3).replace(/\.?0+e/, 'e').replace('e+', 'e');
  return String(+v.toPrecision(4));
}
