/**
 * The fit report's sections beyond Approaches 2 and 3, added after the main fit: hyperparameter
 * laws (./hyperLaws), Approach 1 (./approach1), the decision outputs (./allocation) and the
 * published laws (./presets). Inputs come from a run directory (results.jsonl with the
 * hyperparameters of every run, experiments/<id>/metrics.jsonl curves) or an external file with
 * learning-rate / batch-size columns. No `vscode` import.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExperimentSpec, MetricsLine, RUN_FILES } from '../contracts';
import { experimentDir, readJsonFile, readResults } from '../manifest';
import { deadweight, hasAllocation, type LossModel } from './allocation';
import { fitApproach1, type TrainingCurve } from './approach1';
import type { Decision, ExtraOptions } from './extraTypes';
import { fitHyperLaws, hyperColumnName, hyperRunsFromResults, type HyperRun } from './hyperLaws';
import { parseCsv, recordsToPoints } from './io';
import { parametricAllocation } from './parametric';
import { evaluatePresets } from './presets';
import { FitInputError, type FitReport } from './types';

export type { ExtraOptions };

export interface ExtraInputs {
  hyperRuns?: HyperRun[];
  curves?: TrainingCurve[];
}

/** The allocation (N, D) at C of the best available fitted law: VPNLS, parametric, then IsoFLOP. */
function allocationOf(report: FitReport): { at: (C: number) => { N: number; D: number } | undefined; basis: string } | undefined {
  const k = report.settings.flopsPerParamPerToken;
  const model = referenceModel(report);
  if (model) {
    return {
      basis: model.name,
      at: (C) => {
        const s = model.m.alpha + model.m.beta;
        const a = parametricAllocation({ ...model.m, a: model.m.beta / s, b: model.m.alpha / s, G: 0 }, C, k);
        return { N: a.nOpt, D: a.dOpt };
      },
    };
  }
  const iso = report.isoflop;
  if (iso) {
    return {
      basis: 'IsoFLOP',
      at: (C) => {
        const N = iso.nOpt.coefficient * Math.pow(C, iso.nOpt.exponent);
        return { N, D: C / (k * N) };
      },
    };
  }
  return undefined;
}

function referenceModel(report: FitReport): { name: string; m: LossModel } | undefined {
  if (report.vpnls && hasAllocation(report.vpnls)) return { name: 'vpnls', m: report.vpnls };
  if (report.parametric && hasAllocation(report.parametric)) return { name: 'parametric', m: report.parametric };
  return undefined;
}

/** Adds `hyper`, `approach1`, `decision` and `presets` to a report (in place) and returns it. */
export function addExtras(report: FitReport, inputs: ExtraInputs, options: ExtraOptions = {}): FitReport {
  const s = report.settings;
  const k = s.flopsPerParamPerToken;
  const alloc = allocationOf(report);
  if (options.hyper !== false && inputs.hyperRuns && inputs.hyperRuns.length > 0) {
    const runs = inputs.hyperRuns;
    const swept = new Set(runs.flatMap((r) => Object.keys(r.values))).size > 0 && [...new Set(runs.flatMap((r) => Object.keys(r.values)))].some((n) => new Set(runs.map((r) => r.values[n]).filter((v) => v > 0)).size >= 2);
    if (swept) {
      try {
        const nd = s.target !== undefined ? alloc?.at(s.target) : undefined;
        report.hyper = fitHyperLaws(runs, {
          band: options.hyper?.band,
          form: options.hyper?.form,
          bootstrap: s.bootstrap,
          confidence: s.confidence,
          seed: s.seed,
          target: s.target,
          ...(nd && alloc ? { targetAllocation: { ...nd, basis: alloc.basis } } : {}),
        });
        report.warnings.push(...report.hyper.warnings);
      } catch (e) {
        if (!(e instanceof FitInputError)) throw e;
        report.warnings.push(`hyperparameter laws skipped: ${e.message}`);
      }
    }
  }
  if (options.approach1 !== false && inputs.curves && inputs.curves.length > 0) {
    try {
      report.approach1 = fitApproach1(inputs.curves, {
        restrict: options.approach1?.restrict,
        afterFraction: options.approach1?.afterFraction,
        k,
        bootstrap: s.bootstrap,
        confidence: s.confidence,
        seed: s.seed,
      });
      report.warnings.push(...report.approach1.warnings);
    } catch (e) {
      if (!(e instanceof FitInputError)) throw e;
      report.warnings.push(`Approach 1 skipped: ${e.message}`);
    }
  }
  if (s.target !== undefined) report.decision = decide(report, s.target);
  if (options.presets !== false) {
    const budgets = [...new Set([...report.table.map((t) => t.budget), ...(s.target !== undefined ? [s.target] : [])])].sort((a, b) => a - b);
    const fallback = budgets.length ? budgets : [...new Set(report.points.map((p) => p.budget ?? p.C))].sort((a, b) => a - b);
    report.presets = evaluatePresets(fallback, k, alloc?.at);
  }
  return report;
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** Allocations of every method at C, their deadweight under the reference model, and the gaps. */
export function decide(report: FitReport, C: number): Decision {
  const k = report.settings.flopsPerParamPerToken;
  const ref = referenceModel(report);
  const rows: Decision['rows'] = [];
  const pr = report.prediction?.budget === C ? report.prediction : undefined;
  for (const m of ['isoflop', 'parametric', 'vpnls'] as const) {
    const v = pr?.[m];
    if (!v) continue;
    rows.push({ method: m, N: v.nOpt, D: v.dOpt, ...(v.intervals?.nOpt || v.intervals?.dOpt ? { intervals: { ...(v.intervals.nOpt ? { N: v.intervals.nOpt } : {}), ...(v.intervals.dOpt ? { D: v.intervals.dOpt } : {}) } } : {}) });
  }
  if (report.approach1) {
    const a1 = report.approach1;
    const N = a1.nOpt.coefficient * Math.pow(C, a1.nOpt.exponent);
    rows.push({ method: 'approach1', N, D: C / (k * N) });
  }
  const refRow = ref ? rows.find((r) => r.method === ref.name) : undefined;
  for (const r of rows) {
    if (!ref) continue;
    const loss = ref.m.E + ref.m.A / Math.pow(r.N, ref.m.alpha) + ref.m.B / Math.pow(r.D, ref.m.beta);
    if (Number.isFinite(loss) && loss > 0) r.loss = loss;
    const dw = deadweight(ref.m, r.N, r.D, k);
    if (dw !== undefined) r.deadweight = dw;
    if (refRow) r.tokensVsReference = r.D / refRow.D - 1;
  }
  const gaps: string[] = [];
  if (ref && refRow) {
    for (const r of rows) {
      if (r === refRow || r.deadweight === undefined || r.deadweight < 0.01) continue;
      const more = r.D / refRow.D - 1;
      gaps.push(
        `${r.method} allocates ${more >= 0 ? pct(more) + ' more' : pct(-more) + ' fewer'} tokens than ${ref.name} at ${C.toExponential(2)} FLOPs (N ${r.N.toExponential(3)} vs ${refRow.N.toExponential(3)}); under the ${ref.name} loss model it wastes ${pct(r.deadweight)} of the compute`,
      );
    }
  }
  const hyper = (report.hyper?.laws ?? [])
    .filter((l) => l.prediction && l.prediction.budget === C)
    .map((l) => ({ name: l.name, value: l.prediction!.value, ...(l.prediction!.interval ? { interval: l.prediction!.interval } : {}), basis: `${l.form} form; ${l.prediction!.basis}` }));
  report.warnings.push(...gaps);
  return { budget: C, reference: ref?.name ?? 'none', rows, hyper, gaps };
}

/** addExtras with the inputs of a run directory (its reading warnings join the report's). */
export function addRunDirExtras(report: FitReport, runDir: string, options: { extras?: ExtraOptions } = {}): FitReport {
  const inputs = readRunDirExtras(runDir);
  report.warnings.push(...inputs.warnings);
  return addExtras(report, inputs, options.extras);
}

// ---------------------------------------------------------------------------------------------
// Inputs

/** A run directory's hyperparameter runs (results.jsonl) and evaluation curves (metrics.jsonl). */
export function readRunDirExtras(runDir: string): ExtraInputs & { warnings: string[] } {
  const warnings: string[] = [];
  const { rows } = readResults(path.join(runDir, RUN_FILES.results));
  const hyperRuns = hyperRunsFromResults(rows);
  const curves: TrainingCurve[] = [];
  for (const r of rows) {
    const dir = experimentDir(runDir, r.id);
    const spec = readJsonFile(path.join(dir, RUN_FILES.spec), ExperimentSpec);
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, RUN_FILES.metrics), 'utf8');
    } catch {
      continue;
    }
    const points: TrainingCurve['points'] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const m = MetricsLine.safeParse(JSON.parse(line));
        if (m.success && m.data.evalLoss !== undefined && m.data.evalLoss > 0 && m.data.tokens > 0) points.push({ tokens: m.data.tokens, loss: m.data.evalLoss });
      } catch {
        // a torn last line of a run still being written: skipped
      }
    }
    if (points.length) curves.push({ id: r.id, N: r.params, plannedTokens: spec.ok ? spec.value.tokens : r.tokens, points });
  }
  if (rows.length > 0 && curves.length === 0) warnings.push('Approach 1 skipped: no run has evaluation points in its metrics.jsonl');
  return { hyperRuns, curves, warnings };
}

/** Hyperparameter runs from an external CSV / JSON file with learning-rate or batch-size columns. */
export function readHyperRunsFile(file: string, k = 6): HyperRun[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  let records: Record<string, unknown>[];
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json' || ext === '.jsonl' || ext === '.ndjson') {
    try {
      if (ext === '.json') {
        const j = JSON.parse(text) as unknown;
        const arr = Array.isArray(j) ? j : ((j as Record<string, unknown>)?.points ?? (j as Record<string, unknown>)?.results ?? (j as Record<string, unknown>)?.rows ?? (j as Record<string, unknown>)?.data);
        records = Array.isArray(arr) ? (arr as Record<string, unknown>[]) : [];
      } else records = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
    } catch {
      return [];
    }
  } else {
    const rows = parseCsv((ext === '.tsv' ? text.replace(/\t/g, ',') : text).replace(/^\uFEFF/, ''));
    if (rows.length < 2) return [];
    const header = rows[0].map((h) => h.trim());
    records = rows.slice(1).map((cells) => Object.fromEntries(header.map((h, j) => [h, cells[j]])));
  }
  const keys = [...new Set(records.flatMap((r) => (r && typeof r === 'object' ? Object.keys(r) : [])))];
  const hyperCols = keys.map((c) => [c, hyperColumnName(c)] as const).filter((x): x is readonly [string, string] => x[1] !== undefined);
  if (hyperCols.length === 0) return [];
  const out: HyperRun[] = [];
  records.forEach((r, i) => {
    // the same column mapping and checks as the main fit, one row at a time
    const p = recordsToPoints([r], () => `row ${i + 1}`, k).points[0];
    if (!p) return;
    const values: Record<string, number> = {};
    for (const [col, name] of hyperCols) {
      const v = Number(r[col]);
      if (Number.isFinite(v) && v > 0) values[name] = v;
    }
    out.push({ N: p.N, D: p.D, C: p.C, loss: p.loss, ...(p.budget !== undefined ? { budget: p.budget } : {}), ...(p.id !== undefined ? { id: p.id } : {}), values });
  });
  return out;
}
