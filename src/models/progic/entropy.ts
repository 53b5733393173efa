/**
 * The static entropy model of ProGIC's code indices (docs/format.md, "ProGIC"): trained with the
 * weights (train/entropy.py) and stored in the same file, so the weights hash every stream
 * records covers it. A stage is walked in raster order; at each position the coder asks
 * "same code as the left neighbour?" (where there is one), then "same code as the upper
 * neighbour?" (where there is one, the left answer was no or not asked, and the upper code
 * differs from the left one, else the answer is already known), and codes the index itself with
 * the stage's frequency table only when neither repeats. Indices skew enough (9.2–9.5 bits of
 * entropy of 10 at progic-t's stages; a stage-1 code repeats its left neighbour about one time in
 * eight) that this saves about 8% of a stream.
 * @module
 */
import { FrequencyTable, PROB_SCALE } from "../../coding/cdf.ts";
import { RansDecoder, RansEncoder } from "../../coding/rans.ts";
import { WeightsError } from "../../errors.ts";

/** One stage's tables. */
export interface StageEntropy {
  /** Codes at positions that repeat neither neighbour. */
  readonly codes: FrequencyTable;
  /** Binary: symbol 1 = same code as the left neighbour. */
  readonly left: FrequencyTable;
  /** Binary: symbol 1 = same code as the upper neighbour. */
  readonly up: FrequencyTable;
}

/** The tables of every stage. */
export type IndexEntropyModel = readonly StageEntropy[];

/**
 * Builds the model from the weights file's `entropy.freq` [stages, codes] (16-bit frequencies,
 * each ≥ 1, summing to 65536 per stage) and `entropy.repeat` [stages, 2] (probabilities of a
 * left and an upper repeat, in 1/65536, within 1…65535), stored as exact integers in F32.
 * @throws {WeightsError} when the tables break those rules
 */
export function indexEntropyModel(
  freq: Float32Array,
  repeat: Float32Array,
  stages: number,
  codes: number,
): IndexEntropyModel {
  const binary = (p: number, what: string) => {
    if (!(Number.isInteger(p) && p >= 1 && p < PROB_SCALE)) {
      throw new WeightsError(`${what} must be an integer in 1…${PROB_SCALE - 1}, got ${p}`);
    }
    return FrequencyTable.fromFrequencies([PROB_SCALE - p, p]);
  };
  return Array.from({ length: stages }, (_, s) => {
    let table: FrequencyTable;
    try {
      table = FrequencyTable.fromFrequencies(freq.subarray(s * codes, (s + 1) * codes));
    } catch (e) {
      throw new WeightsError(`entropy.freq of stage ${s + 1}: ${(e as Error).message}`);
    }
    return {
      codes: table,
      left: binary(repeat[2 * s], `entropy.repeat[${s}][0]`),
      up: binary(repeat[2 * s + 1], `entropy.repeat[${s}][1]`),
    };
  });
}

/**
 * Walks a stage's grid as the coder does, calling `code` with the table and symbol of every
 * decision; the symbol it returns is the decision taken (the encoder returns what it was given,
 * the decoder what it read).
 */
function walk(
  idx: Int32Array,
  w: number,
  m: StageEntropy,
  code: (table: FrequencyTable, symbol: number) => number,
): void {
  for (let p = 0; p < idx.length; p++) {
    const x = p % w;
    const left = x > 0 ? idx[p - 1] : -1;
    const up = p >= w ? idx[p - w] : -1;
    if (left >= 0 && code(m.left, idx[p] === left ? 1 : 0) === 1) {
      idx[p] = left;
      continue;
    }
    if (up >= 0 && up !== left && code(m.up, idx[p] === up ? 1 : 0) === 1) {
      idx[p] = up;
      continue;
    }
    idx[p] = code(m.codes, idx[p]);
  }
}

/** Codes one stage's indices (a `h × w` grid in raster order) into a rANS stream. */
export function encodeStageIndices(idx: Int32Array, w: number, m: StageEntropy): Uint8Array {
  const enc = new RansEncoder(idx.length * 2);
  walk(idx.slice(), w, m, (table, symbol) => {
    enc.encode(symbol, table);
    return symbol;
  });
  return enc.finish();
}

/** Ideal length in bits of a stage under `m` (what the rANS stream meets within its 4-byte state). */
export function stageCodeBits(idx: Int32Array, w: number, m: StageEntropy): number {
  let bits = 0;
  walk(idx.slice(), w, m, (table, symbol) => {
    bits += table.cost(symbol);
    return symbol;
  });
  return bits;
}

/**
 * Decodes `count` indices of a grid `w` wide from a stream of {@link encodeStageIndices}.
 * @throws {BitstreamError} when the stream is truncated, corrupt or does not end cleanly
 */
export function decodeStageIndices(
  bytes: Uint8Array,
  count: number,
  w: number,
  m: StageEntropy,
  what: string,
): Int32Array {
  const dec = new RansDecoder(bytes, what);
  const idx = new Int32Array(count);
  walk(idx, w, m, (table) => dec.decode(table));
  dec.finish();
  return idx;
}
