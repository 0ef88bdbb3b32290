/**
 * Built-in synthetic data with a known answer: a seeded random sparse Markov chain.
 *
 * Chain: `vocabSize` states; every state has exactly `branching` distinct successors with random
 * probabilities (Dirichlet(1), i.e. normalised exponential weights). One successor of every state
 * is its image under a random cyclic permutation, so the chain is irreducible and has a unique
 * stationary distribution π. The entropy rate h = Σ_i π_i · H(P_i) (nats/token) is the loss a
 * perfect model reaches: the chain has order 1, so every target the transformer predicts (the
 * first one included, since it sees the token before it) is conditioned on its full Markov state.
 * A stream starts in a state drawn from π, so it is stationary and its expected per-token loss
 * under the true model is exactly h.
 *
 * Pure TypeScript, no tfjs: the planner, the demo and the fit use it to know the irreducible loss.
 * The random generator (sfc32 seeded through splitmix32; the step is in ../rng.ts) is shared with
 * the engine, and its state is four uint32s, so a stream can be checkpointed and resumed exactly.
 */
import { Sfc32, checkSfc32State } from '../rng';

export interface SyntheticSource {
  vocabSize: number;
  branching: number;
  seed: number;
}

/** splitmix32: turns any integer seed (plus a salt) into well-mixed 32-bit words. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Mixes a seed and a salt into one 32-bit seed (deterministic, order-sensitive). */
export function mixSeed(seed: number, salt: number): number {
  // Seeds may exceed 32 bits: fold the high part in.
  const hi = Math.floor(seed / 0x100000000) | 0;
  return splitmix32(splitmix32(seed | 0) ^ splitmix32(hi + 0x632be5ab) ^ Math.imul(salt | 0, 0x27d4eb2f));
}

/** Small, fast, seedable PRNG (sfc32) with a serialisable state. */
export class Rng extends Sfc32 {
  constructor(seed: number, salt = 0) {
    super();
    const s = mixSeed(seed, salt);
    this.setState(splitmix32(s), splitmix32(s + 1), splitmix32(s + 2), 1);
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  static fromState(state: readonly number[]): Rng {
    const r = new Rng(0);
    r.setState(...checkSfc32State(state));
    return r;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller; one value per call, deterministic). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

export interface MarkovChain {
  vocabSize: number;
  branching: number;
  /** successors[i * branching + j]: j-th successor of state i */
  successors: Int32Array;
  /** cumulative probabilities, same layout; the last entry of each row is exactly 1 */
  cumulative: Float64Array;
  /** probabilities, same layout */
  probs: Float64Array;
  /** stationary distribution */
  stationary: Float64Array;
  /** entropy rate in nats per token */
  entropyRate: number;
}

const chainCache = new Map<string, MarkovChain>();

export function validateSynthetic(src: SyntheticSource): void {
  if (!Number.isInteger(src.vocabSize) || src.vocabSize < 2) throw new Error(`synthetic data: vocabSize must be an integer ≥ 2 (got ${src.vocabSize})`);
  if (!Number.isInteger(src.branching) || src.branching < 1 || src.branching > src.vocabSize) {
    throw new Error(`synthetic data: branching must be an integer between 1 and vocabSize (${src.vocabSize}) (got ${src.branching})`);
  }
  if (src.vocabSize > 1 << 20) throw new Error(`synthetic data: vocabSize ${src.vocabSize} is too large (at most ${1 << 20})`);
}

/** Builds (and caches) the chain of a synthetic source. Deterministic in (vocabSize, branching, seed). */
export function buildMarkovChain(src: SyntheticSource): MarkovChain {
  validateSynthetic(src);
  const key = `${src.vocabSize}/${src.branching}/${src.seed}`;
  const cached = chainCache.get(key);
  if (cached) return cached;
  const V = src.vocabSize;
  const K = src.branching;
  const rng = new Rng(src.seed, 0x5eed);
  // Random cyclic permutation (Sattolo's algorithm) guarantees irreducibility.
  const cycle = new Int32Array(V);
  for (let i = 0; i < V; i++) cycle[i] = i;
  for (let i = V - 1; i > 0; i--) {
    const j = rng.int(i);
    const t = cycle[i];
    cycle[i] = cycle[j];
    cycle[j] = t;
  }
  const successors = new Int32Array(V * K);
  const probs = new Float64Array(V * K);
  const cumulative = new Float64Array(V * K);
  const chosen = new Uint8Array(V);
  for (let i = 0; i < V; i++) {
    const row = i * K;
    successors[row] = cycle[i];
    chosen[cycle[i]] = 1;
    for (let j = 1; j < K; j++) {
      let s: number;
      do s = rng.int(V);
      while (chosen[s]);
      chosen[s] = 1;
      successors[row + j] = s;
    }
    for (let j = 0; j < K; j++) chosen[successors[row + j]] = 0;
    let total = 0;
    for (let j = 0; j < K; j++) {
      const w = -Math.log(1 - rng.next());
      probs[row + j] = w;
      total += w;
    }
    let acc = 0;
    for (let j = 0; j < K; j++) {
      probs[row + j] /= total;
      acc += probs[row + j];
      cumulative[row + j] = acc;
    }
    cumulative[row + K - 1] = 1;
  }
  const stationary = stationaryDistribution(V, K, successors, probs);
  let entropyRate = 0;
  for (let i = 0; i < V; i++) {
    let h = 0;
    for (let j = 0; j < K; j++) {
      const p = probs[i * K + j];
      if (p > 0) h -= p * Math.log(p);
    }
    entropyRate += stationary[i] * h;
  }
  const chain: MarkovChain = { vocabSize: V, branching: K, successors, cumulative, probs, stationary, entropyRate };
  if (chainCache.size > 16) chainCache.clear();
  chainCache.set(key, chain);
  return chain;
}

/**
 * Stationary distribution by power iteration on the lazy chain (P + I)/2, which has the same
 * stationary distribution as P and is aperiodic, so the iteration converges for any irreducible P.
 */
function stationaryDistribution(V: number, K: number, successors: Int32Array, probs: Float64Array): Float64Array {
  let pi = new Float64Array(V).fill(1 / V);
  let next = new Float64Array(V);
  for (let iter = 0; iter < 100000; iter++) {
    for (let i = 0; i < V; i++) next[i] = 0.5 * pi[i];
    for (let i = 0; i < V; i++) {
      const m = 0.5 * pi[i];
      if (m === 0) continue;
      for (let j = 0; j < K; j++) next[successors[i * K + j]] += m * probs[i * K + j];
    }
    let sum = 0;
    for (let i = 0; i < V; i++) sum += next[i];
    let diff = 0;
    for (let i = 0; i < V; i++) {
      next[i] /= sum;
      diff += Math.abs(next[i] - pi[i]);
    }
    [pi, next] = [next, pi];
    if (diff < 1e-13) break;
  }
  return pi;
}

/** Exact entropy rate (nats/token) of a synthetic source: the irreducible loss of a sweep on it. */
export function syntheticEntropyRate(src: SyntheticSource): number {
  return buildMarkovChain(src).entropyRate;
}

export interface MarkovStreamState {
  rng: [number, number, number, number];
  /** the current state (last token emitted), or -1 before the first token */
  current: number;
  /** tokens emitted so far */
  emitted: number;
}

/** An unlimited, deterministic token stream from a chain. State is serialisable for checkpoints. */
export class MarkovStream {
  private rng: Rng;
  private current: number;
  private emitted: number;

  constructor(
    readonly chain: MarkovChain,
    seed: number,
    salt: number,
    state?: MarkovStreamState,
  ) {
    if (state) {
      this.rng = Rng.fromState(state.rng);
      this.current = state.current;
      this.emitted = state.emitted;
    } else {
      this.rng = new Rng(seed, salt);
      this.current = -1;
      this.emitted = 0;
    }
  }

  state(): MarkovStreamState {
    return { rng: this.rng.state(), current: this.current, emitted: this.emitted };
  }

  /** Last token emitted (-1 before the first one). */
  get last(): number {
    return this.current;
  }

  nextToken(): number {
    const c = this.chain;
    let s: number;
    if (this.current < 0) {
      // First token: drawn from the stationary distribution.
      const u = this.rng.next();
      let acc = 0;
      s = c.vocabSize - 1;
      for (let i = 0; i < c.vocabSize; i++) {
        acc += c.stationary[i];
        if (u < acc) {
          s = i;
          break;
        }
      }
    } else {
      const K = c.branching;
      const row = this.current * K;
      const u = this.rng.next();
      let j = 0;
      while (j < K - 1 && u >= c.cumulative[row + j]) j++;
      s = c.successors[row + j];
    }
    this.current = s;
    this.emitted++;
    return s;
  }

  /** Fills `out` with the next tokens. */
  fill(out: Int32Array | number[], offset = 0, count = out.length - offset): void {
    for (let i = 0; i < count; i++) out[offset + i] = this.nextToken();
  }
}
