/**
 * `flopsfit plan <config> --extend <fit.json>`: when a fit found budgets whose lowest loss is at the
 * smallest or largest size tried (not bracketed), propose the follow-up to the same sweep: a wider
 * size range and a prior centred on the optima found, planned as usual. Experiments already
 * completed keep their ids (an experiment's id is a hash of its settings), so the runner keeps
 * them; only the new sizes run. Pure TypeScript (no vscode).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyEdits, modify } from 'jsonc-parser';
import { isMap, isScalar, parseDocument, type Document } from 'yaml';
import type { SweepConfig } from '../config/schema';
import { RUN_FILES, type Plan } from '../contracts';
import { parseFitReport, type FitReport } from '../fit/types';
import { readResults } from '../manifest';
import { countTransformerParams } from '../model/transformer';

export interface ExtensionBudget {
  budget: number;
  direction: 'smaller' | 'larger';
  /** the N the fit suggests adding (one and two grid steps beyond the edge) */
  suggestedN: number[];
}

export interface ExtensionProposal {
  budgets: ExtensionBudget[];
  /** config changes: dotted path → [from, to] */
  changes: { path: string[]; from: number; to: number }[];
  /** the extended config (a copy) */
  config: SweepConfig;
  notes: string[];
}

/** N of the built-in transformer at one value of the size axis, in the plan's convention. */
function transformerN(config: SweepConfig, value: number): number {
  const m = config.model;
  if (m.family !== 'transformer') return NaN;
  const dModel = m.size.param === 'dModel' ? value : (m.dModel ?? 128);
  const nLayers = m.size.param === 'nLayers' ? value : m.nLayers;
  const c = countTransformerParams({ dModel, nLayers, contextLength: m.contextLength, vocabSize: m.vocabSize ?? (config.data as { vocabSize?: number }).vocabSize ?? 256, mlpRatio: m.mlpRatio, tiedEmbeddings: m.tiedEmbeddings });
  return config.planning.countEmbeddingParams ? c.total : c.nonEmbedding;
}

/**
 * The size value whose N is nearest `target` in log N, on the axis' multiple (searched from 1 to 64×
 * the current max). Undefined for command trainers (their N comes from their own countParams).
 */
export function sizeValueFor(config: SweepConfig, target: number): number | undefined {
  const m = config.model;
  if (m.family !== 'transformer') return undefined;
  const step = m.size.multiple ?? (m.size.param === 'dModel' ? 8 : 1);
  let best: number | undefined;
  let bestErr = Infinity;
  for (let v = step; v <= 64 * m.size.max; v += step) {
    const err = Math.abs(Math.log(transformerN(config, v) / target));
    if (err < bestErr) {
      bestErr = err;
      best = v;
    }
  }
  return best;
}

/** The IsoFLOP budgets of a fit (fitted, or skipped with the reason why). */
function isoflopGroups(fit: FitReport) {
  return fit.isoflop?.groups ?? fit.isoflopSkipped?.groups ?? [];
}

/**
 * The budgets of a fit whose lowest loss is at the smallest or largest size tried, with which way to
 * extend and the N to add (the explorer's row and the CLI list the same ones).
 */
export function edgeBudgets(fit: FitReport): ExtensionBudget[] {
  return isoflopGroups(fit)
    .filter((g) => g.status === 'edge' && g.extend)
    .map((g) => ({ budget: g.budget, direction: g.extend!.direction, suggestedN: g.extend!.sizes }));
}

/** One line about an edge budget, as the CLI prints it and the editor shows it. */
export function describeEdgeBudget(b: ExtensionBudget): string {
  return `budget ${b.budget.toExponential(2)}: the lowest loss is at the ${b.direction === 'smaller' ? 'smallest' : 'largest'} size tried; add ${b.direction} models (N ≈ ${b.suggestedN.map((n) => n.toPrecision(3)).join(', ')})`;
}

/** One line about a config change (`model.size.max: 512 → 1024`). */
export function describeChange(c: ExtensionProposal['changes'][number]): string {
  return `${c.path.join('.')}: ${c.from} → ${c.to}`;
}

/**
 * Reads and checks a fit.json (the shared FitReport schema): the report, or a message that names the
 * file (and the field that breaks the schema).
 */
export function readFitReportFile(file: string): { report: FitReport; error?: undefined } | { report?: undefined; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { error: `cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}` };
  }
  const fit = parseFitReport(raw);
  if (!fit.success) {
    const issue = fit.error.issues[0];
    return { error: `${file} is not a fit report: ${issue.path.join('.') || 'report'}: ${issue.message}` };
  }
  return { report: fit.data };
}

/**
 * The config's text with the proposal's changes applied, keeping everything else as the user wrote
 * it (comments, order, flow style, number spelling): *.sweep.json (JSON with comments) through
 * jsonc-parser's edits; YAML through the yaml library's document model, which locates each value
 * (a value that is there is replaced where it stands; a missing key is added to its map). The
 * CLI's `--write` and the editor's Extend Sweep both use it.
 */
export function applyConfigChanges(text: string, fileName: string, changes: readonly { path: string[]; to: number }[]): string {
  if (/\.json$/i.test(fileName)) {
    let next = text;
    for (const c of changes) next = applyEdits(next, modify(next, c.path, c.to, { formattingOptions: { insertSpaces: true, tabSize: 2 } }));
    return next;
  }
  let next = text;
  for (const c of changes) next = yamlSet(next, c.path, c.to);
  return next;
}

/** One YAML value set in place (see applyConfigChanges); the yaml library's own output where that is not possible. */
function yamlSet(text: string, keys: string[], value: number): string {
  const doc = parseDocument(text);
  const spliced = yamlSplice(text, doc, keys, String(value));
  if (spliced !== undefined) {
    // check the splice: the same document, with the value set
    const again = parseDocument(spliced);
    if (again.errors.length === 0 && again.getIn(keys) === value) return spliced;
  }
  doc.setIn(keys, value);
  return doc.toString();
}

function yamlSplice(text: string, doc: Document, keys: string[], value: string): string | undefined {
  const node = doc.getIn(keys, true);
  if (isScalar(node) && node.range) return text.slice(0, node.range[0]) + value + text.slice(node.range[1]);
  if (node !== undefined) return undefined;
  // the deepest map on the path that is there; the keys below it are added to it
  let depth = keys.length - 1;
  while (depth > 0 && doc.getIn(keys.slice(0, depth), true) === undefined) depth--;
  const parent = depth === 0 ? doc.contents : doc.getIn(keys.slice(0, depth), true);
  if (!isMap(parent) || !parent.range || parent.items.length === 0) return undefined;
  const rest = keys.slice(depth);
  if (parent.flow) {
    const close = text.lastIndexOf('}', parent.range[1] - 1);
    if (close < parent.range[0]) return undefined;
    const nested = rest.slice(1).reduceRight((v, k) => `{ ${k}: ${v} }`, value);
    const before = text.slice(0, close).replace(/\s*$/, '');
    return `${before}, ${rest[0]}: ${nested} ${text.slice(close)}`;
  }
  const first = parent.items[0]!.key as { range?: [number, number, number] } | null;
  const last = parent.items[parent.items.length - 1]!;
  const lastEnd = (last.value as { range?: [number, number, number] } | null)?.range?.[1] ?? (last.key as { range?: [number, number, number] } | null)?.range?.[1];
  if (!first?.range || lastEnd === undefined) return undefined;
  const indent = first.range[0] - (text.lastIndexOf('\n', first.range[0] - 1) + 1);
  const nl = text.indexOf('\n', lastEnd);
  const at = nl < 0 ? text.length : nl + 1;
  const lines = rest.map((k, i) => `${' '.repeat(indent + 2 * i)}${k}:${i === rest.length - 1 ? ` ${value}` : ''}`);
  return `${text.slice(0, at)}${nl < 0 ? '\n' : ''}${lines.join('\n')}\n${text.slice(at)}`;
}

/** The ids of a run directory's completed experiments (its results.jsonl), which the runner keeps. */
export function completedIds(runDir: string): Set<string> {
  return new Set(readResults(path.join(runDir, RUN_FILES.results)).rows.map((r) => r.id));
}

/** The follow-up to a sweep whose fit found budgets that are not bracketed. */
export function proposeExtension(fit: FitReport, config: SweepConfig): ExtensionProposal {
  const groups = isoflopGroups(fit);
  const notes: string[] = [];
  const budgets = edgeBudgets(fit);
  const out = structuredClone(config);
  const changes: ExtensionProposal['changes'] = [];
  if (groups.length === 0) {
    notes.push('the fit has no IsoFLOP budgets, so there is no budget to extend');
    return { budgets, changes, config: out, notes };
  }
  if (budgets.length === 0) {
    notes.push('every budget of the fit brackets its optimum: nothing to extend');
    return { budgets, changes, config: out, notes };
  }
  const m = out.model;
  if (m.family !== 'transformer') {
    notes.push(
      `a command trainer's sizes map to N through its own countParams: widen model.size.min/max so that it reaches N = ${budgets
        .flatMap((b) => b.suggestedN)
        .map((n) => n.toPrecision(3))
        .join(', ')}`,
    );
    return { budgets, changes, config: out, notes };
  }
  // the size range: reach every suggested N
  const values = budgets.flatMap((b) => b.suggestedN.map((n) => sizeValueFor(out, n))).filter((v): v is number => v !== undefined);
  const lo = Math.min(m.size.min, ...values);
  const hi = Math.max(m.size.max, ...values);
  if (lo < m.size.min) changes.push({ path: ['model', 'size', 'min'], from: m.size.min, to: lo });
  if (hi > m.size.max) changes.push({ path: ['model', 'size', 'max'], from: m.size.max, to: hi });
  m.size.min = lo;
  m.size.max = hi;
  // the prior D/N: centred on the optima found (bracketed budgets' N_opt, edge budgets one step beyond the edge)
  const k = config.planning.flopsPerParamPerToken;
  const logRatios: number[] = [];
  for (const g of groups) {
    const n = g.status === 'ok' ? g.nOpt : g.status === 'edge' ? g.extend?.sizes[0] : undefined;
    if (n) logRatios.push(Math.log(g.budget / (k * n * n)));
  }
  if (logRatios.length) {
    const prior = +Math.exp(logRatios.reduce((s, v) => s + v, 0) / logRatios.length).toPrecision(3);
    if (prior !== config.planning.priorTokensPerParam) {
      changes.push({ path: ['planning', 'priorTokensPerParam'], from: config.planning.priorTokensPerParam, to: prior });
      out.planning.priorTokensPerParam = prior;
    }
  }
  // the feasibility band on D/N: wide enough for every suggested size at its budget (else the
  // planner drops exactly the sizes the extension is for)
  const ratios = budgets.flatMap((b) => b.suggestedN.map((n) => b.budget / (k * n * n)));
  const band = out.planning.tokensPerParam;
  const sig2 = (v: number, round: (x: number) => number) => {
    const scale = 10 ** (Math.floor(Math.log10(v)) - 1);
    return round(v / scale) * scale;
  };
  const needLo = Math.min(...ratios);
  const needHi = Math.max(...ratios);
  if (needLo < band.min) {
    const to = +sig2(needLo, Math.floor).toPrecision(2);
    changes.push({ path: ['planning', 'tokensPerParam', 'min'], from: band.min, to });
    band.min = to;
  }
  if (needHi > band.max) {
    const to = +sig2(needHi, Math.ceil).toPrecision(2);
    changes.push({ path: ['planning', 'tokensPerParam', 'max'], from: band.max, to });
    band.max = to;
  }
  // a suggested size too large for its budget to train planning.minSteps steps is never planned: say so
  // (a batch size given by a rule varies per experiment: no note then)
  const batch = out.training.batchSize;
  const tokensPerStep = typeof batch === 'number' ? batch * m.contextLength : Infinity;
  for (const b of Number.isFinite(tokensPerStep) ? budgets : []) {
    const tooLarge = b.suggestedN.filter((n) => b.budget / (k * n) / tokensPerStep < out.planning.minSteps);
    if (tooLarge.length) {
      const n = Math.min(...tooLarge);
      const steps = Math.floor(b.budget / (k * n) / tokensPerStep);
      notes.push(
        `budget ${b.budget.toExponential(2)}: N ≈ ${n.toPrecision(3)} would train ${steps} optimiser step(s) of ${tokensPerStep} tokens, fewer than planning.minSteps (${out.planning.minSteps}), so the planner leaves it out: raise this budget, or lower training.batchSize or model.contextLength`,
      );
    }
  }
  return { budgets, changes, config: out, notes };
}

/** The extended plan's experiments, split into those already completed (kept) and those to run. */
export function splitByCompleted(plan: Plan, completedIds: ReadonlySet<string>): { kept: Plan['experiments']; toRun: Plan['experiments'] } {
  return { kept: plan.experiments.filter((e) => completedIds.has(e.id)), toRun: plan.experiments.filter((e) => !completedIds.has(e.id)) };
}
