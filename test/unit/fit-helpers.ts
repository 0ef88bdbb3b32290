/** Synthetic scaling-law data for the fit tests (not a test file itself). */
import { Rng } from '../../src/core/fit/rng';
import type { FitPoint } from '../../src/core/fit/types';

/** Chinchilla-like ground truth used by the known-answer tests. */
export const TRUTH = { E: 1.69, A: 406.4, B: 410.7, alpha: 0.34, beta: 0.28 };

export function trueLoss(N: number, D: number): number {
  return TRUTH.E + TRUTH.A / N ** TRUTH.alpha + TRUTH.B / D ** TRUTH.beta;
}

/** Closed-form optimum of the ground truth at budget C (C = 6·N·D). */
export function trueOptimalN(C: number): number {
  const { A, B, alpha, beta } = TRUTH;
  const G = ((alpha * A) / (beta * B)) ** (1 / (alpha + beta));
  return G * (C / 6) ** (beta / (alpha + beta));
}

export const BUDGETS = [1e18, 3e18, 1e19, 3e19, 1e20, 3e20, 1e21];

/**
 * An IsoFLOP grid: per budget, `sizes` model sizes spaced evenly in log N over ±`span` decades
 * around the true optimum, D = C/(6N), loss from the truth times exp(noise·ε).
 */
export function isoflopGrid(opts: { noise?: number; seed?: number; sizes?: number; span?: number; budgets?: number[] } = {}): FitPoint[] {
  const rng = new Rng(opts.seed ?? 1, 99);
  const sizes = opts.sizes ?? 9;
  const span = opts.span ?? 1;
  const out: FitPoint[] = [];
  for (const C of opts.budgets ?? BUDGETS) {
    const nOpt = trueOptimalN(C);
    for (let j = 0; j < sizes; j++) {
      const N = nOpt * 10 ** (-span + (2 * span * j) / (sizes - 1));
      const D = C / (6 * N);
      const loss = trueLoss(N, D) * Math.exp((opts.noise ?? 0) * rng.normal());
      out.push({ N, D, C, loss, budget: C, id: `c${C.toExponential(0)}-n${j}` });
    }
  }
  return out;
}

/** Golden-section minimiser of f on [lo, hi] (for independent checks of the allocation). */
export function goldenMin(f: (x: number) => number, lo: number, hi: number, iters = 200): number {
  const r = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let c = b - r * (b - a);
  let d = a + r * (b - a);
  for (let i = 0; i < iters; i++) {
    if (f(c) < f(d)) b = d;
    else a = c;
    c = b - r * (b - a);
    d = a + r * (b - a);
  }
  return (a + b) / 2;
}
