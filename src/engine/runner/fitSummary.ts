/** Human-readable lines about a fit report, for the end of `flopsfit run` and `flopsfit demo`. */
import type { FitReport } from '../../core/fit/types';

function f(v: number | undefined, digits = 3): string {
  if (v === undefined || !Number.isFinite(v)) return '?';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2).replace('e+', 'e');
  return Number(v.toPrecision(digits)).toString();
}

function ci(report: FitReport, name: string): string {
  const iv = report.bootstrap?.intervals[name];
  return iv ? ` [${f(iv[0])}, ${f(iv[1])}]` : '';
}

export function fitSummaryLines(report: FitReport, fitFile: string): string[] {
  const lines: string[] = [`flopsfit: fit ${fitFile} (${report.points.length} runs)`];
  const conf = report.bootstrap ? ` (${Math.round(report.bootstrap.confidence * 100)}% intervals)` : '';
  if (report.isoflop) {
    const i = report.isoflop;
    lines.push(
      `  IsoFLOP (approach 2)${conf}: N_opt ∝ C^${f(i.a)}${ci(report, 'isoflop.a')}, D_opt ∝ C^${f(i.b)}${ci(report, 'isoflop.b')} from ${i.usedGroups} budget${i.usedGroups === 1 ? '' : 's'}`,
    );
  }
  if (report.parametric) {
    const p = report.parametric;
    lines.push(
      `  parametric (approach 3)${conf}: L(N, D) = ${f(p.E)}${ci(report, 'parametric.E')} + ${f(p.A)}/N^${f(p.alpha)}${ci(report, 'parametric.alpha')} + ${f(p.B)}/D^${f(p.beta)}${ci(report, 'parametric.beta')}`,
    );
    if (p.a !== undefined && p.b !== undefined) lines.push(`    → N_opt ∝ C^${f(p.a)}${ci(report, 'parametric.a')}, D_opt ∝ C^${f(p.b)}${ci(report, 'parametric.b')}`);
  }
  if (report.vpnls) {
    const p = report.vpnls;
    lines.push(`  VPNLS (least squares)${conf}: L(N, D) = ${f(p.E)}${ci(report, 'vpnls.E')} + ${f(p.A)}/N^${f(p.alpha)}${ci(report, 'vpnls.alpha')} + ${f(p.B)}/D^${f(p.beta)}${ci(report, 'vpnls.beta')}`);
  }
  if (report.approach1) {
    const a = report.approach1;
    lines.push(`  Approach 1 (envelope of ${a.runs} curves): N_opt ∝ C^${f(a.nOpt.exponent)}, D_opt ∝ C^${f(a.dOpt.exponent)}`);
  }
  for (const l of report.hyper?.laws ?? []) {
    const terms = Object.entries(l.exponents)
      .map(([v, e]) => `${v}^${f(e)}`)
      .join('·');
    lines.push(`  ${l.name}* = ${f(l.coefficient, 4)}·${terms}${l.prediction ? ` → ${f(l.prediction.value)} at C = ${f(l.prediction.budget)}` : ''}`);
  }
  const pr = report.prediction;
  if (pr) {
    const v = pr.parametric ?? pr.vpnls ?? pr.isoflop;
    if (v) lines.push(`  at C = ${f(pr.budget)}: N_opt ≈ ${f(v.nOpt)}, D_opt ≈ ${f(v.dOpt)} (${f(v.tokensPerParam)} tokens/param), loss ≈ ${f(v.loss)}`);
  }
  for (const w of report.warnings.slice(0, 5)) lines.push(`  warning: ${w}`);
  return lines;
}
