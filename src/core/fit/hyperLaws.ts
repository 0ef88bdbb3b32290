/**
 * Hyperparameter scaling laws: the optimal learning rate and batch size as power laws of the
 * compute budget (DeepSeek LLM 2024: η* = 0.3118·C^−0.125, B* = 0.2920·C^0.3271), of N and D (Step
 * Law, Li et al. 2025: η* ∝ N^a·D^b) or of N alone (Porian et al. 2024).
 *
 * Runs are grouped into cells of equal (N, D) — on an IsoFLOP sweep, one cell per (budget, size).
 * Every run whose loss is within `band` (0.25 % by default, as both papers do) of its cell's best
 * loss is near-optimal; the law is fitted by least squares in log space over all near-optimal runs
 * (not only each cell's winner): ln y = ln k + Σ e_v·ln x_v. Intervals come from a seeded bootstrap
 * over cells (a resampled cell brings all of its runs). Pure TypeScript.
 */
import { summarise } from './bootstrap';
import { HYPER_FORMS, type HyperFit, type HyperForm, type HyperLaw } from './extraTypes';
import { Rng } from './rng';
import { seedGroupKey } from './io';
import { FitInputError } from './types';
import { lstsq } from './vpnls';

/** One training run with its hyperparameter values. */
export interface HyperRun {
  N: number;
  D: number;
  C: number;
  loss: number;
  /** the IsoFLOP budget (shown on the heat maps; cells are keyed by N and D) */
  budget?: number;
  /** hyperparameter values by name (e.g. learningRate, batchSize) */
  values: Record<string, number>;
  id?: string;
}

export interface HyperOptions {
  /** near-optimal band as a fraction of the cell's best loss; default 0.0025 */
  band?: number;
  /** C (DeepSeek), ND (Step Law) or N; default C */
  form?: HyperForm;
  /** hyperparameters to fit; default every name with ≥ 2 distinct positive values */
  names?: readonly string[];
  bootstrap?: number;
  confidence?: number;
  seed?: number;
  /** predict each law at this budget */
  target?: number;
  /** N and D at the target for the ND and N forms (the compute-optimal allocation), and its source */
  targetAllocation?: { N: number; D: number; basis: string };
}

export const DEFAULT_HYPER_BAND = 0.0025;

/** Variables of each form. */
export const FORM_VARIABLES: Record<HyperForm, readonly ('C' | 'N' | 'D')[]> = { C: ['C'], ND: ['N', 'D'], N: ['N'] };

function cellKey(r: HyperRun): string {
  return `${r.N.toPrecision(6)}|${r.D.toPrecision(6)}`;
}

interface Cells {
  members: number[][];
  best: number[];
  cellOf: Int32Array;
}

function groupCells(runs: readonly HyperRun[]): Cells {
  const index = new Map<string, number>();
  const members: number[][] = [];
  const cellOf = new Int32Array(runs.length);
  runs.forEach((r, i) => {
    const k = cellKey(r);
    let c = index.get(k);
    if (c === undefined) {
      c = members.length;
      index.set(k, c);
      members.push([]);
    }
    members[c].push(i);
    cellOf[i] = c;
  });
  const best = members.map((m) => m.reduce((b, i) => (runs[i].loss < runs[b].loss ? i : b), m[0]));
  return { members, best, cellOf };
}

/** Least squares of ln y on the logs of the form's variables over the given runs. */
function fitLaw(runs: readonly HyperRun[], rows: readonly number[], name: string, vars: readonly ('C' | 'N' | 'D')[]): { logK: number; exps: number[]; r2?: number } | undefined {
  const use = rows.filter((i) => runs[i].values[name] > 0);
  if (use.length < vars.length + 1) return undefined;
  const n = use.length;
  const cols = [new Float64Array(n).fill(1), ...vars.map((v) => Float64Array.from(use, (i) => Math.log(runs[i][v])))];
  const y = Float64Array.from(use, (i) => Math.log(runs[i].values[name]));
  const c = lstsq(cols, y);
  if (!c || !Array.from(c).every(Number.isFinite)) return undefined;
  let mean = 0;
  for (const v of y) mean += v;
  mean /= n;
  let ssr = 0;
  let sst = 0;
  for (let i = 0; i < n; i++) {
    let pred = c[0];
    for (let j = 0; j < vars.length; j++) pred += c[j + 1] * cols[j + 1][i];
    ssr += (y[i] - pred) ** 2;
    sst += (y[i] - mean) ** 2;
  }
  // R² is undefined when the values do not vary (up to rounding)
  return { logK: c[0], exps: Array.from(c.subarray(1)), r2: sst > 1e-20 * n ? Math.min(1, Math.max(0, 1 - ssr / sst)) : undefined };
}

/** The band runs: every run within `band` of its cell's best loss. */
export function nearOptimal(runs: readonly HyperRun[], band: number): boolean[] {
  const { cellOf, best } = groupCells(runs);
  return runs.map((r, i) => r.loss <= runs[best[cellOf[i]]].loss * (1 + band));
}

/** Fits a power law per hyperparameter from the near-optimal band. Throws FitInputError on bad input. */
export function fitHyperLaws(runs: readonly HyperRun[], opts: HyperOptions = {}): HyperFit {
  const band = opts.band ?? DEFAULT_HYPER_BAND;
  if (!(band >= 0 && Number.isFinite(band))) throw new FitInputError(`hyperparameter band must be a fraction ≥ 0 (e.g. 0.0025 for 0.25 %), got ${band}`);
  const form = opts.form ?? 'C';
  if (!HYPER_FORMS.includes(form)) throw new FitInputError(`hyperparameter law form must be one of ${HYPER_FORMS.join(', ')}, got '${String(form)}'`);
  const bootstrap = opts.bootstrap ?? 200;
  const confidence = opts.confidence ?? 0.95;
  runs.forEach((r, i) => {
    for (const k of ['N', 'D', 'C', 'loss'] as const) {
      if (!(r[k] > 0 && Number.isFinite(r[k]))) throw new FitInputError(`run ${r.id ?? i + 1}: ${k} must be a positive finite number, got ${String(r[k])}`);
    }
  });
  const vars = FORM_VARIABLES[form];
  const allNames = [...new Set(runs.flatMap((r) => Object.keys(r.values)))].sort();
  const swept = allNames.filter((n) => new Set(runs.map((r) => r.values[n]).filter((v) => v > 0)).size >= 2);
  const names = opts.names ? [...opts.names] : swept;
  const warnings: string[] = [];
  for (const n of names) if (!swept.includes(n)) warnings.push(`hyperparameter '${n}' does not take at least 2 distinct positive values in these runs, so it has no law`);
  const cells = groupCells(runs);
  const inBand = runs.map((r, i) => r.loss <= runs[cells.best[cells.cellOf[i]]].loss * (1 + band));
  const bandRows = runs.map((_, i) => i).filter((i) => inBand[i]);
  const nCells = cells.members.length;
  const distinct = (v: 'C' | 'N' | 'D') => new Set(cells.members.map((m) => runs[m[0]][v].toPrecision(6))).size;
  for (const v of vars) if (distinct(v) < 2) warnings.push(`the ${form} form needs at least 2 distinct values of ${v} across cells; found ${distinct(v)}`);
  if (form === 'ND') {
    // N and D must not be collinear across cells, or the two exponents are not identified.
    const test = fitLaw(
      cells.members.map((m) => ({ ...runs[m[0]], values: { x: runs[m[0]].D } })),
      cells.members.map((_, c) => c),
      'x',
      ['N'],
    );
    if (test && (test.r2 === undefined || test.r2 > 0.999)) warnings.push('N and D move together across the cells (log D is almost a linear function of log N), so the separate N and D exponents are not identified; use the C or N form');
  }
  const out: HyperLaw[] = [];
  const rng = new Rng(opts.seed ?? 0, 11);
  let succeeded = 0;
  const samples = new Map<string, number[][]>(); // per name: [logK, ...exps]
  const lawWarnings = new Map<string, string[]>();
  const fits = new Map<string, ReturnType<typeof fitLaw>>();
  const edgeCounts = new Map<string, number>();
  for (const name of names.filter((n) => swept.includes(n))) {
    const lw: string[] = [];
    const f = fitLaw(runs, bandRows, name, vars);
    if (!f) {
      warnings.push(`hyperparameter '${name}': too few near-optimal runs (${bandRows.length}) or degenerate variables for the ${form} form`);
      continue;
    }
    // Cells whose best setting sits on the edge of the swept grid: the optimum may lie outside it.
    const values = [...new Set(runs.map((r) => r.values[name]).filter((v) => v > 0))].sort((a, b) => a - b);
    let edge = 0;
    cells.members.forEach((m, c) => {
      const local = [...new Set(m.map((i) => runs[i].values[name]).filter((v) => v > 0))].sort((a, b) => a - b);
      const v = runs[cells.best[c]].values[name];
      if (local.length >= 2 && (v === local[0] || v === local[local.length - 1])) edge++;
    });
    if (edge > 0) lw.push(`${name}: in ${edge} of ${nCells} cells the best value is at the edge of the values tried (${values[0]}–${values[values.length - 1]}); widen the sweep there`);
    fits.set(name, f);
    edgeCounts.set(name, edge);
    lawWarnings.set(name, lw);
    samples.set(name, []);
  }
  if (bootstrap > 0 && fits.size > 0) {
    for (let s = 0; s < bootstrap; s++) {
      const rows: number[] = [];
      const resampled: HyperRun[] = [];
      for (let c = 0; c < nCells; c++) {
        const pick = rng.int(nCells);
        // each drawn cell is a distinct copy: its band is its own
        for (const i of cells.members[pick]) {
          if (inBand[i]) rows.push(resampled.length);
          resampled.push(runs[i]);
        }
      }
      let ok = true;
      const vals = new Map<string, number[]>();
      for (const name of fits.keys()) {
        const f = fitLaw(resampled, rows, name, vars);
        if (!f) {
          ok = false;
          break;
        }
        vals.set(name, [f.logK, ...f.exps]);
      }
      if (!ok) continue;
      succeeded++;
      for (const [name, v] of vals) samples.get(name)!.push(v);
    }
  }
  for (const [name, f] of fits) {
    const lw = lawWarnings.get(name)!;
    const exponents: Record<string, number> = {};
    vars.forEach((v, j) => (exponents[v] = f!.exps[j]));
    const intervals: Record<string, [number, number]> = {};
    const sv = samples.get(name)!;
    if (sv.length >= 2) {
      const kI = summarise(
        sv.map((v) => Math.exp(v[0])),
        confidence,
      ).interval;
      if (kI) intervals.coefficient = kI;
      vars.forEach((v, j) => {
        const iv = summarise(
          sv.map((x) => x[j + 1]),
          confidence,
        ).interval;
        if (iv) intervals[`exponents.${v}`] = iv;
      });
    }
    let prediction: HyperLaw['prediction'];
    if (opts.target !== undefined) {
      const at = (logK: number, exps: readonly number[]): number | undefined => {
        const x: Record<'C' | 'N' | 'D', number | undefined> = { C: opts.target, N: opts.targetAllocation?.N, D: opts.targetAllocation?.D };
        let ly = logK;
        for (let j = 0; j < vars.length; j++) {
          const xv = x[vars[j]];
          if (xv === undefined) return undefined;
          ly += exps[j] * Math.log(xv);
        }
        return Math.exp(ly);
      };
      const value = at(f!.logK, f!.exps);
      if (value !== undefined && Number.isFinite(value) && value > 0) {
        const iv = sv.length >= 2 ? summarise(sv.map((v) => at(v[0], v.slice(1))!).filter(Number.isFinite), confidence).interval : undefined;
        prediction = {
          budget: opts.target,
          ...(form !== 'C' && opts.targetAllocation ? { N: opts.targetAllocation.N, D: opts.targetAllocation.D } : {}),
          value,
          ...(iv ? { interval: iv } : {}),
          basis: form === 'C' ? 'the budget C' : `N and D of the ${opts.targetAllocation!.basis} allocation at the target`,
        };
      } else if (form !== 'C') lw.push(`${name}: no prediction at the target: the ${form} form needs N and D there, and no compute-optimal allocation was fitted`);
    }
    out.push({
      name,
      form,
      coefficient: Math.exp(f!.logK),
      logCoefficient: f!.logK,
      exponents,
      bandRuns: bandRows.filter((i) => runs[i].values[name] > 0).length,
      cells: nCells,
      ...(f!.r2 !== undefined ? { r2: f!.r2 } : {}),
      edgeCells: edgeCounts.get(name) ?? 0,
      ...(Object.keys(intervals).length ? { intervals } : {}),
      ...(prediction ? { prediction } : {}),
      warnings: lw,
    });
    warnings.push(...lw);
  }
  if (bootstrap > 0 && fits.size > 0 && succeeded < bootstrap) warnings.push(`hyperparameter bootstrap: ${bootstrap - succeeded} of ${bootstrap} resamples failed (too few distinct cells) and are excluded`);
  return {
    band,
    form,
    names: out.map((l) => l.name),
    cells: cells.best.map((bi, c) => {
      const b = runs[bi];
      return { index: c, budget: b.budget ?? b.C, N: b.N, D: b.D, bestLoss: b.loss, best: positive(b.values) };
    }),
    runs: runs.map((r, i) => ({ cell: cells.cellOf[i], N: r.N, D: r.D, C: r.C, loss: r.loss, values: positive(r.values), inBand: inBand[i], best: cells.best[cells.cellOf[i]] === i })),
    laws: out,
    ...(bootstrap > 0 && fits.size > 0 ? { bootstrap: { samples: bootstrap, succeeded, confidence } } : {}),
    warnings,
  };
}

function positive(v: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'number' && x > 0 && Number.isFinite(x)));
}

/** Evaluates a fitted (or published) law at C, or at N and D. */
export function evaluateHyperLaw(law: Pick<HyperLaw, 'coefficient' | 'exponents'>, at: { C?: number; N?: number; D?: number }): number | undefined {
  let y = Math.log(law.coefficient);
  for (const [v, e] of Object.entries(law.exponents)) {
    const x = at[v as 'C' | 'N' | 'D'];
    if (x === undefined || !(x > 0)) return undefined;
    y += e * Math.log(x);
  }
  return Math.exp(y);
}

// ---------------------------------------------------------------------------------------------
// Inputs

const HYPER_ALIASES: Record<string, string[]> = {
  learningRate: ['lr', 'learning_rate', 'learningrate', 'eta', 'peak_lr'],
  batchSize: ['bs', 'batch', 'batch_size', 'batchsize'],
};

/** The standard name of a column holding a learning rate or batch size, or undefined. */
export function hyperColumnName(col: string): string | undefined {
  const k = col.trim().toLowerCase().replace(/[\s-]+/g, '_');
  for (const [name, aliases] of Object.entries(HYPER_ALIASES)) if (aliases.includes(k)) return name;
  return undefined;
}

/** Runs from results rows (results.jsonl): numeric hyperparameters only; runs that differ only in seed are averaged (`seedGroupKey`). */
export function hyperRunsFromResults(rows: readonly { params: number; tokens: number; flops: number; loss: number; budget: number; id: string; hyperparameters: Record<string, unknown> }[]): HyperRun[] {
  // runs that differ only in seed are one run with their mean loss (as the IsoFLOP points average them)
  const groups = new Map<string, (typeof rows)[number][]>();
  for (const r of rows) {
    const key = seedGroupKey(r.budget, r.params, r.hyperparameters);
    const list = groups.get(key);
    if (list) list.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()].map((g) => {
    const mean = (f: (r: (typeof rows)[number]) => number) => g.reduce((acc, r) => acc + f(r), 0) / g.length;
    const r = g[0];
    return {
      N: r.params,
      D: mean((x) => x.tokens),
      C: mean((x) => x.flops),
      loss: mean((x) => x.loss),
      budget: r.budget,
      id: g.length === 1 ? r.id : `${r.id} (mean of ${g.length} seeds)`,
      values: Object.fromEntries(Object.entries(r.hyperparameters).filter(([, v]) => typeof v === 'number')) as Record<string, number>,
    };
  });
}
