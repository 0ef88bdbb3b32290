/**
 * Bootstrap summaries: percentile intervals (linear interpolation between order statistics,
 * "type 7", like numpy's default) and standard errors (sample standard deviation, n − 1).
 * Pure TypeScript.
 */

export interface BootstrapSummary {
  /** percentile interval; absent with fewer than 2 values */
  interval?: [number, number];
  /** standard error; absent with fewer than 2 values */
  se?: number;
  n: number;
}

/** Quantile q ∈ [0, 1] of ascending-sorted values (linear interpolation). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (n === 1) return sorted[0];
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Percentile interval and SE of finite values at the given confidence (0 < confidence < 1). */
export function summarise(values: readonly number[], confidence: number): BootstrapSummary {
  const v = values.filter(Number.isFinite);
  const n = v.length;
  if (n < 2) return { n };
  const sorted = Float64Array.from(v).sort();
  const tail = (1 - confidence) / 2;
  let lo = quantileSorted(sorted, tail);
  let hi = quantileSorted(sorted, 1 - tail);
  // Constant data gives exactly zero width, not rounding noise: values that agree to 1e-12
  // (relative) are one value.
  const constant = sorted[n - 1] - sorted[0] <= 1e-12 * Math.max(Math.abs(sorted[0]), Math.abs(sorted[n - 1]));
  if (constant) lo = hi = quantileSorted(sorted, 0.5);
  let mean = 0;
  for (const x of v) mean += x;
  mean /= n;
  let ss = 0;
  for (const x of v) ss += (x - mean) * (x - mean);
  const se = constant ? 0 : Math.sqrt(ss / (n - 1));
  return { interval: [lo, hi], se, n };
}

/**
 * Warnings about how far an interval from `n` successful resamples can be trusted:
 * 0 or 1 → no interval at all; fewer than 2/(1 − confidence) → the tails rest on (almost) no
 * resample, so the interval is "unreliable".
 */
export function bootstrapCountWarning(label: string, n: number, confidence: number): string | undefined {
  if (n === 0) return `${label}: no successful bootstrap resample, so no interval`;
  if (n === 1) return `${label}: only 1 successful bootstrap resample, so no interval or standard error`;
  const needed = Math.ceil(2 / (1 - confidence));
  if (n < needed) return `${label}: only ${n} successful bootstrap resamples; a ${fmtPct(confidence)} percentile interval needs at least ${needed}, so it is unreliable`;
  return undefined;
}

function fmtPct(c: number): string {
  return `${+(c * 100).toFixed(4)}%`;
}
