/**
 * A small seeded PRNG (sfc32, seeded through splitmix32) so that bootstrap resamples are
 * deterministic for a given seed on every platform and Node version. Pure TypeScript. The sfc32
 * step itself is shared with the synthetic data stream (../rng.ts); the seeding and `next()` here
 * are this module's own (53-bit floats), so bootstrap draws do not depend on the data stream's.
 */
import { Sfc32 } from '../rng';

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng extends Sfc32 {
  /** `seed` may be any finite number; integers up to 2^53 are mixed in full. */
  constructor(seed: number, stream = 0) {
    super();
    const s = Number.isFinite(seed) ? Math.trunc(seed) : 0;
    const lo = s >>> 0;
    const hi = Math.floor(Math.abs(s) / 4294967296) >>> 0;
    const mix = splitmix32(lo ^ Math.imul(hi, 0x27d4eb2d) ^ Math.imul(stream + 1, 0x165667b1) ^ (s < 0 ? 0xa5a5a5a5 : 0));
    const a = mix();
    const b = mix();
    const c = mix();
    this.setState(a, b, c, mix() | 1);
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}
