/**
 * Parameter and FLOP counting conventions. The IsoFLOP exponent moves by 0.1–0.3 with the
 * convention (Porian et al. 2024: 0.83 counting 6·N_non-embedding, 0.70 counting the last layer),
 * so for runs whose shapes are known the fit reports N and C under each of:
 *   - 'non-embedding': Kaplan's N, no embeddings and no output head;
 *   - 'last-layer':    non-embedding + the unembedding (output head, d·V), Porian's "standard";
 *   - 'total':         every trainable parameter;
 *   - 'attention':     last-layer + attention FLOPs as parameters: N = N_last-layer + 6·L·T·d / 6,
 *                      so that k·N·D counts the attention FLOPs per token too (Porian's "attention").
 * In each, C = k·N·D with the run's own tokens D. Pure TypeScript.
 */
import { countTransformerParams, type TransformerShape } from '../model/transformer';
import { fitGroup, fitIsoflopLaws, groupByBudget, type OptimumOptions } from './isoflop';
import type { ConventionFit, FitPoint } from './types';

export const CONVENTIONS = ['non-embedding', 'last-layer', 'total', 'attention'] as const;
export type Convention = (typeof CONVENTIONS)[number];

/** N of one built-in transformer under every convention. */
export function conventionCounts(m: TransformerShape): Record<Convention, number> {
  const c = countTransformerParams(m);
  const lastLayer = c.nonEmbedding + m.dModel * m.vocabSize;
  return { 'non-embedding': c.nonEmbedding, 'last-layer': lastLayer, total: c.total, attention: lastLayer + c.attentionFlopsPerToken / 6 };
}

/** The convention the points' N is in (the one whose count equals N), when they all agree. */
export function detectConvention(points: readonly FitPoint[]): Convention | undefined {
  let found: Convention | undefined;
  for (const p of points) {
    if (!p.nBy) return undefined;
    const hit = CONVENTIONS.find((c) => p.nBy![c] !== undefined && Math.abs(p.nBy![c]! - p.N) <= 1e-9 * p.N);
    if (!hit || (found && hit !== found)) return undefined;
    found = hit;
  }
  return found;
}

/** Conventions every point has a count for. */
export function availableConventions(points: readonly FitPoint[]): Convention[] {
  return CONVENTIONS.filter((c) => points.length > 0 && points.every((p) => p.nBy?.[c] !== undefined));
}

/**
 * The points under another convention: N from `nBy`, C = k·N·D, and each run's budget the
 * geometric mean of its IsoFLOP group's C in that convention (the runs of one planned budget stay
 * one group; their C now differs slightly with N).
 */
export function underConvention(points: readonly FitPoint[], conv: Convention, k: number, tolerance: number): FitPoint[] {
  const groups = groupByBudget(points, tolerance);
  const out: FitPoint[] = points.map((p) => {
    const N = p.nBy![conv]!;
    return { ...p, N, C: k * N * p.D };
  });
  for (const g of groups) {
    const budget = +Math.exp(g.members.reduce((s, i) => s + Math.log(out[i].C), 0) / g.members.length).toPrecision(3);
    for (const i of g.members) out[i].budget = budget;
  }
  return out;
}

/** The IsoFLOP exponents under every available convention, side by side (no bootstrap). */
export function conventionFits(points: readonly FitPoint[], headline: Convention | undefined, k: number, tolerance: number, opt: OptimumOptions): ConventionFit[] {
  const out: ConventionFit[] = [];
  for (const conv of availableConventions(points)) {
    const pts = conv === headline ? points : underConvention(points, conv, k, tolerance);
    const groups = groupByBudget(pts, tolerance);
    const fits = groups.map((g) => fitGroup(pts, g.members, g.budget, k, opt));
    const used = fits.map((f, i) => (f.status === 'ok' ? i : -1)).filter((i) => i >= 0);
    const laws = used.length >= 2 ? fitIsoflopLaws(fits, used) : undefined;
    const Ns = pts.map((p) => p.N);
    out.push({
      convention: conv,
      headline: conv === headline,
      nRange: [Math.min(...Ns), Math.max(...Ns)],
      usedGroups: used.length,
      ...(laws ? { a: laws.n.slope, b: laws.d.slope } : {}),
    });
  }
  return out;
}
