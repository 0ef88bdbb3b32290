/**
 * The Fit tab's tables: the parametric parameters with intervals and identifiability, the IsoFLOP
 * laws, the Chinchilla-style table, exponents by parameter convention, the backtest and the fit's
 * warnings.
 */
import type { FitReport } from '../../src/core/fit/types';
import { budgetKey, formatLoss, sci, si } from '../logic';
import { el, table } from '../planView';
import { fmtInterval, interval, sig } from './format';

const OPTIMUM_LABEL: Record<string, string> = {
  akima: 'minimum of the Akima interpolant of ln L in ln N',
  'local-parabola': 'parabola through the sizes around the lowest loss',
  parabola: 'one parabola through all points (Chinchilla)',
};

/** Fills `t` with the fit's tables (or says there is no fit yet). */
export function renderFitTables(t: HTMLElement, fit: FitReport | null): void {
  t.replaceChildren();
  if (!fit) {
    t.append(el('p', { class: 'empty', text: 'No fit yet: run `FlopsFit: Fit Scaling Laws` once experiments have completed.' }));
    return;
  }
  const conf = Math.round((fit.bootstrap?.confidence ?? fit.settings.confidence) * 100);
  const se = (name: string) => {
    const v = fit.bootstrap?.se[name];
    return v === undefined ? '–' : v === null ? 'not finite' : sig(v);
  };
  const par = fit.parametric;
  if (par) {
    const rows = (['E', 'A', 'B', 'alpha', 'beta', 'a', 'b', 'G'] as const)
      .filter((k) => par[k] !== undefined)
      .map((k) =>
        par.identifiability?.parameters[k] === false && fit.bootstrap
          ? [k, sig(par[k] as number), 'not identified', '–']
          : [k, sig(par[k] as number), fmtInterval(interval(fit, `parametric.${k}`), sig), se(`parametric.${k}`)],
      );
    const id = par.identifiability;
    if (id) {
      const box = el('div', { class: id.identified ? 'notice' : 'notice notice-warning' });
      box.append(el('p', { text: `${id.identified ? 'Identified' : 'Not identified'}: ${id.summary}.` }));
      if (id.reasons.length) {
        const ul = el('ul');
        for (const why of id.reasons) ul.append(el('li', { text: why }));
        box.append(ul);
      }
      if (par.eCapped) box.append(el('p', { text: 'E is held at the lowest observed loss, its upper bound.' }));
      t.append(box);
    }
    t.append(
      table(['parameter', 'value', `${conf}% interval`, 'bootstrap SE'], rows, {
        numeric: [false, true, true, true],
        caption: `Parametric fit L(N, D) = E + A/N^α + B/D^β — Huber objective ${par.objective.toPrecision(4)}, RMS ln-residual ${par.rmsLogResidual.toPrecision(3)}, ${par.converged ? 'converged' : 'NOT converged'} (${par.convergedStarts}/${par.starts} starts)`,
      }),
    );
  }
  const iso = fit.isoflop;
  if (iso) {
    const rows = [
      ['a (N_opt ∝ C^a)', sig(iso.a), fmtInterval(interval(fit, 'isoflop.a'), sig), se('isoflop.a')],
      ['b (D_opt ∝ C^b)', sig(iso.b), fmtInterval(interval(fit, 'isoflop.b'), sig), se('isoflop.b')],
      ['k_N (N_opt = k_N·C^a)', sig(Math.exp(iso.logCoefficient)), '–', '–'],
      ['L_opt exponent', sig(iso.lossOpt.exponent), fmtInterval(interval(fit, 'isoflop.lossExponent'), sig), se('isoflop.lossExponent')],
    ];
    t.append(table(['IsoFLOP law', 'value', `${conf}% interval`, 'bootstrap SE'], rows, { numeric: [false, true, true, true], caption: `IsoFLOP profiles (Approach 2): ${iso.usedGroups} of ${iso.groups.length} budgets used; per-budget optimum: ${OPTIMUM_LABEL[iso.optimum?.method ?? 'parabola']}` }));
  }
  if (fit.table.length) {
    t.append(
      table(
        ['method', 'C (FLOPs)', 'N_opt', 'D_opt', 'D/N', 'loss'],
        fit.table.map((r) => [
          r.method,
          sci(r.budget),
          `${si(r.nOpt)} ${fmtInterval(r.intervals?.nOpt, si)}`,
          `${si(r.dOpt)} ${fmtInterval(r.intervals?.dOpt, si)}`,
          `${r.tokensPerParam.toFixed(1)}`,
          `${formatLoss(r.loss)} ${fmtInterval(r.intervals?.loss, formatLoss)}`,
        ]),
        { numeric: [false, true, true, true, true, true], caption: 'Compute-optimal allocation (Chinchilla-style table)' },
      ),
    );
  }
  if (fit.conventions?.length) {
    t.append(
      table(
        ['convention', 'N range', 'budgets used', 'a (N_opt ∝ C^a)', 'b (D_opt ∝ C^b)'],
        fit.conventions.map((c) => [`${c.convention}${c.headline ? ' (headline)' : ''}`, `${si(c.nRange[0])}–${si(c.nRange[1])}`, String(c.usedGroups), c.a !== undefined ? sig(c.a) : '–', c.b !== undefined ? sig(c.b) : '–']),
        {
          numeric: [false, true, true, true, true],
          caption: 'IsoFLOP exponents by parameter convention (non-embedding = Kaplan; last-layer = + output head; total; attention = last-layer + attention FLOPs; C = k·N·D in each)',
        },
      ),
    );
  }
  const bt = fit.backtest;
  if (bt) {
    const pct = (v: number) => `${(v * 100).toFixed(2)} %`;
    const held = bt.split.kind === 'budgets' ? `the largest ${bt.split.k} budget(s)` : `every run with C ≥ ${sci(bt.split.above)}`;
    const caption = `Backtest: fitted on ${bt.train.points} runs (C ≤ ${sci(bt.train.largestC)}), predicting ${bt.test.points} held-out runs (${held})`;
    const rows: string[][] = [];
    if (bt.parametric) {
      rows.push(['parametric: loss of the held-out runs', `mean |error| ${pct(bt.parametric.meanAbsRelError)}`, `worst ${pct(bt.parametric.worstAbsRelError)}`, `bias ${pct(bt.parametric.bias)}`]);
    }
    for (const g of bt.isoflop?.budgets ?? []) {
      rows.push([
        `IsoFLOP: budget ${sci(g.budget)}`,
        `N_opt ${si(g.predictedNOpt)} predicted`,
        g.observedNOpt !== undefined ? `${si(g.observedNOpt)} observed (×${g.nOptRatio!.toPrecision(3)})` : 'no bracketed optimum',
        g.lossOptRelError !== undefined ? `L_opt error ${pct(g.lossOptRelError)}` : '–',
      ]);
    }
    t.append(table(['backtest', 'prediction', 'observed', 'error'], rows, { caption }));
  }
  const warnings = [...fit.warnings, ...(bt?.warnings ?? []), ...(iso?.warnings ?? []), ...(fit.bootstrap?.warnings ?? []), ...(iso?.groups.flatMap((g) => g.warnings.map((w) => `${budgetKey(g.budget)}: ${w}`)) ?? [])];
  if (warnings.length) {
    const ul = el('ul', { class: 'warnings' });
    for (const w of [...new Set(warnings)]) ul.append(el('li', { text: w }));
    t.append(el('h3', { text: 'Fit warnings' }), ul);
  }
  t.append(el('p', { class: 'muted', text: `fit.json written ${fit.createdAt}; ${fit.points.length} runs; bootstrap ${fit.bootstrap ? `${fit.bootstrap.samples} resamples, seed ${fit.bootstrap.seed}` : 'off'}.` }));
}
