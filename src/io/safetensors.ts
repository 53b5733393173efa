/**
 * A validating reader for the safetensors format (8-byte little-endian header length, a JSON
 * header naming each tensor's dtype, shape and byte range, then the raw little-endian data).
 * F16 tensors are widened to F32 on load (the GPU computes in F32 everywhere), and so are U16
 * ones (integer tables, exact in F32).
 * @module
 */
import { WeightsError } from "../errors.ts";

/** A tensor read from a safetensors file. */
export interface NamedTensor {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Values (F16, U16 and F32 all arrive as F32). */
  readonly data: Float32Array | Int32Array;
}

/** The contents of a safetensors file. */
export interface SafeTensors {
  /** Tensors by name. */
  readonly tensors: ReadonlyMap<string, NamedTensor>;
  /** The free-form `__metadata__` strings. */
  readonly metadata: Readonly<Record<string, string>>;
}

const MAX_HEADER = 16 * 2 ** 20;
const WIDTH: Record<string, number> = { F32: 4, F16: 2, U16: 2, I32: 4 };

/**
 * Parses a safetensors file, checking every length and offset before reading.
 * @throws {WeightsError} on anything malformed or an unsupported dtype
 */
export function readSafetensors(bytes: Uint8Array): SafeTensors {
  if (bytes.length < 8) throw new WeightsError("weights file is shorter than its 8-byte header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER || 8 + headerLen > bytes.length) {
    throw new WeightsError(
      `weights header length ${headerLen} exceeds the file (${bytes.length} bytes)`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new WeightsError(`weights header is not valid JSON: ${e}`, { cause: e });
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new WeightsError("weights header is not a JSON object");
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const width = WIDTH[String(e?.dtype)];
    if (!width) throw new WeightsError(`tensor "${name}" has unsupported dtype ${e?.dtype}`);
    const shape = e.shape;
    const offs = e.data_offsets;
    if (
      !Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0) ||
      !Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o))
    ) {
      throw new WeightsError(`tensor "${name}" has a malformed shape or data_offsets`);
    }
    const count = shape.reduce((a: number, b: number) => a * b, 1);
    const [begin, end] = offs as [number, number];
    if (begin < 0 || end > dataLen || end - begin !== count * width) {
      throw new WeightsError(
        `tensor "${name}": bytes [${begin}, ${end}) do not hold ${count} ${e.dtype} values ` +
          `inside the ${dataLen}-byte data section`,
      );
    }
    const at = bytes.byteOffset + dataStart + begin;
    const raw = bytes.buffer.slice(at, at + count * width) as ArrayBuffer;
    let data: Float32Array | Int32Array;
    if (e.dtype === "F32") data = new Float32Array(raw);
    else if (e.dtype === "I32") data = new Int32Array(raw);
    else if (e.dtype === "U16") data = Float32Array.from(new Uint16Array(raw));
    else data = halfToFloat(new Uint16Array(raw));
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}

/** Widens IEEE-754 binary16 values to binary32. */
export function halfToFloat(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < h.length; i++) {
    const v = h[i];
    const sign = (v & 0x8000) << 16;
    const exp = (v >> 10) & 0x1f;
    const man = v & 0x3ff;
    if (exp === 0) {
      // Zero or subnormal: value = man · 2^-24.
      out[i] = (man / 16777216) * (sign ? -1 : 1);
    } else if (exp === 31) {
      bits[i] = sign | 0x7f800000 | (man << 13);
    } else {
      bits[i] = sign | ((exp + 112) << 23) | (man << 13);
    }
  }
  return out;
}

/** SHA-256 of bytes as lowercase hex (WebCrypto; works in Deno and browsers). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}
