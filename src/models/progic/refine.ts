/**
 * The refinement section of a ProGIC stream: up to E more residual-VQ codes per latent position
 * beyond the last stage, from the weights' refinement codebooks (`rvq.refine`), given where the
 * stage-N residual is largest and most visible (train/refine.py; docs/format.md).
 *
 * The encoder's rule, shared with the PyTorch twin: every position's chain of greedy nearest
 * codes through the E books is searched; codes are then handed out one at a time to the position
 * whose residual energy is currently largest (the lower position on ties), at most E each, so a
 * budget of m codes takes the first m of one fixed order ({@link fillOrder}). By default the
 * energies are first scaled by how visibly the stage-N decode differs from the image at each
 * position ({@link steered}). The decoder reads depths and codes and needs neither rule.
 *
 * Segment layout (ProGIC parameters versions 4 to 6): u8 E′ (the deepest position's code count,
 * 1…E), then rANS-coded symbols (version 6: the last part of the file's one stream, bitstream.ts;
 * versions 4 and 5: a stream of their own) that hold, position by position in raster order, the
 * depth under an adaptive model ({@link DepthModel}: counts per context, the context being how
 * many of the left and upper neighbours have codes) and then that many codes as raw log2(K)-bit
 * fields. Version 3
 * wrote the depths under one static table of this image's counts, stored after E′; the reader
 * keeps reading it (`layout: "table"`).
 * @module
 */
import { ByteReader, concatBytes } from "../../coding/bytes.ts";
import { FrequencyTable, readFrequencyTable } from "../../coding/cdf.ts";
import { RansDecoder, RansEncoder } from "../../coding/rans.ts";
import { BitstreamError, InvalidArgumentError } from "../../errors.ts";

/** Refinement codes of one image: how many each latent position has, and the codes. */
export interface Refinement {
  /** Codes per position (raster order), 0…E. */
  readonly depth: Uint8Array;
  /** All codes, position by position in raster order, each position's in book order. */
  readonly codes: Int32Array;
}

/**
 * Power of the visibility that scales each position's residual energies in {@link steered}. On
 * 40 bsds500/val images the default stream's mean Butteraugli max-norm fell 1.0% at power 2 and
 * 1.3–1.4% at 3, 4 and 6 (train/README.md, "Steering refinement by visibility").
 */
export const STEER_POWER = 3;

/**
 * Residual energies with position p's scaled by `visibility[p]^power`, so that
 * {@link fillOrder} hands codes to where the residual is large *and* the decoded stage-N image
 * differs visibly from the source (src/metrics/visibility.ts). The twin's `refine.steered`.
 */
export function steered(
  energies: readonly Float64Array[],
  visibility: Float64Array,
  power = STEER_POWER,
): Float64Array[] {
  if (visibility.length !== energies[0].length) {
    throw new InvalidArgumentError(
      `visibility has ${visibility.length} positions, the energies ${energies[0].length}`,
    );
  }
  const weight = visibility.map((v) => v ** power);
  return energies.map((e) => e.map((v, p) => v * weight[p]));
}

/**
 * Positions in the order they receive refinement codes (length E·P): each time the position
 * whose current residual energy is largest, the lower position on ties.
 * @param energies `energies[e][p]`: ‖r‖² of position p after its first e codes (e = 0…E)
 */
export function fillOrder(energies: readonly Float64Array[]): Int32Array {
  const books = energies.length - 1, n = energies[0].length;
  const depth = new Uint8Array(n);
  const order = new Int32Array(books * n);
  // A binary max-heap of positions keyed by (energy, −position).
  const heap = Int32Array.from({ length: n }, (_, p) => p);
  const key = (p: number) => energies[depth[p]][p];
  const above = (a: number, b: number) => key(a) > key(b) || (key(a) === key(b) && a < b);
  const down = (i: number, size: number) => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let top = i;
      if (l < size && above(heap[l], heap[top])) top = l;
      if (r < size && above(heap[r], heap[top])) top = r;
      if (top === i) return;
      [heap[i], heap[top]] = [heap[top], heap[i]];
      i = top;
    }
  };
  let size = n;
  for (let i = (size >> 1) - 1; i >= 0; i--) down(i, size);
  for (let k = 0; k < order.length; k++) {
    const p = heap[0];
    order[k] = p;
    if (++depth[p] === books) heap[0] = heap[--size];
    down(0, size);
  }
  return order;
}

/** The refinement a budget of the first `m` positions of `order` gives, from each position's code chain. */
export function refinementOf(
  order: Int32Array,
  m: number,
  chain: readonly Int32Array[],
): Refinement {
  const n = chain[0].length;
  const depth = new Uint8Array(n);
  for (let k = 0; k < m; k++) depth[order[k]]++;
  let total = 0;
  for (let p = 0; p < n; p++) total += depth[p];
  const codes = new Int32Array(total);
  for (let p = 0, j = 0; p < n; p++) {
    for (let e = 0; e < depth[p]; e++) codes[j++] = chain[e][p];
  }
  return { depth, codes };
}

/** Codes per book as index maps for the decoder: `maps[e][p]` is position p's e-th code, or `codes` (no code). */
export function refinementMaps(r: Refinement, books: number, codes: number): Int32Array[] {
  const n = r.depth.length;
  const maps = Array.from({ length: books }, () => new Int32Array(n).fill(codes));
  for (let p = 0, j = 0; p < n; p++) {
    for (let e = 0; e < r.depth[p]; e++) maps[e][p] = r.codes[j++];
  }
  return maps;
}

/** How a refinement section codes its depths: ProGIC parameters versions 4–6 ("adaptive") or 3. */
export type RefinementLayout = "adaptive" | "table";

/**
 * The adaptive depth model of versions 4 to 6. Each position's context is the number (0–2) of its left
 * and upper neighbours that have codes: refined positions cluster where the image is busy. Each
 * context's counts start at 1 per depth and grow by 2 per depth seen, and a depth is coded under
 * the table those counts quantize to (`FrequencyTable.fromProbabilities`), so no table is stored:
 * measured on the default refinement of progic-t over bsds500/test, 484 bits per image against
 * 563 for the static per-image table plus ~96 for storing it.
 */
class DepthModel {
  readonly #counts: Float64Array[];
  readonly #width: number;
  readonly #depth: Uint8Array;

  constructor(deepest: number, width: number, depth: Uint8Array) {
    this.#counts = Array.from({ length: 3 }, () => new Float64Array(deepest + 1).fill(1));
    this.#width = width;
    this.#depth = depth;
  }

  /** The table position `p` is coded with; its left and upper neighbours' depths must be known. */
  table(p: number): FrequencyTable {
    return FrequencyTable.fromProbabilities(this.#counts[this.#context(p)]);
  }

  /** Records position `p`'s depth (already in the depth map) in its context's counts. */
  update(p: number): void {
    this.#counts[this.#context(p)][this.#depth[p]] += 2;
  }

  #context(p: number): number {
    const left = p % this.#width > 0 && this.#depth[p - 1] > 0 ? 1 : 0;
    const up = p >= this.#width && this.#depth[p - this.#width] > 0 ? 1 : 0;
    return left + up;
  }
}

/** The deepest position's code count, checked against what a segment can hold. */
function deepestOf(depth: Uint8Array): number {
  let deepest = 0;
  for (const d of depth) deepest = Math.max(deepest, d);
  if (deepest < 1 || deepest > 255) {
    throw new InvalidArgumentError(`a refinement needs 1…255 codes at its deepest, got ${deepest}`);
  }
  return deepest;
}

/**
 * Writes a refinement segment of a grid `width` positions wide in its own rANS stream (parameters
 * versions 4 and 5; `r` must hold at least one code).
 */
export function encodeRefinement(r: Refinement, width: number, bits: number): Uint8Array {
  const enc = new RansEncoder(r.depth.length + r.codes.length);
  const deepest = recordRefinement(enc, r, width, bits);
  return concatBytes([Uint8Array.of(deepest), enc.finish()]);
}

/**
 * Records a refinement's depths and codes in `enc` and returns E′, the byte that precedes them
 * in the segment: for a stream that holds more than the refinement (parameters version 6, where
 * the stages and the refinement share one rANS state).
 */
export function recordRefinement(
  enc: RansEncoder,
  r: Refinement,
  width: number,
  bits: number,
): number {
  const deepest = deepestOf(r.depth);
  // The adaptive tables depend on the depths before; computed forwards, as the decoder will.
  const model = new DepthModel(deepest, width, r.depth);
  for (let p = 0, j = 0; p < r.depth.length; p++) {
    enc.encode(r.depth[p], model.table(p));
    model.update(p);
    for (let e = 0; e < r.depth[p]; e++) enc.encodeBits(r.codes[j++], bits);
  }
  return deepest;
}

/** The grid and model a refinement segment is read against. */
export interface RefinementGeometry {
  /** Latent positions (the grid's height × width). */
  readonly positions: number;
  /** The grid's width in positions. */
  readonly width: number;
  /** Refinement codebooks the loaded weights carry. */
  readonly books: number;
  /** Bits per code, log2(K). */
  readonly bits: number;
}

/**
 * Reads a refinement segment that holds its own rANS stream (versions 3 to 5).
 * @throws {BitstreamError} when it is malformed, truncated, or deeper than the `books` the model has
 */
export function decodeRefinement(
  bytes: Uint8Array,
  g: RefinementGeometry,
  layout: RefinementLayout = "adaptive",
): Refinement {
  const what = "refinement";
  const br = new ByteReader(bytes, what);
  const deepest = refinementDepth(br.u8("refinement depth"), g);
  let table: FrequencyTable | undefined;
  if (layout === "table") {
    table = readFrequencyTable(br, "refinement depth table");
    if (table.size !== deepest + 1) {
      throw new BitstreamError(
        `the refinement depth table has ${table.size} symbols, not ${deepest + 1}`,
      );
    }
  }
  const dec = new RansDecoder(bytes.subarray(bytes.length - br.remaining), what);
  const r = readRefinement(dec, deepest, g, table);
  dec.finish();
  return r;
}

/**
 * Checks a segment's E′ (its first byte) against the model's books.
 * @throws {BitstreamError} when it is 0 or deeper than the model's books
 */
export function refinementDepth(deepest: number, g: RefinementGeometry): number {
  if (deepest < 1 || deepest > g.books) {
    throw new BitstreamError(
      `the refinement is ${deepest} codes deep; the model has ${g.books} refinement codebooks`,
      g.books === 0 ? "UNSUPPORTED" : "BITSTREAM",
    );
  }
  return deepest;
}

/**
 * Decodes the depths and codes that {@link recordRefinement} recorded, from where `dec` stands;
 * `table`: version 3's stored depth table (else the adaptive model).
 */
export function readRefinement(
  dec: RansDecoder,
  deepest: number,
  g: RefinementGeometry,
  table?: FrequencyTable,
): Refinement {
  const depth = new Uint8Array(g.positions);
  // Version 3's stored table serves every position; the later versions' model adapts as it goes.
  const model = table ? undefined : new DepthModel(deepest, g.width, depth);
  const codes: number[] = [];
  for (let p = 0; p < g.positions; p++) {
    depth[p] = dec.decode(table ?? model!.table(p));
    model?.update(p);
    for (let e = 0; e < depth[p]; e++) codes.push(dec.decodeBits(g.bits));
  }
  return { depth, codes: Int32Array.from(codes) };
}
