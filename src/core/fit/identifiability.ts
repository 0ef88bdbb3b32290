/**
 * Whether the parametric fit L(N, D) = E + A/N^α + B/D^β is identified by the data: bootstrap
 * intervals spanning orders of magnitude, distinct optima that fit equally well, exponents at the
 * edge of what is meaningful, E held at its bound, many failed resamples. The result says so in
 * words and which quantities are identified. Pure TypeScript.
 */
import type { BootstrapReport, Identifiability, ParametricFit } from './types';

export const IDENTIFIABILITY_RULES = {
  /** A, B: the interval spans more than this many decades */
  scaleDecades: 1,
  /** E: the interval is wider than this fraction of E */
  eRelWidth: 0.5,
  /** α, β: the interval is wider than this, or reaches below `minExponent` */
  exponentWidth: 0.5,
  minExponent: 0.02,
  /** a, b (allocation exponents): the interval is wider than this */
  allocationWidth: 0.3,
  /** another local optimum within this relative objective of the best, with parameters this far apart */
  tieObjective: 1e-3,
  tieExponent: 0.05,
  /** more failed resamples than this fraction */
  failedFraction: 0.2,
} as const;

const LABEL: Record<string, string> = { E: 'E', A: 'A', B: 'B', alpha: 'α', beta: 'β', a: 'a (N_opt ∝ C^a)', b: 'b (D_opt ∝ C^b)' };
const NAMES = ['E', 'A', 'B', 'alpha', 'beta', 'a', 'b'] as const;

function decades(lo: number, hi: number): number {
  return lo > 0 && hi > 0 ? Math.log10(hi / lo) : Infinity;
}

function fmtDecades(d: number): string {
  return Number.isFinite(d) ? `${d >= 10 ? Math.round(d) : +d.toFixed(1)} orders of magnitude` : 'an unbounded range';
}

/** Judges a parametric fit (with its bootstrap when there is one). */
export function assessIdentifiability(fit: ParametricFit, bootstrap: BootstrapReport | undefined, points: number): Identifiability {
  const R = IDENTIFIABILITY_RULES;
  const ok: Record<string, boolean> = {};
  for (const n of NAMES) if (n !== 'a' && n !== 'b') ok[n] = true;
  if (fit.a !== undefined) ok.a = true;
  if (fit.b !== undefined) ok.b = true;
  const reasons: string[] = [];
  const spans: string[] = [];
  const value = (n: (typeof NAMES)[number]) => fit[n];

  if (bootstrap && (bootstrap.succeeded.parametric ?? 0) >= 2) {
    for (const n of NAMES) {
      if (!(n in ok)) continue;
      const iv = bootstrap.intervals[`parametric.${n}`];
      const se = bootstrap.se[`parametric.${n}`];
      const v = value(n)!;
      let bad: string | undefined;
      if (!iv) bad = 'no interval';
      else if (se === null) bad = 'its bootstrap standard error is not finite';
      else if (n === 'A' || n === 'B') {
        const d = decades(iv[0], iv[1]);
        if (d > R.scaleDecades) bad = `its interval spans ${fmtDecades(d)}`;
      } else if (n === 'E') {
        if ((iv[1] - iv[0]) / v > R.eRelWidth) bad = `its interval [${sig(iv[0])}, ${sig(iv[1])}] is wider than ${R.eRelWidth * 100} % of E`;
      } else if (n === 'alpha' || n === 'beta') {
        if (iv[1] - iv[0] > R.exponentWidth) bad = `its interval [${sig(iv[0])}, ${sig(iv[1])}] is wider than ${R.exponentWidth}`;
        else if (iv[0] < R.minExponent) bad = `its interval reaches ${sig(iv[0])} (no power law)`;
      } else if (iv[1] - iv[0] > R.allocationWidth) bad = `its interval [${sig(iv[0])}, ${sig(iv[1])}] is wider than ${R.allocationWidth}`;
      if (bad) {
        ok[n] = false;
        spans.push(`${LABEL[n]}: ${bad}`);
      }
    }
    if (spans.length) reasons.push(`bootstrap intervals: ${spans.join('; ')}`);
    const failed = bootstrap.failed.parametric ?? 0;
    if (failed > R.failedFraction * bootstrap.samples) reasons.push(`${failed} of ${bootstrap.samples} bootstrap resamples found no optimum with α, β > 0`);
  } else {
    reasons.push(bootstrap ? 'fewer than 2 bootstrap resamples succeeded, so the spread of the parameters is unknown' : 'no bootstrap was run (--bootstrap 0), so only the starts and bounds were checked');
  }

  const best = fit.objective;
  const tie = fit.localOptima.find(
    (o) => o.objective <= best * (1 + R.tieObjective) + 1e-12 && (Math.abs(o.alpha - fit.alpha) > R.tieExponent || Math.abs(o.beta - fit.beta) > R.tieExponent),
  );
  if (tie) {
    reasons.push(
      `another optimum fits as well (objective within ${R.tieObjective * 100} %) with α = ${sig(tie.alpha)}, β = ${sig(tie.beta)} against α = ${sig(fit.alpha)}, β = ${sig(fit.beta)}`,
    );
    for (const n of ['A', 'B', 'alpha', 'beta'] as const) ok[n] = false;
    if (Math.abs(tie.beta / (tie.alpha + tie.beta) - (fit.a ?? NaN)) > R.tieExponent) {
      if ('a' in ok) ok.a = false;
      if ('b' in ok) ok.b = false;
    }
  }
  for (const n of ['alpha', 'beta'] as const) {
    if (fit[n] < R.minExponent) {
      ok[n] = false;
      reasons.push(`${LABEL[n]} = ${sig(fit[n])} is at the edge of a power law (≤ ${R.minExponent})`);
    }
  }
  if (fit.eCapped) {
    ok.E = false;
    reasons.push('E sits at its upper bound (the lowest observed loss): the data do not show where the loss levels off');
  }
  const identified = Object.values(ok).every(Boolean) && reasons.length === 0;
  const good = NAMES.filter((n) => ok[n] === true).map((n) => LABEL[n]);
  const badNames = NAMES.filter((n) => ok[n] === false).map((n) => LABEL[n]);
  const summary = identified
    ? `the parametric fit is identified on these ${points} points`
    : badNames.length
      ? `the parametric fit is not identified on these ${points} points: ${badNames.join(', ')} ${badNames.length === 1 ? 'is' : 'are'} not determined by the data${good.length ? `; identified: ${good.join(', ')}` : ''}. More sizes, budgets or seeds (and runs nearer the loss floor) narrow them`
      : `the identifiability of the parametric fit on these ${points} points cannot be confirmed: ${reasons.join('; ')}`;
  return { identified, parameters: ok, reasons, summary };
}

function sig(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2).replace('e+', 'e');
  return String(+v.toPrecision(3));
}
