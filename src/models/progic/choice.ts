/**
 * Rate-aware choice of the beam search's path. The search keeps the B complete paths with the
 * lowest latent error ‖y − ŷ‖² at every position; the lowest is not always the best buy: a path
 * whose codes repeat a neighbour's or are frequent under the index entropy model (entropy.ts)
 * can cost several bits fewer for a little more error. Walking the grid in raster order, as the
 * coder does, each position takes the path with the least error + λ · bits, the bits priced by
 * the static tables with the neighbours already chosen. The refinement then spends the bits saved
 * where the residual is largest: on bsds500/test at the default stream (λ = 0.3) Butteraugli's
 * max-norm drops ~1.5% at the same rate (train/README.md, "Rate-aware path choice"). The choice
 * is the encoder's alone; decoders do not know of it. train/choice.py is its twin.
 * @module
 */
import { positionTables, type StageEntropy } from "./entropy.ts";

/** Bits' weight against the latent's squared error (chosen on bsds500/val; train/README.md). */
export const DEFAULT_RATE_WEIGHT = 0.3;

/** The complete paths a beam search kept at each latent position. */
export interface SearchPaths {
  /** `codes[b][s][p]`: path b's code at stage s, position p; path 0 has the lowest error. */
  readonly codes: readonly (readonly Int32Array[])[];
  /** `errors[b][p]`: ‖y − ŷ‖² of path b at position p. */
  readonly errors: readonly Float64Array[];
}

/**
 * Bits the static model of `m` spends on `code` at a position whose left and upper neighbours
 * (−1: none) are coded, `previousCode` the position's code in the stage before (entropy.ts `walk`).
 */
function staticBits(
  m: StageEntropy,
  code: number,
  left: number,
  up: number,
  previousCode: number,
): number {
  const t = positionTables(m, left, up, previousCode);
  let bits = 0;
  if (left >= 0) {
    if (code === left) return t.left.cost(1);
    bits += t.left.cost(0);
  }
  if (up >= 0 && up !== left) {
    if (code === up) return bits + t.up.cost(1);
    bits += t.up.cost(0);
  }
  return bits + t.codes.cost(code);
}

/**
 * Chooses one path per position of a grid `width` wide (raster order): the least error + `weight`
 * · bits under `model`'s static tables, the lower path on ties. Returns each stage's indices.
 */
export function choosePaths(
  paths: SearchPaths,
  width: number,
  model: readonly StageEntropy[],
  weight: number,
): Int32Array[] {
  const beams = paths.codes.length, stages = paths.codes[0].length;
  const n = paths.codes[0][0].length;
  const out = Array.from({ length: stages }, () => new Int32Array(n));
  for (let p = 0; p < n; p++) {
    const x = p % width;
    let best = 0, bestCost = Infinity;
    for (let b = 0; b < beams; b++) {
      const codes = paths.codes[b];
      let cost = paths.errors[b][p];
      for (let s = 0; s < stages; s++) {
        const left = x > 0 ? out[s][p - 1] : -1;
        const up = p >= width ? out[s][p - width] : -1;
        const previous = s > 0 ? codes[s - 1][p] : -1;
        cost += weight * staticBits(model[s], codes[s][p], left, up, previous);
      }
      if (cost < bestCost) {
        best = b;
        bestCost = cost;
      }
    }
    for (let s = 0; s < stages; s++) out[s][p] = paths.codes[best][s][p];
  }
  return out;
}

/**
 * ‖y − Σ_s codebook_s[code]‖² of every path at every position, in float64, from the latent `y`
 * (f32 `[positions, d]`) and the stages' codebooks (f32 `[K, d]`).
 */
export function pathErrors(
  codes: readonly (readonly Int32Array[])[],
  y: Float32Array,
  codebooks: readonly Float32Array[],
  d: number,
): Float64Array[] {
  const n = y.length / d;
  const r = new Float64Array(d);
  return codes.map((path) => {
    const errors = new Float64Array(n);
    for (let p = 0; p < n; p++) {
      for (let e = 0; e < d; e++) r[e] = y[p * d + e];
      path.forEach((idx, s) => {
        const o = idx[p] * d, cb = codebooks[s];
        for (let e = 0; e < d; e++) r[e] -= cb[o + e];
      });
      let sum = 0;
      for (let e = 0; e < d; e++) sum += r[e] * r[e];
      errors[p] = sum;
    }
    return errors;
  });
}
