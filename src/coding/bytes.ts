/**
 * Byte-level reading and writing: big-endian fixed-width integers and LEB128 varints.
 *
 * The reader never reads past its view and never trusts a length before checking it
 * against the bytes that remain, so a lying header cannot make it allocate or loop.
 * Every error names the field being read, so a user learns *what* is broken.
 * @module
 */

import { BitstreamError, InvalidArgumentError } from "../errors.ts";

/** Largest value a varint field may carry (unsigned 32-bit). */
export const MAX_VARINT = 0xffffffff;

/** Number of bytes the LEB128 encoding of `value` takes (1 to 5). */
export function varintSize(value: number): number {
  checkUint32(value, "varint");
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** The bytes of `parts`, one after another, in a new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function checkUint32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_VARINT) {
    throw new InvalidArgumentError(
      `${what} must be an integer in [0, ${MAX_VARINT}], got ${value}`,
    );
  }
}

/** A growable byte buffer written front to back. */
export class ByteWriter {
  private buf: Uint8Array<ArrayBuffer>;
  private len = 0;

  /**
   * An empty writer.
   * @param capacity initial capacity in bytes (grows as needed)
   */
  constructor(capacity = 256) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.len;
  }

  /** Makes room for `n` more bytes and returns the offset they start at. */
  reserve(n: number): number {
    const need = this.len + n;
    if (need > this.buf.length) {
      const grown = new Uint8Array(Math.max(need, this.buf.length * 2));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    const at = this.len;
    this.len = need;
    return at;
  }

  /** Appends one byte (0..255). */
  u8(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) {
      throw new InvalidArgumentError(`byte value must be an integer in [0, 255], got ${value}`);
    }
    const at = this.reserve(1);
    this.buf[at] = value;
    return this;
  }

  /** Appends the low `n` bytes (1..4) of `value`, most significant first. */
  uintBE(value: number, n: number): this {
    const at = this.reserve(n);
    for (let i = n - 1; i >= 0; i--) {
      this.buf[at + i] = value & 0xff;
      value = Math.floor(value / 256);
    }
    return this;
  }

  /** Appends an unsigned LEB128 varint (0..2^32-1), shortest form. */
  varint(value: number): this {
    // reserve() may replace the buffer, so it must run before `this.buf` is read.
    let at = this.reserve(varintSize(value));
    while (value >= 0x80) {
      this.buf[at++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buf[at] = value;
    return this;
  }

  /** Appends raw bytes. */
  bytes(data: Uint8Array): this {
    const at = this.reserve(data.length);
    this.buf.set(data, at);
    return this;
  }

  /** A view of the bytes written so far (shares memory with the writer until it grows). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** A compact copy of the bytes written so far. */
  finish(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.len);
  }
}

/** Reads fields from a byte view, checking bounds before every read. */
export class ByteReader {
  /** Offset of the next unread byte within the view. */
  pos: number;
  private readonly buf: Uint8Array;
  private readonly what: string;

  /**
   * A reader over `bytes`, starting at offset `pos`.
   * @param bytes the view to read (not copied)
   * @param what names the structure in error messages, e.g. "container header"
   */
  constructor(bytes: Uint8Array, what: string, pos = 0) {
    this.buf = bytes;
    this.what = what;
    this.pos = pos;
  }

  /** Bytes left after {@link pos}. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Throws a named truncation error unless `n` bytes remain. */
  private need(n: number, field: string): void {
    if (n > this.buf.length - this.pos) {
      throw new BitstreamError(
        `${this.what} is truncated: ${field} at byte ${this.pos} needs ${n} byte(s), ` +
          `${this.buf.length - this.pos} remain`,
        "TRUNCATED",
      );
    }
  }

  /** Reads one byte. */
  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++];
  }

  /** Reads an `n`-byte (1..4) big-endian unsigned integer. */
  uintBE(n: number, field: string): number {
    this.need(n, field);
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + this.buf[this.pos++];
    return v;
  }

  /**
   * Reads an unsigned LEB128 varint, rejecting encodings longer than needed and values
   * above `max`, so every value has exactly one encoding.
   */
  varint(field: string, max: number = MAX_VARINT): number {
    const start = this.pos;
    let value = 0, scale = 1;
    for (let i = 0; i < 5; i++) {
      this.need(1, field);
      const b = this.buf[this.pos++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (b === 0 && i > 0) {
          throw new BitstreamError(
            `${this.what}: ${field} at byte ${start} is not a minimal varint`,
          );
        }
        if (value > max) {
          throw new BitstreamError(
            `${this.what}: ${field} at byte ${start} is ${value}, above the limit ${max}`,
          );
        }
        return value;
      }
      scale *= 128;
    }
    throw new BitstreamError(`${this.what}: ${field} at byte ${start} is a varint over 5 bytes`);
  }

  /** Returns the next `n` bytes as a view (no copy). */
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}
