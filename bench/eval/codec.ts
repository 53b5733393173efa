/**
 * The codec interface the evaluation harness drives, and the record it writes per
 * (image, codec, operating point).
 * @module
 */
import type { RgbImage } from "../../src/io/image.ts";

/** A lossy codec with named operating points, as the harness sees it. */
export interface Codec {
  /** Short name used in results and on the command line (`jpeg`, `tessera`, …). */
  readonly name: string;
  /** Operating points, from lowest to highest quality where the codec allows it. */
  readonly points: readonly string[];
  /** One line on the tool, version and settings, for the report. */
  readonly settings?: string;
  /** Encodes an RGB image at an operating point to the bytes of a complete file. */
  encode(rgb: RgbImage, point: string): Promise<Uint8Array>;
  /** Decodes the bytes that {@link Codec.encode} produced back to RGB. */
  decode(bytes: Uint8Array): Promise<RgbImage>;
}

/** What failed, when a record is not ok. */
export type FailedStage = "load" | "encode" | "decode" | "metrics";

/** A successful measurement of one image at one operating point of one codec. */
export interface OkRecord {
  /** Image file name (relative to the data folder). */
  image: string;
  /** Codec name. */
  codec: string;
  /** Operating point. */
  point: string;
  /** Always true. */
  ok: true;
  /** Image width in pixels. */
  width: number;
  /** Image height in pixels. */
  height: number;
  /** Size of the encoded file in bytes, container included. */
  bytes: number;
  /** bytes·8 / (width·height). */
  bpp: number;
  /** RGB PSNR in dB (Infinity when lossless). */
  psnr: number;
  /** RGB MS-SSIM. */
  msssim: number;
  /** Butteraugli max-norm distance, when a Butteraugli tool ran. */
  butteraugli?: number;
  /** Butteraugli 3-norm, when the tool reports it. */
  butteraugli3?: number;
  /** Why Butteraugli gave no value, when it was asked for and failed. */
  butteraugliError?: string;
  /** Wall time of encode, in ms. */
  encodeMs: number;
  /** Wall time of decode, in ms. */
  decodeMs: number;
}

/** A failed step for one image (and one codec/point, or every one of them for `load`). */
export interface FailRecord {
  /** Image file name. */
  image: string;
  /** Codec name (`*` when the image itself could not be loaded). */
  codec: string;
  /** Operating point (`*` when the image could not be loaded). */
  point: string;
  /** Always false. */
  ok: false;
  /** The step that failed. */
  stage: FailedStage;
  /** The error message. */
  error: string;
}

/** One line of `results.jsonl`. */
export type ResultRecord = OkRecord | FailRecord;

/** Key of a record for resuming: image, codec and point. */
export function recordKey(r: { image: string; codec: string; point: string }): string {
  return `${r.image}\u0000${r.codec}\u0000${r.point}`;
}
