/**
 * Reading fit inputs (a run directory's results.jsonl, or external CSV / JSON / JSONL files) and
 * writing fit.json. No `vscode` import.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../atomic';
import { Plan, ResultsRow, RUN_FILES } from '../contracts';
import { CONVENTIONS, conventionCounts } from './conventions';
import { FitInputError, serializeFitReport, type FitPoint, type FitReport } from './types';

export interface LoadedPoints {
  points: FitPoint[];
  /** rows skipped, with the reason (malformed results lines, excluded rows) */
  warnings: string[];
}

/** Reads results.jsonl: one ResultsRow per line; malformed lines are skipped with a warning. */
export function readResultsRows(file: string): LoadedPoints {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FitInputError(code === 'ENOENT' ? `no results yet: ${file} does not exist (run the sweep first)` : `cannot read ${file}: ${(err as Error).message}`);
  }
  const points: FitPoint[] = [];
  const meta: { seed: number; hyper: string }[] = [];
  const warnings: string[] = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      warnings.push(`${path.basename(file)} line ${i + 1}: not valid JSON, skipped`);
      return;
    }
    const parsed = ResultsRow.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      warnings.push(`${path.basename(file)} line ${i + 1}: ${issue.path.join('.') || 'row'}: ${issue.message}, skipped`);
      return;
    }
    const r = parsed.data;
    const p: FitPoint = { id: r.id, N: r.params, D: r.tokens, C: r.flops, loss: r.loss, budget: r.budget };
    if (![p.N, p.D, p.C, p.loss, r.budget].every((v) => Number.isFinite(v) && v > 0)) {
      warnings.push(`${path.basename(file)} line ${i + 1}: non-finite value, skipped`);
      return;
    }
    // An experiment re-run after a failure may appear twice: the later line wins.
    const prev = seen.get(r.id);
    const m = { seed: r.seed, hyper: stableKey(r.hyperparameters) };
    if (prev !== undefined) {
      points[prev] = p;
      meta[prev] = m;
      warnings.push(`${path.basename(file)} line ${i + 1}: experiment ${r.id} appears more than once; the last line is used`);
      return;
    }
    seen.set(r.id, points.length);
    points.push(p);
    meta.push(m);
  });
  return reduceRepeats(points, meta, warnings);
}

function stableKey(h: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(h).sort().map((k) => [k, h[k]]));
}

/**
 * Runs with the same key differ only in seed: the IsoFLOP points (`reduceRepeats`) and the
 * hyperparameter laws (`hyperRunsFromResults`) both average their loss, so a cell's best setting is
 * the same in both.
 */
export function seedGroupKey(budget: number, N: number, hyperparameters: Record<string, unknown>): string {
  return `${budget}|${N}|${stableKey(hyperparameters)}`;
}

/**
 * One point per (budget, N) cell, the way IsoFLOP sweeps are analysed: runs that differ only in
 * seed are averaged (loss mean), and when a hyperparameter axis was swept the best setting (lowest
 * mean loss) of each cell is kept. Without repeats or axes the points pass through unchanged.
 */
export function reduceRepeats(points: FitPoint[], meta: readonly { seed: number; hyper: string }[], warnings: string[]): LoadedPoints {
  const cells = new Map<string, Map<string, number[]>>();
  points.forEach((p, i) => {
    const cell = `${p.budget ?? p.C}|${p.N}`; // + meta.hyper: the seedGroupKey of the run
    let byHyper = cells.get(cell);
    if (!byHyper) cells.set(cell, (byHyper = new Map()));
    const list = byHyper.get(meta[i].hyper) ?? [];
    list.push(i);
    byHyper.set(meta[i].hyper, list);
  });
  if (cells.size === points.length) return { points, warnings };
  const out: FitPoint[] = [];
  let seedsAveraged = 0;
  let hyperCells = 0;
  for (const byHyper of cells.values()) {
    let best: FitPoint | undefined;
    if (byHyper.size > 1) hyperCells++;
    for (const members of byHyper.values()) {
      if (members.length > 1) seedsAveraged++;
      const first = points[members[0]];
      const mean = (k: 'loss' | 'D' | 'C') => members.reduce((acc, i) => acc + points[i][k], 0) / members.length;
      const cand: FitPoint = { ...first, loss: mean('loss'), D: mean('D'), C: mean('C') };
      if (!best || cand.loss < best.loss) best = cand;
    }
    out.push(best!);
  }
  const parts: string[] = [];
  if (seedsAveraged) parts.push(`the loss of runs differing only in seed is averaged (${seedsAveraged} cell(s))`);
  if (hyperCells) parts.push(`the best hyperparameter setting of each (budget, N) cell is kept (${hyperCells} cell(s))`);
  warnings.push(`${points.length} results reduced to ${out.length} points: ${parts.join('; ')}`);
  return { points: out, warnings };
}


/**
 * N under every parameter-counting convention for each built-in transformer experiment of the run
 * directory's plan.json (by experiment id); empty when there is no readable plan.
 */
export function planConventionCounts(runDir: string): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.plan), 'utf8'));
  } catch {
    return out;
  }
  const plan = Plan.safeParse(raw);
  if (!plan.success) return out;
  for (const e of plan.data.experiments) if (e.model.family === 'transformer') out.set(e.id, conventionCounts(e.model));
  return out;
}

/** The points of a run directory's results.jsonl; throws FitInputError when there are none. */
export function readRunDirPoints(runDir: string): LoadedPoints {
  const loaded = readResultsRows(path.join(runDir, RUN_FILES.results));
  const counts = planConventionCounts(runDir);
  if (counts.size > 0) {
    for (const p of loaded.points) {
      const c = p.id !== undefined ? counts.get(p.id) : undefined;
      if (c) p.nBy = c;
    }
  }
  if (loaded.points.length === 0) {
    throw new FitInputError(
      `no usable results in ${path.join(runDir, RUN_FILES.results)}${loaded.warnings.length ? ` (${loaded.warnings.length} malformed line(s) skipped)` : ''}`,
    );
  }
  return loaded;
}

/** Adds the loading warnings to a run directory's report and writes its fit.json atomically. */
export function writeRunDirFit(runDir: string, report: FitReport, warnings: readonly string[]): FitReport {
  report.warnings.unshift(...warnings);
  writeFitReport(path.join(runDir, RUN_FILES.fit), report);
  return report;
}

/** Writes a report as fit.json (atomically), checked against the FitReport schema first. */
export function writeFitReport(file: string, report: FitReport): void {
  writeFileAtomicSync(file, serializeFitReport(report));
}

// ---------------------------------------------------------------------------------------------
// External files

const ALIASES: Record<'N' | 'D' | 'C' | 'loss' | 'budget' | 'id' | 'exclude', string[]> = {
  N: ['n', 'params', 'parameters', 'model_size', 'modelsize', 'num_params', 'nparams'],
  D: ['d', 'tokens', 'data', 'training_tokens', 'num_tokens', 'ntokens'],
  C: ['c', 'flops', 'compute', 'training_flop', 'training_flops', 'flop'],
  loss: ['loss', 'final_loss', 'finalloss', 'eval_loss', 'evalloss', 'val_loss', 'valloss'],
  budget: ['budget', 'compute_budget', 'flop_budget', 'isoflop_budget'],
  id: ['id', 'name', 'run'],
  exclude: ['exclude', 'excluded', 'epoch_excluded'],
};

function normaliseKey(k: string): string {
  return k.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

type Field = keyof typeof ALIASES;

function mapColumns(keys: readonly string[]): Partial<Record<Field, string>> {
  const out: Partial<Record<Field, string>> = {};
  for (const field of Object.keys(ALIASES) as Field[]) {
    const hit = keys.find((k) => ALIASES[field].includes(normaliseKey(k)));
    if (hit !== undefined) out[field] = hit;
  }
  return out;
}

function parseNumber(raw: unknown): number {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string' && raw.trim() !== '') return Number(raw.trim());
  return NaN;
}

function truthy(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'number') return raw !== 0;
  if (typeof raw === 'string') return ['1', 'true', 'yes', 'y'].includes(raw.trim().toLowerCase());
  return false;
}

/**
 * Converts records (objects keyed by column name) to points. Columns: any two of N (parameters),
 * D (tokens) and C (FLOPs), the third derived with C = k·N·D; loss; optional budget, id and
 * exclude (rows with a true exclude/epoch_excluded are dropped). Errors name the row.
 */
export function recordsToPoints(records: readonly Record<string, unknown>[], where: (i: number) => string, k = 6, file?: string): LoadedPoints {
  const inFile = file ? `${file}: ` : '';
  const keys = [...new Set(records.flatMap((r) => Object.keys(r)))];
  const cols = mapColumns(keys);
  const budgetAsC = !cols.C && cols.budget !== undefined && !(cols.N && cols.D);
  if (budgetAsC) cols.C = cols.budget;
  const have = (['N', 'D', 'C'] as const).filter((f) => cols[f]);
  const missing: string[] = [];
  if (have.length < 2) {
    const names = { N: 'N (parameters)', D: 'D (tokens)', C: 'C (FLOPs)' };
    missing.push(
      have.length === 0
        ? 'two of N (parameters), D (tokens), C (FLOPs)'
        : `one more of ${(['N', 'D', 'C'] as const)
            .filter((f) => !cols[f])
            .map((f) => names[f])
            .join(' or ')} (found only ${names[have[0]]}; the third is derived with C = ${k}·N·D)`,
    );
  }
  if (!cols.loss) missing.push('loss');
  if (missing.length) {
    throw new FitInputError(`${inFile}missing column${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} (found: ${keys.join(', ') || 'none'})`);
  }
  // N under named conventions: columns N_non_embedding (or N_kaplan), N_last_layer (N_standard), N_total, N_attention
  const CONV_ALIASES: Record<string, string> = { non_embedding: 'non-embedding', kaplan: 'non-embedding', last_layer: 'last-layer', standard: 'last-layer', total: 'total', attention: 'attention' };
  const convCols: [string, string][] = [];
  for (const key of keys) {
    const m = /^(?:n|params)_(.+)$/.exec(normaliseKey(key));
    const conv = m ? CONV_ALIASES[m[1]] : undefined;
    if (conv && CONVENTIONS.includes(conv as (typeof CONVENTIONS)[number])) convCols.push([conv, key]);
  }
  const points: FitPoint[] = [];
  const warnings: string[] = [];
  let excluded = 0;
  records.forEach((r, i) => {
    if (cols.exclude && truthy(r[cols.exclude])) {
      excluded++;
      return;
    }
    const get = (f: Field, required: boolean): number | undefined => {
      const col = cols[f];
      if (!col || r[col] === undefined || r[col] === '' || r[col] === null) {
        if (required) throw new FitInputError(`${where(i)}: missing value for column '${col ?? f}'`);
        return undefined;
      }
      const v = parseNumber(r[col]);
      if (!Number.isFinite(v) || v <= 0) throw new FitInputError(`${where(i)}: column '${col}' must be a positive finite number, got '${String(r[col])}'`);
      return v;
    };
    let N = get('N', false);
    let D = get('D', false);
    let C = get('C', false);
    const given = [N, D, C].filter((v) => v !== undefined).length;
    if (given < 2) {
      const absent = (['N', 'D', 'C'] as const).filter((f, j) => [N, D, C][j] === undefined && cols[f]).map((f) => `'${cols[f]}'`);
      throw new FitInputError(`${where(i)}: needs two of N, D, C; missing value for column ${absent.join(' and ')}`);
    }
    if (N === undefined) N = C! / (k * D!);
    if (D === undefined) D = C! / (k * N);
    if (C === undefined) C = k * N * D;
    const loss = get('loss', true)!;
    const budget = get('budget', false);
    const idRaw = cols.id ? r[cols.id] : undefined;
    let nBy: Record<string, number> | undefined;
    for (const [conv, col] of convCols) {
      const v = parseNumber(r[col]);
      if (!Number.isFinite(v) || v <= 0) throw new FitInputError(`${where(i)}: column '${col}' must be a positive finite number, got '${String(r[col])}'`);
      (nBy ??= {})[conv] = v;
    }
    points.push({ N, D, C, loss, ...(budget !== undefined ? { budget } : {}), ...(idRaw !== undefined && idRaw !== '' ? { id: String(idRaw) } : {}), ...(nBy ? { nBy } : {}) });
  });
  if (excluded) warnings.push(`${excluded} row(s) marked in column '${cols.exclude}' were left out`);
  if (budgetAsC) warnings.push(`there is no C (FLOPs) column: C is taken from column '${cols.budget}' (each run's nominal budget)`);
  if (points.length === 0) throw new FitInputError(`${inFile}no rows to fit${excluded ? ` (all ${excluded} are marked excluded)` : ''}`);
  return { points, warnings };
}

/** Minimal RFC-4180 CSV parsing (quoted fields, doubled quotes, CRLF); returns rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0].trim() === ''));
}

/** Reads points from a .csv, .json (array, or {points|results|rows: [...]}) or .jsonl file. */
export function readPointsFile(file: string, k = 6): LoadedPoints {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FitInputError(code === 'ENOENT' ? `input file not found: ${file}` : `cannot read ${file}: ${(err as Error).message}`);
  }
  const name = path.basename(file);
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.tsv' || (!ext.startsWith('.json') && !text.trimStart().startsWith('[') && !text.trimStart().startsWith('{'))) {
    const rows = parseCsv(ext === '.tsv' ? text.replace(/\t/g, ',') : text.replace(/^\uFEFF/, ''));
    if (rows.length < 2) throw new FitInputError(`${name}: needs a header row and at least one data row`);
    const header = rows[0].map((h) => h.trim());
    const records = rows.slice(1).map((cells, i) => {
      if (cells.length !== header.length) throw new FitInputError(`${name} line ${i + 2}: has ${cells.length} field(s), the header has ${header.length}`);
      return Object.fromEntries(header.map((h, j) => [h, cells[j]]));
    });
    return recordsToPoints(records, (i) => `${name} line ${i + 2}`, k, name);
  }
  if (ext === '.jsonl' || ext === '.ndjson') {
    const records: Record<string, unknown>[] = [];
    const lines: number[] = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        throw new FitInputError(`${name} line ${i + 1}: not valid JSON`);
      }
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new FitInputError(`${name} line ${i + 1}: expected a JSON object`);
      records.push(v as Record<string, unknown>);
      lines.push(i + 1);
    });
    return recordsToPoints(records, (i) => `${name} line ${lines[i]}`, k, name);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FitInputError(`${name}: not valid JSON (${(err as Error).message})`);
  }
  let arr: unknown = json;
  if (json && typeof json === 'object' && !Array.isArray(json)) {
    const o = json as Record<string, unknown>;
    arr = o.points ?? o.results ?? o.rows ?? o.data;
  }
  if (!Array.isArray(arr)) throw new FitInputError(`${name}: expected an array of rows, or an object with a "points" array`);
  arr.forEach((r, i) => {
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw new FitInputError(`${name} row ${i + 1}: expected an object with N, D or C, and loss`);
  });
  return recordsToPoints(arr as Record<string, unknown>[], (i) => `${name} row ${i + 1}`, k, name);
}
