/**
 * The sfc32 generator step (Chris Doty-Humphrey's Small Fast Counting generator, 32-bit), shared
 * by the synthetic data stream (src/core/data/synthetic.ts) and the fit's bootstrap
 * (src/core/fit/rng.ts). Each subclass owns its seeding and how it turns words into floats; this
 * base only holds the four-word state, steps it, and saves/restores it. Pure TypeScript.
 */

export type Sfc32State = [number, number, number, number];

export class Sfc32 {
  protected a = 0;
  protected b = 0;
  protected c = 0;
  protected d = 0;

  /** Sets the four state words (callers seed through this, then warm up with `nextU32`). */
  protected setState(a: number, b: number, c: number, d: number): void {
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }

  /** The state as four uint32s, enough to resume the sequence exactly. */
  state(): Sfc32State {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }

  /** Next 32-bit word, as an unsigned integer. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
}

/** Checks a saved state (four integers in [0, 2^32)); throws a plain message otherwise. */
export function checkSfc32State(state: readonly number[]): Sfc32State {
  if (state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
    throw new Error('invalid random generator state');
  }
  return [state[0], state[1], state[2], state[3]];
}
