/** Number and interval formatting shared by the fit charts and tables, and the budgets' colours. */
import type { FitReport } from '../../src/core/fit/types';
import { budgetColor } from '../logic';

export type Pt = { x: number; y: number };

export function interval(report: FitReport, name: string): [number, number] | undefined {
  return report.bootstrap?.intervals[name];
}

export function fmtInterval(iv: [number, number] | undefined, f: (v: number) => string): string {
  return iv ? `[${f(iv[0])}, ${f(iv[1])}]` : '–';
}

export const fix = (d: number) => (v: number) => (Number.isFinite(v) ? v.toFixed(d) : '–');
export const sig = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : '–');

/** One colour per distinct budget, in budget order. */
export function budgetColors(budgets: number[], palette: readonly string[]): Map<number, string> {
  const sorted = [...new Set(budgets)].sort((a, b) => a - b);
  return new Map(sorted.map((b, i) => [b, budgetColor(i, sorted.length, palette)]));
}
