/**
 * The optimal-loss frontier L*(C) = E + A·C^(−γ), fitted through the IsoFLOP budgets' optimal
 * losses with the Huber objective on ln L (δ = 1e-3, as the parametric fit), E ≤ the lowest optimal
 * loss. It predicts the loss at a target budget from the optima alone, beside the parametric fit's
 * prediction. Pure TypeScript.
 */
import { Lbfgs } from './lbfgs';
import { HUBER_DELTA } from './parametric';

export interface FrontierParams {
  E: number;
  A: number;
  gamma: number;
  objective: number;
  /** E held at the lowest optimal loss (the bound was active) */
  eCapped: boolean;
  rmsLogResidual: number;
}

export function frontierLoss(p: Pick<FrontierParams, 'E' | 'A' | 'gamma'>, C: number): number {
  return p.E + p.A * Math.exp(-p.gamma * Math.log(C));
}

/**
 * Fits L*(C) through (C_i, L_i), at least 3 budgets; undefined when there are fewer or no start
 * reaches a finite optimum with γ > 0. Parameters x = [e, q, γ]: ln L̂ = LSE(e, q − γ·t),
 * t = ln C − mean ln C (so E = e^e, A = e^(q + γ·mean ln C)).
 */
export function fitFrontier(C: readonly number[], L: readonly number[], delta = HUBER_DELTA): FrontierParams | undefined {
  const n = C.length;
  if (n < 3) return undefined;
  const lc = C.map(Math.log);
  const c0 = lc.reduce((s, v) => s + v, 0) / n;
  const t = lc.map((v) => v - c0);
  const y = L.map(Math.log);
  const eMax = Math.min(...y);
  let fixE: number | undefined;
  const fg = (x: Float64Array, g: Float64Array): number => {
    if (fixE !== undefined) x[0] = fixE;
    let f = 0;
    g.fill(0);
    for (let i = 0; i < n; i++) {
      const u1 = x[0];
      const u2 = x[1] - x[2] * t[i];
      const m = Math.max(u1, u2);
      const w1 = Math.exp(u1 - m);
      const w2 = Math.exp(u2 - m);
      const lse = m + Math.log(w1 + w2);
      const r = y[i] - lse;
      const a = Math.abs(r);
      f += a <= delta ? 0.5 * r * r : delta * (a - 0.5 * delta);
      const dr = a <= delta ? r : delta * Math.sign(r); // dH/dr
      const p1 = w1 / (w1 + w2);
      const p2 = 1 - p1;
      g[0] -= dr * p1;
      g[1] -= dr * p2;
      g[2] += dr * p2 * t[i];
    }
    if (fixE !== undefined) g[0] = 0;
    return f;
  };
  const solver = new Lbfgs(3, { gtol: 1e-12, ftol: 1e-14, fScale: 0, maxIter: 2000, maxEval: 4000 });
  const meanL = L.reduce((s, v) => s + v, 0) / n;
  let best: { x: Float64Array; f: number } | undefined;
  const run = (start: number[]) => {
    const x = Float64Array.from(start);
    const r = solver.minimize(fg, x);
    if (fixE !== undefined) x[0] = fixE;
    if (Number.isFinite(r.f) && x.every(Number.isFinite) && x[2] > 0 && (!best || r.f < best.f)) best = { x, f: r.f };
  };
  for (const fE of [0.3, 0.6, 0.9]) {
    for (const gamma of [0.03, 0.1, 0.3]) run([Math.log(fE * Math.min(...L)), Math.log(Math.max(meanL - fE * Math.min(...L), 1e-6)), gamma]);
  }
  let capped = false;
  if (best && best.x[0] > eMax) {
    const from = best.x;
    best = undefined;
    fixE = eMax;
    capped = true;
    run([eMax, from[1], from[2]]);
    for (const gamma of [0.03, 0.1, 0.3]) run([eMax, Math.log(Math.max(meanL - Math.min(...L), 1e-6)), gamma]);
  }
  const b = best as { x: Float64Array; f: number } | undefined;
  if (!b) return undefined;
  const E = Math.exp(b.x[0]);
  const A = Math.exp(b.x[1] + b.x[2] * c0);
  const gamma = b.x[2];
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (y[i] - Math.log(frontierLoss({ E, A, gamma }, C[i]))) ** 2;
  if (![E, A, gamma].every((v) => Number.isFinite(v) && v > 0)) return undefined;
  return { E, A, gamma, objective: b.f, eCapped: capped, rmsLogResidual: Math.sqrt(ss / n) };
}
