/**
 * `flopsfit plan <config> --extend <fit.json>`: when a fit found budgets whose lowest loss is at the
 * smallest or largest size tried (not bracketed), propose the follow-up to the same sweep: a wider
 * size range and a prior centred on the optima found, planned as usual. Experiments already
 * completed keep their ids (an experiment's id is a hash of its settings), so the runner keeps
 * them; only the new sizes run. Pure TypeScript (no vscode).
 */
import type { SweepConfig } from '../config/schema';
import type { Plan } from '../contracts';
import type { FitReport } from '../fit/types';
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

/** The follow-up to a sweep whose fit found budgets that are not bracketed. */
export function proposeExtension(fit: FitReport, config: SweepConfig): ExtensionProposal {
  const iso = fit.isoflop;
  const groups = iso?.groups ?? fit.isoflopSkipped?.groups ?? [];
  const notes: string[] = [];
  const budgets: ExtensionBudget[] = groups
    .filter((g) => g.status === 'edge' && g.extend)
    .map((g) => ({ budget: g.budget, direction: g.extend!.direction, suggestedN: g.extend!.sizes }));
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
  return { budgets, changes, config: out, notes };
}

/** The extended plan's experiments, split into those already completed (kept) and those to run. */
export function splitByCompleted(plan: Plan, completedIds: ReadonlySet<string>): { kept: Plan['experiments']; toRun: Plan['experiments'] } {
  return { kept: plan.experiments.filter((e) => completedIds.has(e.id)), toRun: plan.experiments.filter((e) => !completedIds.has(e.id)) };
}
