/**
 * The Frontier tab: N_opt and D_opt against C (log-log) with the power laws, the bootstrap interval
 * band and the predictions at the target budget (IsoFLOP and parametric side by side), and the
 * note beside the chart (the optimal-loss frontier L*(C), the exponents, the prediction table).
 */
import type { FitReport, IsoflopFit } from '../../src/core/fit/types';
import type { GroupedDataset, Theme } from '../chartKit';
import { formatLoss, logspace, powerLawAt, sci, si, withAlpha } from '../logic';
import { el, table } from '../planView';
import { fix, fmtInterval, interval, sig } from './format';
import { frontierOverlays } from './hyperCharts';

/** The frontier chart's datasets for a fit with an IsoFLOP fit. */
export function frontierDatasets(fit: FitReport, iso: IsoflopFit, theme: Theme): GroupedDataset[] {
  const datasets: GroupedDataset[] = [];
  const pal = theme.palette;
  const nColor = pal[0];
  const dColor = pal[4] ?? pal[pal.length - 1];
  const used = iso.groups.filter((g) => g.used && g.nOpt !== undefined && g.dOpt !== undefined);
  const target = fit.prediction?.budget;
  const budgets = used.map((g) => g.budget);
  if (target) budgets.push(target);
  const cMin = Math.min(...budgets) / 2;
  const cMax = Math.max(...budgets) * 2;
  const cs = logspace(cMin, cMax, 48);
  for (const [what, color, law, coef, exp] of [
    ['N_opt', nColor, iso.nOpt, iso.logCoefficient, iso.a],
    ['D_opt', dColor, iso.dOpt, iso.dLogCoefficient, iso.b],
  ] as const) {
    const key = what;
    const pick = (g: (typeof used)[number]) => (what === 'N_opt' ? g.nOpt! : g.dOpt!);
    // bootstrap band: the vertices' intervals and the prediction interval at the target
    const bandPts: { x: number; lo: number; hi: number }[] = [];
    for (const g of used) {
      const iv = interval(fit, `isoflop.groups.${g.index}.${what === 'N_opt' ? 'nOpt' : 'dOpt'}`);
      if (iv) bandPts.push({ x: g.budget, lo: iv[0], hi: iv[1] });
    }
    const predIso = fit.prediction?.isoflop;
    const predIv = what === 'N_opt' ? predIso?.intervals?.nOpt : predIso?.intervals?.dOpt;
    if (target && predIv) bandPts.push({ x: target, lo: predIv[0], hi: predIv[1] });
    bandPts.sort((a, b) => a.x - b.x);
    if (bandPts.length >= 2) {
      const conf = Math.round((fit.bootstrap?.confidence ?? 0.95) * 100);
      datasets.push({
        type: 'line',
        label: `${what} ${conf}% bootstrap interval (lower)`,
        group: `${key} bootstrap band`,
        data: bandPts.map((p) => ({ x: p.x, y: p.lo })),
        borderColor: withAlpha(color, 0.25),
        backgroundColor: withAlpha(color, 0.15),
        borderWidth: 0.5,
        pointRadius: 0,
        fill: false,
      });
      datasets.push({
        type: 'line',
        label: `${what} ${conf}% bootstrap interval`,
        group: `${key} bootstrap band`,
        data: bandPts.map((p) => ({ x: p.x, y: p.hi })),
        borderColor: withAlpha(color, 0.25),
        backgroundColor: withAlpha(color, 0.15),
        borderWidth: 0.5,
        pointRadius: 0,
        fill: '-1',
      });
    }
    datasets.push({
      type: 'line',
      label: `${what} ∝ C^${exp.toFixed(3)}${law.r2 !== undefined ? ` (R²=${law.r2.toFixed(3)})` : ''}`,
      group: `${key} fit`,
      data: cs.map((c) => ({ x: c, y: powerLawAt(coef, exp, c) })),
      borderColor: color,
      backgroundColor: color,
      borderWidth: 1.5,
      pointRadius: 0,
    });
    datasets.push({
      type: 'scatter',
      label: `${what} (IsoFLOP vertices)`,
      group: key,
      data: used.map((g) => ({ x: g.budget, y: pick(g) })),
      borderColor: color,
      backgroundColor: withAlpha(color, 0.7),
      pointRadius: 5,
      showLine: false,
    });
    const pv = fit.prediction;
    if (pv && pv.isoflop) {
      const y = what === 'N_opt' ? pv.isoflop.nOpt : pv.isoflop.dOpt;
      datasets.push({
        type: 'scatter',
        label: `${what} predicted at ${sci(pv.budget)} (IsoFLOP)`,
        legendColor: theme.fg,
        group: 'prediction (IsoFLOP)',
        data: [{ x: pv.budget, y }],
        borderColor: theme.fg,
        backgroundColor: color,
        pointStyle: 'star',
        pointRadius: 10,
        borderWidth: 1.5,
        showLine: false,
      });
      if (predIv) {
        datasets.push({
          type: 'line',
          label: `${what} prediction interval (IsoFLOP)`,
          group: 'prediction (IsoFLOP)',
          data: [
            { x: pv.budget, y: predIv[0] },
            { x: pv.budget, y: predIv[1] },
          ],
          borderColor: color,
          borderWidth: 2,
          pointRadius: 0,
        });
      }
    }
    if (pv && pv.parametric) {
      const y = what === 'N_opt' ? pv.parametric.nOpt : pv.parametric.dOpt;
      const iv = what === 'N_opt' ? pv.parametric.intervals?.nOpt : pv.parametric.intervals?.dOpt;
      const x = pv.budget * 1.15; // beside the IsoFLOP prediction
      datasets.push({
        type: 'scatter',
        label: `${what} predicted at ${sci(pv.budget)} (parametric)`,
        group: 'prediction (parametric)',
        data: [{ x, y }],
        borderColor: color,
        backgroundColor: theme.bg,
        pointStyle: 'triangle',
        pointRadius: 8,
        borderWidth: 2,
        showLine: false,
      });
      if (iv) {
        datasets.push({
          type: 'line',
          label: `${what} prediction interval (parametric)`,
          group: 'prediction (parametric)',
          data: [
            { x, y: iv[0] },
            { x, y: iv[1] },
          ],
          borderColor: withAlpha(color, 0.6),
          borderWidth: 2,
          borderDash: [3, 2],
          pointRadius: 0,
        });
      }
    }
  }
  datasets.push(...frontierOverlays(fit, theme, cs));
  return datasets;
}

/** The note beside the frontier chart: the L*(C) table, the exponents and the prediction. */
export function frontierNote(note: HTMLElement, fit: FitReport, iso: IsoflopFit): void {
  const fr = fit.frontier;
  if (fr) {
    note.append(
      table(
        ['C (FLOPs)', 'L* (budget optimum)', 'L*(C) fitted'],
        fr.points.map(([c, obs, fitted]) => [sci(c), obs.toFixed(4), fitted.toFixed(4)]),
        {
          numeric: [true, true, true],
          caption: `Optimal-loss frontier L*(C) = E + A·C^−γ: E = ${sig(fr.E)} ${fmtInterval(interval(fit, 'frontier.E'), sig)}, A = ${sig(fr.A)}, γ = ${sig(fr.gamma)} ${fmtInterval(interval(fit, 'frontier.gamma'), sig)} (${fr.usedGroups} budgets; Huber on ln L*; E ≤ the lowest L*)`,
        },
      ),
    );
  } else if (iso.usedGroups < 3) {
    note.append(el('p', { class: 'empty', text: `No optimal-loss frontier L*(C): it needs 3 budgets with a bracketed optimum; this fit has ${iso.usedGroups}.` }));
  }

  // summary beside the chart
  const aIv = interval(fit, 'isoflop.a');
  const bIv = interval(fit, 'isoflop.b');
  note.append(
    el(
      'p',
      {},
      `IsoFLOP (${iso.usedGroups} budgets): N_opt ∝ C^${iso.a.toFixed(3)} ${fmtInterval(aIv, fix(3))}, D_opt ∝ C^${iso.b.toFixed(3)} ${fmtInterval(bIv, fix(3))}` +
        (fit.parametric?.a !== undefined ? `; parametric: a = ${fit.parametric.a.toFixed(3)}, b = ${fit.parametric.b?.toFixed(3) ?? '–'}` : ''),
    ),
  );
  const p = fit.prediction;
  if (p) {
    const rows: string[][] = [];
    for (const [name, v] of [
      ['IsoFLOP', p.isoflop],
      ['parametric', p.parametric],
    ] as const) {
      if (!v) continue;
      rows.push([
        name,
        `${si(v.nOpt)} ${fmtInterval(v.intervals?.nOpt, si)}`,
        `${si(v.dOpt)} ${fmtInterval(v.intervals?.dOpt, si)}`,
        `${v.tokensPerParam.toFixed(1)} ${fmtInterval(v.intervals?.tokensPerParam, fix(1))}`,
        `${formatLoss(v.loss)} ${fmtInterval(v.intervals?.loss, formatLoss)}`,
      ]);
    }
    if (p.frontier) rows.push(['frontier L*(C)', '–', '–', '–', `${p.frontier.loss.toFixed(4)} ${fmtInterval(p.frontier.interval, fix(4))}`]);
    note.append(table(['method', 'N_opt', 'D_opt', 'D/N', 'loss'], rows, { caption: `Prediction at C = ${sci(p.budget)} (×${p.extrapolation.toFixed(1)} beyond the fitted budgets)` }));
    if (p.warnings.length) {
      const ul = el('ul', { class: 'warnings' });
      for (const w of p.warnings) ul.append(el('li', { text: w }));
      note.append(ul);
    }
  }
}
