/**
 * rANS entropy coder: 31-bit state, byte-wise renormalization, 16-bit frequency tables.
 *
 * Why rANS: decoding needs no division (the table total is a power of two), only
 * shifts, one multiply and a table lookup, which keeps a pure-TypeScript decoder fast. The
 * state stays in [2^23, 2^31), so every intermediate is a non-negative int32 and engines keep
 * it in integer registers; the only division (in the encoder) has operands below 2^31, where
 * binary64 division truncated to an integer is exact. Encoder and decoder thus agree bit for
 * bit on every platform.
 *
 * rANS decodes in the reverse order of encoding, so the encoder records (start, frequency)
 * pairs as symbols arrive and codes them backwards in {@link RansEncoder.finish}; callers
 * see ordinary first-in first-out streams.
 *
 * Stream layout (see docs/format.md): 4 bytes of final encoder state, big-endian (its top
 * bit is always 0), then the renormalization bytes in decoding order. A decoder that has
 * consumed every symbol must be back at the initial state 2^23 with no byte left; that is
 * what {@link RansDecoder.finish} checks.
 * @module
 */

import { BitstreamError, InvalidArgumentError } from "../errors.ts";
import { checkBitCount, checkField } from "./bits.ts";
import { FrequencyTable, PROB_BITS, PROB_SCALE } from "./cdf.ts";

/** Lower bound of the coder state; also its initial and final value. */
export const RANS_L = 1 << 23;
const PROB_MASK = (1 << PROB_BITS) - 1;
// The encoder must renormalize before x reaches freq · 2^(31−16) so the state stays < 2^31.
const XMAX_SHIFT = 31 - PROB_BITS;

/** Collects symbols and raw bits, then codes them into one rANS stream. */
export class RansEncoder {
  // One op per coded unit: start · 2^16 + frequency.
  private ops: Uint32Array;
  private count = 0;

  /**
   * An empty encoder.
   * @param capacity expected number of symbols (the buffer grows as needed)
   */
  constructor(capacity = 1024) {
    this.ops = new Uint32Array(Math.max(16, capacity));
  }

  /** Symbols and bit chunks recorded since the last {@link finish}. */
  get length(): number {
    return this.count;
  }

  /** Records one (start, frequency) op, growing the buffer when full. */
  private push(op: number): void {
    if (this.count === this.ops.length) {
      const grown = new Uint32Array(this.ops.length * 2);
      grown.set(this.ops);
      this.ops = grown;
    }
    this.ops[this.count++] = op;
  }

  /** Records `symbol` (0 ≤ symbol < table.size) coded with `table`. */
  encode(symbol: number, table: FrequencyTable): void {
    if (!((symbol >>> 0) === symbol && symbol < table.size)) {
      throw new InvalidArgumentError(
        `symbol must be an integer in [0, ${table.size - 1}], got ${symbol}`,
      );
    }
    const cdf = table.cdf;
    const start = cdf[symbol];
    this.push(start * 65536 + cdf[symbol + 1] - start);
  }

  /**
   * Records a symbol by its interval [start, start + freq) of the 2^16 range: for a
   * distribution that changes from symbol to symbol, where building a {@link FrequencyTable}
   * each time would cost more than coding. The decoder mirrors it with
   * {@link RansDecoder.slot} and {@link RansDecoder.consume}.
   */
  encodeInterval(start: number, freq: number): void {
    if (
      !(Number.isInteger(start) && Number.isInteger(freq) && start >= 0 && freq >= 1 &&
        start + freq <= PROB_SCALE)
    ) {
      throw new InvalidArgumentError(
        `interval [${start}, ${start} + ${freq}) is not a nonempty part of [0, ${PROB_SCALE})`,
      );
    }
    this.push(start * 65536 + freq);
  }

  /**
   * Records the low `nbits` (0..32) bits of `value` as raw bits: each costs exactly one bit
   * (they are coded with a power-of-two frequency, which rANS codes without loss).
   */
  encodeBits(value: number, nbits: number): void {
    // Fast path for the common ≤ 16-bit field (`>>>` rejects fractions, negatives and NaN).
    if (
      (nbits >>> 0) === nbits && nbits <= 16 && (value >>> 0) === value && value >>> nbits === 0
    ) {
      if (nbits > 0) this.pushBits(value, nbits);
      return;
    }
    checkField(value, nbits);
    // Here the field is valid and 17..32 bits wide: split it, high part first.
    this.pushBits(Math.floor(value / 65536), nbits - 16);
    this.pushBits(value & 0xffff, 16);
  }

  /** Records a raw field of 1..16 bits as an op with frequency 2^(16 − nbits). */
  private pushBits(value: number, nbits: number): void {
    const shift = PROB_BITS - nbits;
    this.push((value << shift) * 65536 + (1 << shift));
  }

  /** Appends what `other` has recorded (left as it is) after what this encoder has. */
  append(other: RansEncoder): void {
    for (let i = 0; i < other.count; i++) this.push(other.ops[i]);
  }

  /**
   * Ideal length in bits of the units recorded from `from` to `to` (what they cost in a stream,
   * less the state's flush and a fraction of a byte).
   */
  idealBits(from = 0, to: number = this.count): number {
    let bits = 0;
    for (let i = from; i < to; i++) bits += PROB_BITS - Math.log2(this.ops[i] & PROB_MASK);
    return bits;
  }

  /** Codes everything recorded into a stream and resets the encoder for reuse. */
  finish(): Uint8Array<ArrayBuffer> {
    return this.finishParts([this.count])[0];
  }

  /**
   * Codes everything recorded into one stream cut into parts: part k holds the bytes a decoder
   * reads while it decodes the units up to `ends[k]` (ascending unit counts, the last equal to
   * {@link length}), the first part also the 4-byte state. A decoder fed parts 0…k in order
   * decodes those units without the rest, so one state serves several progressive segments
   * (a refill happens after a unit's step and reads what the encoder wrote before coding that
   * unit). Resets the encoder for reuse.
   */
  finishParts(ends: readonly number[]): Uint8Array<ArrayBuffer>[] {
    const ops = this.ops, n = this.count;
    if (ends.length === 0 || ends.some((e, k) => !(e >= (ends[k - 1] ?? 0))) || ends.at(-1) !== n) {
      throw new InvalidArgumentError(`part ends ${ends} must rise to the ${n} units recorded`);
    }
    // Each op emits at most 2 bytes (x < 2^31 and x ≥ 2^15 after renormalizing).
    const out = new Uint8Array(4 + 2 * n);
    // cut[k]: where part k ends in `out` (emission runs backwards, from the end).
    const cut = new Int32Array(ends.length);
    let p = out.length;
    let x = RANS_L;
    let k = ends.length - 1;
    cut[k] = p;
    for (let i = n - 1; i >= 0; i--) {
      while (k > 0 && ends[k - 1] === i + 1) cut[--k] = p;
      const op = ops[i];
      const freq = op & PROB_MASK;
      const xmax = freq << XMAX_SHIFT;
      while (x >= xmax) {
        out[--p] = x & 0xff;
        x >>>= 8;
      }
      const q = (x / freq) | 0;
      x = (q << PROB_BITS) + (x - q * freq) + (op >>> PROB_BITS);
    }
    while (k > 0) cut[--k] = p;
    for (let j = 0; j < 4; j++) {
      out[--p] = x & 0xff;
      x >>>= 8;
    }
    this.count = 0;
    return Array.from(cut, (end, j) => out.slice(j === 0 ? p : cut[j - 1], end));
  }
}

/** Decodes a rANS stream from a byte view (not copied), symbol by symbol. */
export class RansDecoder {
  private x: number;
  private pos: number;
  private readonly buf: Uint8Array;
  private readonly what: string;

  /**
   * A decoder positioned at the first symbol (reads the 4-byte state).
   * @param bytes a stream written by {@link RansEncoder.finish}
   * @param what names the stream in error messages, e.g. "segment 2 (latents)"
   * @throws {BitstreamError} when the stream is shorter than its 4-byte state or the state
   *   is impossible
   */
  constructor(bytes: Uint8Array, what = "rANS stream") {
    this.buf = bytes;
    this.what = what;
    if (bytes.length < 4) {
      throw new BitstreamError(
        `${what} is truncated: ${bytes.length} byte(s), at least 4 needed`,
        "TRUNCATED",
      );
    }
    const x = (bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3];
    if (x < RANS_L) {
      throw new BitstreamError(`${what} is corrupt: its initial state 0x${hex(x)} is invalid`);
    }
    this.x = x;
    this.pos = 4;
  }

  /**
   * Checks, after the units of one part of {@link RansEncoder.finishParts}, that they used
   * exactly the stream's first `end` bytes (the parts so far); `part` names it in the error.
   * @throws {BitstreamError} when they read fewer or more
   */
  endPart(end: number, part: string): void {
    if (this.pos !== end) {
      throw new BitstreamError(
        `${part} is corrupt or was decoded with other tables: its symbols ended ${
          this.pos - end
        } byte(s) away from its end`,
      );
    }
  }

  /** Bytes not yet consumed. */
  get bytesLeft(): number {
    return this.buf.length - this.pos;
  }

  /** Throws the error for a stream that ran out of bytes. */
  private truncated(): never {
    throw new BitstreamError(
      `${this.what} is truncated or corrupt: its ${this.buf.length} bytes ran out while ` +
        "symbols remained",
      "TRUNCATED",
    );
  }

  /** Decodes one symbol coded with `table` (the same table the encoder used). */
  decode(table: FrequencyTable): number {
    const slot = this.x & PROB_MASK;
    const cdf = table.cdf;
    let s = table.lut[slot >>> table.lutShift];
    while (cdf[s + 1] <= slot) s++;
    this.advance(cdf[s], cdf[s + 1] - cdf[s], slot);
    return s;
  }

  /**
   * The state's position in the 2^16 range: the next symbol of
   * {@link RansEncoder.encodeInterval} is the one whose interval holds it; {@link consume}
   * that interval next.
   */
  slot(): number {
    return this.x & PROB_MASK;
  }

  /**
   * Consumes the interval [start, start + freq) that holds {@link slot}.
   * @throws {InvalidArgumentError} when it does not (the caller's model is inconsistent)
   */
  consume(start: number, freq: number): void {
    const slot = this.x & PROB_MASK;
    if (!(start <= slot && slot < start + freq && start + freq <= PROB_SCALE)) {
      throw new InvalidArgumentError(
        `interval [${start}, ${start} + ${freq}) does not hold the slot ${slot}`,
      );
    }
    this.advance(start, freq, slot);
  }

  /** The decoding step of the symbol [start, start + freq) that holds `slot` (the state's). */
  private advance(start: number, freq: number, slot: number): void {
    let x = freq * (this.x >>> PROB_BITS) + slot - start;
    if (x < RANS_L) x = this.refill(x);
    this.x = x;
  }

  /**
   * Decodes `nbits` (0..32) raw bits written by {@link RansEncoder.encodeBits}. Each call must
   * mirror one `encodeBits` call of the same width: raw bits are rANS steps, and two 1-bit
   * steps are not the same as one 2-bit step.
   */
  decodeBits(nbits: number): number {
    if (!((nbits >>> 0) === nbits && nbits <= 16)) {
      checkBitCount(nbits);
      const hi = this.takeBits(nbits - 16);
      return hi * 65536 + this.takeBits(16);
    }
    return nbits === 0 ? 0 : this.takeBits(nbits);
  }

  /** Decodes a raw field of 1..16 bits. */
  private takeBits(nbits: number): number {
    // A symbol of frequency 2^(16 − nbits): the value is which such interval holds the slot.
    const shift = PROB_BITS - nbits;
    const slot = this.x & PROB_MASK;
    const value = slot >>> shift;
    this.advance(value << shift, 1 << shift, slot);
    return value;
  }

  /** Reads bytes into the state until it is back in range. */
  private refill(x: number): number {
    const buf = this.buf;
    let pos = this.pos;
    do {
      if (pos >= buf.length) this.truncated();
      x = (x << 8) | buf[pos++];
    } while (x < RANS_L);
    this.pos = pos;
    return x;
  }

  /**
   * Checks that the stream ended exactly: the state is back at its initial value and no byte
   * is left. Call after the last symbol: it catches a decoder that used other tables or symbol
   * counts than the encoder, and much corruption. It is not an integrity check: a
   * near-optimal code has almost no redundancy, so a damaged stream is often another valid
   * stream. The container's checksums are the integrity check.
   * @throws {BitstreamError} when the stream does not end cleanly
   */
  finish(): void {
    if (this.x !== RANS_L || this.pos !== this.buf.length) {
      throw new BitstreamError(
        `${this.what} is corrupt or was decoded with other tables: it did not end cleanly ` +
          `(state 0x${hex(this.x)}, ${this.buf.length - this.pos} byte(s) left)`,
      );
    }
  }
}

function hex(x: number): string {
  return (x >>> 0).toString(16).padStart(8, "0");
}
