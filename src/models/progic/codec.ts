/**
 * The ProGIC codec: images in, Tessera streams out, and back, on any engine backend.
 *
 * Large images are coded in tiles on the latent grid. Each tile is run with a margin of latent
 * positions around it at least as wide as the network's receptive field, and only its core is
 * kept, so a tiled result equals the untiled one up to float rounding: no seams.
 * @module
 */
import { WEIGHTS_HASH_BYTES } from "../../coding/container.ts";
import { InvalidArgumentError } from "../../errors.ts";
import type { Backend, Executable } from "../../graph/backend.ts";
import type { RgbImage } from "../../io/image.ts";
import { fromTensor, resize, toPaddedTensor } from "../../io/resample.ts";
import { LATENT_STRIDE, type ProgicConfig } from "./config.ts";
import {
  encodeStages,
  gridOf,
  PROGIC_MODEL_IDS,
  type ProgicStream,
  type ProgicStreamModel,
  readProgic,
  stagePayloadBytes,
  type StageSegments,
  writeProgic,
} from "./bitstream.ts";
import { choosePaths, DEFAULT_RATE_WEIGHT, pathErrors } from "./choice.ts";
import {
  decoderGraph,
  encoderGraph,
  encoderIndices,
  encoderPaths,
  refineSearchGraph,
} from "./network.ts";
import { fillOrder, type Refinement, refinementMaps, refinementOf, steered } from "./refine.ts";
import { blockVisibility } from "../../metrics/visibility.ts";
import { VQ_MAX_BEAMS } from "../../ops/vq.ts";
import type { ProgicWeights } from "./weights.ts";

/** How a stream's size is chosen. At most one of `stages`, `bpp`, `maxBytes`. */
export interface ProgicEncodeOptions {
  /** Stages to write (1…N; default N). */
  readonly stages?: number;
  /**
   * Target rate: the most stages whose file's rate does not exceed it (at least one stage).
   * Entropy-coded stages vary in size: the encoder starts from the most stages the fixed-length
   * bound allows and encodes one more at a time while the coded file still fits.
   */
  readonly bpp?: number;
  /**
   * Byte budget for the whole file. The encoder tries the (scale, stages) pairs that fit,
   * downscaling when one stage at full size is too big, and keeps the one whose reconstruction
   * is closest (MSE) to the original. Scales are chosen by the fixed-length size bound, plus
   * larger scales at one stage, climbing while their entropy-coded file fits; at each scale,
   * stages are added while the entropy-coded file still fits.
   */
  readonly maxBytes?: number;
  /**
   * Residual-VQ search width, 1…8: 1 takes each stage's nearest code (greedy); more keeps that
   * many partial paths and writes the one with the least final latent error, which costs encode
   * time only (the stream format and the decoder are the same) and, on average, decodes better
   * at the written stage count; shorter prefixes of such a stream can decode a little worse.
   * Default {@link DEFAULT_BEAMS}.
   */
  readonly beams?: number;
  /**
   * Weight λ ≥ 0 of one bit of the indices against the latent's squared error when the encoder
   * picks one of the beam search's complete paths: it writes the path with the least error + λ ·
   * bits under the index entropy model (choice.ts), so bits go where they lower the error most
   * (the refinement spends what is saved). 0: the least error. Encoder only. Default
   * {@link DEFAULT_RATE_WEIGHT}; no effect with `beams` 1 or weights without entropy tables.
   */
  readonly rateWeight?: number;
  /**
   * Strength in [0, 1] of a light [1 2 1]² blur blended into the image before the encoder (0:
   * none). The decoder is unchanged. Default {@link DEFAULT_PRESMOOTHING}.
   */
  readonly presmoothing?: number;
  /**
   * How a size that is not a multiple of 16 meets the latent grid: `"auto"` (the default)
   * shrinks a side by its remainder when that is at most 4 pixels and at most 1/64 of the side
   * (481 → 480), so no bits go to a latent row or column that holds 1–4 pixels of image; the
   * decoder enlarges back. `"pad"` always pads (replicated edges) and crops after decoding.
   * See {@link fitToGrid}.
   */
  readonly fit?: "auto" | "pad";
  /**
   * Refinement codes after the last stage (when the weights have refinement codebooks and all
   * stages are written): extra codes given one at a time to the latent positions whose residual
   * is largest (refine.ts). `"auto"` (the default) spends what fits in the size limit: `bpp` or
   * `maxBytes` when given, else the size all stages take as fixed-length fields (the paper's
   * 0.195 bpp at 5 × 10 bits per 16×16 block), which the entropy-coded stages leave room under.
   * A number is the mean count of codes per latent position (0: none).
   */
  readonly refine?: number | "auto";
  /**
   * Steer the refinement codes by visibility (the default, `true`): the encoder decodes its
   * stage-N stream once and scales each position's claim by how visibly that decode differs from
   * the image there (src/metrics/visibility.ts, a fitted model of Butteraugli), which lowers the
   * Butteraugli max-norm at the same size. `false`: by residual energy alone, one decoder run
   * less. Encoder only.
   */
  readonly steer?: boolean;
  /** Called with progress messages. */
  readonly onProgress?: (message: string) => void;
}

/** Default residual-VQ search width of {@link ProgicCodec.encode} (bench/RESULTS.md). */
export const DEFAULT_BEAMS = 8;

/**
 * Default post-filter strength of {@link ProgicCodec.decode}: three quarters of the blur. With the
 * pre-filter at 1 the post-filter no longer buys Butteraugli's max-norm (level from 0.625 to 1),
 * and 0.75 keeps it while gaining PSNR, MS-SSIM and the 3-norm over 1 (train/README.md, "The
 * default stream's post-filter").
 */
export const DEFAULT_SMOOTHING = 0.75;

/**
 * Default pre-filter strength of {@link ProgicCodec.encode}: the full blur. Blurring the
 * encoder's input lowers Butteraugli more, for less PSNR, than blurring the decoder's output does
 * (train/README.md, "Encoder pre-filter").
 */
export const DEFAULT_PRESMOOTHING = 1;

/**
 * The size a side of `n` pixels is coded at when {@link ProgicEncodeOptions.fit} is `"auto"`:
 * `n − n mod 16` when that remainder is 1…4 pixels and at most n/64, else `n` (padded).
 */
export function fitToGrid(n: number): number {
  const r = n % LATENT_STRIDE;
  return r > 0 && r <= 4 && 64 * r <= n ? n - r : n;
}

/** What {@link ProgicCodec.encodeIndices} searches for. */
export interface ProgicSearchOptions {
  /** Stages to search (1…N, default N): a beam search aims at the last of them. */
  readonly stages?: number;
  /** Search width (default {@link DEFAULT_BEAMS}); see {@link ProgicEncodeOptions.beams}. */
  readonly beams?: number;
  /** Rate weight (default {@link DEFAULT_RATE_WEIGHT}); see {@link ProgicEncodeOptions.rateWeight}. */
  readonly rateWeight?: number;
  /** Pre-filter strength (default {@link DEFAULT_PRESMOOTHING}); see {@link ProgicEncodeOptions.presmoothing}. */
  readonly presmoothing?: number;
  /** Also return the encoder's latent `y` (f32 `[h, w, C2]`), which refinement starts from. */
  readonly latent?: boolean;
}

/** What an encode produced. */
export interface ProgicEncodeResult {
  /** The stream. */
  readonly bytes: Uint8Array;
  /** Stages written. */
  readonly stages: number;
  /** Coded size (smaller than the image when fitted to the grid or downscaled for a byte budget). */
  readonly codedWidth: number;
  readonly codedHeight: number;
  /** Bits per pixel of the original image, container overhead included. */
  readonly bpp: number;
  /** Refinement codes written after the last stage (0: none). */
  readonly refinementCodes: number;
}

/** Options of {@link ProgicCodec.decode}. */
export interface ProgicDecodeOptions {
  /** Decode only the first k stages (default: all present). */
  readonly stages?: number;
  /**
   * Post-filter strength in [0, 1]: how much of a light [1 2 1]² blur is blended into the
   * decoded image (0: the network's output as it is). Default {@link DEFAULT_SMOOTHING}.
   */
  readonly smoothing?: number;
  /** Decode the intact stages of a damaged stream instead of failing. */
  readonly bestEffort?: boolean;
}

/** A decoded image and how it came out of the stream. */
export interface ProgicDecodeResult {
  /** The image at the stream's display size. */
  readonly image: RgbImage;
  /** Stages used. */
  readonly stages: number;
  /** Stages the encoder wrote. */
  readonly stagesWritten: number;
  /** Refinement codes decoded (0: none, or not used below all stages). */
  readonly refinementCodes: number;
  /** Set when a damaged stream was decoded from its intact prefix. */
  readonly warning?: string;
}

/** Latent positions per tile side, limited by the adapter's largest binding. */
export function maxTileLatent(c: ProgicConfig, maxBindingBytes: number): number {
  // The widest tensor is the FFN's 4·C1 (or 4·192) channels at 1/8 resolution, or the widest
  // beam search's distances (VQ_MAX_BEAMS · K per latent position), whichever is larger.
  const widest = Math.max(4 * Math.max(c.c1, 192) * 4 * 4, VQ_MAX_BEAMS * c.codes * 4);
  return Math.max(8, Math.floor(Math.sqrt(maxBindingBytes / widest)));
}

/**
 * Latent positions of context each side of a tile so its core is unaffected by the cut. (The
 * encoder's pre-filter reaches one pixel further, inside the tile's outermost latent position.)
 */
export function tileMargin(c: ProgicConfig): number {
  const enc = Math.ceil((c.encBlocks + 1) / 2) + 1 + 2 * c.attnK;
  const dec = 2 * c.attnK + 1 + Math.ceil(c.decBlocks / 2);
  return Math.max(enc, dec);
}

interface Tile {
  /** Latent rectangle run through the network (core + margin), and the core within it. */
  y0: number;
  x0: number;
  core: { y0: number; x0: number; y1: number; x1: number };
}

/** Splits an h×w grid into tiles of at most t×t (all the same size, so one graph serves). */
export function planTiles(
  h: number,
  w: number,
  t: number,
  margin: number,
): { size: [number, number]; tiles: Tile[] } {
  if (h <= t && w <= t) {
    return { size: [h, w], tiles: [{ y0: 0, x0: 0, core: { y0: 0, x0: 0, y1: h, x1: w } }] };
  }
  const th = Math.min(h, t), tw = Math.min(w, t);
  // Along one axis: [window start, core start, core end]; the cores tile [0, n) exactly and each
  // keeps `margin` positions of context inside its window except at the image border.
  const cuts = (n: number, size: number): [number, number, number][] => {
    if (n <= size) return [[0, 0, n]];
    const step = size - 2 * margin;
    if (step < 1) throw new InvalidArgumentError(`tile ${size} is too small for margin ${margin}`);
    const out: [number, number, number][] = [];
    for (let c0 = 0; c0 < n;) {
      const c1 = Math.min(n, c0 === 0 ? size - margin : c0 + step);
      out.push([Math.max(0, Math.min(n - size, c0 - margin)), c0, c1]);
      c0 = c1;
    }
    return out;
  };
  const tiles: Tile[] = [];
  for (const [ys, cy0, cy1] of cuts(h, th)) {
    for (const [xs, cx0, cx1] of cuts(w, tw)) {
      tiles.push({ y0: ys, x0: xs, core: { y0: cy0, x0: cx0, y1: cy1, x1: cx1 } });
    }
  }
  return { size: [th, tw], tiles };
}

/** A stream and the indices it holds. */
interface Encoded {
  readonly result: ProgicEncodeResult;
  readonly indices: Int32Array[];
  /** The encoder's latent, when it was asked for (refinement starts from it). */
  readonly latent?: Float32Array;
  readonly refinement?: Refinement;
}

/** How the encoder searches, and whether it refines (see ProgicEncodeOptions). */
interface Search {
  readonly beams?: number;
  readonly rateWeight?: number;
  readonly presmoothing?: number;
  /** Refine streams of all stages (the encoder then keeps the latent). */
  readonly refine: boolean;
  /** Refinement codes per position; absent: as many as fit. */
  readonly refineCount?: number;
  readonly steer?: boolean;
}

/** Positions per run of the refinement search (one compiled graph serves every image). */
const REFINE_CHUNK = 4096;

/** A ProGIC model bound to a backend. Create with {@link ProgicCodec.create}. */
export class ProgicCodec {
  readonly #exes = new Map<string, Promise<Executable>>();
  readonly #tile: number;

  private constructor(
    readonly weights: ProgicWeights,
    readonly backend: Backend,
    readonly modelId: number,
    readonly hash: Uint8Array,
    tileLatent: number,
  ) {
    this.#tile = tileLatent;
  }

  /**
   * @param tileLatent largest tile side in latent positions (1 position = 16 pixels)
   */
  static create(
    weights: ProgicWeights,
    backend: Backend,
    tileLatent = 64,
  ): Promise<ProgicCodec> {
    const id = PROGIC_MODEL_IDS[weights.config.name] ?? 255;
    // The container stores the first bytes of the weights file's SHA-256.
    const hash = hexToBytes(weights.sha256).slice(0, WEIGHTS_HASH_BYTES);
    return Promise.resolve(new ProgicCodec(weights, backend, id, hash, tileLatent));
  }

  /** The model's configuration. */
  get config(): ProgicConfig {
    return this.weights.config;
  }

  #exe(key: string, make: () => import("../../graph/graph.ts").Graph): Promise<Executable> {
    let e = this.#exes.get(key);
    if (!e) {
      e = this.backend.compile(make());
      e.catch(() => this.#exes.delete(key));
      this.#exes.set(key, e);
    }
    return e;
  }

  /**
   * Runs the encoder: RVQ indices of the first `stages` stages on the image's latent grid. A beam
   * search (the default) aims at stage `stages`: a shorter prefix of its indices can decode a
   * little worse than greedy indices would (search with `beams: 1` to serve every prefix).
   */
  async encodeIndices(
    img: RgbImage,
    opts: ProgicSearchOptions = {},
  ): Promise<{ indices: Int32Array[]; h: number; w: number; latent?: Float32Array }> {
    const stages = opts.stages ?? this.config.stages;
    const beams = opts.beams ?? DEFAULT_BEAMS;
    const presmoothing = opts.presmoothing ?? DEFAULT_PRESMOOTHING;
    if (!Number.isInteger(stages) || stages < 1 || stages > this.config.stages) {
      throw new InvalidArgumentError(`stages must be 1…${this.config.stages}, got ${stages}`);
    }
    if (!Number.isInteger(beams) || beams < 1 || beams > VQ_MAX_BEAMS) {
      throw new InvalidArgumentError(`beams must be an integer in 1…${VQ_MAX_BEAMS}, got ${beams}`);
    }
    if (!(presmoothing >= 0 && presmoothing <= 1)) {
      throw new InvalidArgumentError(`presmoothing must be in [0, 1], got ${presmoothing}`);
    }
    const rateWeight = opts.rateWeight ?? DEFAULT_RATE_WEIGHT;
    if (!(rateWeight >= 0 && rateWeight < Infinity)) {
      throw new InvalidArgumentError(`rateWeight must be finite and ≥ 0, got ${rateWeight}`);
    }
    const t = toPaddedTensor(img, LATENT_STRIDE);
    const { h, w } = gridOf(img.width, img.height);
    const plan = planTiles(h, w, this.#tile, tileMargin(this.config));
    const [th, tw] = plan.size;
    // One greedy graph (all stages) serves every prefix; a beam search aims at its last stage.
    const search = beams === 1 || stages === 1
      ? { stages: this.config.stages, beams: 1 }
      : { stages, beams };
    // A rate-aware choice needs every complete path and the latent their errors are measured on.
    const entropy = this.weights.entropy;
    const paths = search.beams > 1 && rateWeight > 0 && entropy !== undefined;
    const latent = (opts.latent ?? false) || paths;
    const exe = await this.#exe(
      `enc:${th}x${tw}:${search.stages}:${search.beams}:${presmoothing}:${latent}:${paths}`,
      () =>
        encoderGraph(this.weights, th * 16, tw * 16, { ...search, presmoothing, latent, paths }),
    );
    const c2 = this.config.c2;
    const y = latent ? new Float32Array(h * w * c2) : undefined;
    const kept = paths ? search.beams : 1;
    const found = Array.from(
      { length: kept },
      () => Array.from({ length: search.stages }, () => new Int32Array(h * w)),
    );
    for (const tile of plan.tiles) {
      const input = cropTensor(t.data, t.width, tile.y0 * 16, tile.x0 * 16, th * 16, tw * 16);
      const res = await exe.run({ image: input });
      const got = paths
        ? encoderPaths(res, search.stages, th * tw)
        : [encoderIndices(res, search.stages, th * tw)];
      got.forEach((path, b) => path.forEach((src, s) => copyCore(src, tw, found[b][s], w, tile)));
      if (y) copyCore(res.latent as Float32Array, tw, y, w, tile, c2);
    }
    const codebooks = this.weights.codebooks;
    const out = paths
      ? choosePaths(
        { codes: found, errors: pathErrors(found, y!, codebooks, c2) },
        w,
        entropy!,
        rateWeight,
      )
      : found[0].slice(0, stages);
    return { indices: out, h, w, ...(y && opts.latent ? { latent: y } : {}) };
  }

  /**
   * The refinement search: each latent position's chain of nearest codes through the refinement
   * books (`chain[e][p]`), starting from y − ŷ(N) of the encoder's latent `y` (f32 `[h, w, C2]`)
   * and the N stages' indices, and the residual energy ‖r‖² before and after each code
   * (`energies[e][p]`, e = 0…E). Empty without refinement codebooks.
   */
  async refineSearch(
    latent: Float32Array,
    indices: readonly Int32Array[],
  ): Promise<{ chain: Int32Array[]; energies: Float64Array[] }> {
    const books = this.weights.refine ?? [];
    const { c2: d } = this.config;
    const n = indices[0].length;
    const r0 = new Float32Array(latent);
    indices.forEach((idx, s) => {
      const cb = this.weights.codebooks[s];
      for (let p = 0; p < n; p++) {
        for (let e = 0, o = idx[p] * d; e < d; e++) r0[p * d + e] -= cb[o + e];
      }
    });
    const chunk = Math.min(n, REFINE_CHUNK);
    if (!books.length) {
      const energy = new Float64Array(n);
      energyOf(r0, d, energy, 0, n);
      return { chain: [], energies: [energy] };
    }
    const exe = await this.#exe(`refine:${chunk}`, () => refineSearchGraph(this.weights, chunk));
    const chain = books.map(() => new Int32Array(n));
    const energies = [0, ...books].map(() => new Float64Array(n));
    energyOf(r0, d, energies[0], 0, n);
    for (let p0 = 0; p0 < n; p0 += chunk) {
      const m = Math.min(chunk, n - p0);
      const residual = new Float32Array(chunk * d);
      residual.set(r0.subarray(p0 * d, (p0 + m) * d));
      const res = await exe.run({ residual });
      books.forEach((_, e) => {
        chain[e].set((res[`refineCodes${e}`] as Int32Array).subarray(0, m), p0);
        energyOf(res[`refineResidual${e}`] as Float32Array, d, energies[e + 1], p0, m);
      });
    }
    return { chain, energies };
  }

  /**
   * Adds refinement codes to an N-stage stream encoded with its latent: as many as keep the file
   * within `fits`, at most `search.refineCount` per position when that is given (the most found
   * by bisection on the count; none when none fit). Other streams are returned as they are.
   */
  async #refine(
    img: RgbImage,
    coded: RgbImage,
    base: Encoded,
    search: Search,
    fits: (bytes: number) => boolean,
  ): Promise<Encoded> {
    if (!base.latent || !this.weights.refine) return base;
    const { chain, energies } = await this.refineSearch(base.latent, base.indices);
    let order = fillOrder(energies);
    // The stages stay the same at every refinement size the search below tries.
    const stages = encodeStages(base.indices, coded.width, coded.height, this.#streamModel);
    const at = (m: number): Encoded => {
      const refinement = m > 0 ? refinementOf(order, m, chain) : undefined;
      return {
        result: this.#pack(img.width, img.height, coded, base.indices, refinement, stages),
        indices: base.indices,
        ...(refinement ? { refinement } : {}),
      };
    };
    let hi = order.length;
    if (search.refineCount !== undefined) {
      hi = Math.min(hi, Math.round(search.refineCount * base.indices[0].length));
    }
    // With every code, which position gets one first does not matter: that stream is the same
    // steered or not, and when it fits there is nothing to steer.
    const every = hi === order.length ? at(hi) : undefined;
    if (every && fits(every.result.bytes.length)) return every;
    if (search.steer !== false) {
      const decoded = await this.decodeIndices(base.indices, coded.width, coded.height);
      order = fillOrder(steered(energies, blockVisibility(coded, decoded)));
    }
    const most = every ?? at(hi);
    if (fits(most.result.bytes.length)) return most;
    let best = base, lo = 0;
    hi--;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      const e = at(mid);
      if (fits(e.result.bytes.length)) {
        best = e;
        lo = mid;
      } else hi = mid - 1;
    }
    return best;
  }

  /**
   * Runs the decoder on the first `indices.length` stages, post-filtered at `smoothing` (see
   * {@link ProgicDecodeOptions.smoothing}); returns the coded-size image.
   */
  async decodeIndices(
    indices: readonly Int32Array[],
    width: number,
    height: number,
    smoothing = DEFAULT_SMOOTHING,
    refinement?: Refinement,
  ): Promise<RgbImage> {
    const stages = indices.length;
    if (stages < 1 || stages > this.config.stages) {
      throw new InvalidArgumentError(`stages must be 1…${this.config.stages}, got ${stages}`);
    }
    if (!(smoothing >= 0 && smoothing <= 1)) {
      throw new InvalidArgumentError(`smoothing must be in [0, 1], got ${smoothing}`);
    }
    const { h, w } = gridOf(width, height);
    const plan = planTiles(h, w, this.#tile, tileMargin(this.config));
    const [th, tw] = plan.size;
    const books = refinement && stages === this.config.stages
      ? Math.max(0, ...refinement.depth)
      : 0;
    if (books > (this.weights.refine?.length ?? 0)) {
      throw new InvalidArgumentError(
        `the refinement is ${books} codes deep; the model has ${
          this.weights.refine?.length ?? 0
        } refinement codebooks`,
      );
    }
    const maps = books ? refinementMaps(refinement!, books, this.config.codes) : [];
    const exe = await this.#exe(
      `dec:${th}x${tw}:${stages}:${smoothing}:${books}`,
      () => decoderGraph(this.weights, th, tw, stages, smoothing, books),
    );
    const full = new Float32Array(h * 16 * w * 16 * 3);
    for (const tile of plan.tiles) {
      const feed: Record<string, Int32Array> = {};
      indices.forEach((
        idx,
        s,
      ) => (feed[`indices${s}`] = cropGrid(idx, w, tile.y0, tile.x0, th, tw)));
      maps.forEach((m, e) => (feed[`refine${e}`] = cropGrid(m, w, tile.y0, tile.x0, th, tw)));
      const res = await exe.run(feed);
      pasteCorePixels(res.image as Float32Array, tw * 16, full, w * 16, tile);
    }
    return fromTensor(full, w * 16, width, height);
  }

  /** Encodes an RGB image into a Tessera stream. */
  async encode(img: RgbImage, opts: ProgicEncodeOptions = {}): Promise<ProgicEncodeResult> {
    const n = this.config.stages;
    const modes = [opts.stages, opts.bpp, opts.maxBytes].filter((v) => v !== undefined);
    if (modes.length > 1) {
      throw new InvalidArgumentError("give at most one of stages, bpp, maxBytes");
    }
    const fit = opts.fit ?? "auto";
    if (fit !== "auto" && fit !== "pad") {
      throw new InvalidArgumentError(`fit must be "auto" or "pad", got ${JSON.stringify(fit)}`);
    }
    const refine = opts.refine ?? "auto";
    const books = this.weights.refine?.length ?? 0;
    if (refine !== "auto" && !(typeof refine === "number" && refine >= 0 && refine <= books)) {
      throw new InvalidArgumentError(
        books
          ? `refine must be "auto" or a number in [0, ${books}], got ${refine}`
          : `this model has no refinement codebooks: refine must be "auto" or 0, got ${refine}`,
      );
    }
    if (typeof refine === "number" && refine > 0 && opts.stages !== undefined && opts.stages < n) {
      throw new InvalidArgumentError(
        `refinement follows all ${n} stages; got stages ${opts.stages} with refine ${refine}`,
      );
    }
    const search: Search = {
      beams: opts.beams,
      rateWeight: opts.rateWeight,
      presmoothing: opts.presmoothing,
      refine: books > 0 && refine !== 0,
      refineCount: typeof refine === "number" ? refine : undefined,
      steer: opts.steer,
    };
    const fitted = (w: number, h: number): [number, number] =>
      fit === "auto" ? [fitToGrid(w), fitToGrid(h)] : [w, h];
    if (opts.maxBytes !== undefined) {
      return this.#encodeBudget(img, opts.maxBytes, search, fitted, opts.onProgress);
    }
    const [cw, ch] = fitted(img.width, img.height);
    let stages = n;
    if (opts.stages !== undefined) {
      if (!Number.isInteger(opts.stages) || opts.stages < 1 || opts.stages > n) {
        throw new InvalidArgumentError(`stages must be an integer in 1…${n}, got ${opts.stages}`);
      }
      stages = opts.stages;
    }
    const bpp = opts.bpp;
    const withinRate = (bytes: number) => bytes * 8 / (img.width * img.height) <= bpp!;
    if (bpp !== undefined) {
      if (!(bpp > 0)) throw new InvalidArgumentError(`bpp must be positive, got ${bpp}`);
      stages = 1;
      for (let k = n; k >= 1; k--) {
        if (withinRate(this.#sizeBound(img.width, img.height, cw, ch, k))) {
          stages = k;
          break;
        }
      }
    }
    opts.onProgress?.(
      `encoding ${img.width}×${img.height}${
        cw !== img.width || ch !== img.height ? ` as ${cw}×${ch}` : ""
      }, ${stages} stage(s)`,
    );
    const coded = resize(img, cw, ch);
    const first = await this.#encodeAt(img, coded, stages, search);
    if (bpp === undefined) {
      // Without a rate, refinement fills up to the stages' fixed-length size.
      const bound = this.#sizeBound(img.width, img.height, cw, ch, n);
      const fits = search.refineCount === undefined ? (b: number) => b <= bound : () => true;
      return (await this.#refine(img, coded, first, search, fits)).result;
    }
    if (!withinRate(first.result.bytes.length)) return first.result;
    const staged = await this.#addStagesWithin(img, coded, first, withinRate, search);
    return (await this.#refine(img, coded, staged, search, withinRate)).result;
  }

  /** Encodes `coded` (the image as coded) at `stages` stages into a stream of `img`'s size. */
  async #encodeAt(
    img: RgbImage,
    coded: RgbImage,
    stages: number,
    search: Search,
  ): Promise<Encoded> {
    const { indices, latent } = await this.encodeIndices(coded, {
      stages,
      beams: search.beams,
      rateWeight: search.rateWeight,
      presmoothing: search.presmoothing,
      latent: search.refine && stages === this.config.stages,
    });
    return {
      result: this.#pack(img.width, img.height, coded, indices),
      indices,
      ...(latent ? { latent } : {}),
    };
  }

  /**
   * Starting from a stream that fits, encodes one stage more at a time while the file still
   * fits (entropy-coded stages can beat the fixed-length bound the start was chosen by).
   */
  async #addStagesWithin(
    img: RgbImage,
    coded: RgbImage,
    start: Encoded,
    fits: (bytes: number) => boolean,
    search: Search,
  ): Promise<Encoded> {
    let best = start;
    while (this.weights.entropy && best.indices.length < this.config.stages) {
      const more = await this.#encodeAt(img, coded, best.indices.length + 1, search);
      if (!fits(more.result.bytes.length)) break;
      best = more;
    }
    return best;
  }

  /** What this model's streams are written and read with. */
  get #streamModel(): ProgicStreamModel {
    return {
      id: this.modelId,
      weightsHash: this.hash,
      codes: this.config.codes,
      entropy: this.weights.entropy,
      refineBooks: this.weights.refine?.length ?? 0,
    };
  }

  #pack(
    width: number,
    height: number,
    coded: RgbImage,
    indices: Int32Array[],
    refinement?: Refinement,
    stages?: StageSegments,
  ): ProgicEncodeResult {
    const stream: ProgicStream = {
      width,
      height,
      codedWidth: coded.width,
      codedHeight: coded.height,
      indices,
      stagesWritten: indices.length,
      ...(refinement ? { refinement } : {}),
    };
    const bytes = writeProgic(stream, this.#streamModel, { stages });
    return {
      bytes,
      stages: indices.length,
      codedWidth: coded.width,
      codedHeight: coded.height,
      bpp: (bytes.length * 8) / (width * height),
      refinementCodes: refinement?.codes.length ?? 0,
    };
  }

  /** Largest size of a stream (every stage as fixed-length fields), by writing an all-zero one. */
  #sizeBound(width: number, height: number, cw: number, ch: number, stages: number): number {
    const { h, w } = gridOf(cw, ch);
    const zeros = Array.from({ length: stages }, () => new Int32Array(h * w));
    return writeProgic(
      { width, height, codedWidth: cw, codedHeight: ch, indices: zeros, stagesWritten: stages },
      this.#streamModel,
      { fixed: true },
    ).length;
  }

  async #encodeBudget(
    img: RgbImage,
    maxBytes: number,
    search: Search,
    fitted: (w: number, h: number) => [number, number],
    progress?: (m: string) => void,
  ): Promise<ProgicEncodeResult> {
    const bits = Math.log2(this.config.codes);
    const codedSize = (s: number) =>
      fitted(Math.max(1, Math.round(img.width * s)), Math.max(1, Math.round(img.height * s)));
    const fits = (s: number, k: number) => {
      const [cw, ch] = codedSize(s);
      return this.#sizeBound(img.width, img.height, cw, ch, k) <= maxBytes;
    };
    // Candidate scales: 1 and a geometric ladder down to a 16-pixel short side.
    const scales: number[] = [];
    for (let s = 1; Math.min(img.width, img.height) * s >= 16 || scales.length === 0; s *= 0.8) {
      scales.push(s);
      if (Math.min(img.width, img.height) * s < 16) break;
    }
    // Scales where some stage count fits the fixed-length bound (the first three), and the
    // larger ones, where it does not.
    const bounded: { s: number; k: number }[] = [];
    const larger: number[] = [];
    for (const s of scales) {
      let best = 0;
      for (let k = this.config.stages; k >= 1; k--) {
        if (fits(s, k)) {
          best = k;
          break;
        }
      }
      if (best) bounded.push({ s, k: best });
      else if (!bounded.length) larger.unshift(s);
      if (bounded.length >= 3) break;
    }
    // Entropy coding can fit one stage at larger scales than the bound allows: climb from the
    // smallest of them while one does.
    const candidates = [
      ...(this.weights.entropy ? larger : []).map((s) => ({ s, k: 1, bounded: false })),
      ...bounded.map((c) => ({ ...c, bounded: true })),
    ];
    let best: { res: ProgicEncodeResult; mse: number } | undefined;
    let climbing = true;
    for (const { s, k, bounded } of candidates) {
      if (!bounded && !climbing) continue;
      const [cw, ch] = codedSize(s);
      const coded = resize(img, cw, ch);
      const start = await this.#encodeAt(img, coded, k, search);
      if (!bounded && start.result.bytes.length > maxBytes) {
        progress?.(
          `candidate scale ${s.toFixed(3)} (${cw}×${ch}): one stage takes ` +
            `${start.result.bytes.length} bytes`,
        );
        climbing = false;
        continue;
      }
      const within = (bytes: number) => bytes <= maxBytes;
      const staged = await this.#addStagesWithin(img, coded, start, within, search);
      const { result, indices, refinement } = await this.#refine(
        img,
        coded,
        staged,
        search,
        within,
      );
      const rec = resize(
        await this.decodeIndices(indices, cw, ch, DEFAULT_SMOOTHING, refinement),
        img.width,
        img.height,
      );
      const mse = meanSquaredError(rec, img);
      progress?.(
        `candidate scale ${s.toFixed(3)} (${cw}×${ch}), ${result.stages} stage(s)` +
          (result.refinementCodes ? ` + ${result.refinementCodes} refinement codes` : "") +
          `: MSE ${mse.toFixed(1)}`,
      );
      if (!best || mse < best.mse) best = { res: result, mse };
    }
    if (!best) {
      const one = stagePayloadBytes(16, 16, bits);
      throw new InvalidArgumentError(
        `a budget of ${maxBytes} bytes cannot hold even one stage of a 16-pixel image (${one} bytes ` +
          `of indices plus the header)`,
      );
    }
    return best.res;
  }

  /** Decodes a stream produced with this model. */
  async decode(bytes: Uint8Array, opts: ProgicDecodeOptions = {}): Promise<ProgicDecodeResult> {
    const s = readProgic(bytes, { ...this.#streamModel, stages: this.config.stages }, {
      bestEffort: opts.bestEffort,
    });
    if (s.indices.length === 0) {
      throw s.file.error ?? new InvalidArgumentError("the stream holds no complete stage");
    }
    let k = s.indices.length;
    if (opts.stages !== undefined) {
      if (!Number.isInteger(opts.stages) || opts.stages < 1) {
        throw new InvalidArgumentError(`stages must be a positive integer, got ${opts.stages}`);
      }
      k = Math.min(k, opts.stages);
    }
    const refinement = k === this.config.stages ? s.refinement : undefined;
    const coded = await this.decodeIndices(
      s.indices.slice(0, k),
      s.codedWidth,
      s.codedHeight,
      opts.smoothing,
      refinement,
    );
    const lost = s.indices.length < s.stagesWritten
      ? `${s.indices.length} of ${s.stagesWritten} stages present`
      : s.refinementLost
      ? `the refinement after the ${s.stagesWritten} stages is missing`
      : undefined;
    return {
      image: resize(coded, s.width, s.height),
      stages: k,
      stagesWritten: s.stagesWritten,
      refinementCodes: refinement?.codes.length ?? 0,
      warning: lost && s.file.error
        ? `decoded what is intact (${lost}): ${s.file.error.message}`
        : lost
        ? `stream truncated: ${lost}`
        : undefined,
    };
  }
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function cropTensor(
  src: Float32Array,
  srcW: number,
  y0: number,
  x0: number,
  h: number,
  w: number,
): Float32Array {
  const out = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    out.set(src.subarray(((y0 + y) * srcW + x0) * 3, ((y0 + y) * srcW + x0 + w) * 3), y * w * 3);
  }
  return out;
}

function cropGrid(
  src: Int32Array,
  srcW: number,
  y0: number,
  x0: number,
  h: number,
  w: number,
): Int32Array {
  const out = new Int32Array(h * w);
  for (let y = 0; y < h; y++) {
    out.set(src.subarray((y0 + y) * srcW + x0, (y0 + y) * srcW + x0 + w), y * w);
  }
  return out;
}

/** Copies a tile's core from a per-position array with `c` values per position. */
function copyCore<T extends Int32Array | Float32Array>(
  tile: T,
  tw: number,
  dst: T,
  w: number,
  t: Tile,
  c = 1,
): void {
  for (let y = t.core.y0; y < t.core.y1; y++) {
    const row = (y - t.y0) * tw - t.x0;
    dst.set(tile.subarray((row + t.core.x0) * c, (row + t.core.x1) * c), (y * w + t.core.x0) * c);
  }
}

/** ‖r‖² (in float64) of `count` vectors of length d into `out` from position `at`. */
function energyOf(r: Float32Array, d: number, out: Float64Array, at: number, count: number): void {
  for (let p = 0; p < count; p++) {
    let s = 0;
    for (let e = 0; e < d; e++) s += r[p * d + e] * r[p * d + e];
    out[at + p] = s;
  }
}

function pasteCorePixels(
  tilePx: Float32Array,
  tileW: number,
  dst: Float32Array,
  dstW: number,
  t: Tile,
): void {
  for (let y = t.core.y0 * 16; y < t.core.y1 * 16; y++) {
    const src = ((y - t.y0 * 16) * tileW - t.x0 * 16) * 3;
    dst.set(
      tilePx.subarray(src + t.core.x0 * 48, src + t.core.x1 * 48),
      (y * dstW + t.core.x0 * 16) * 3,
    );
  }
}

function meanSquaredError(a: RgbImage, b: RgbImage): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += (a.data[i] - b.data[i]) ** 2;
  return s / a.data.length;
}
