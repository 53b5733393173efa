/**
 * Raw bit packing for streams made only of fixed-length fields (e.g. ProGIC's 10-bit RVQ
 * indices). Fields are packed most significant bit first; the last byte is padded with
 * zero bits, which the reader checks, so a stream has exactly one valid encoding.
 *
 * Costs nothing over the raw field widths but the padding (0 to 7 bits), where the rANS
 * coder's bypass bits would cost a 4-byte flush per stream: that matters for tiny files.
 * @module
 */

import { BitstreamError, InvalidArgumentError } from "../errors.ts";

/** Throws unless `nbits` is an integer in [0, 32] (shared with the rANS coder's raw bits). */
export function checkBitCount(nbits: number): void {
  if (!Number.isInteger(nbits) || nbits < 0 || nbits > 32) {
    throw new InvalidArgumentError(`bit count must be an integer in [0, 32], got ${nbits}`);
  }
}

/** Throws unless `value` is an unsigned integer that fits in `nbits` (0..32) bits. */
export function checkField(value: number, nbits: number): void {
  checkBitCount(nbits);
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** nbits) {
    throw new InvalidArgumentError(`value ${value} does not fit in ${nbits} unsigned bits`);
  }
}

/** Packs fixed-length unsigned fields into a growable byte buffer. */
export class BitWriter {
  private buf: Uint8Array<ArrayBuffer>;
  private len = 0;
  // Pending bits not yet forming a whole byte: fewer than 8, right-aligned in `acc`.
  private acc = 0;
  private accBits = 0;

  /**
   * An empty writer.
   * @param capacity initial capacity in bytes (grows as needed)
   */
  constructor(capacity = 256) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  /** Bits written so far. */
  get bitLength(): number {
    return this.len * 8 + this.accBits;
  }

  /** Appends the low `nbits` (0..32) bits of `value`, most significant first. */
  writeBits(value: number, nbits: number): void {
    if (
      (nbits >>> 0) === nbits && nbits <= 16 && (value >>> 0) === value && value >>> nbits === 0
    ) {
      this.put(value, nbits);
      return;
    }
    checkField(value, nbits); // throws, or leaves a valid field of 17..32 bits
    this.put(Math.floor(value / 65536), nbits - 16);
    this.put(value & 0xffff, 16);
  }

  /** Appends a field of at most 16 bits (validated by the caller). */
  private put(value: number, nbits: number): void {
    if (this.len + 3 > this.buf.length) {
      const grown = new Uint8Array(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
    }
    let acc = (this.acc << nbits) | value;
    let bits = this.accBits + nbits;
    while (bits >= 8) {
      bits -= 8;
      this.buf[this.len++] = acc >>> bits;
      acc &= (1 << bits) - 1;
    }
    this.acc = acc;
    this.accBits = bits;
  }

  /** Pads the last byte with zero bits and returns a compact copy of the stream. */
  finish(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.len + (this.accBits > 0 ? 1 : 0));
    out.set(this.buf.subarray(0, this.len));
    if (this.accBits > 0) out[this.len] = this.acc << (8 - this.accBits);
    return out;
  }
}

/** Reads fixed-length unsigned fields from a byte view (not copied). */
export class BitReader {
  private readonly buf: Uint8Array;
  private readonly what: string;
  private pos = 0;
  private acc = 0;
  private accBits = 0;

  /**
   * A reader positioned at the first bit.
   * @param bytes the packed stream
   * @param what names the stream in error messages, e.g. "segment 2 (stage 2)"
   */
  constructor(bytes: Uint8Array, what = "bit stream") {
    this.buf = bytes;
    this.what = what;
  }

  /** Bits not yet read, padding included. */
  get bitsLeft(): number {
    return (this.buf.length - this.pos) * 8 + this.accBits;
  }

  /** Reads an `nbits`-bit (0..32) unsigned field. */
  readBits(nbits: number): number {
    const narrow = (nbits >>> 0) === nbits && nbits <= 16;
    if (!narrow) checkBitCount(nbits);
    if (nbits > this.bitsLeft) {
      throw new BitstreamError(
        `${this.what} is truncated: ${nbits} more bit(s) wanted, ${this.bitsLeft} left`,
        "TRUNCATED",
      );
    }
    if (narrow) return this.take(nbits);
    const hi = this.take(nbits - 16);
    return hi * 65536 + this.take(16);
  }

  /** Takes a field of at most 16 bits that the caller checked is present. */
  private take(nbits: number): number {
    let acc = this.acc, bits = this.accBits;
    while (bits < nbits) {
      acc = (acc << 8) | this.buf[this.pos++];
      bits += 8;
    }
    bits -= nbits;
    const v = acc >>> bits;
    this.acc = acc & ((1 << bits) - 1);
    this.accBits = bits;
    return v;
  }

  /** Checks that only zero padding (fewer than 8 bits) is left. */
  finish(): void {
    if (this.pos < this.buf.length || this.acc !== 0) {
      throw new BitstreamError(
        `${this.what} has ${this.bitsLeft} bit(s) left after its last field ` +
          `(expected at most 7 zero padding bits)`,
      );
    }
  }
}
