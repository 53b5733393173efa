/**
 * Quantized frequency tables: the only form of probability the rANS coder accepts.
 *
 * Every table has an alphabet of 2..65536 symbols whose integer frequencies are all at least
 * 1 and sum to exactly 2^16 ({@link PROB_SCALE}). Building one from probabilities
 * ({@link quantizeFrequencies}) uses only IEEE-754 basic operations and integer steps in a
 * fixed order, so every platform gets the same table from the same inputs.
 * @module
 */

import { BitstreamError, InvalidArgumentError } from "../errors.ts";
import type { ByteReader, ByteWriter } from "./bytes.ts";

/** Frequencies are in units of 2^-PROB_BITS. */
export const PROB_BITS = 16;
/** Sum of every table's frequencies (2^16). */
export const PROB_SCALE: number = 1 << PROB_BITS;
/** Largest alphabet a table may have. */
export const MAX_ALPHABET: number = PROB_SCALE;

function checkAlphabet(n: number, what: string): void {
  if (!(n >= 2 && n <= MAX_ALPHABET)) {
    throw new InvalidArgumentError(`${what} must have 2..${MAX_ALPHABET} symbols, got ${n}`);
  }
}

/**
 * An immutable quantized distribution with its encoder and decoder lookup structures.
 * Build with {@link FrequencyTable.fromFrequencies} or {@link FrequencyTable.fromProbabilities}.
 */
export class FrequencyTable {
  /** Alphabet size. */
  readonly size: number;
  /** Cumulative frequencies: `cdf[s]` is the start of symbol `s`, `cdf[size] === PROB_SCALE`. */
  readonly cdf: Int32Array;
  /**
   * Decoder acceleration: `lut[slot >>> lutShift]` is the first symbol whose interval can
   * contain `slot`; the decoder then scans forward. Sized ~4 entries per symbol, so the scan is
   * short and small tables stay small.
   */
  readonly lut: Uint16Array;
  /** Right shift from a 16-bit slot to a {@link lut} index. */
  readonly lutShift: number;

  /** Builds the decoder LUT of a validated cumulative table. */
  private constructor(cdf: Int32Array) {
    const n = cdf.length - 1;
    this.size = n;
    this.cdf = cdf;
    // ceil(log2 n) + 2 bits, computed with integer ops so every engine builds the same LUT.
    const lutBits = Math.min(PROB_BITS, Math.max(4, 32 - Math.clz32(n - 1) + 2));
    this.lutShift = PROB_BITS - lutBits;
    const lut = new Uint16Array(1 << lutBits);
    let s = 0;
    for (let i = 0; i < lut.length; i++) {
      const slot = i << this.lutShift;
      while (cdf[s + 1] <= slot) s++;
      lut[i] = s;
    }
    this.lut = lut;
  }

  /**
   * A table from integer frequencies (each ≥ 1, summing to {@link PROB_SCALE}).
   * @throws {InvalidArgumentError} when the frequencies break those rules
   */
  static fromFrequencies(freqs: ArrayLike<number>): FrequencyTable {
    const problem = frequencyProblem(freqs);
    if (problem) throw new InvalidArgumentError(problem);
    return FrequencyTable.trusted(freqs);
  }

  /** Quantizes non-negative weights (probabilities or counts) into a table. */
  static fromProbabilities(weights: ArrayLike<number>): FrequencyTable {
    return FrequencyTable.trusted(quantizeFrequencies(weights));
  }

  /** A uniform table over `n` symbols (frequencies differ by at most 1). */
  static uniform(n: number): FrequencyTable {
    checkAlphabet(n, "a uniform table");
    const freqs = new Uint32Array(n);
    const base = Math.floor(PROB_SCALE / n), extra = PROB_SCALE - base * n;
    for (let i = 0; i < n; i++) freqs[i] = base + (i < extra ? 1 : 0);
    return FrequencyTable.trusted(freqs);
  }

  /** A table from frequencies already known to be valid. */
  private static trusted(freqs: ArrayLike<number>): FrequencyTable {
    const cdf = new Int32Array(freqs.length + 1);
    for (let i = 0; i < freqs.length; i++) cdf[i + 1] = cdf[i] + freqs[i];
    return new FrequencyTable(cdf);
  }

  /** Frequency of symbol `s` (in units of 2^-16). */
  frequency(s: number): number {
    return this.cdf[s + 1] - this.cdf[s];
  }

  /** The frequencies as a fresh array. */
  frequencies(): Uint32Array {
    const out = new Uint32Array(this.size);
    for (let s = 0; s < this.size; s++) out[s] = this.cdf[s + 1] - this.cdf[s];
    return out;
  }

  /** Ideal code length of symbol `s` under this table, in bits: −log2(freq / 2^16). */
  cost(s: number): number {
    return PROB_BITS - Math.log2(this.frequency(s));
  }
}

/** Why `freqs` is not a valid table, or `undefined` when it is. */
function frequencyProblem(freqs: ArrayLike<number>): string | undefined {
  const n = freqs.length;
  if (!(n >= 2 && n <= MAX_ALPHABET)) {
    return `a frequency table must have 2..${MAX_ALPHABET} symbols, got ${n}`;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const f = freqs[i];
    if (!Number.isInteger(f) || f < 1 || f > PROB_SCALE) {
      return `frequency of symbol ${i} is ${f}; every frequency must be an integer ≥ 1`;
    }
    sum += f;
  }
  if (sum !== PROB_SCALE) {
    return `frequencies sum to ${sum}, not ${PROB_SCALE}`;
  }
  return undefined;
}

/**
 * Quantizes non-negative weights to integer frequencies, each ≥ 1, summing to 2^16.
 *
 * Each weight is scaled and rounded to nearest (at least 1). A shortfall goes to the most
 * frequent symbol; an excess is taken from every symbol's part above 1 in proportion, then
 * the remainder one unit at a time from the most frequent symbols. All steps are IEEE-754
 * basic operations or exact integer arithmetic in a fixed order, so the result is the same on
 * every platform.
 * @throws {InvalidArgumentError} for fewer than 2 or more than 65536 weights, a negative or
 *   non-finite weight, or weights summing to 0
 */
export function quantizeFrequencies(weights: ArrayLike<number>): Uint32Array {
  const n = weights.length;
  checkAlphabet(n, "a distribution");
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i];
    if (!(w >= 0 && w < Infinity)) {
      throw new InvalidArgumentError(`weight ${i} is ${w}; weights must be finite and ≥ 0`);
    }
    total += w;
  }
  if (!(total > 0 && total < Infinity)) {
    throw new InvalidArgumentError(`weights must have a finite positive sum, got ${total}`);
  }
  const f = new Uint32Array(n);
  let sum = 0, top = 0;
  for (let i = 0; i < n; i++) {
    const q = Math.max(1, Math.floor((weights[i] / total) * PROB_SCALE + 0.5));
    f[i] = q;
    sum += q;
    if (q > f[top]) top = i;
  }
  if (sum < PROB_SCALE) {
    f[top] += PROB_SCALE - sum;
  } else if (sum > PROB_SCALE) {
    shrink(f, sum - PROB_SCALE);
  }
  return f;
}

/** Removes `excess` units from `f`, keeping every entry ≥ 1 (excess < Σ(f−1) holds). */
function shrink(f: Uint32Array, excess: number): void {
  const n = f.length;
  let spare = 0;
  for (let i = 0; i < n; i++) spare += f[i] - 1;
  // (f−1)·excess < 2^32: exact in binary64, so the floor is exact too.
  let left = excess;
  for (let i = 0; i < n; i++) {
    const cut = Math.floor(((f[i] - 1) * excess) / spare);
    f[i] -= cut;
    left -= cut;
  }
  if (left === 0) return;
  // Fewer than n units remain, and every entry that lost a fraction still has ≥ 2.
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => f[b] - f[a] || a - b);
  for (let k = 0; left > 0; k++) {
    const i = order[k];
    if (f[i] > 1) {
      f[i]--;
      left--;
    }
  }
}

/**
 * Writes a table compactly: varint (size − 2), then each frequency − 1 as a varint, the last
 * one omitted (it is implied by the sum).
 */
export function writeFrequencyTable(w: ByteWriter, table: FrequencyTable): void {
  w.varint(table.size - 2);
  for (let s = 0; s < table.size - 1; s++) w.varint(table.frequency(s) - 1);
}

/**
 * Reads a table written by {@link writeFrequencyTable}, validating size and sum before
 * allocating anything proportional to them.
 * @throws {BitstreamError} when the table is truncated or its frequencies do not sum to 2^16
 */
export function readFrequencyTable(r: ByteReader, what = "frequency table"): FrequencyTable {
  const n = r.varint(`${what} size`, MAX_ALPHABET - 2) + 2;
  // Each stored frequency takes at least one byte: refuse sizes the data cannot hold.
  if (n - 1 > r.remaining) {
    throw new BitstreamError(
      `${what} claims ${n} symbols but only ${r.remaining} byte(s) remain`,
      "TRUNCATED",
    );
  }
  const freqs = new Uint32Array(n);
  let sum = 0;
  for (let s = 0; s < n - 1; s++) {
    freqs[s] = r.varint(`${what} frequency ${s}`, PROB_SCALE - 2) + 1;
    sum += freqs[s];
  }
  const last = PROB_SCALE - sum;
  if (last < 1) {
    throw new BitstreamError(
      `${what} does not sum to ${PROB_SCALE}: its first ${n - 1} frequencies already sum to ${sum}`,
    );
  }
  freqs[n - 1] = last;
  return FrequencyTable.fromFrequencies(freqs);
}
