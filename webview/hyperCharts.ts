/**
 * The fit report's sections beyond Approaches 2 and 3 in the results panel (fit.json → hyper,
 * approach1, vpnls, decision, presets; src/core/fit/extraTypes.ts):
 *  - on the Frontier chart: the Approach 1 envelope and laws, the VPNLS prediction, and the
 *    published allocations' N_opt (Chinchilla, Epoch, Kaplan, DeepSeek) as faint dashed lines;
 *  - in the Fit tab: one heat map per budget of loss over learning rate × batch size (each cell the
 *    best loss at that setting over the budget's runs, near-optimal settings outlined, the best
 *    marked), the fitted hyperparameter laws next to the published ones, and the decision table
 *    (N*, D*, deadweight at the target).
 */
import type { FitReport } from '../src/core/fit/types';
import type { GroupedDataset, Theme } from './chartKit';
import { budgetKey, logspace, powerLawAt, sci, si, withAlpha } from './logic';
import { el, table } from './planView';

type HyperFit = NonNullable<FitReport['hyper']>;

/** Extra Frontier datasets: Approach 1, the VPNLS prediction and the published allocations. */
export function frontierOverlays(fit: FitReport, theme: Theme, cs: readonly number[]): GroupedDataset[] {
  const out: GroupedDataset[] = [];
  const pal = theme.palette;
  const nColor = pal[0];
  const dColor = pal[4] ?? pal[pal.length - 1];
  const a1 = fit.approach1;
  if (a1) {
    for (const [what, color, law, pick] of [
      ['N_opt', nColor, a1.nOpt, (e: (typeof a1.envelope)[number]) => e.N],
      ['D_opt', dColor, a1.dOpt, (e: (typeof a1.envelope)[number]) => e.D],
    ] as const) {
      out.push({
        type: 'scatter',
        label: `${what} (Approach 1 envelope)`,
        group: 'Approach 1',
        data: a1.envelope.map((e) => ({ x: e.C, y: pick(e) })),
        borderColor: color,
        backgroundColor: withAlpha(color, 0.25),
        pointStyle: 'rectRot',
        pointRadius: 4,
        showLine: false,
      });
      out.push({
        type: 'line',
        label: `${what} ∝ C^${law.exponent.toFixed(3)} (Approach 1)`,
        group: 'Approach 1',
        data: cs.map((c) => ({ x: c, y: powerLawAt(law.logCoefficient, law.exponent, c) })),
        borderColor: withAlpha(color, 0.8),
        borderWidth: 1.5,
        borderDash: [2, 3],
        pointRadius: 0,
      });
    }
  }
  const pv = fit.prediction?.vpnls;
  if (pv && fit.prediction) {
    const x = fit.prediction.budget / 1.15;
    for (const [what, color, y] of [
      ['N_opt', nColor, pv.nOpt],
      ['D_opt', dColor, pv.dOpt],
    ] as const) {
      out.push({
        type: 'scatter',
        label: `${what} predicted at ${sci(fit.prediction.budget)} (VPNLS)`,
        group: 'prediction (VPNLS)',
        data: [{ x, y }],
        borderColor: color,
        backgroundColor: theme.bg,
        pointStyle: 'rect',
        pointRadius: 7,
        borderWidth: 2,
        showLine: false,
      });
    }
  }
  for (const p of fit.presets ?? []) {
    if (p.kind !== 'allocation' || p.points.length === 0) continue;
    const lo = cs[0];
    const hi = cs[cs.length - 1];
    const pts = p.points.filter((q) => q.N !== undefined && q.D !== undefined);
    if (pts.length === 0) continue;
    // a preset is a power law in C: draw it across the chart from its evaluated points
    const line = (key: 'N' | 'D') => {
      if (pts.length === 1) return [{ x: pts[0].C, y: pts[0][key] }];
      const [a, b] = [pts[0], pts[pts.length - 1]];
      const e = Math.log(b[key] / a[key]) / Math.log(b.C / a.C);
      const lk = Math.log(a[key]) - e * Math.log(a.C);
      return logspace(lo, hi, 24).map((c) => ({ x: c, y: powerLawAt(lk, e, c) }));
    };
    // N_opt only (D_opt = C/(6·N_opt) adds nothing but clutter); a legend click hides a preset
    out.push({
      type: 'line',
      label: `N_opt, ${p.name}`,
      group: `published: ${p.name}`,
      legendColor: theme.fg,
      data: line('N'),
      borderColor: withAlpha(nColor, 0.45),
      borderWidth: 1,
      borderDash: [6, 4],
      pointRadius: 0,
    });
  }
  return out;
}

/** A colour from good (low loss) to bad on the theme's palette. */
function heat(t: number): string {
  const x = Math.max(0, Math.min(1, t));
  // blue → yellow → red, readable on light and dark themes
  const stops = [
    [49, 99, 189],
    [250, 210, 70],
    [200, 50, 40],
  ];
  const s = x < 0.5 ? 0 : 1;
  const f = x < 0.5 ? x * 2 : (x - 0.5) * 2;
  const c = stops[s].map((v, i) => Math.round(v + f * (stops[s + 1][i] - v)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** Heat maps per budget: rows the first hyperparameter, columns the second (if any). */
export function hyperHeatMaps(h: HyperFit): HTMLElement {
  const wrap = el('div', { class: 'hyper-heatmaps' });
  const names = h.names.length ? h.names : [...new Set(h.runs.flatMap((r) => Object.keys(r.values)))];
  if (names.length === 0) return wrap;
  const rowName = names.find((n) => /learning|lr/i.test(n)) ?? names[0];
  const colName: string | undefined = names.find((n) => n !== rowName);
  const budgets = [...new Set(h.cells.map((c) => c.budget))].sort((a, b) => a - b);
  for (const b of budgets) {
    const cellIds = new Set(h.cells.filter((c) => c.budget === b).map((c) => c.index));
    const runs = h.runs.filter((r) => cellIds.has(r.cell));
    const rowVals = [...new Set(runs.map((r) => r.values[rowName]).filter((v) => v !== undefined))].sort((x, y) => x - y);
    const colVals = colName ? [...new Set(runs.map((r) => r.values[colName]).filter((v) => v !== undefined))].sort((x, y) => x - y) : [NaN];
    if (rowVals.length === 0) continue;
    const best = new Map<string, { loss: number; inBand: boolean; best: boolean; N: number }>();
    for (const r of runs) {
      const key = `${r.values[rowName]}|${colName ? r.values[colName] : NaN}`;
      const prev = best.get(key);
      if (!prev || r.loss < prev.loss) best.set(key, { loss: r.loss, inBand: r.inBand || (prev?.inBand ?? false), best: r.best || (prev?.best ?? false), N: r.N });
      else if (r.inBand) prev.inBand = true;
    }
    const losses = [...best.values()].map((v) => v.loss);
    const lo = Math.min(...losses);
    const hi = Math.min(Math.max(...losses), lo * 1.1); // saturate beyond +10 %
    const t = el('table', { class: 'data heatmap' });
    t.append(el('caption', { text: `${budgetKey(b)}: loss over ${rowName}${colName ? ` × ${colName}` : ''} (best over the budget's sizes; outlined: within ${+(h.band * 100).toFixed(3)} % of a cell's best; ★ a cell's best)` }));
    const head = el('tr', {}, el('th', { text: colName ? `${rowName} \\ ${colName}` : rowName }));
    for (const c of colVals) head.append(el('th', { class: 'num', text: colName ? si(c) : 'loss' }));
    t.append(el('thead', {}, head));
    const body = el('tbody');
    for (const rv of [...rowVals].reverse()) {
      const tr = el('tr', {}, el('th', { class: 'num', text: sci(rv, 2) }));
      for (const cv of colVals) {
        const v = best.get(`${rv}|${cv}`);
        const td = el('td', { class: 'num', text: v ? `${v.best ? '★ ' : ''}${v.loss.toFixed(4)}` : '', title: v ? `loss ${v.loss.toFixed(5)} (N ${si(v.N)})` : 'not run' });
        if (v) {
          td.style.background = withAlpha(heat((v.loss - lo) / Math.max(1e-12, hi - lo)), 0.55);
          if (v.inBand) td.style.outline = '2px solid currentColor';
        }
        tr.append(td);
      }
      body.append(tr);
    }
    t.append(body);
    wrap.append(t);
  }
  return wrap;
}

/** The Fit tab's extra section: hyperparameter laws (fitted and published), heat maps, decision. */
export function extraSection(fit: FitReport): HTMLElement {
  const sec = el('section', { class: 'fit-extras' });
  const vp = fit.vpnls;
  if (vp) {
    const iv = (k: string) => fit.bootstrap?.intervals[`vpnls.${k}`];
    const f = (x: number) => Number(x.toPrecision(4)).toString();
    const rows = (['E', 'A', 'B', 'alpha', 'beta', 'a', 'b'] as const)
      .filter((k) => vp[k] !== undefined)
      .map((k) => [k, f(vp[k] as number), iv(k) ? `[${f(iv(k)![0])}, ${f(iv(k)![1])}]` : '–']);
    sec.append(table(['parameter', 'value', 'interval'], rows, { numeric: [false, true, true], caption: `VPNLS fit (least squares on raw loss) — RSS ${vp.rss.toPrecision(6)}, ${vp.converged ? 'converged' : 'NOT converged'}` }));
  }
  const h = fit.hyper;
  if (h && h.laws.length) {
    const rows = h.laws.map((l) => {
      const terms = Object.entries(l.exponents)
        .map(([v, e]) => `${v}^${e.toFixed(3)}${l.intervals?.[`exponents.${v}`] ? ` [${l.intervals[`exponents.${v}`][0].toFixed(3)}, ${l.intervals[`exponents.${v}`][1].toFixed(3)}]` : ''}`)
        .join(' · ');
      return [l.name, `${Number(l.coefficient.toPrecision(4))} · ${terms}`, String(l.bandRuns), l.prediction ? `${sci(l.prediction.value, 3)} at ${sci(l.prediction.budget)}` : '–'];
    });
    for (const p of fit.presets ?? []) {
      if (p.kind !== 'hyper') continue;
      const at = p.points.find((q) => q.C === fit.prediction?.budget) ?? p.points[p.points.length - 1];
      if (!at) continue;
      for (const name of ['learningRate', 'batchSize']) {
        if (at[name] !== undefined) rows.push([`${name}, ${p.name}`, p.formulas?.[name] ?? '', '–', `${sci(at[name], 3)} at ${sci(at.C)}`]);
      }
    }
    sec.append(table(['hyperparameter', `law (${h.form} form)`, 'band runs', 'value'], rows, { numeric: [false, false, true, true], caption: `Hyperparameter scaling laws from the near-optimal band (${+(h.band * 100).toFixed(3)} % of each cell's best loss), with published laws for comparison (their batch sizes are in tokens; a sweep's batchSize is in sequences)` }));
    sec.append(hyperHeatMaps(h));
  }
  const d = fit.decision;
  if (d && d.rows.length) {
    const rows = d.rows.map((r) => [r.method, si(r.N), si(r.D), r.loss !== undefined ? r.loss.toFixed(4) : '–', r.deadweight !== undefined ? `${(r.deadweight * 100).toFixed(2)} %` : '–']);
    sec.append(table(['method', 'N*', 'D*', d.reference !== 'none' ? `loss (${d.reference})` : 'loss', 'deadweight'], rows, { numeric: [false, true, true, true, true], caption: `Decision at C = ${sci(d.budget)}${d.reference !== 'none' ? ` (deadweight: compute wasted against the ${d.reference} optimum)` : ''}` }));
    if (d.gaps.length) {
      const ul = el('ul', { class: 'warnings' });
      for (const g of d.gaps) ul.append(el('li', { text: g }));
      sec.append(ul);
    }
  }
  return sec;
}
