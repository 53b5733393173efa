/**
 * Loads ProGIC weights from safetensors (PyTorch names and layouts, docs/progic.md), checks
 * every tensor's shape, and converts convolutions to the engine's `[KH, KW, Cin/g, Cout]`
 * layout once. The dimensions come from the file itself, so the model always matches what was
 * trained; the arrays are kept for the model's lifetime so every graph built from them shares
 * one upload per device.
 * @module
 */
import { WeightsError } from "../../errors.ts";
import { type NamedTensor, readSafetensors, sha256Hex } from "../../io/safetensors.ts";
import { weightsFromTorch } from "../../ops/conv2d.ts";
import { PROGIC_CONFIGS, type ProgicConfig } from "./config.ts";
import { type IndexEntropyModel, indexEntropyModel } from "./entropy.ts";

/** A convolution's weights in engine layout, and its bias. */
export interface ConvWeights {
  /** `[KH, KW, Cin/groups, Cout]`. */
  readonly shape: readonly [number, number, number, number];
  readonly w: Float32Array;
  readonly b: Float32Array;
}

/** Per-stage channel scale and shift applied before a residual add (decoder only). */
export interface Modulation {
  /** `scale[s]`, `shift[s]`: the vectors for stage count `s + 1`. */
  readonly scale: readonly Float32Array[];
  readonly shift: readonly Float32Array[];
}

/** One DepthConv block (DCVC-RT `DepthConvBlock`: depthwise block + gated FFN). */
export interface DcbWeights {
  readonly adaptor?: ConvWeights;
  readonly pw1: ConvWeights;
  readonly dw: ConvWeights;
  readonly pw2: ConvWeights;
  readonly ffn1: ConvWeights;
  readonly ffn2: ConvWeights;
  readonly modDc?: Modulation;
  readonly modFfn?: Modulation;
}

/** The Cheng-style gated attention module. */
export interface AttentionWeights {
  readonly trunk: readonly DcbWeights[];
  readonly mask: readonly DcbWeights[];
  readonly maskConv: ConvWeights;
}

/** Everything a ProGIC model needs. */
export interface ProgicWeights {
  /** Dimensions read from the file. */
  readonly config: ProgicConfig;
  /** SHA-256 of the weights file (hex); the bitstream records a prefix of it. */
  readonly sha256: string;
  readonly enc: {
    readonly head: DcbWeights;
    readonly blocks: readonly DcbWeights[];
    readonly down: ConvWeights;
    readonly attn: AttentionWeights;
  };
  /** One `[K, C2]` codebook per stage. */
  readonly codebooks: readonly Float32Array[];
  readonly dec: {
    readonly attn: AttentionWeights;
    readonly up: ConvWeights;
    readonly upBlock: DcbWeights;
    readonly blocks: readonly DcbWeights[];
    readonly tail: DcbWeights;
    /** Present when the config ends with a C1-wide tail and a 1×1 projection to 192 channels. */
    readonly tailProj?: ConvWeights;
  };
  /** Refinement codebooks (`rvq.refine`, train/refine.py), each `[K, C2]`; absent: none. */
  readonly refine?: readonly Float32Array[];
  /** The index coder's tables (`entropy.freq`, `entropy.repeat`, `entropy.context`); without
   * them stages are written as fixed-length fields. */
  readonly entropy?: IndexEntropyModel;
}

class Reader {
  readonly used = new Set<string>();
  constructor(readonly tensors: ReadonlyMap<string, NamedTensor>) {}

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  get(name: string, shape: readonly number[]): Float32Array {
    const t = this.tensors.get(name);
    if (!t) throw new WeightsError(`weights lack tensor "${name}"`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new WeightsError(
        `tensor "${name}" has shape [${t.shape}], expected [${shape}]`,
      );
    }
    if (!(t.data instanceof Float32Array)) throw new WeightsError(`tensor "${name}" must be float`);
    this.used.add(name);
    return t.data;
  }

  shape(name: string): readonly number[] {
    const t = this.tensors.get(name);
    if (!t) throw new WeightsError(`weights lack tensor "${name}"`);
    return t.shape;
  }

  count(prefix: string): number {
    let n = 0;
    while (this.has(`${prefix}.${n}.dc.pw1.weight`)) n++;
    return n;
  }

  conv(name: string, cout: number, cin: number, k: number): ConvWeights {
    const w = this.get(`${name}.weight`, [cout, cin, k, k]);
    return {
      shape: [k, k, cin, cout],
      w: weightsFromTorch(w, [cout, cin, k, k]),
      b: this.get(`${name}.bias`, [cout]),
    };
  }

  mod(name: string, stages: number, c: number): Modulation | undefined {
    if (!this.has(`${name}.scale`)) return undefined;
    const scale = this.get(`${name}.scale`, [stages, c]);
    const shift = this.get(`${name}.bias`, [stages, c]);
    const rows = (a: Float32Array) =>
      Array.from({ length: stages }, (_, s) => a.slice(s * c, (s + 1) * c));
    return { scale: rows(scale), shift: rows(shift) };
  }

  dcb(name: string, cin: number, c: number, stages: number): DcbWeights {
    return {
      adaptor: cin !== c ? this.conv(`${name}.adaptor`, c, cin, 1) : undefined,
      pw1: this.conv(`${name}.dc.pw1`, c, c, 1),
      dw: depthwise(
        this.get(`${name}.dc.dw.weight`, [c, 1, 3, 3]),
        this.get(`${name}.dc.dw.bias`, [c]),
      ),
      pw2: this.conv(`${name}.dc.pw2`, c, c, 1),
      ffn1: this.conv(`${name}.ffn.pw1`, 4 * c, c, 1),
      ffn2: this.conv(`${name}.ffn.pw2`, c, 2 * c, 1),
      modDc: this.mod(`${name}.mod_dc`, stages, c),
      modFfn: this.mod(`${name}.mod_ffn`, stages, c),
    };
  }

  attn(name: string, c: number, k: number, stages: number): AttentionWeights {
    return {
      trunk: Array.from({ length: k }, (_, j) => this.dcb(`${name}.trunk.${j}`, c, c, stages)),
      mask: Array.from({ length: k }, (_, j) => this.dcb(`${name}.mask.${j}`, c, c, stages)),
      maskConv: this.conv(`${name}.mask_conv`, c, c, 1),
    };
  }
}

/** `rvq.refine` `[E, K, C2]` as E books. */
function refineBooks(r: Reader, codes: number, c2: number): Float32Array[] {
  const shape = r.shape("rvq.refine");
  if (shape.length !== 3 || shape[0] < 1 || shape[0] > 255) {
    throw new WeightsError(`rvq.refine [${shape}] must be [1…255 books, ${codes}, ${c2}]`);
  }
  const all = r.get("rvq.refine", [shape[0], codes, c2]);
  return Array.from(
    { length: shape[0] },
    (_, e) => all.slice(e * codes * c2, (e + 1) * codes * c2),
  );
}

function depthwise(w: Float32Array, b: Float32Array): ConvWeights {
  const c = b.length;
  return { shape: [3, 3, 1, c], w: weightsFromTorch(w, [c, 1, 3, 3]), b };
}

/**
 * Parses and validates a ProGIC safetensors file.
 * @throws {WeightsError} when a tensor is missing, misshapen or unexpected
 */
export async function loadProgicWeights(bytes: Uint8Array): Promise<ProgicWeights> {
  const st = readSafetensors(bytes);
  const r = new Reader(st.tensors);
  const cb = r.shape("rvq.codebooks");
  if (cb.length !== 3) throw new WeightsError("rvq.codebooks must be [stages, codes, C2]");
  const [stages, codes, c2] = cb;
  if (stages < 1 || codes < 2 || (codes & (codes - 1)) !== 0) {
    throw new WeightsError(`rvq.codebooks [${cb}] needs ≥ 1 stage and a power-of-two code count`);
  }
  const c1 = r.shape("enc.head.adaptor.weight")[0];
  const attnK = r.count("enc.attn.trunk");
  const config: ProgicConfig = {
    name: st.metadata.config ?? "progic-custom",
    c1,
    encBlocks: 1 + r.count("enc.blocks"),
    decBlocks: 2 + r.count("dec.blocks"),
    attnK,
    c2,
    stages,
    codes,
    tailProjection: r.has("dec.tail_proj.weight"),
  };
  const known = PROGIC_CONFIGS[config.name];
  if (known && JSON.stringify(known) !== JSON.stringify(config)) {
    throw new WeightsError(
      `weights claim config "${config.name}" but their shapes say ${JSON.stringify(config)}`,
    );
  }
  const all = r.get("rvq.codebooks", cb);
  const tables = r.has("entropy.freq") ? r.shape("entropy.freq")[0] : 0;
  const entropy = tables
    ? indexEntropyModel(
      {
        freq: r.get("entropy.freq", [tables, codes]),
        repeat: r.get("entropy.repeat", [tables, 2]),
        context: r.has("entropy.context")
          ? r.get("entropy.context", [stages, codes + 1])
          : undefined,
      },
      stages,
      codes,
    )
    : undefined;
  const refine = r.has("rvq.refine") ? refineBooks(r, codes, c2) : undefined;
  const weights: ProgicWeights = {
    config,
    sha256: await sha256Hex(bytes),
    enc: {
      head: r.dcb("enc.head", 192, c1, stages),
      blocks: Array.from(
        { length: config.encBlocks - 1 },
        (_, i) => r.dcb(`enc.blocks.${i}`, c1, c1, stages),
      ),
      down: r.conv("enc.down", c2, c1, 3),
      attn: r.attn("enc.attn", c2, attnK, stages),
    },
    codebooks: Array.from(
      { length: stages },
      (_, s) => all.slice(s * codes * c2, (s + 1) * codes * c2),
    ),
    dec: {
      attn: r.attn("dec.attn", c2, attnK, stages),
      up: r.conv("dec.up", 4 * c1, c2, 1),
      upBlock: r.dcb("dec.up_block", c1, c1, stages),
      blocks: Array.from(
        { length: config.decBlocks - 2 },
        (_, i) => r.dcb(`dec.blocks.${i}`, c1, c1, stages),
      ),
      ...(r.has("dec.tail_proj.weight")
        ? { tail: r.dcb("dec.tail", c1, c1, stages), tailProj: r.conv("dec.tail_proj", 192, c1, 1) }
        : { tail: r.dcb("dec.tail", c1, 192, stages) }),
    },
    ...(entropy ? { entropy } : {}),
    ...(refine ? { refine } : {}),
  };
  const unused = [...st.tensors.keys()].filter((k) => !r.used.has(k));
  if (unused.length) {
    throw new WeightsError(
      `weights hold tensors the model does not use: ${unused.slice(0, 5).join(", ")}`,
    );
  }
  return weights;
}
