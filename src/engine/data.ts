/**
 * Training and validation tokens for one experiment.
 *
 * Sequences are windows of T+1 tokens (T inputs, T shifted targets); a step trains on the T
 * targets of each sequence, so a sequence counts T tokens toward the budget.
 *
 * - synthetic: the seeded Markov chain of src/core/data/synthetic.ts. Training sequences are read
 *   consecutively from one unlimited stream seeded by the experiment seed (consecutive windows
 *   share one token, so no transition is skipped); the validation set is a separate stream
 *   seeded by the chain's own seed, so every experiment of a sweep is evaluated on the same
 *   tokens. Never repeats (epochs = 0 passes over a finite set: recorded as 1).
 * - text (bytes, vocabulary 256) and uint16 (little-endian token ids) files: the first
 *   (1 − validationFraction) of the file is the training region, the rest the validation region.
 *   The training region is cut into n = ⌊(len−1)/T⌋ non-overlapping windows (stride T), visited
 *   in a seeded pseudo-random order per epoch (an affine permutation i ↦ (a·i + c) mod n with
 *   gcd(a, n) = 1, O(1) memory); the validation set is the first ⌈evalTokens/T⌉ windows of the
 *   validation region, in order. Files are read with positioned `fs.readSync` windows, so a 1 GB
 *   file never sits in the heap.
 *
 * The data position (stream state, or the global window counter) is serialisable, so a resumed
 * run reads exactly the batches the uninterrupted run would have read.
 */
import * as fs from 'node:fs';
import type { DataSpec, ExperimentSpec } from '../core/contracts';
import { buildMarkovChain, MarkovStream, type MarkovStreamState, mixSeed, Rng } from '../core/data/synthetic';

export type DataState = { kind: 'synthetic'; stream: MarkovStreamState } | { kind: 'file'; sequence: number };

/** A clear, user-facing data problem (bad path, too little data, token out of range). */
export class DataError extends Error {}

const TRAIN_SALT = 0x7a41;
const VALID_SALT = 0x7a1d;

export interface TrainStream {
  /** Next `nSeq` training sequences, each T+1 tokens, concatenated. */
  next(nSeq: number): Int32Array;
  state(): DataState;
  /** Training sequences available per epoch (Infinity for synthetic). */
  readonly sequencesPerEpoch: number;
  close(): void;
}

export interface ExperimentData {
  train: TrainStream;
  /** Validation sequences, each T+1 tokens, concatenated. */
  validation: Int32Array;
  validationSequences: number;
  /** vocabulary the data uses (≤ the model's) */
  vocabSize: number;
  /** true for byte-level text (sampling prints text) */
  bytes: boolean;
  /** notes for the log (e.g. a validation set smaller than asked) */
  notes: string[];
  close(): void;
}

export function dataVocabSize(data: DataSpec): number {
  if (data.source === 'text') return 256;
  return data.vocabSize;
}

class SyntheticTrain implements TrainStream {
  readonly sequencesPerEpoch = Infinity;
  private stream: MarkovStream;
  constructor(
    private readonly T: number,
    data: Extract<DataSpec, { source: 'synthetic' }>,
    seed: number,
    state?: DataState,
  ) {
    if (state && state.kind !== 'synthetic') throw new DataError('checkpoint data state does not match a synthetic source');
    this.stream = new MarkovStream(buildMarkovChain(data), seed, TRAIN_SALT, state?.stream);
  }
  next(nSeq: number): Int32Array {
    const T = this.T;
    const out = new Int32Array(nSeq * (T + 1));
    if (this.stream.last < 0) this.stream.nextToken();
    for (let s = 0; s < nSeq; s++) {
      const o = s * (T + 1);
      out[o] = this.stream.last;
      this.stream.fill(out, o + 1, T);
    }
    return out;
  }
  state(): DataState {
    return { kind: 'synthetic', stream: this.stream.state() };
  }
  close(): void {}
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function mulMod(a: number, b: number, n: number): number {
  if (a * b < Number.MAX_SAFE_INTEGER) return (a * b) % n;
  return Number((BigInt(a) * BigInt(b)) % BigInt(n));
}

/** A token file read through positioned reads. */
class TokenFile {
  readonly fd: number;
  readonly tokens: number;
  constructor(
    readonly path: string,
    readonly bytesPerToken: 1 | 2,
    readonly vocabSize: number,
  ) {
    try {
      this.fd = fs.openSync(path, 'r');
    } catch (err) {
      throw new DataError(`cannot open data file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const size = fs.fstatSync(this.fd).size;
    if (bytesPerToken === 2 && size % 2 !== 0) {
      fs.closeSync(this.fd);
      throw new DataError(`${path}: a uint16 token file must have an even size (got ${size} bytes)`);
    }
    this.tokens = size / bytesPerToken;
  }
  /** Reads `count` tokens starting at token `start` into out[offset…]. */
  read(start: number, count: number, out: Int32Array, offset: number): void {
    const bytes = count * this.bytesPerToken;
    const buf = Buffer.allocUnsafe(bytes);
    let got = 0;
    while (got < bytes) {
      const n = fs.readSync(this.fd, buf, got, bytes - got, start * this.bytesPerToken + got);
      if (n === 0) throw new DataError(`${this.path}: unexpected end of file (was it modified during training?)`);
      got += n;
    }
    if (this.bytesPerToken === 1) {
      for (let i = 0; i < count; i++) out[offset + i] = buf[i];
    } else {
      for (let i = 0; i < count; i++) {
        const t = buf.readUInt16LE(2 * i);
        if (t >= this.vocabSize) {
          throw new DataError(`${this.path}: token ${t} at position ${start + i} is outside the vocabulary (vocabSize ${this.vocabSize})`);
        }
        out[offset + i] = t;
      }
    }
  }
  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }
}

class FileTrain implements TrainStream {
  private sequence: number;
  private epochA = -1;
  private epochC = 0;
  private epochOf = -1;
  constructor(
    private readonly file: TokenFile,
    private readonly T: number,
    readonly sequencesPerEpoch: number,
    private readonly seed: number,
    state?: DataState,
  ) {
    if (state && state.kind !== 'file') throw new DataError('checkpoint data state does not match a file source');
    this.sequence = state?.kind === 'file' ? state.sequence : 0;
  }
  /** Window index of global sequence k (seeded affine permutation per epoch). */
  windowOf(k: number): number {
    const n = this.sequencesPerEpoch;
    const epoch = Math.floor(k / n);
    if (epoch !== this.epochOf) {
      const rng = new Rng(mixSeed(this.seed, TRAIN_SALT), epoch + 1);
      let a = n > 1 ? 1 + rng.int(n - 1) : 1;
      while (gcd(a, n) !== 1) a = (a % (n - 1)) + 1;
      this.epochA = a;
      this.epochC = rng.int(n);
      this.epochOf = epoch;
    }
    return (mulMod(this.epochA, k % n, n) + this.epochC) % n;
  }
  next(nSeq: number): Int32Array {
    const T = this.T;
    const out = new Int32Array(nSeq * (T + 1));
    for (let s = 0; s < nSeq; s++) {
      const w = this.windowOf(this.sequence++);
      this.file.read(w * T, T + 1, out, s * (T + 1));
    }
    return out;
  }
  state(): DataState {
    return { kind: 'file', sequence: this.sequence };
  }
  close(): void {
    this.file.close();
  }
}

/**
 * Opens an experiment's data. Throws DataError (before any training) when the data cannot
 * supply `trainSequences` windows and allowRepeat is off, or has no validation window.
 */
export function openExperimentData(spec: ExperimentSpec, trainSequences: number, state?: DataState): ExperimentData {
  if (spec.model.family !== 'transformer') throw new DataError('the built-in trainer needs a transformer model');
  const T = spec.model.contextLength;
  const data = spec.data;
  const vocab = dataVocabSize(data);
  if (vocab > spec.model.vocabSize) {
    throw new DataError(`the data uses a vocabulary of ${vocab} tokens but the model's vocabSize is ${spec.model.vocabSize}`);
  }
  const wantVal = Math.ceil(spec.training.evalTokens / T);
  const notes: string[] = [];
  if (data.source === 'synthetic') {
    const chain = buildMarkovChain(data);
    const valStream = new MarkovStream(chain, data.seed, VALID_SALT);
    const validation = new Int32Array(wantVal * (T + 1));
    valStream.nextToken();
    for (let s = 0; s < wantVal; s++) {
      validation[s * (T + 1)] = valStream.last;
      valStream.fill(validation, s * (T + 1) + 1, T);
    }
    const train = new SyntheticTrain(T, data, spec.seed, state);
    return { train, validation, validationSequences: wantVal, vocabSize: vocab, bytes: false, notes, close: () => train.close() };
  }
  const file = new TokenFile(data.path, data.source === 'text' ? 1 : 2, vocab);
  try {
    const trainLen = Math.floor(file.tokens * (1 - data.validationFraction));
    const perEpoch = Math.max(0, Math.floor((trainLen - 1) / T));
    const valStart = trainLen;
    const valAvail = Math.max(0, Math.floor((file.tokens - valStart - 1) / T));
    if (perEpoch < 1) {
      throw new DataError(`${data.path}: the training part (${trainLen} tokens) is shorter than one sequence of ${T + 1} tokens`);
    }
    if (valAvail < 1) {
      throw new DataError(`${data.path}: the validation part (${file.tokens - valStart} tokens, validationFraction ${data.validationFraction}) is shorter than one sequence of ${T + 1} tokens`);
    }
    if (trainSequences > perEpoch && !spec.training.allowRepeat) {
      throw new DataError(
        `${data.path} has ${perEpoch * T} training tokens (${perEpoch} sequences of ${T}), but this experiment trains on ${trainSequences * T}; ` +
          `use more data, a smaller budget, or set allowRepeat to train for ${(trainSequences / perEpoch).toFixed(2)} epochs`,
      );
    }
    const nVal = Math.min(wantVal, valAvail);
    if (nVal < wantVal) notes.push(`validation set: ${nVal * T} tokens available, fewer than evalTokens ${spec.training.evalTokens}`);
    const validation = new Int32Array(nVal * (T + 1));
    for (let s = 0; s < nVal; s++) file.read(valStart + s * T, T + 1, validation, s * (T + 1));
    const train = new FileTrain(file, T, perEpoch, spec.seed, state);
    return { train, validation, validationSequences: nVal, vocabSize: vocab, bytes: data.source === 'text', notes, close: () => train.close() };
  } catch (err) {
    file.close();
    throw err;
  }
}
