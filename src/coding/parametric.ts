/**
 * Discretized Gaussian and Laplacian tables for learned entropy models, with escape coding.
 *
 * A model predicts, per latent, a scale index (into a fixed list of scales) and optionally a
 * fractional-mean index; the table for that pair is built deterministically
 * ({@link ./detmath.ts}) and cached, so any encoder and decoder code identical streams.
 *
 * Table for scale σ and mean offset μ = meanIndex / meanLevels ∈ [0, 1): the mass of the
 * integer k is P(k − ½ < X − μ < k + ½) for X ~ N(0, σ²) or Laplace(0, σ). The table covers
 * the integers [lo, hi] around the centre (0, or 1 when μ ≥ ½) whose mass is at least 2^-16,
 * at most `maxRadius` away; its last symbol is the escape, carrying the mass outside. A value
 * outside [lo, hi] is coded as the escape, one raw bit for the side (0 below, 1 above), and the
 * distance past the range, d ≥ 0, as an order-0 Exp-Golomb code of d + 1 in raw bits.
 * @module
 */

import { BitstreamError, InvalidArgumentError } from "../errors.ts";
import { FrequencyTable, PROB_SCALE } from "./cdf.ts";
import { detErfc, detExp, detLog } from "./detmath.ts";
import type { RansDecoder, RansEncoder } from "./rans.ts";

/** Smallest scale a family accepts. */
export const MIN_SCALE: number = 2 ** -16;
/**
 * Largest scale a family accepts. Wider distributions put so little mass on each integer
 * that most of it would fall below 2^-16 and into the escape.
 */
export const MAX_SCALE: number = 2 ** 12;
/** Largest `maxRadius`: keeps every table within 65 535 symbols. */
export const MAX_RADIUS = 32766;
/** Most tables (scales × mean levels) one family may index. */
export const MAX_TABLES: number = 1 << 20;
/** Values a family codes are int32. */
const MIN_VALUE = -(2 ** 31), MAX_VALUE = 2 ** 31 - 1;

/** Which distribution a family discretizes. */
export type ParametricKind = "gaussian" | "laplacian";

/** Options of a {@link ParametricFamily}. */
export interface ParametricOptions {
  /** The distribution: `"gaussian"` (σ = standard deviation) or `"laplacian"` (σ = b). */
  kind: ParametricKind;
  /** σ per scale index, each in [{@link MIN_SCALE}, {@link MAX_SCALE}] (see {@link logScales}). */
  scales: ArrayLike<number>;
  /** Number of fractional-mean steps: mean index j stands for μ = j / meanLevels. Default 1. */
  meanLevels?: number;
  /** Widest distance of a table's range from its centre, 1..{@link MAX_RADIUS} (the default). */
  maxRadius?: number;
}

/** A built table: values lo..hi are symbols 0..hi−lo; symbol hi−lo+1 is the escape. */
export interface ParametricTable {
  /** The quantized table (alphabet hi − lo + 2). */
  readonly table: FrequencyTable;
  /** Smallest value coded directly. */
  readonly lo: number;
  /** Largest value coded directly. */
  readonly hi: number;
}

/**
 * `levels` scales spaced evenly in log between `min` and `max` (both included), computed
 * with {@link detExp}/{@link detLog} so every platform gets the same list.
 * E.g. `logScales(0.11, 256, 64)` is the usual hyperprior scale table.
 */
export function logScales(min: number, max: number, levels: number): Float64Array {
  if (!(min >= MIN_SCALE && max <= MAX_SCALE && min < max)) {
    throw new InvalidArgumentError(
      `scale range must satisfy ${MIN_SCALE} ≤ min < max ≤ ${MAX_SCALE}, got [${min}, ${max}]`,
    );
  }
  if (!Number.isInteger(levels) || levels < 2 || levels > 65536) {
    throw new InvalidArgumentError(`levels must be an integer in [2, 65536], got ${levels}`);
  }
  const step = detLog(max / min) / (levels - 1);
  const out = new Float64Array(levels);
  for (let i = 0; i < levels; i++) out[i] = min * detExp(i * step);
  out[0] = min;
  out[levels - 1] = max;
  return out;
}

/** P(Z > z) for z ≥ 0 of the standardized distribution. */
function upperTail(kind: ParametricKind, z: number): number {
  return kind === "gaussian" ? 0.5 * detErfc(z * Math.SQRT1_2) : 0.5 * detExp(-z);
}

/** P(a < Z < b) for a < b, each tail taken on its own side to avoid cancellation. */
function massBetween(kind: ParametricKind, a: number, b: number): number {
  let m: number;
  if (a >= 0) m = upperTail(kind, a) - upperTail(kind, b);
  else if (b <= 0) m = upperTail(kind, -b) - upperTail(kind, -a);
  else m = 1 - upperTail(kind, -a) - upperTail(kind, b);
  return m > 0 ? m : 0;
}

/**
 * A family of discretized Gaussian or Laplacian tables indexed by (scale index, mean index),
 * built on first use and cached.
 */
export class ParametricFamily {
  /** The distribution. */
  readonly kind: ParametricKind;
  /** σ per scale index. */
  readonly scales: Float64Array;
  /** Number of fractional-mean steps. */
  readonly meanLevels: number;
  /** Widest distance of a table's range from its centre. */
  readonly maxRadius: number;
  private readonly cache: (ParametricTable | undefined)[];

  /**
   * A family over `options.scales` × `options.meanLevels` tables.
   * @throws {InvalidArgumentError} for scales or options out of range
   */
  constructor(options: ParametricOptions) {
    const { kind, scales, meanLevels = 1, maxRadius = MAX_RADIUS } = options;
    if (kind !== "gaussian" && kind !== "laplacian") {
      throw new InvalidArgumentError(`kind must be "gaussian" or "laplacian", got ${kind}`);
    }
    if (!(scales.length >= 1 && scales.length <= 65536)) {
      throw new InvalidArgumentError(`a family needs 1..65536 scales, got ${scales.length}`);
    }
    for (let i = 0; i < scales.length; i++) {
      if (!(scales[i] >= MIN_SCALE && scales[i] <= MAX_SCALE)) {
        throw new InvalidArgumentError(
          `scale ${i} is ${scales[i]}; scales must lie in [${MIN_SCALE}, ${MAX_SCALE}]`,
        );
      }
    }
    if (!Number.isInteger(meanLevels) || meanLevels < 1 || meanLevels > 65536) {
      throw new InvalidArgumentError(
        `meanLevels must be an integer in [1, 65536], got ${meanLevels}`,
      );
    }
    if (scales.length * meanLevels > MAX_TABLES) {
      throw new InvalidArgumentError(
        `${scales.length} scales × ${meanLevels} mean levels exceed ${MAX_TABLES} tables`,
      );
    }
    if (!Number.isInteger(maxRadius) || maxRadius < 1 || maxRadius > MAX_RADIUS) {
      throw new InvalidArgumentError(
        `maxRadius must be an integer in [1, ${MAX_RADIUS}], got ${maxRadius}`,
      );
    }
    this.kind = kind;
    this.scales = Float64Array.from(scales);
    this.meanLevels = meanLevels;
    this.maxRadius = maxRadius;
    this.cache = new Array(scales.length * meanLevels);
  }

  /** The table for a scale index and mean index (built on first use). */
  table(scaleIndex: number, meanIndex = 0): ParametricTable {
    if (
      !((scaleIndex >>> 0) === scaleIndex && scaleIndex < this.scales.length &&
        (meanIndex >>> 0) === meanIndex && meanIndex < this.meanLevels)
    ) {
      throw new InvalidArgumentError(
        `table index out of range: scale ${scaleIndex} (0..${this.scales.length - 1}), ` +
          `mean ${meanIndex} (0..${this.meanLevels - 1})`,
      );
    }
    const i = scaleIndex * this.meanLevels + meanIndex;
    return this.cache[i] ??= this.build(this.scales[scaleIndex], meanIndex / this.meanLevels);
  }

  /** Computes the table of one (σ, μ) pair. */
  private build(sigma: number, mu: number): ParametricTable {
    const kind = this.kind;
    const mass = (k: number) => massBetween(kind, (k - 0.5 - mu) / sigma, (k + 0.5 - mu) / sigma);
    const centre = mu < 0.5 ? 0 : 1;
    const min = 1 / PROB_SCALE;
    let hi = centre, lo = centre;
    while (hi - centre < this.maxRadius && mass(hi + 1) >= min) hi++;
    while (centre - lo < this.maxRadius && mass(lo - 1) >= min) lo--;
    const weights = new Float64Array(hi - lo + 2);
    for (let k = lo; k <= hi; k++) weights[k - lo] = mass(k);
    weights[hi - lo + 1] = upperTail(kind, -(lo - 0.5 - mu) / sigma) +
      upperTail(kind, (hi + 0.5 - mu) / sigma);
    return { table: FrequencyTable.fromProbabilities(weights), lo, hi };
  }

  /** Codes an int32 `value` with the table (scaleIndex, meanIndex), escaping if outside it. */
  encode(enc: RansEncoder, value: number, scaleIndex: number, meanIndex = 0): void {
    const { table, lo, hi } = this.table(scaleIndex, meanIndex);
    if (value >= lo && value <= hi && Number.isInteger(value)) {
      enc.encode(value - lo, table);
      return;
    }
    if (!Number.isInteger(value) || value < MIN_VALUE || value > MAX_VALUE) {
      throw new InvalidArgumentError(`value must be an int32, got ${value}`);
    }
    enc.encode(hi - lo + 1, table);
    const above = value > hi;
    enc.encodeBits(above ? 1 : 0, 1);
    encodeExpGolomb(enc, above ? value - hi - 1 : lo - 1 - value);
  }

  /** Decodes a value coded by {@link encode} with the same indices. */
  decode(dec: RansDecoder, scaleIndex: number, meanIndex = 0): number {
    const { table, lo, hi } = this.table(scaleIndex, meanIndex);
    const s = dec.decode(table);
    if (s <= hi - lo) return lo + s;
    const above = dec.decodeBits(1) === 1;
    const d = decodeExpGolomb(dec);
    const value = above ? hi + 1 + d : lo - 1 - d;
    if (value < MIN_VALUE || value > MAX_VALUE) {
      throw new BitstreamError(
        `escaped value ${value} is outside the int32 range (corrupt stream)`,
      );
    }
    return value;
  }

  /** Ideal code length of `value` in bits, escape bits included (for rate estimates). */
  cost(value: number, scaleIndex: number, meanIndex = 0): number {
    const { table, lo, hi } = this.table(scaleIndex, meanIndex);
    if (value >= lo && value <= hi) return table.cost(value - lo);
    const d = value > hi ? value - hi - 1 : lo - 1 - value;
    return table.cost(hi - lo + 1) + 1 + 2 * bitLength(d + 1) - 1;
  }
}

/** Number of bits of `m` (1 ≤ m ≤ 2^32). */
function bitLength(m: number): number {
  return m > 0xffffffff ? 33 : 32 - Math.clz32(m);
}

/** Order-0 Exp-Golomb code of `d` (0 ≤ d < 2^32) in raw bits: n−1 zeros, then d+1 in n bits. */
function encodeExpGolomb(enc: RansEncoder, d: number): void {
  const m = d + 1, n = bitLength(m);
  // One bit per op: the decoder reads the prefix bit by bit, and rANS raw bits must be
  // decoded in the same widths they were encoded in.
  for (let i = 1; i < n; i++) enc.encodeBits(0, 1);
  enc.encodeBits(1, 1);
  enc.encodeBits(m - 2 ** (n - 1), n - 1);
}

function decodeExpGolomb(dec: RansDecoder): number {
  let zeros = 0;
  while (dec.decodeBits(1) === 0) {
    if (++zeros > 32) {
      throw new BitstreamError("escape code has over 32 leading zeros (corrupt stream)");
    }
  }
  return 2 ** zeros + dec.decodeBits(zeros) - 1;
}
