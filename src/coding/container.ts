/**
 * The Tessera container: a small checked header, then a sequence of length-prefixed,
 * checksummed segments. Byte layout and version policy: docs/format.md.
 *
 * Progressive by design: segments are independent units (a ProGIC stage, a GLC layer), and a
 * file cut at a segment boundary reads back as its first segments with `complete: false`.
 * Each checksum covers every byte of the file before it, so it also vouches for the header,
 * earlier segments and the order of segments.
 *
 * The reader validates each field against the bytes that remain before using it, allocates
 * nothing but the small header object and one view per segment present, and reports every
 * problem as a {@link BitstreamError} (or {@link ModelMismatchError}) naming the part at fault.
 * @module
 */

import { BitstreamError, InvalidArgumentError, ModelMismatchError } from "../errors.ts";
import { ByteReader, ByteWriter } from "./bytes.ts";
import { CRC32_INIT, crc32Final, crc32Update } from "./crc32.ts";

/** The first three bytes of every Tessera file: "TSR". */
export const MAGIC: Uint8Array = new Uint8Array([0x54, 0x53, 0x52]);
/** The container format version this module reads and writes. */
export const FORMAT_VERSION = 1;
/** Length of the weights hash stored in the header (a prefix of the weights' SHA-256). */
export const WEIGHTS_HASH_BYTES = 8;
/** Largest width or height a header may declare. */
export const MAX_DIMENSION = 65535;
/** Largest number of segments a header may declare. */
export const MAX_SEGMENTS = 65535;
/** Largest codec-parameter block, in bytes. */
export const MAX_PARAMS = 65535;
/** Default cap on width × height accepted by {@link readContainer} (16384²). */
export const DEFAULT_MAX_PIXELS: number = 16384 * 16384;

/** Registered codec ids (docs/format.md keeps the registry). */
export const CodecId = {
  /** Tests and tools: segments with no codec meaning. */
  raw: 0,
  /** ProGIC: one segment per RVQ stage. */
  progic: 1,
  /** GLC. */
  glc: 2,
  /** DLF. */
  dlf: 3,
} as const;

/** How the image's samples are laid out. */
export type ChannelLayout = "rgb" | "gray" | "rgba";
const LAYOUTS: readonly ChannelLayout[] = ["rgb", "gray", "rgba"];
const DEPTHS = [8, 10, 12, 16] as const;

/** Coding-independent code points (ITU-T H.273), as in AVIF/HEIF "nclx". */
export interface Cicp {
  /** colour_primaries (1 = BT.709/sRGB). */
  primaries: number;
  /** transfer_characteristics (13 = sRGB). */
  transfer: number;
  /** matrix_coefficients (0 = identity/RGB). */
  matrix: number;
  /** Full-range samples. */
  fullRange: boolean;
}

/** Colour information. Without `cicp` the image is sRGB (primaries 1, transfer 13, RGB, full). */
export interface ColourInfo {
  /** Sample layout of the decoded image. */
  layout: ChannelLayout;
  /** Bits per sample of the decoded image. */
  bitDepth: 8 | 10 | 12 | 16;
  /** Explicit colour description, when not sRGB. */
  cicp?: Cicp;
}

/** Extra geometry of a video: frame count and frame rate (num / den frames per second). */
export interface VideoInfo {
  /** Number of frames, ≥ 1. */
  frames: number;
  /** Frame-rate numerator, ≥ 1. */
  rateNum: number;
  /** Frame-rate denominator, ≥ 1. */
  rateDen: number;
}

/** Everything the header says. */
export interface ContainerHeader {
  /** Codec id ({@link CodecId}). */
  codec: number;
  /** Model id within the codec (the codec keeps the list). */
  model: number;
  /** First {@link WEIGHTS_HASH_BYTES} bytes of the SHA-256 of the weights ({@link weightsHash}). */
  weightsHash: Uint8Array;
  /** Width of the decoded image in pixels, 1..{@link MAX_DIMENSION}. */
  width: number;
  /** Height of the decoded image in pixels, 1..{@link MAX_DIMENSION}. */
  height: number;
  /** Present for video. */
  video?: VideoInfo;
  /** Colour information (writer default: `{ layout: "rgb", bitDepth: 8 }`, i.e. sRGB). */
  colour: ColourInfo;
  /** Codec-defined quality index, e.g. a rate point (writer default 0). */
  quality: number;
  /** Number of segments the encoder wrote. */
  segmentCount: number;
  /** Codec-specific parameters, opaque to the container, ≤ {@link MAX_PARAMS} bytes (default none). */
  params: Uint8Array;
  /** Bytes per checksum: 4 (CRC-32, the default) or 2 (its low 16 bits, for tiny files). */
  checksumBytes: 2 | 4;
}

/** Header fields {@link writeContainer} fills with defaults when omitted. */
export type DefaultedField = "colour" | "quality" | "params" | "checksumBytes";

/**
 * What {@link writeContainer} needs: the header without `segmentCount` (it counts the segments
 * itself), with the defaulted fields optional.
 */
export type ContainerInit =
  & Omit<ContainerHeader, "segmentCount" | DefaultedField>
  & Partial<Pick<ContainerHeader, DefaultedField>>;

/** The model a decoder has loaded, to check a file against. */
export interface ExpectedModel {
  /** Codec id the decoder implements. */
  codec: number;
  /** Model id of the loaded weights. */
  model: number;
  /** Hash of the loaded weights ({@link weightsHash}). */
  weightsHash: Uint8Array;
  /** Names a model id in messages, e.g. `(id) => ["progic", "progic-s"][id]`. */
  modelName?: (model: number) => string | undefined;
}

/** Options of {@link readContainer}. */
export interface ReadOptions {
  /** Fail with {@link ModelMismatchError} unless the file needs exactly this model. */
  expect?: ExpectedModel;
  /**
   * Return the segments read before a truncated or corrupt one (with `error` set) instead of
   * throwing. Header errors still throw: without a header nothing can be decoded.
   */
  bestEffort?: boolean;
  /** Largest width × height accepted (default {@link DEFAULT_MAX_PIXELS}). */
  maxPixels?: number;
  /** Names segment `index` (0-based) in messages, e.g. `(i) => \`stage ${i + 1}\``. */
  segmentName?: (index: number) => string;
}

/** A parsed container. */
export interface ContainerFile {
  /** The header. */
  header: ContainerHeader;
  /** Views (no copies) of the payloads of the segments present, in order. */
  segments: Uint8Array[];
  /** Byte offset just past each segment (its checksum included): the valid truncation points. */
  segmentEnds: number[];
  /** Size of the header, checksum included. */
  headerLength: number;
  /** True when all `header.segmentCount` segments are present and intact. */
  complete: boolean;
  /** In best-effort mode, the error that stopped reading, if any. */
  error?: BitstreamError;
}

const FLAG_SHORT_CHECKSUM = 1, FLAG_VIDEO = 2, KNOWN_FLAGS = 3;
const COLOUR_CICP = 0x10, KNOWN_COLOUR_BITS = 0x1f;

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The hash the header stores for a weights file: the first {@link WEIGHTS_HASH_BYTES} bytes
 * of its SHA-256 (Web Crypto, so it runs in browsers too).
 */
export async function weightsHash(weights: BufferSource): Promise<Uint8Array> {
  const digest = await crypto.subtle.digest("SHA-256", weights);
  return new Uint8Array(digest, 0, WEIGHTS_HASH_BYTES).slice();
}

function isUint(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}

/** The first semantic problem of a header, or `undefined`; shared by writer and reader. */
function headerProblem(h: ContainerHeader, maxPixels: number): string | undefined {
  const U32 = 0xffffffff;
  if (!isUint(h.codec, U32)) return `codec id ${h.codec} is not a 32-bit unsigned integer`;
  if (!isUint(h.model, U32)) return `model id ${h.model} is not a 32-bit unsigned integer`;
  if (h.weightsHash.length !== WEIGHTS_HASH_BYTES) {
    return `weights hash has ${h.weightsHash.length} bytes, expected ${WEIGHTS_HASH_BYTES}`;
  }
  for (const [name, v] of [["width", h.width], ["height", h.height]] as const) {
    if (!(isUint(v, MAX_DIMENSION) && v >= 1)) {
      return `${name} ${v} is outside 1..${MAX_DIMENSION}`;
    }
  }
  if (h.width * h.height > maxPixels) {
    return `${h.width}×${h.height} pixels exceed the limit of ${maxPixels}`;
  }
  if (h.video) {
    const { frames, rateNum, rateDen } = h.video;
    for (const [name, v] of [["frames", frames], ["rateNum", rateNum], ["rateDen", rateDen]]) {
      if (!(isUint(v as number, U32) && (v as number) >= 1)) {
        return `video ${name} ${v} is outside 1..${U32}`;
      }
    }
  }
  const c = h.colour;
  if (!LAYOUTS.includes(c.layout)) return `colour layout ${c.layout} is unknown`;
  if (!(DEPTHS as readonly number[]).includes(c.bitDepth)) {
    return `bit depth ${c.bitDepth} is not one of ${DEPTHS.join(", ")}`;
  }
  if (c.cicp) {
    const { primaries, transfer, matrix } = c.cicp;
    if (!isUint(primaries, 255) || !isUint(transfer, 255) || !isUint(matrix, 255)) {
      return `CICP code points (${primaries}, ${transfer}, ${matrix}) must be bytes`;
    }
  }
  if (!isUint(h.quality, U32)) return `quality ${h.quality} is not a 32-bit unsigned integer`;
  if (!isUint(h.segmentCount, MAX_SEGMENTS)) {
    return `segment count ${h.segmentCount} is outside 0..${MAX_SEGMENTS}`;
  }
  if (h.params.length > MAX_PARAMS) {
    return `codec parameters take ${h.params.length} bytes, more than ${MAX_PARAMS}`;
  }
  if (h.checksumBytes !== 2 && h.checksumBytes !== 4) {
    return `checksumBytes must be 2 or 4, got ${h.checksumBytes}`;
  }
  return undefined;
}

/** The checksum as stored: the CRC-32, or its low 16 bits. */
function checkValue(state: number, size: 2 | 4): number {
  const crc = crc32Final(state);
  return size === 4 ? crc : crc & 0xffff;
}

/**
 * Writes a container holding `segments` (in order). The checksums make it self-verifying;
 * its size is the header plus, per segment, a length varint, the payload and a checksum.
 * @throws {InvalidArgumentError} when a field is out of range
 */
export function writeContainer(
  init: ContainerInit,
  segments: readonly Uint8Array[],
): Uint8Array<ArrayBuffer> {
  const h: ContainerHeader = {
    codec: init.codec,
    model: init.model,
    weightsHash: init.weightsHash,
    width: init.width,
    height: init.height,
    video: init.video,
    colour: init.colour ?? { layout: "rgb", bitDepth: 8 },
    quality: init.quality ?? 0,
    segmentCount: segments.length,
    params: init.params ?? new Uint8Array(0),
    checksumBytes: init.checksumBytes ?? 4,
  };
  const problem = headerProblem(h, Infinity);
  if (problem) throw new InvalidArgumentError(`cannot write container: ${problem}`);
  let size = 64 + h.params.length;
  for (const s of segments) size += s.length + 9;
  const w = new ByteWriter(size);
  w.bytes(MAGIC).u8(FORMAT_VERSION);
  w.u8((h.checksumBytes === 2 ? FLAG_SHORT_CHECKSUM : 0) | (h.video ? FLAG_VIDEO : 0));
  w.varint(h.codec).varint(h.model).bytes(h.weightsHash).varint(h.width).varint(h.height);
  if (h.video) w.varint(h.video.frames).varint(h.video.rateNum).varint(h.video.rateDen);
  const c = h.colour;
  w.u8(LAYOUTS.indexOf(c.layout) | (DEPTHS.indexOf(c.bitDepth) << 2) | (c.cicp ? COLOUR_CICP : 0));
  if (c.cicp) {
    w.u8(c.cicp.primaries).u8(c.cicp.transfer).u8(c.cicp.matrix).u8(c.cicp.fullRange ? 1 : 0);
  }
  w.varint(h.quality).varint(h.segmentCount).varint(h.params.length).bytes(h.params);
  let state = CRC32_INIT, done = 0;
  const seal = () => {
    state = crc32Update(state, w.view(), done);
    w.uintBE(checkValue(state, h.checksumBytes), h.checksumBytes);
    state = crc32Update(state, w.view(), w.length - h.checksumBytes);
    done = w.length;
  };
  seal();
  for (const s of segments) {
    w.varint(s.length).bytes(s);
    seal();
  }
  return w.finish();
}

/**
 * Reads a container from a byte view (segments are returned as views into it, not copies).
 *
 * A file cut exactly after a segment is not an error: the segments present come back with
 * `complete: false`. A cut inside a segment, a checksum mismatch or bytes after the last
 * segment throw a {@link BitstreamError} naming the segment (code `TRUNCATED`, `CHECKSUM` or
 * `BITSTREAM`), or with `bestEffort` end the read with `error` set.
 * @throws {BitstreamError} for a malformed, truncated, corrupt or unsupported file
 * @throws {ModelMismatchError} when `expect` is given and the file needs another model
 */
export function readContainer(bytes: Uint8Array, options: ReadOptions = {}): ContainerFile {
  checkMagic(bytes);
  const r = new ByteReader(bytes, "container header", MAGIC.length);
  const version = r.u8("format version");
  if (version !== FORMAT_VERSION) {
    throw new BitstreamError(
      `file format version ${version} is not supported (this decoder reads version ` +
        `${FORMAT_VERSION})${version > FORMAT_VERSION ? "; a newer Tessera may read it" : ""}`,
      "UNSUPPORTED",
    );
  }
  const flags = r.u8("flags");
  const { header, colourByte, rangeByte } = readHeaderFields(r, flags);
  const headerLength = r.pos + header.checksumBytes;
  const stateAtCheck = crc32Update(CRC32_INIT, bytes, 0, r.pos);
  const stored = r.uintBE(header.checksumBytes, "header checksum");
  const computed = checkValue(stateAtCheck, header.checksumBytes);
  if (stored !== computed) {
    throw new BitstreamError(
      `container header is corrupt: checksum 0x${stored.toString(16)} stored, ` +
        `0x${computed.toString(16)} computed`,
      "CHECKSUM",
    );
  }
  // Reserved values are checked only now: in a version-1 file that passes its checksum they
  // mean a feature this decoder lacks, otherwise plain corruption (reported above).
  if (flags & ~KNOWN_FLAGS || colourByte & ~KNOWN_COLOUR_BITS || (colourByte & 3) === 3) {
    throw new BitstreamError(
      `header flags 0x${flags.toString(16)} or colour byte 0x${colourByte.toString(16)} use ` +
        "values this decoder does not know",
      "UNSUPPORTED",
    );
  }
  if (rangeByte > 1) {
    throw new BitstreamError(`container header is invalid: CICP full-range flag is ${rangeByte}`);
  }
  const problem = headerProblem(header, options.maxPixels ?? DEFAULT_MAX_PIXELS);
  if (problem) throw new BitstreamError(`container header is invalid: ${problem}`);
  if (options.expect) checkModel(header, options.expect);

  const file: ContainerFile = {
    header,
    segments: [],
    segmentEnds: [],
    headerLength,
    complete: false,
  };
  try {
    readSegments(
      bytes,
      r,
      file,
      crc32Update(stateAtCheck, bytes, r.pos - header.checksumBytes, r.pos),
      options,
    );
  } catch (e) {
    if (!(options.bestEffort && e instanceof BitstreamError)) throw e;
    file.error = e;
  }
  return file;
}

function checkMagic(bytes: Uint8Array): void {
  for (let i = 0; i < MAGIC.length; i++) {
    if (i >= bytes.length) {
      throw new BitstreamError(
        `file is truncated: ${bytes.length} byte(s), too short for a Tessera header`,
        "TRUNCATED",
      );
    }
    if (bytes[i] !== MAGIC[i]) {
      throw new BitstreamError('not a Tessera file: it does not start with the bytes "TSR"');
    }
  }
}

/** The header fields after the flags, plus the raw bytes whose values are checked later. */
function readHeaderFields(
  r: ByteReader,
  flags: number,
): { header: ContainerHeader; colourByte: number; rangeByte: number } {
  const codec = r.varint("codec id");
  const model = r.varint("model id");
  const hash = r.bytes(WEIGHTS_HASH_BYTES, "weights hash");
  const width = r.varint("width");
  const height = r.varint("height");
  let video: VideoInfo | undefined;
  if (flags & FLAG_VIDEO) {
    video = {
      frames: r.varint("frame count"),
      rateNum: r.varint("frame-rate numerator"),
      rateDen: r.varint("frame-rate denominator"),
    };
  }
  const colourByte = r.u8("colour byte");
  const colour: ColourInfo = {
    layout: LAYOUTS[colourByte & 3],
    bitDepth: DEPTHS[(colourByte >> 2) & 3],
  };
  let rangeByte = 0;
  if (colourByte & COLOUR_CICP) {
    const primaries = r.u8("CICP primaries"), transfer = r.u8("CICP transfer");
    const matrix = r.u8("CICP matrix");
    rangeByte = r.u8("CICP full-range flag");
    colour.cicp = { primaries, transfer, matrix, fullRange: rangeByte === 1 };
  }
  const quality = r.varint("quality");
  const segmentCount = r.varint("segment count");
  const params = r.bytes(r.varint("codec-parameter length"), "codec parameters");
  const header: ContainerHeader = {
    codec,
    model,
    weightsHash: hash.slice(),
    width,
    height,
    video,
    colour,
    quality,
    segmentCount,
    params: params.slice(),
    checksumBytes: flags & FLAG_SHORT_CHECKSUM ? 2 : 4,
  };
  return { header, colourByte, rangeByte };
}

function readSegments(
  bytes: Uint8Array,
  r: ByteReader,
  file: ContainerFile,
  state: number,
  options: ReadOptions,
): void {
  const { segmentCount, checksumBytes } = file.header;
  for (let i = 0; i < segmentCount && r.remaining > 0; i++) {
    const name = `segment ${i + 1} of ${segmentCount}` +
      (options.segmentName ? ` (${options.segmentName(i)})` : "");
    const start = r.pos;
    const sr = new ByteReader(bytes, name, start);
    const length = sr.varint("length");
    if (length + checksumBytes > sr.remaining) {
      throw new BitstreamError(
        `${name} is truncated: it declares ${length} byte(s) plus a ${checksumBytes}-byte ` +
          `checksum, but only ${sr.remaining} byte(s) remain`,
        "TRUNCATED",
      );
    }
    const payload = sr.bytes(length, "payload");
    state = crc32Update(state, bytes, start, sr.pos);
    const stored = sr.uintBE(checksumBytes, "checksum");
    const computed = checkValue(state, checksumBytes);
    if (stored !== computed) {
      throw new BitstreamError(
        `${name} is corrupt: checksum 0x${stored.toString(16)} stored, ` +
          `0x${computed.toString(16)} computed`,
        "CHECKSUM",
      );
    }
    state = crc32Update(state, bytes, sr.pos - checksumBytes, sr.pos);
    r.pos = sr.pos;
    file.segments.push(payload);
    file.segmentEnds.push(sr.pos);
  }
  file.complete = file.segments.length === segmentCount;
  if (file.complete && r.remaining > 0) {
    file.complete = false;
    throw new BitstreamError(
      `${r.remaining} unexpected byte(s) after the last of ${segmentCount} segment(s)`,
    );
  }
}

/**
 * Checks that a header's codec, model and weights are the ones a decoder has loaded.
 * @throws {BitstreamError} (`UNSUPPORTED`) when the file belongs to another codec
 * @throws {ModelMismatchError} when it needs another model or other weights
 */
export function checkModel(header: ContainerHeader, expect: ExpectedModel): void {
  if (header.codec !== expect.codec) {
    throw new BitstreamError(
      `the file was written by codec ${codecName(header.codec)}, but this decoder is ` +
        `${codecName(expect.codec)}`,
      "UNSUPPORTED",
    );
  }
  const same = header.model === expect.model &&
    header.weightsHash.length === expect.weightsHash.length &&
    header.weightsHash.every((b, i) => b === expect.weightsHash[i]);
  if (!same) {
    const name = (m: number) => {
      const n = expect.modelName?.(m);
      return n ? `"${n}" (model ${m})` : `model ${m}`;
    };
    throw new ModelMismatchError(
      `the file needs ${name(header.model)} with weights ${hex(header.weightsHash)}, but ` +
        `${name(expect.model)} with weights ${hex(expect.weightsHash)} is loaded`,
    );
  }
}

function codecName(id: number): string {
  const entry = Object.entries(CodecId).find(([, v]) => v === id);
  return entry ? `${entry[0]} (${id})` : `${id}`;
}
