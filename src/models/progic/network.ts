/**
 * Builds ProGIC's encoder and decoder as engine graphs (docs/progic.md). This module knows the
 * architecture and nothing of GPU buffers: it only adds ops to a {@link GraphBuilder}.
 *
 * Fusions: every ReLU, bias, per-stage modulation and residual add rides in the epilogue of the
 * convolution before it, and the attention gate `x + a·σ(mask_conv(m))` is one convolution with
 * a sigmoid, multiply and residual epilogue.
 * @module
 */
import { type Graph, GraphBuilder, type Value } from "../../graph/graph.ts";
import { conv2d, type Conv2dAttrs } from "../../ops/conv2d.ts";
import { binary, gate } from "../../ops/elementwise.ts";
import type { Activation } from "../../ops/epilogue.ts";
import { pixelShuffle, pixelUnshuffle, reshape } from "../../ops/layout.ts";
import { matmul } from "../../ops/matmul.ts";
import type { HostArray } from "../../graph/tensor.ts";
import { smooth } from "../../ops/smooth.ts";
import { gather, VQ_MAX_BEAMS, vqBeamSelect, vqResidual, vqSearch } from "../../ops/vq.ts";
import { LATENT_STRIDE } from "./config.ts";
import type {
  AttentionWeights,
  ConvWeights,
  DcbWeights,
  Modulation,
  ProgicWeights,
} from "./weights.ts";

interface ConvOpts {
  act?: Activation;
  mod?: { scale: Float32Array; shift: Float32Array };
  mul?: Value;
  residual?: Value;
  stride?: number;
  padding?: number;
  groups?: number;
}

class Builder {
  readonly g = new GraphBuilder();
  #n = 0;

  conv(x: Value, cw: ConvWeights, name: string, o: ConvOpts = {}): Value {
    const inputs = [
      x,
      this.g.constant(`${name}.w`, cw.w, cw.shape),
      this.g.constant(`${name}.b`, cw.b, [cw.b.length]),
    ];
    if (o.mod) {
      inputs.push(this.g.constant(`${name}.s`, o.mod.scale, [o.mod.scale.length]));
      inputs.push(this.g.constant(`${name}.t`, o.mod.shift, [o.mod.shift.length]));
    }
    if (o.mul) inputs.push(o.mul);
    if (o.residual) inputs.push(o.residual);
    const attrs: Conv2dAttrs = {
      stride: o.stride,
      padding: o.padding,
      groups: o.groups,
      epilogue: { bias: true, act: o.act, affine: !!o.mod, mul: !!o.mul, residual: !!o.residual },
    };
    return this.g.op1(conv2d, inputs, attrs, `${name}#${this.#n++}`);
  }

  /** One DepthConv block; `stage` (0-based) selects the modulation vectors. */
  dcb(x: Value, p: DcbWeights, name: string, stage: number, shortcut = false): Value {
    if (p.adaptor) x = this.conv(x, p.adaptor, `${name}.adaptor`);
    const c = p.pw1.b.length;
    let t = this.conv(x, p.pw1, `${name}.dc.pw1`, { act: "relu" });
    t = this.conv(t, p.dw, `${name}.dc.dw`, { padding: 1, groups: c });
    const h = this.conv(t, p.pw2, `${name}.dc.pw2`, { mod: pick(p.modDc, stage), residual: x });
    let u = this.conv(h, p.ffn1, `${name}.ffn.pw1`);
    u = this.g.op1(gate, [u], { act: "relu" }, `${name}.ffn.gate#${this.#n++}`);
    const out = this.conv(u, p.ffn2, `${name}.ffn.pw2`, {
      mod: pick(p.modFfn, stage),
      residual: h,
    });
    return shortcut
      ? this.g.op1(binary, [out, x], { op: "add" }, `${name}.shortcut#${this.#n++}`)
      : out;
  }

  attention(x: Value, p: AttentionWeights, name: string, stage: number): Value {
    let a = x, m = x;
    p.trunk.forEach((b, j) => (a = this.dcb(a, b, `${name}.trunk.${j}`, stage)));
    p.mask.forEach((b, j) => (m = this.dcb(m, b, `${name}.mask.${j}`, stage)));
    return this.conv(m, p.maskConv, `${name}.mask_conv`, { act: "sigmoid", mul: a, residual: x });
  }
}

function pick(m: Modulation | undefined, stage: number) {
  return m ? { scale: m.scale[stage], shift: m.shift[stage] } : undefined;
}

/** Options of {@link encoderGraph}. */
export interface EncoderGraphOptions {
  /** Also output the latent `y` and each stage's search gap (for parity tests). */
  readonly debug?: boolean;
  /** Also output the latent `y` (what the refinement search starts from). */
  readonly latent?: boolean;
  /**
   * Residual-VQ search width: 1 = greedy (each stage takes the code nearest its residual);
   * B > 1 = beam search keeping the B best partial paths (lowest residual energy), which
   * lowers the final stage's error; see {@link beamWidths}. Default 1.
   */
  readonly beams?: number;
  /** Search only the first `stages` codebooks (default all); a beam search aims at the last. */
  readonly stages?: number;
  /**
   * Keep all `beams` complete paths at the last stage, not only the winner (for a rate-aware
   * choice among them, choice.ts); {@link encoderPaths} reads them.
   */
  readonly paths?: boolean;
  /**
   * Strength of the {@link smooth} blur applied to the image before the encoder, in [0, 1]
   * (default 0: none). The decoder is the same; see ProgicEncodeOptions.presmoothing.
   */
  readonly presmoothing?: number;
}

/**
 * Beams kept after each stage of a B-wide search: B after every stage but the last, which keeps
 * the winner (or, with `paths`, all B complete paths). The search aims at the last searched stage
 * only, so a shorter prefix of its stream can decode slightly worse than a greedy one
 * (bench/RESULTS.md).
 */
export function beamWidths(stages: number, beams: number, paths = false): number[] {
  return Array.from({ length: stages }, (_, s) => (s < stages - 1 || paths ? beams : 1));
}

// Transposed codebooks and their squared norms, made once per codebook array so that every
// encoder graph passes the same constants (uploaded once per device).
const searchConstants = new WeakMap<Float32Array, { t: Float32Array; norms: Float32Array }>();

function codebookConstants(cb: Float32Array, k: number, d: number) {
  let c = searchConstants.get(cb);
  if (!c) {
    const t = new Float32Array(k * d), norms = new Float32Array(k);
    for (let i = 0; i < k; i++) {
      let s = 0;
      for (let e = 0; e < d; e++) {
        const v = cb[i * d + e];
        t[e * k + i] = v;
        s += v * v;
      }
      norms[i] = s;
    }
    c = { t, norms };
    searchConstants.set(cb, c);
  }
  return c;
}

/**
 * The encoder and residual-VQ search. Input `image`: `[1, H, W, 3]` holding pixel values − 0.5,
 * H and W multiples of 16, pre-filtered by {@link smooth} at `presmoothing` (0: off). Outputs, for the S searched stages: after a greedy search
 * `indices0 … indices{S−1}` (i32 `[1, H/16, W/16]`), after a beam search `beamRows{s}` and
 * `beamCodes{s}`; {@link encoderIndices} reads either.
 */
export function encoderGraph(
  w: ProgicWeights,
  height: number,
  width: number,
  opts: EncoderGraphOptions = {},
): Graph {
  const b = new Builder();
  const g = b.g;
  let x = g.input("image", [1, height, width, 3]);
  const pre = opts.presmoothing ?? 0;
  if (pre > 0) x = g.op1(smooth, [x], { strength: pre }, "pre_filter");
  let p = g.op1(pixelUnshuffle, [x], { r: 8 }, "unshuffle8");
  p = b.dcb(p, w.enc.head, "enc.head", 0);
  w.enc.blocks.forEach((blk, i) => (p = b.dcb(p, blk, `enc.blocks.${i}`, 0)));
  let y = b.conv(p, w.enc.down, "enc.down", { stride: 2, padding: 1 });
  y = b.attention(y, w.enc.attn, "enc.attn", 0);
  if (opts.debug || opts.latent) g.output("latent", y);
  const beams = opts.beams ?? 1;
  if (!(Number.isInteger(beams) && beams >= 1 && beams <= VQ_MAX_BEAMS)) {
    throw new RangeError(`beams must be an integer in 1…${VQ_MAX_BEAMS}, got ${beams}`);
  }
  const n = w.codebooks.length, stages = opts.stages ?? n;
  if (!(Number.isInteger(stages) && stages >= 1 && stages <= n)) {
    throw new RangeError(`stages must be an integer in 1…${n}, got ${stages}`);
  }
  const books = w.codebooks.slice(0, stages);
  if (beams > 1 && stages > 1) {
    beamSearch(g, y, w, books, beams, opts.paths ?? false);
    return g.build();
  }
  let r = y;
  books.forEach((cb, s) => {
    const book = g.constant(`rvq.${s}`, cb, [w.config.codes, w.config.c2]);
    const [idx, gap] = g.op(vqSearch, [r, book], {}, `rvq.search${s}`);
    g.output(`indices${s}`, idx);
    if (opts.debug) g.output(`gap${s}`, gap);
    if (s + 1 < books.length) r = g.op1(vqResidual, [r, book, idx], {}, `rvq.residual${s}`);
  });
  return g.build();
}

/**
 * Adds a beam search over the residual-VQ stages of latent y `[1, h, w, C2]`. Outputs, per
 * stage s, `beamRows{s}` and `beamCodes{s}` (i32 `[h·w, kept]`, see {@link vqBeamSelect});
 * {@link encoderIndices} follows them back from the winner.
 */
function beamSearch(
  g: GraphBuilder,
  y: Value,
  w: ProgicWeights,
  books: readonly Float32Array[],
  beams: number,
  paths: boolean,
): void {
  const { codes: k, c2: d } = w.config;
  const positions = y.spec.shape[1] * y.spec.shape[2];
  const widths = beamWidths(books.length, beams, paths);
  let r = g.op1(reshape, [y], { shape: [positions, 1, d] }, "rvq.beams0");
  books.forEach((cb, s) => {
    const c = codebookConstants(cb, k, d);
    const dots = g.op1(matmul, [r, g.constant(`rvq.${s}.t`, c.t, [d, k])], {}, `rvq.dots${s}`);
    const norms = g.constant(`rvq.${s}.norms`, c.norms, [k]);
    const [rows, codes] = g.op(
      vqBeamSelect,
      [r, dots, norms],
      { beams: widths[s] },
      `rvq.beam${s}`,
    );
    g.output(`beamRows${s}`, rows);
    g.output(`beamCodes${s}`, codes);
    if (s + 1 === books.length) return;
    const flat = g.op1(reshape, [r], { shape: [-1, d] }, `rvq.flat${s}`);
    const parents = g.op1(gather, [flat, rows], {}, `rvq.parents${s}`);
    const book = g.constant(`rvq.${s}`, cb, [k, d]);
    r = g.op1(vqResidual, [parents, book, codes], {}, `rvq.residual${s}`);
  });
}

/**
 * The indices of every stage from an {@link encoderGraph} run: read directly after a greedy
 * search, traced back from the winning beam after a beam search. Each is i32 over the latent
 * grid (h·w positions).
 */
export function encoderIndices(
  res: Readonly<Record<string, HostArray>>,
  stages: number,
  positions: number,
): Int32Array[] {
  if (!("beamRows0" in res)) {
    return Array.from({ length: stages }, (_, s) => res[`indices${s}`] as Int32Array);
  }
  return tracePath(res, stages, positions, 0);
}

/**
 * Every complete path of a beam search run with `paths` (`[b][s]`: path b's indices at stage s,
 * path 0 the winner), traced back as {@link encoderIndices} traces the winner.
 */
export function encoderPaths(
  res: Readonly<Record<string, HostArray>>,
  stages: number,
  positions: number,
): Int32Array[][] {
  const kept = res[`beamRows${stages - 1}`].length / positions;
  return Array.from({ length: kept }, (_, b) => tracePath(res, stages, positions, b));
}

/** The indices of the path that ends in beam `last` of the last stage, at every position. */
function tracePath(
  res: Readonly<Record<string, HostArray>>,
  stages: number,
  positions: number,
  last: number,
): Int32Array[] {
  const out = Array.from({ length: stages }, () => new Int32Array(positions));
  const kept = (s: number) => (s < 0 ? 1 : res[`beamRows${s}`].length / positions);
  for (let p = 0; p < positions; p++) {
    let j = last;
    for (let s = stages - 1; s >= 0; s--) {
      const at = p * kept(s) + j;
      out[s][p] = res[`beamCodes${s}`][at];
      j = res[`beamRows${s}`][at] - p * kept(s - 1);
    }
  }
  return out;
}

/**
 * The refinement search (src/models/progic/refine.ts) over `positions` latent vectors. Input
 * `residual` f32 `[positions, C2]`: y − ŷ(N). Outputs, for each refinement book e,
 * `refineCodes{e}` (i32 `[positions]`, the nearest code to what is left) and `refineResidual{e}`
 * (f32 `[positions, C2]`, what is left after it).
 */
export function refineSearchGraph(w: ProgicWeights, positions: number): Graph {
  const g = new GraphBuilder();
  const { codes: k, c2: d } = w.config;
  let r = g.input("residual", [positions, d]);
  (w.refine ?? []).forEach((cb, e) => {
    const book = g.constant(`rvq.refine.${e}`, cb, [k, d]);
    const [idx] = g.op(vqSearch, [r, book], {}, `refine.search${e}`);
    r = g.op1(vqResidual, [r, book, idx], {}, `refine.residual${e}`);
    g.output(`refineCodes${e}`, idx);
    g.output(`refineResidual${e}`, r);
  });
  return g.build();
}

// Refinement books with a zero row appended, so that index K ("no code here") adds nothing.
const paddedBooks = new WeakMap<Float32Array, Float32Array>();

function paddedBook(cb: Float32Array, k: number, d: number): Float32Array {
  let p = paddedBooks.get(cb);
  if (!p) {
    p = new Float32Array((k + 1) * d);
    p.set(cb);
    paddedBooks.set(cb, p);
  }
  return p;
}

/**
 * The decoder for the first `stages` stages. Inputs `indices0 … indices{stages−1}`: i32
 * `[1, h, w]` on the latent grid, and with `refine` > 0 (only at all N stages)
 * `refine0 … refine{refine−1}`: i32 `[1, h, w]`, a refinement book's code per position or K for
 * none. Output `image`: `[1, 16h, 16w, 3]` holding pixel values − 0.5 (not yet clamped),
 * post-filtered by {@link smooth} at `smoothing` (0: off).
 */
export function decoderGraph(
  w: ProgicWeights,
  h: number,
  wd: number,
  stages: number,
  smoothing = 0,
  refine = 0,
): Graph {
  const b = new Builder();
  const g = b.g;
  const s = stages - 1;
  const { codes: k, c2: d } = w.config;
  if (refine > 0 && (stages !== w.config.stages || refine > (w.refine?.length ?? 0))) {
    throw new RangeError(
      `refinement needs all ${w.config.stages} stages and at most ${
        w.refine?.length ?? 0
      } books, got ${stages} stages and ${refine} books`,
    );
  }
  let q: Value | undefined;
  const add = (idx: Value, book: Value, name: string) => {
    const c = g.op1(gather, [book, idx], {}, `${name}.gather`);
    q = q ? g.op1(binary, [q, c], { op: "add" }, `${name}.sum`) : c;
  };
  for (let i = 0; i < stages; i++) {
    const book = g.constant(`rvq.${i}`, w.codebooks[i], [k, d]);
    add(g.input(`indices${i}`, [1, h, wd], "i32"), book, `rvq.${i}`);
  }
  for (let e = 0; e < refine; e++) {
    const book = g.constant(`rvq.refine.${e}.padded`, paddedBook(w.refine![e], k, d), [k + 1, d]);
    add(g.input(`refine${e}`, [1, h, wd], "i32"), book, `rvq.refine.${e}`);
  }
  let t = b.attention(q!, w.dec.attn, "dec.attn", s);
  t = b.conv(t, w.dec.up, "dec.up");
  t = g.op1(pixelShuffle, [t], { r: 2 }, "dec.shuffle2");
  t = b.dcb(t, w.dec.upBlock, "dec.up_block", s, true);
  w.dec.blocks.forEach((blk, i) => (t = b.dcb(t, blk, `dec.blocks.${i}`, s)));
  t = b.dcb(t, w.dec.tail, "dec.tail", s);
  if (w.dec.tailProj) t = b.conv(t, w.dec.tailProj, "dec.tail_proj");
  t = g.op1(pixelShuffle, [t], { r: 8 }, "shuffle8");
  if (smoothing > 0) t = g.op1(smooth, [t], { strength: smoothing }, "post_filter");
  g.output("image", t);
  return g.build();
}

/** Latent grid size for an image size (which must be a multiple of {@link LATENT_STRIDE}). */
export function latentSize(height: number, width: number): [number, number] {
  return [height / LATENT_STRIDE, width / LATENT_STRIDE];
}
