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
 * stage 1 and ~1.4% of each later stage. Streams since parameters version 5 adapt the tables as
 * the walk goes ({@link IndexCoding}), 1% more.
 * @module
 */
import { FrequencyTable, PROB_BITS, PROB_SCALE } from "../../coding/cdf.ts";
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
  /** Which stage (0: the first) this model codes; the adaptive coding weighs its tables by it. */
  readonly stage: number;
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
    stage: s,
    fromPrevious: s > 0,
    byContext: t.context
      ? Int32Array.from(t.context.subarray(s * row, (s + 1) * row))
      : new Int32Array(row).fill(s),
    tables,
  }));
}

/**
 * How a stage's indices are coded: with the static tables as stored ("static", parameter
 * versions 2–4), or with them adapted as the stage is walked to the codes and flags it has
 * coded so far ("adaptive", version 5; docs/format.md). Within an image a few hundred codes
 * recur (a beach, a sky) and flags fire more or less often than on average; adapting saves ~1%
 * of a stream (train/README.md), bits the refinement then spends.
 */
export type IndexCoding = "static" | "adaptive";

/**
 * Weight of the static code table, in codes, at stages 1, 2, and 3 and later (train/entropy.py
 * ADAPT_CODE_PRIOR; chosen on train images).
 */
const ADAPT_CODE_PRIOR = [800, 1600, 3200];
/** Weight of a flag's static probability, in expected repeats (ADAPT_FLAG_PRIOR). */
const ADAPT_FLAG_PRIOR = 2;

/** A distribution over symbols 0…size−1 by its cumulative bounds in the 2^16 range. */
interface Cumulative {
  readonly size: number;
  /** Start of symbol `s`'s interval: `at(0)` is 0, `at(size)` 2^16, each interval ≥ 1 wide. */
  at(s: number): number;
}

/** A static table as {@link Cumulative}. */
function cumulativeOf(t: FrequencyTable): Cumulative {
  return { size: t.size, at: (s) => t.cdf[s] };
}

/**
 * The adaptive model's state over one stage (docs/format.md, ProGIC parameters version 5). Its
 * arithmetic is exact in binary64 (integers below 2^53, and divisions whose floors are exact), so
 * every engine, and the twin's numpy (train/entropy.py `adapted_cdf`, `adapted_flag`), computes
 * the same intervals.
 */
class StageAdaptation {
  readonly #prior: number;
  /** Fenwick tree of the counts of the codes coded so far (1-based). */
  readonly #tree: Int32Array;
  #coded = 0;
  readonly #hits = [0, 0];
  readonly #expected = [0, 0];
  #flagBound = 0;
  readonly #flag: Cumulative = {
    size: 2,
    at: (s) => s === 0 ? 0 : s === 1 ? this.#flagBound : PROB_SCALE,
  };
  // The code distribution of the current position: static cumulative table and mixing terms.
  #cdf: Int32Array = new Int32Array(1);
  #unit = 0;
  #rest = 0;
  readonly #room: number;
  readonly #codes: Cumulative;

  constructor(stage: number, codes: number) {
    this.#prior = ADAPT_CODE_PRIOR[Math.min(stage, ADAPT_CODE_PRIOR.length - 1)];
    this.#tree = new Int32Array(codes + 1);
    this.#room = PROB_SCALE - codes;
    this.#codes = { size: codes, at: (c) => this.#codeBound(c) };
  }

  /** The distribution of flag `kind` (0 left, 1 up) whose static table is `t`. */
  flag(kind: number, t: FrequencyTable): Cumulative {
    const p = t.frequency(1);
    const a = p *
      ((this.#hits[kind] + ADAPT_FLAG_PRIOR) / (this.#expected[kind] + ADAPT_FLAG_PRIOR));
    const q = Math.min(
      PROB_SCALE - 1,
      Math.max(1, Math.floor((PROB_SCALE * a) / (a + (PROB_SCALE - p)) + 0.5)),
    );
    this.#flagBound = PROB_SCALE - q;
    return this.#flag;
  }

  /** Records the answer to flag `kind` of static table `t`. */
  flagSeen(kind: number, t: FrequencyTable, repeat: boolean): void {
    if (repeat) this.#hits[kind]++;
    this.#expected[kind] += t.frequency(1) / PROB_SCALE;
  }

  /**
   * The distribution of the codes: each code coded so far owns `unit` = ⌊(2^16 − K) / (prior +
   * n)⌋ of the range per time seen, and the static table `t`, less 1 per code, is scaled by its
   * cumulative sums into what is left; a bound costs O(log K), not a new table of K.
   */
  codes(t: FrequencyTable): Cumulative {
    this.#cdf = t.cdf;
    this.#unit = Math.floor(this.#room / (this.#prior + this.#coded));
    this.#rest = this.#room - this.#coded * this.#unit;
    return this.#codes;
  }

  #codeBound(c: number): number {
    let seen = 0;
    for (let i = c; i > 0; i -= i & -i) seen += this.#tree[i];
    return c + Math.floor(((this.#cdf[c] - c) * this.#rest) / this.#room) + this.#unit * seen;
  }

  /** Records a code coded with {@link codes}. */
  codeSeen(code: number): void {
    for (let i = code + 1; i < this.#tree.length; i += i & -i) this.#tree[i]++;
    this.#coded++;
  }
}

/**
 * The tables a position of stage `m` codes with, by its context code: after stage 1 the same
 * position's code in the stage before (`previousCode`), at stage 1 its left neighbour's code,
 * else its upper neighbour's (−1: none), else the first position's own context.
 */
export function positionTables(
  m: StageEntropy,
  left: number,
  up: number,
  previousCode: number,
): ContextTables {
  const c = m.fromPrevious
    ? previousCode
    : left >= 0
    ? left
    : up >= 0
    ? up
    : m.byContext.length - 1;
  return m.tables[m.byContext[c]];
}

/**
 * Walks a stage's grid as the coder does, calling `code` with the distribution (and, when it is
 * a static table, the table) of every decision; the symbol it returns is the decision taken (the
 * encoder returns what it was given, the decoder what it read).
 */
function walk(
  idx: Int32Array,
  w: number,
  m: StageEntropy,
  code: (d: Cumulative, symbol: number, table?: FrequencyTable) => number,
  previous: Int32Array | undefined,
  coding: IndexCoding,
): void {
  if (m.fromPrevious && previous?.length !== idx.length) {
    throw new RangeError("this stage's entropy model needs the previous stage's indices");
  }
  const adapt = coding === "adaptive"
    ? new StageAdaptation(m.stage, m.tables[0].codes.size)
    : undefined;
  const flag = (kind: number, t: FrequencyTable, repeat: boolean): boolean => {
    const symbol = repeat ? 1 : 0;
    const got = adapt ? code(adapt.flag(kind, t), symbol) : code(cumulativeOf(t), symbol, t);
    adapt?.flagSeen(kind, t, got === 1);
    return got === 1;
  };
  for (let p = 0; p < idx.length; p++) {
    const x = p % w;
    const left = x > 0 ? idx[p - 1] : -1;
    const up = p >= w ? idx[p - w] : -1;
    const t = positionTables(m, left, up, m.fromPrevious ? previous![p] : -1);
    if (left >= 0 && flag(0, t.left, idx[p] === left)) {
      idx[p] = left;
      continue;
    }
    if (up >= 0 && up !== left && flag(1, t.up, idx[p] === up)) {
      idx[p] = up;
      continue;
    }
    if (adapt) {
      idx[p] = code(adapt.codes(t.codes), idx[p]);
      adapt.codeSeen(idx[p]);
    } else {
      idx[p] = code(cumulativeOf(t.codes), idx[p], t.codes);
    }
  }
}

/** Width of symbol `s`'s interval. */
function widthOf(d: Cumulative, s: number): number {
  return d.at(s + 1) - d.at(s);
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
  coding: IndexCoding = "adaptive",
): Uint8Array {
  const enc = new RansEncoder(idx.length * 2);
  recordStageIndices(enc, idx, w, m, previous, coding);
  return enc.finish();
}

/**
 * Records one stage's symbols in `enc`, for a stream that holds more than this stage (the stages
 * and refinement of parameters version 6 share one rANS state).
 */
export function recordStageIndices(
  enc: RansEncoder,
  idx: Int32Array,
  w: number,
  m: StageEntropy,
  previous?: Int32Array,
  coding: IndexCoding = "adaptive",
): void {
  walk(
    idx.slice(),
    w,
    m,
    (d, symbol) => {
      enc.encodeInterval(d.at(symbol), widthOf(d, symbol));
      return symbol;
    },
    previous,
    coding,
  );
}

/** Ideal length in bits of a stage under `m` (what the rANS stream meets within its 4-byte state). */
export function stageCodeBits(
  idx: Int32Array,
  w: number,
  m: StageEntropy,
  previous?: Int32Array,
  coding: IndexCoding = "adaptive",
): number {
  let bits = 0;
  walk(
    idx.slice(),
    w,
    m,
    (d, symbol) => {
      bits += PROB_BITS - Math.log2(widthOf(d, symbol));
      return symbol;
    },
    previous,
    coding,
  );
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
  coding: IndexCoding = "adaptive",
): Int32Array {
  const dec = new RansDecoder(bytes, what);
  const idx = readStageIndices(dec, count, w, m, previous, coding);
  dec.finish();
  return idx;
}

/** Decodes one stage's indices recorded by {@link recordStageIndices} from where `dec` stands. */
export function readStageIndices(
  dec: RansDecoder,
  count: number,
  w: number,
  m: StageEntropy,
  previous?: Int32Array,
  coding: IndexCoding = "adaptive",
): Int32Array {
  const idx = new Int32Array(count);
  const search = (d: Cumulative): number => {
    // The last symbol whose interval starts at or below the slot.
    const slot = dec.slot();
    let lo = 0, hi = d.size;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (d.at(mid) <= slot) lo = mid;
      else hi = mid;
    }
    dec.consume(d.at(lo), widthOf(d, lo));
    return lo;
  };
  walk(idx, w, m, (d, _, table) => table ? dec.decode(table) : search(d), previous, coding);
  return idx;
}
