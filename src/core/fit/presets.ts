/**
 * Published scaling laws as named presets, drawn next to a fit for comparison. Each carries its
 * source. Pure TypeScript.
 *
 * Units: N in parameters, D in tokens, C in FLOPs (C = 6·N·D unless noted), learning rates as peak
 * rates, batch sizes in tokens.
 */
import type { PresetCurve } from './extraTypes';
import { parametricAllocation, parametricLoss } from './parametric';

export interface LossPreset {
  id: string;
  name: string;
  source: string;
  kind: 'loss';
  E: number;
  A: number;
  B: number;
  alpha: number;
  beta: number;
}

export interface AllocationPreset {
  id: string;
  name: string;
  source: string;
  kind: 'allocation';
  /** N_opt = coefficient·(C / cUnit)^exponent */
  nOpt?: { coefficient: number; exponent: number; cUnit?: number };
  /** D_opt = coefficient·C^exponent */
  dOpt?: { coefficient: number; exponent: number };
}

export interface HyperPreset {
  id: string;
  name: string;
  source: string;
  kind: 'hyper';
  /** y = coefficient · Π x^exponent, x ∈ {C, N, D} */
  learningRate?: { coefficient: number; exponents: Partial<Record<'C' | 'N' | 'D', number>> };
  batchSize?: { coefficient: number; exponents: Partial<Record<'C' | 'N' | 'D', number>> };
}

export type Preset = LossPreset | AllocationPreset | HyperPreset;

export const PRESETS: readonly Preset[] = [
  {
    id: 'chinchilla',
    name: 'Chinchilla (Hoffmann et al. 2022), Approach 3',
    source: 'Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", eq. 10: E = 1.69, A = 406.4, B = 410.7, α = 0.34, β = 0.28',
    kind: 'loss',
    E: 1.69,
    A: 406.4,
    B: 410.7,
    alpha: 0.34,
    beta: 0.28,
  },
  {
    id: 'epoch-chinchilla',
    name: "Chinchilla, Epoch AI's replication",
    source: 'Besiroglu, Erdil, Barnett & You 2024, "Chinchilla Scaling: A replication attempt": E = 1.8172, A = 482.01, B = 2085.43, α = 0.3478, β = 0.3658',
    kind: 'loss',
    E: 1.8172,
    A: 482.01,
    B: 2085.43,
    alpha: 0.3478,
    beta: 0.3658,
  },
  {
    id: 'kaplan',
    name: 'Kaplan et al. 2020',
    source: 'Kaplan et al. 2020, "Scaling Laws for Neural Language Models", eq. 6.1: N_opt = 1.3e9·C^0.73, C in PF-days (8.64e19 FLOPs), non-embedding N',
    kind: 'allocation',
    nOpt: { coefficient: 1.3e9, exponent: 0.73, cUnit: 8.64e19 },
  },
  {
    id: 'deepseek-allocation',
    name: 'DeepSeek LLM 2024, allocation',
    source: 'DeepSeek-AI 2024, "DeepSeek LLM", eq. 4: D_opt = 5.8316·C^0.4757 tokens (C = M·D with M the non-embedding FLOPs per token; N ≈ C/(6·D) here)',
    kind: 'allocation',
    dOpt: { coefficient: 5.8316, exponent: 0.4757 },
  },
  {
    id: 'deepseek-hyper',
    name: 'DeepSeek LLM 2024, learning rate and batch size',
    source: 'DeepSeek-AI 2024, "DeepSeek LLM", eq. 1: η_opt = 0.3118·C^−0.1250, B_opt = 0.2920·C^0.3271 tokens',
    kind: 'hyper',
    learningRate: { coefficient: 0.3118, exponents: { C: -0.125 } },
    batchSize: { coefficient: 0.292, exponents: { C: 0.3271 } },
  },
  {
    id: 'steplaw-hyper',
    name: 'Step Law (Li et al. 2025), learning rate and batch size',
    source: 'Li et al. 2025, "Predictable Scale: Part I", arXiv:2503.04715: η = 1.79·N^−0.713·D^0.307, B = 0.58·D^0.571 tokens',
    kind: 'hyper',
    learningRate: { coefficient: 1.79, exponents: { N: -0.713, D: 0.307 } },
    batchSize: { coefficient: 0.58, exponents: { D: 0.571 } },
  },
];

/** A preset's allocation at C, or undefined when it has none. */
export function presetAllocation(p: Preset, C: number, k = 6): { N: number; D: number; loss?: number } | undefined {
  if (p.kind === 'loss') {
    const s = p.alpha + p.beta;
    const { nOpt, dOpt } = parametricAllocation({ ...p, a: p.beta / s, b: p.alpha / s, G: Math.pow((p.alpha * p.A) / (p.beta * p.B), 1 / s) }, C, k);
    return { N: nOpt, D: dOpt, loss: parametricLoss(p, nOpt, dOpt) };
  }
  if (p.kind === 'allocation') {
    if (p.nOpt) {
      const N = p.nOpt.coefficient * Math.pow(C / (p.nOpt.cUnit ?? 1), p.nOpt.exponent);
      return { N, D: C / (k * N) };
    }
    if (p.dOpt) {
      const D = p.dOpt.coefficient * Math.pow(C, p.dOpt.exponent);
      return { N: C / (k * D), D };
    }
  }
  return undefined;
}

/** A hyperparameter preset's value at C (and N, D for laws of N and D). */
export function presetHyper(law: NonNullable<HyperPreset['learningRate']>, at: { C?: number; N?: number; D?: number }): number | undefined {
  let y = Math.log(law.coefficient);
  for (const [v, e] of Object.entries(law.exponents)) {
    const x = at[v as 'C' | 'N' | 'D'];
    if (x === undefined || !(x > 0)) return undefined;
    y += (e as number) * Math.log(x);
  }
  return Math.exp(y);
}

const num = (v: number) => String(+v.toPrecision(5));

/** A preset's laws as text. */
export function presetFormulas(p: Preset): Record<string, string> {
  const pow = (law: { coefficient: number; exponents: Partial<Record<string, number>> }) =>
    `${num(law.coefficient)}·${Object.entries(law.exponents)
      .map(([x, e]) => `${x}^${num(e as number)}`)
      .join('·')}`;
  if (p.kind === 'hyper') {
    return { ...(p.learningRate ? { learningRate: pow(p.learningRate) } : {}), ...(p.batchSize ? { batchSize: `${pow(p.batchSize)} tokens` } : {}) };
  }
  if (p.kind === 'loss') return { loss: `${num(p.E)} + ${num(p.A)}/N^${num(p.alpha)} + ${num(p.B)}/D^${num(p.beta)}` };
  return {
    ...(p.nOpt ? { N: `${num(p.nOpt.coefficient)}·(C${p.nOpt.cUnit ? `/${num(p.nOpt.cUnit)}` : ''})^${num(p.nOpt.exponent)}` } : {}),
    ...(p.dOpt ? { D: `${num(p.dOpt.coefficient)}·C^${num(p.dOpt.exponent)}` } : {}),
  };
}

/**
 * Every preset evaluated at the given budgets; `allocationAt(C)` gives N and D for the laws of N
 * and D (the fit's compute-optimal allocation), when there is one.
 */
export function evaluatePresets(budgets: readonly number[], k = 6, allocationAt?: (C: number) => { N: number; D: number } | undefined): PresetCurve[] {
  return PRESETS.map((p) => {
    const points: Record<string, number>[] = [];
    for (const C of budgets) {
      if (p.kind === 'hyper') {
        const nd = allocationAt?.(C);
        const at = { C, ...(nd ?? {}) };
        const lr = p.learningRate ? presetHyper(p.learningRate, at) : undefined;
        const bs = p.batchSize ? presetHyper(p.batchSize, at) : undefined;
        if (lr === undefined && bs === undefined) continue;
        points.push({ C, ...(lr !== undefined ? { learningRate: lr } : {}), ...(bs !== undefined ? { batchSize: bs } : {}) });
      } else {
        const a = presetAllocation(p, C, k);
        if (a) points.push({ C, N: a.N, D: a.D, ...(a.loss !== undefined ? { loss: a.loss } : {}) });
      }
    }
    return { id: p.id, name: p.name, source: p.source, kind: p.kind === 'hyper' ? ('hyper' as const) : ('allocation' as const), formulas: presetFormulas(p), points };
  });
}
