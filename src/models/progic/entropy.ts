/**
 * The static entropy model of ProGIC's code indices (docs/format.md, "ProGIC"): trained with the
 * weights (train/entropy.py) and stored in the same file, so the weights hash every stream
 * records covers it. A stage is walked in raster order; at each position the coder asks
 * "same code as the left neighbour?" (where there is one), then "same code as the upper
 * neighbour?" (where there is one, the left answer was no or not asked, and the upper code
 * differs from the left one, else the answer is already known), and codes the index itself with
 * a frequency table only when neither repeats. Which tables a position uses depends on its
 * context code: at stage 1 its left neighbour's code (the upper one's in the first column), at a
 * later stage the code at the same position in the stage before. progic-t has a table per k-means
 * cluster of the codebook that code comes from. Indices skew enough (9.2–9.5 bits of entropy of
 * 10 at progic-t's stages; a stage-1 code repeats its left neighbour about one time in eight) that
 * the flags and per-stage frequencies save about 8% of a stream, and the contexts ~7% more of
 * stage 1 and ~1.4% of each later stage.
 * @module
 */
import { FrequencyTable, PROB_SCALE } from "../../coding/cdf.ts";
import { RansDecoder, RansEncoder } from "../../coding/rans.ts";
import { WeightsError } from "../../errors.ts";

/** The tables of one context. */
export interface ContextTables {
  /** Codes at positions that repeat neither neighbour. */
  readonly codes: FrequencyTable;
  /** Binary: symbol 1 = same code as the left neighbour. */
  readonly left: FrequencyTable;
  /** Binary: symbol 1 = same code as the upper neighbour. */
  readonly up: FrequencyTable;
}

/** One stage's model: its contexts' tables, chosen by a position's context code. */
export interface StageEntropy {
  /** Whether the context code is the previous stage's code at the same position (stages after
   * the first) rather than the left or upper neighbour's. */
  readonly fromPrevious: boolean;
  /** `tables[byContext[c]]` serves a position whose context code is `c`; index `codes` serves
   * stage 1's first position, which has no neighbour. */
  readonly byContext: Int32Array;
  readonly tables: readonly ContextTables[];
}

/** The tables of every stage. */
export type IndexEntropyModel = readonly StageEntropy[];

/** The weights file's tables, stored as U16 (or, in earlier files, exact integers in F32). */
export interface IndexEntropyTables {
  /** [tables, codes]: 16-bit frequencies, each ≥ 1, summing to 65536 per table. */
  readonly freq: Float32Array;
  /** [tables, 2]: probabilities of a left and an upper repeat, in 1/65536, within 1…65535. */
  readonly repeat: Float32Array;
  /** [stages, codes + 1]: the table of a position by its context code (column `codes`: stage
   * 1's first position). Absent in files from before contexts: stage s uses table s. */
  readonly context?: Float32Array;
}

/**
 * Builds the model from the weights file's `entropy.freq`, `entropy.repeat` and
 * `entropy.context` (see {@link IndexEntropyTables}).
 * @throws {WeightsError} when the tables break those rules
 */
export function indexEntropyModel(
  t: IndexEntropyTables,
  stages: number,
  codes: number,
): IndexEntropyModel {
  const count = t.freq.length / codes;
  if (!Number.isInteger(count) || count < 1 || t.repeat.length !== 2 * count) {
    throw new WeightsError(
      `entropy.freq holds ${t.freq.length / codes} tables of ${codes} codes and entropy.repeat ` +
        `${t.repeat.length / 2} pairs; they must agree`,
    );
  }
  const binary = (p: number, what: string) => {
    if (!(Number.isInteger(p) && p >= 1 && p < PROB_SCALE)) {
      throw new WeightsError(`${what} must be an integer in 1…${PROB_SCALE - 1}, got ${p}`);
    }
    return FrequencyTable.fromFrequencies([PROB_SCALE - p, p]);
  };
  const tables: ContextTables[] = Array.from({ length: count }, (_, i) => {
    let table: FrequencyTable;
    try {
      table = FrequencyTable.fromFrequencies(t.freq.subarray(i * codes, (i + 1) * codes));
    } catch (e) {
      throw new WeightsError(`entropy.freq table ${i}: ${(e as Error).message}`);
    }
    return {
      codes: table,
      left: binary(t.repeat[2 * i], `entropy.repeat[${i}][0]`),
      up: binary(t.repeat[2 * i + 1], `entropy.repeat[${i}][1]`),
    };
  });
  if (!t.context && count !== stages) {
    throw new WeightsError(
      `without entropy.context, entropy.freq must hold one table per stage (${stages}), not ${count}`,
    );
  }
  const row = codes + 1;
  t.context?.forEach((v, i) => {
    if (!(Number.isInteger(v) && v >= 0 && v < count)) {
      throw new WeightsError(
        `entropy.context[${Math.floor(i / row)}][${i % row}] must name one of the ${count} ` +
          `tables, got ${v}`,
      );
    }
  });
  return Array.from({ length: stages }, (_, s) => ({
    fromPrevious: s > 0,
    byContext: t.context
      ? Int32Array.from(t.context.subarray(s * row, (s + 1) * row))
      : new Int32Array(row).fill(s),
    tables,
  }));
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
  previous: Int32Array | undefined,
): void {
  if (m.fromPrevious && previous?.length !== idx.length) {
    throw new RangeError("this stage's entropy model needs the previous stage's indices");
  }
  const none = m.byContext.length - 1;
  for (let p = 0; p < idx.length; p++) {
    const x = p % w;
    const left = x > 0 ? idx[p - 1] : -1;
    const up = p >= w ? idx[p - w] : -1;
    const c = m.fromPrevious ? previous![p] : left >= 0 ? left : up >= 0 ? up : none;
    const t = m.tables[m.byContext[c]];
    if (left >= 0 && code(t.left, idx[p] === left ? 1 : 0) === 1) {
      idx[p] = left;
      continue;
    }
    if (up >= 0 && up !== left && code(t.up, idx[p] === up ? 1 : 0) === 1) {
      idx[p] = up;
      continue;
    }
    idx[p] = code(t.codes, idx[p]);
  }
}

/**
 * Codes one stage's indices (a `h × w` grid in raster order) into a rANS stream; `previous`, the
 * stage before's indices, is needed after stage 1.
 */
export function encodeStageIndices(
  idx: Int32Array,
  w: number,
  m: StageEntropy,
  previous?: Int32Array,
): Uint8Array {
  const enc = new RansEncoder(idx.length * 2);
  walk(idx.slice(), w, m, (table, symbol) => {
    enc.encode(symbol, table);
    return symbol;
  }, previous);
  return enc.finish();
}

/** Ideal length in bits of a stage under `m` (what the rANS stream meets within its 4-byte state). */
export function stageCodeBits(
  idx: Int32Array,
  w: number,
  m: StageEntropy,
  previous?: Int32Array,
): number {
  let bits = 0;
  walk(idx.slice(), w, m, (table, symbol) => {
    bits += table.cost(symbol);
    return symbol;
  }, previous);
  return bits;
}

/**
 * Decodes `count` indices of a grid `w` wide from a stream of {@link encodeStageIndices} (with
 * the same `previous`).
 * @throws {BitstreamError} when the stream is truncated, corrupt or does not end cleanly
 */
export function decodeStageIndices(
  bytes: Uint8Array,
  count: number,
  w: number,
  m: StageEntropy,
  what: string,
  previous?: Int32Array,
): Int32Array {
  const dec = new RansDecoder(bytes, what);
  const idx = new Int32Array(count);
  walk(idx, w, m, (table) => dec.decode(table), previous);
  dec.finish();
  return idx;
}
