/**
 * The IsoFLOP grid: probe the size axis, count N for every candidate, and for every budget pick
 * `sizesPerBudget` feasible sizes centred in log N on the prior optimum N* = sqrt(C / (k·prior)).
 */
import type { ModelSpec } from '../contracts';
import { countTransformerParams } from '../model/transformer';
import { dataVocabSize, type SweepConfig } from '../config/schema';

/** Counts N for a size value of a command model: a number, or why it could not. */
export type ParamCounter = (sizeValue: number) => number | { error: string };

export interface SizeCandidate {
  value: number;
  /** N as the scaling law counts it */
  params: number;
  paramsTotal: number;
  model: ModelSpec;
}

export interface SkippedSize {
  value: number;
  reason: string;
}

/** Built-in transformer limits: beyond these a model cannot be built in a browser-class runtime. */
const MAX_DMODEL = 65536;
const MAX_LAYERS = 1024;

/**
 * Log-spaced candidate values over [min, max], rounded to `multiple`, de-duplicated, ascending.
 * Every multiple in range is used when there are at most `probes` of them.
 */
export function candidateValues(min: number, max: number, multiple: number, probes: number): number[] {
  if (!(min > 0) || !(max >= min) || !(multiple > 0) || !Number.isFinite(max)) return [];
  const lo = Math.ceil(min / multiple) * multiple;
  const hi = Math.floor(max / multiple) * multiple;
  if (!(lo <= hi) || !Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  const count = Math.floor((hi - lo) / multiple) + 1;
  const n = Math.max(1, Math.floor(probes));
  if (count <= n) return Array.from({ length: count }, (_, i) => lo + i * multiple);
  const out = new Set<number>();
  const a = Math.log(lo);
  const b = Math.log(hi);
  for (let i = 0; i < n; i++) {
    const v = Math.exp(a + ((b - a) * i) / (n - 1));
    const r = Math.min(hi, Math.max(lo, Math.round(v / multiple) * multiple));
    out.add(r);
  }
  return [...out].sort((x, y) => x - y);
}

/** The rounding multiple of the size axis (see the schema's description of `multiple`). */
export function sizeMultiple(config: SweepConfig): number {
  const m = config.model;
  if (m.family === 'command') return m.size.multiple;
  if (m.size.multiple !== undefined) return m.size.multiple;
  if (m.size.param === 'nLayers') return 1;
  if (m.headDim !== undefined) return m.headDim;
  return lcm(8, m.nHeads ?? 4);
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/** The default number of heads of the built-in transformer. */
export const DEFAULT_HEADS = 4;

/**
 * Counts every candidate size. Sizes that cannot be built are returned as `skipped` with the
 * reason; for a command model without a counter, `unknown` is set and nothing is counted.
 */
export function probeSizes(
  config: SweepConfig,
  workCwd: string,
  countParams?: ParamCounter,
): { sizes: SizeCandidate[]; skipped: SkippedSize[]; unknown: boolean } {
  const m = config.model;
  const values = candidateValues(m.size.min, m.size.max, sizeMultiple(config), m.size.probes);
  const sizes: SizeCandidate[] = [];
  const skipped: SkippedSize[] = [];
  if (m.family === 'transformer') {
    const vocabSize = m.vocabSize ?? dataVocabSize(config.data);
    for (const v of values) {
      const dModel = m.size.param === 'dModel' ? v : m.dModel;
      const nLayers = m.size.param === 'nLayers' ? v : m.nLayers;
      if (!Number.isInteger(v)) {
        skipped.push({ value: v, reason: `${m.size.param} must be a whole number` });
        continue;
      }
      if (dModel > MAX_DMODEL || nLayers > MAX_LAYERS) {
        skipped.push({ value: v, reason: dModel > MAX_DMODEL ? `dModel above ${MAX_DMODEL}` : `nLayers above ${MAX_LAYERS}` });
        continue;
      }
      let nHeads = m.nHeads ?? DEFAULT_HEADS;
      if (m.headDim !== undefined) {
        if (dModel % m.headDim !== 0) {
          skipped.push({ value: v, reason: `dModel ${dModel} is not a multiple of headDim ${m.headDim}` });
          continue;
        }
        nHeads = dModel / m.headDim;
      } else if (dModel % nHeads !== 0) {
        skipped.push({ value: v, reason: `dModel ${dModel} is not divisible by nHeads ${nHeads}` });
        continue;
      }
      const model = {
        family: 'transformer' as const,
        dModel,
        nLayers,
        nHeads,
        contextLength: m.contextLength,
        vocabSize,
        mlpRatio: m.mlpRatio,
        tiedEmbeddings: m.tiedEmbeddings,
      };
      const c = countTransformerParams(model);
      const params = config.planning.countEmbeddingParams ? c.total : c.nonEmbedding;
      if (!(params > 0) || !Number.isFinite(params)) {
        skipped.push({ value: v, reason: `parameter count ${params} is not usable` });
        continue;
      }
      sizes.push({ value: v, params, paramsTotal: c.total, model });
    }
    return { sizes: dedupeByParams(sizes, skipped), skipped, unknown: false };
  }
  if (!countParams) return { sizes, skipped, unknown: true };
  let failuresInARow = 0;
  for (const v of values) {
    if (!sizes.length && failuresInARow >= 3) {
      // the counter is broken (missing script, wrong interpreter): do not run it 60 more times
      skipped.push({ value: v, reason: 'not tried after 3 failures of countParams' });
      continue;
    }
    let r: number | { error: string };
    try {
      r = countParams(v);
    } catch (err) {
      r = { error: err instanceof Error ? err.message : String(err) };
    }
    if (typeof r !== 'number') {
      skipped.push({ value: v, reason: r.error });
      failuresInARow++;
      continue;
    }
    failuresInARow = 0;
    if (!(r > 0) || !Number.isFinite(r)) {
      skipped.push({ value: v, reason: `countParams printed ${r}, not a positive number` });
      continue;
    }
    sizes.push({
      value: v,
      params: r,
      paramsTotal: r,
      model: { family: 'command', command: [...m.command], cwd: workCwd, ...(m.env ? { env: { ...m.env } } : {}), contextLength: m.contextLength },
    });
  }
  return { sizes: dedupeByParams(sizes, skipped), skipped, unknown: false };
}

/** Two size values with the same N are one point on the curve: keep the first. */
function dedupeByParams(sizes: SizeCandidate[], skipped: SkippedSize[]): SizeCandidate[] {
  const seen = new Map<number, number>();
  const out: SizeCandidate[] = [];
  for (const s of sizes.sort((a, b) => a.params - b.params || a.value - b.value)) {
    const prev = seen.get(s.params);
    if (prev !== undefined) {
      skipped.push({ value: s.value, reason: `same N (${s.params}) as size ${prev}` });
      continue;
    }
    seen.set(s.params, s.value);
    out.push(s);
  }
  return out;
}

export interface BudgetSelection {
  /** N* the grid is centred on */
  priorOptimalParams: number;
  /** chosen sizes, ascending in N */
  chosen: SizeCandidate[];
  brackets: boolean;
  /** why nothing was chosen */
  skipped?: string;
}

export interface SelectionSettings {
  k: number;
  prior: number;
  band: { min: number; max: number };
  spread: number;
  sizesPerBudget: number;
  /** the fewest tokens an experiment may train on (minSteps × smallest batch in tokens) */
  minTokens: number;
}

export function tokensFor(budget: number, k: number, params: number): number {
  return Math.round(budget / (k * params));
}

/** Picks the sizes of one budget, centred in log N on N*. */
export function selectSizes(budget: number, sizes: SizeCandidate[], s: SelectionSettings): BudgetSelection {
  const nStar = Math.sqrt(budget / (s.k * s.prior));
  const inBand: SizeCandidate[] = [];
  const feasible: SizeCandidate[] = [];
  for (const c of sizes) {
    const tokens = tokensFor(budget, s.k, c.params);
    const tpp = tokens / c.params;
    if (tokens < 1 || tpp < s.band.min || tpp > s.band.max) continue;
    inBand.push(c);
    if (tokens >= s.minTokens) feasible.push(c);
  }
  if (!feasible.length) {
    return { priorOptimalParams: nStar, chosen: [], brackets: false, skipped: infeasibleReason(budget, sizes, inBand, s) };
  }
  const n = Math.min(s.sizesPerBudget, feasible.length);
  const logStar = Math.log(nStar);
  const half = Math.log(s.spread) / 2;
  const targets = n === 1 ? [logStar] : Array.from({ length: n }, (_, i) => logStar - half + (2 * half * i) / (n - 1));
  // centre first, then outwards: the points nearest the optimum matter most
  const order = targets.map((t, i) => ({ t, i })).sort((a, b) => Math.abs(a.t - logStar) - Math.abs(b.t - logStar) || a.i - b.i);
  const used = new Set<number>();
  for (const { t } of order) {
    let best = -1;
    let bestD = Infinity;
    for (let j = 0; j < feasible.length; j++) {
      if (used.has(j)) continue;
      const d = Math.abs(Math.log(feasible[j].params) - t);
      if (d < bestD) {
        bestD = d;
        best = j;
      }
    }
    if (best >= 0) used.add(best);
  }
  const chosen = [...used].map((j) => feasible[j]).sort((a, b) => a.params - b.params);
  const lo = chosen[0].params;
  const hi = chosen[chosen.length - 1].params;
  const brackets = chosen.length === 1 ? Math.abs(Math.log(lo) - logStar) <= half : lo <= nStar && nStar <= hi;
  return { priorOptimalParams: nStar, chosen, brackets };
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e5 || (a > 0 && a < 1e-2)) return v.toExponential(2).replace('e+', 'e');
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}

function infeasibleReason(budget: number, sizes: SizeCandidate[], inBand: SizeCandidate[], s: SelectionSettings): string {
  if (!sizes.length) return 'no model size could be built';
  const C = fmt(budget);
  if (inBand.length) {
    return `every size in the tokens-per-parameter band trains on fewer than ${fmt(s.minTokens)} tokens (planning.minSteps × batch); raise the budget or lower planning.minSteps`;
  }
  const smallest = sizes[0];
  const largest = sizes[sizes.length - 1];
  const tppSmall = tokensFor(budget, s.k, smallest.params) / smallest.params;
  const tppLarge = tokensFor(budget, s.k, largest.params) / largest.params;
  if (tppSmall < s.band.min) {
    return `budget ${C} is too small: even the smallest size (N=${fmt(smallest.params)}) gets ${fmt(tppSmall)} tokens/param, below planning.tokensPerParam.min (${fmt(s.band.min)}); lower model.size.min or raise the budget`;
  }
  if (tppLarge > s.band.max) {
    return `budget ${C} is too large: even the largest size (N=${fmt(largest.params)}) gets ${fmt(tppLarge)} tokens/param, above planning.tokensPerParam.max (${fmt(s.band.max)}); raise model.size.max or lower the budget`;
  }
  return `no size of budget ${C} falls inside planning.tokensPerParam [${fmt(s.band.min)}, ${fmt(s.band.max)}]`;
}

export { fmt as formatNumber };
