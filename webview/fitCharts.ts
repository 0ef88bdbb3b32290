/**
 * The fit charts and tables, drawn from fit.json (FitReport, src/core/fit/types.ts):
 *  - IsoFLOP: final loss against N per budget, the optimum estimator's curve (Akima interpolant or
 *    parabola) and the optimum (an edge budget's marker says it is not bracketed);
 *  - frontier: N_opt and D_opt against C (log-log) with the power laws, the bootstrap interval band
 *    and the predictions at the target budget (IsoFLOP and parametric side by side);
 *  - residuals of the parametric fit, the fitted parameters with intervals, the Chinchilla table.
 * Before a fit exists, the IsoFLOP chart shows the completed results without parabolas.
 */
import type { Plan, ResultsRow } from '../src/core/contracts';
import type { FitReport } from '../src/core/fit/types';
import type { ChartId, ChartView } from '../src/shared/protocol';
import { countRendered, makeChart, type GroupedDataset, type ManagedChart, type Theme } from './chartKit';
import { budgetColor, budgetKey, formatLoss, logspace, parabolaAt, powerLawAt, sci, si, withAlpha } from './logic';
import { extraSection, frontierOverlays } from './hyperCharts';
import { el, table } from './planView';

type FitChartId = Exclude<ChartId, 'loss'>;

export interface FitContainers {
  isoflop: HTMLCanvasElement;
  frontier: HTMLCanvasElement;
  residuals: HTMLCanvasElement;
  tables: HTMLElement;
  frontierNote: HTMLElement;
}

type Pt = { x: number; y: number };

function interval(report: FitReport, name: string): [number, number] | undefined {
  return report.bootstrap?.intervals[name];
}

function fmtInterval(iv: [number, number] | undefined, f: (v: number) => string): string {
  return iv ? `[${f(iv[0])}, ${f(iv[1])}]` : '–';
}

const fix = (d: number) => (v: number) => (Number.isFinite(v) ? v.toFixed(d) : '–');
const sig = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : '–');

export class FitCharts {
  private readonly charts: Record<FitChartId, ManagedChart>;
  private theme: Theme;
  private last: { fit: FitReport | null; results: ResultsRow[]; plan: Plan | null } = { fit: null, results: [], plan: null };

  constructor(
    private readonly c: FitContainers,
    views: Record<ChartId, ChartView>,
    theme: Theme,
    onViewChange: () => void,
    private readonly onRendered: (chart: ChartId, counts: { datasets: number; points: number; rawPoints: number }) => void,
  ) {
    this.theme = theme;
    this.charts = {
      isoflop: makeChart({
        id: 'isoflop',
        canvas: c.isoflop,
        view: views.isoflop,
        theme,
        xTitle: 'N (parameters)',
        yTitle: 'final eval loss',
        onViewChange,
        tooltipLabel: (ds, x, y) => `${ds.label}: N=${si(x)}, loss ${formatLoss(y)}`,
      }),
      frontier: makeChart({
        id: 'frontier',
        canvas: c.frontier,
        view: views.frontier,
        theme,
        xTitle: 'C (training FLOPs)',
        yTitle: 'N_opt (parameters), D_opt (tokens)',
        xFormat: 'sci',
        yFormat: 'si',
        onViewChange,
        tooltipLabel: (ds, x, y) => `${ds.label}: C=${sci(x)}, ${si(y)}`,
      }),
      residuals: makeChart({
        id: 'residuals',
        canvas: c.residuals,
        view: views.residuals,
        theme,
        xTitle: 'N (parameters)',
        yTitle: 'ln L − ln L̂ (parametric)',
        onViewChange,
        tooltipLabel: (ds, x, y) => `${ds.label}: N=${si(x)}, residual ${formatLoss(y)}`,
      }),
    };
  }

  managed(id: ChartId): ManagedChart | undefined {
    return id === 'loss' ? undefined : this.charts[id];
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    for (const m of Object.values(this.charts)) m.applyTheme(theme);
    this.update(this.last.fit, this.last.results, this.last.plan);
  }

  update(fit: FitReport | null, results: ResultsRow[], plan: Plan | null): void {
    this.last = { fit, results, plan };
    this.drawIsoflop(fit, results, plan);
    this.drawFrontier(fit);
    this.drawResiduals(fit);
    this.drawTables(fit);
    if (fit) this.c.tables.append(extraSection(fit));
    this.reportAll();
  }

  reportAll(): void {
    for (const id of ['isoflop', 'frontier', 'residuals'] as const) this.onRendered(id, countRendered(this.charts[id]));
  }

  private setData(id: FitChartId, datasets: GroupedDataset[]): void {
    const m = this.charts[id];
    m.chart.data.datasets = datasets;
    m.applyVisibility();
    m.chart.update('none');
  }

  private budgetColors(budgets: number[]): Map<number, string> {
    const sorted = [...new Set(budgets)].sort((a, b) => a - b);
    return new Map(sorted.map((b, i) => [b, budgetColor(i, sorted.length, this.theme.palette)]));
  }

  private drawIsoflop(fit: FitReport | null, results: ResultsRow[], plan: Plan | null): void {
    const datasets: GroupedDataset[] = [];
    const groups = fit?.isoflop?.groups;
    if (groups && groups.length) {
      const colors = this.budgetColors(groups.map((g) => g.budget));
      for (const g of groups) {
        const color = colors.get(g.budget)!;
        const key = budgetKey(g.budget);
        datasets.push({
          type: 'scatter',
          label: `${key} runs${g.status === 'ok' ? '' : ` (${g.status})`}`,
          group: key,
          data: g.points.map((p) => ({ x: p.N, y: p.loss })),
          borderColor: color,
          backgroundColor: withAlpha(color, 0.6),
          pointRadius: 4,
          pointHoverRadius: 6,
          showLine: false,
        });
        if (g.curve) {
          // the optimum estimator's own curve (Akima interpolant, local or global parabola)
          const method = fit?.isoflop?.optimum?.method ?? 'parabola';
          datasets.push({
            type: 'line',
            label: `${key} ${method === 'akima' ? 'Akima interpolant' : method === 'local-parabola' ? 'local parabola' : 'parabola'}`,
            group: key,
            data: g.curve.N.map((n, i) => ({ x: n, y: g.curve!.loss[i] })),
            borderColor: color,
            backgroundColor: color,
            borderWidth: 1.5,
            borderDash: g.used ? undefined : [4, 4],
            pointRadius: 0,
          });
        } else if (g.parabola) {
          const [lo, hi] = g.nRange;
          const par = g.parabola;
          datasets.push({
            type: 'line',
            label: `${key} parabola`,
            group: key,
            data: logspace(lo / 1.6, hi * 1.6, 64).map((n) => ({ x: n, y: parabolaAt(par, n) })),
            borderColor: color,
            backgroundColor: color,
            borderWidth: 1.5,
            borderDash: g.used ? undefined : [4, 4],
            pointRadius: 0,
          });
        }
        if (g.nOpt !== undefined && g.lossOpt !== undefined) {
          datasets.push({
            type: 'scatter',
            label: `${key} ${g.status === 'edge' ? 'edge (not bracketed) N≈' : 'N_opt='}${si(g.nOpt)}`,
            group: key,
            data: [{ x: g.nOpt, y: g.lossOpt }],
            borderColor: this.theme.fg,
            backgroundColor: color,
            pointStyle: 'rectRot',
            pointRadius: 7,
            pointHoverRadius: 9,
            borderWidth: 1.5,
            showLine: false,
          });
        }
      }
    } else if (results.length) {
      // no fit yet: the completed runs per budget
      const colors = this.budgetColors(results.map((r) => r.budget));
      const byBudget = new Map<number, Pt[]>();
      for (const r of results) {
        const list = byBudget.get(r.budget) ?? [];
        list.push({ x: r.params, y: r.loss });
        byBudget.set(r.budget, list);
      }
      for (const [b, pts] of [...byBudget].sort((x, y) => x[0] - y[0])) {
        const color = colors.get(b)!;
        datasets.push({
          type: 'line',
          label: `${budgetKey(b)} runs`,
          group: budgetKey(b),
          data: pts.sort((p, q) => p.x - q.x),
          borderColor: color,
          backgroundColor: color,
          pointRadius: 4,
          borderWidth: 1,
          borderDash: [2, 3],
        });
      }
    }
    void plan;
    this.setData('isoflop', datasets);
  }

  private drawFrontier(fit: FitReport | null): void {
    const datasets: GroupedDataset[] = [];
    const iso = fit?.isoflop;
    const pal = this.theme.palette;
    const nColor = pal[0];
    const dColor = pal[4] ?? pal[pal.length - 1];
    const note = this.c.frontierNote;
    note.replaceChildren();
    if (!fit || !iso) {
      note.append(el('p', { class: 'empty', text: fit ? 'The fit has no IsoFLOP result (too few budgets with a fitted parabola).' : 'No fit yet: run `FlopsFit: Fit Scaling Laws` once experiments have completed.' }));
      this.setData('frontier', datasets);
      return;
    }
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
          legendColor: this.theme.fg,
          group: 'prediction (IsoFLOP)',
          data: [{ x: pv.budget, y }],
          borderColor: this.theme.fg,
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
          backgroundColor: this.theme.bg,
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
    datasets.push(...frontierOverlays(fit, this.theme, cs));
    this.setData('frontier', datasets);

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
      note.append(table(['method', 'N_opt', 'D_opt', 'D/N', 'loss'], rows, { caption: `Prediction at C = ${sci(p.budget)} (×${p.extrapolation.toFixed(1)} beyond the fitted budgets)` }));
      if (p.warnings.length) {
        const ul = el('ul', { class: 'warnings' });
        for (const w of p.warnings) ul.append(el('li', { text: w }));
        note.append(ul);
      }
    }
  }

  private drawResiduals(fit: FitReport | null): void {
    const datasets: GroupedDataset[] = [];
    const par = fit?.parametric;
    if (fit && par && par.residuals.length) {
      const budgetOf = (i: number) => fit.points[i]?.budget ?? fit.isoflop?.groups[fit.points[i]?.group ?? -1]?.budget ?? fit.points[i]?.C;
      const budgets = par.residuals.map((r) => budgetOf(r.index)).filter((b): b is number => b !== undefined);
      const colors = this.budgetColors(budgets);
      const byBudget = new Map<number, Pt[]>();
      for (const r of par.residuals) {
        const pt = fit.points[r.index];
        const b = budgetOf(r.index);
        if (!pt || b === undefined) continue;
        const list = byBudget.get(b) ?? [];
        list.push({ x: pt.N, y: r.residual });
        byBudget.set(b, list);
      }
      for (const [b, pts] of [...byBudget].sort((x, y) => x[0] - y[0])) {
        const color = colors.get(b)!;
        datasets.push({
          type: 'scatter',
          label: `${budgetKey(b)} residuals`,
          group: budgetKey(b),
          data: pts,
          borderColor: color,
          backgroundColor: withAlpha(color, 0.7),
          pointRadius: 4,
          showLine: false,
        });
      }
      const ns = fit.points.map((p) => p.N);
      datasets.push({
        type: 'line',
        label: 'zero',
        group: 'zero',
        data: [
          { x: Math.min(...ns) / 1.3, y: 0 },
          { x: Math.max(...ns) * 1.3, y: 0 },
        ],
        borderColor: withAlpha(this.theme.fg, 0.4),
        borderWidth: 1,
        borderDash: [4, 4],
        pointRadius: 0,
      });
    }
    this.setData('residuals', datasets);
  }

  private drawTables(fit: FitReport | null): void {
    const t = this.c.tables;
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
        .map((k) => [k, sig(par[k] as number), fmtInterval(interval(fit, `parametric.${k}`), sig), se(`parametric.${k}`)]);
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
        ['L_opt exponent', sig(iso.lossOpt.exponent), fmtInterval(interval(fit, 'isoflop.lossOpt.exponent'), sig), se('isoflop.lossOpt.exponent')],
      ];
      t.append(table(['IsoFLOP law', 'value', `${conf}% interval`, 'bootstrap SE'], rows, { numeric: [false, true, true, true], caption: `IsoFLOP profiles (Approach 2): ${iso.usedGroups} of ${iso.groups.length} budgets used` }));
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
    const warnings = [...fit.warnings, ...(iso?.warnings ?? []), ...(fit.bootstrap?.warnings ?? []), ...(iso?.groups.flatMap((g) => g.warnings.map((w) => `${budgetKey(g.budget)}: ${w}`)) ?? [])];
    if (warnings.length) {
      const ul = el('ul', { class: 'warnings' });
      for (const w of [...new Set(warnings)]) ul.append(el('li', { text: w }));
      t.append(el('h3', { text: 'Fit warnings' }), ul);
    }
    t.append(el('p', { class: 'muted', text: `fit.json written ${fit.createdAt}; ${fit.points.length} runs; bootstrap ${fit.bootstrap ? `${fit.bootstrap.samples} resamples, seed ${fit.bootstrap.seed}` : 'off'}.` }));
  }
}
