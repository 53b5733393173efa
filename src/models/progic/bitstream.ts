/**
 * ProGIC's bitstream inside the Tessera container (docs/format.md): one segment per RVQ stage,
 * each the stage's indices over the latent grid in raster order, either as fixed-length fields
 * (log2(codes) bits, most significant bit first) or, when the weights carry an index entropy
 * model (entropy.ts) and that is smaller, as a rANS stream. The paper measured only 0.9% from
 * entropy coding; our trained codebooks are skewed enough to save ~8%. The fixed-length size
 * stays an upper bound (plus two bytes), which the byte-budget encoder starts from.
 *
 * Codec parameters (the container's opaque `params`): version (u8), then the width and height
 * actually coded (varints) — smaller than the header's display size when the encoder fitted the
 * image to the latent grid or downscaled it to meet a byte budget; the decoder resizes back.
 * Version 2 (written when the model has an entropy model) adds a u8 whose bit s marks stage
 * s + 1 as rANS-coded; version 1 streams are all fixed-length. Version 3 (written when the stream
 * has a refinement section, refine.ts) adds a u8 after the mask: 1 when the last segment is the
 * refinement of the N stages before it (a stream cut before or inside it decodes the N stages).
 * Version 4 is version 3 with the refinement section's depths under an adaptive model instead of
 * a stored table (refine.ts). Version 5 is version 4 with the rANS-coded stages under the adaptive
 * index model (entropy.ts, "adaptive"), and is what encoders write whenever the model has an
 * entropy model or the stream a refinement; decoders read 1–5.
 *
 * ProGIC files use the container's 16-bit checksums: at these rates a file is a few hundred to a
 * few thousand bytes, where CRC-32's two more bytes per segment (12 in a refined 5-stage file)
 * would be bits the image does not get; a damaged segment still escapes detection only once in
 * 65 536.
 * @module
 */
import { BitReader, BitWriter } from "../../coding/bits.ts";
import { ByteReader, ByteWriter } from "../../coding/bytes.ts";
import {
  CodecId,
  type ContainerFile,
  readContainer,
  writeContainer,
} from "../../coding/container.ts";
import { BitstreamError, InvalidArgumentError } from "../../errors.ts";
import { LATENT_STRIDE } from "./config.ts";
import {
  decodeStageIndices,
  encodeStageIndices,
  type IndexCoding,
  type IndexEntropyModel,
} from "./entropy.ts";
import {
  decodeRefinement,
  encodeRefinement,
  type Refinement,
  type RefinementLayout,
} from "./refine.ts";

/** Model ids of the ProGIC family in the container header. */
export const PROGIC_MODEL_IDS: Readonly<Record<string, number>> = {
  "progic": 0,
  "progic-s": 1,
  "progic-t": 2,
  "progic-test": 3,
};

/** Name of a model id, for messages. */
export function progicModelName(id: number): string | undefined {
  return Object.entries(PROGIC_MODEL_IDS).find(([, v]) => v === id)?.[0];
}

/**
 * Parameter versions: 1 fixed-length stages only; 2 adds the mask of rANS-coded stages; 3 adds
 * the refinement flag; 4 codes the refinement's depths adaptively; 5 the stages' indices too.
 */
const PARAMS_FIXED = 1;
const PARAMS_CODED = 2;
const PARAMS_REFINED_TABLE = 3;
const PARAMS_ADAPTIVE_STAGES = 5;

/** What a ProGIC stream describes. */
export interface ProgicStream {
  /** Display size (the original image). */
  readonly width: number;
  readonly height: number;
  /** Size that was coded (≤ display size). */
  readonly codedWidth: number;
  readonly codedHeight: number;
  /** Indices per stage present, each over the latent grid of the coded size. */
  readonly indices: Int32Array[];
  /** Stages the encoder wrote (more than `indices.length` when the stream was truncated). */
  readonly stagesWritten: number;
  /** Refinement codes after the last stage (only with all of the model's stages). */
  readonly refinement?: Refinement;
}

/** Latent grid of a coded size. */
export function gridOf(width: number, height: number): { h: number; w: number } {
  return { h: Math.ceil(height / LATENT_STRIDE), w: Math.ceil(width / LATENT_STRIDE) };
}

/** Bytes one stage's segment payload takes. */
export function stagePayloadBytes(codedWidth: number, codedHeight: number, bits: number): number {
  const { h, w } = gridOf(codedWidth, codedHeight);
  return Math.ceil((h * w * bits) / 8);
}

/** What a stream is written and read with. */
export interface ProgicStreamModel {
  readonly id: number;
  readonly weightsHash: Uint8Array;
  readonly codes: number;
  /** The index entropy model; absent: fixed-length stages, parameters version 1. */
  readonly entropy?: IndexEntropyModel;
  /** Refinement codebooks the model has (0 or absent: none). */
  readonly refineBooks?: number;
}

/** A caller-built model must have tables for every stage it codes. */
function checkEntropyStages(model: ProgicStreamModel, stages: number): void {
  if (model.entropy && model.entropy.length < Math.min(stages, 8)) {
    throw new InvalidArgumentError(
      `the entropy model has tables for ${model.entropy.length} stages, not ${stages}`,
    );
  }
}

/** A stream's stage segments as written, and which are rANS-coded (bit s: stage s + 1). */
export interface StageSegments {
  readonly segments: readonly Uint8Array[];
  readonly mask: number;
}

/**
 * Codes the stages of a stream: with an entropy model each the shorter way (rANS or fixed
 * fields); `fixed` forces fixed fields. {@link writeProgic} takes the result, so an encoder that
 * writes the same stages with several refinements codes them once.
 */
export function encodeStages(
  indices: readonly Int32Array[],
  codedWidth: number,
  codedHeight: number,
  model: ProgicStreamModel,
  opts: { fixed?: boolean } = {},
): StageSegments {
  const bits = Math.log2(model.codes);
  const { w } = gridOf(codedWidth, codedHeight);
  checkEntropyStages(model, indices.length);
  let mask = 0;
  const segments = indices.map((idx, i) => {
    const bw = new BitWriter(Math.ceil((idx.length * bits) / 8));
    for (let j = 0; j < idx.length; j++) bw.writeBits(idx[j], bits);
    const fixed = bw.finish();
    // The mask is one byte: stages past the eighth (no ProGIC config has them) stay fixed.
    if (!model.entropy || opts.fixed || i >= 8) return fixed;
    const coded = encodeStageIndices(idx, w, model.entropy[i], indices[i - 1], "adaptive");
    if (coded.length >= fixed.length) return fixed;
    mask |= 1 << i;
    return coded;
  });
  return { segments, mask };
}

/**
 * Serializes a stream. With an entropy model each stage is written the shorter way (rANS or
 * fixed fields); `fixed` forces fixed fields, which gives the size bound of any such stream;
 * `stages`, the stream's stages as {@link encodeStages} coded them, skips coding them again.
 */
export function writeProgic(
  s: ProgicStream,
  model: ProgicStreamModel,
  opts: { fixed?: boolean; stages?: StageSegments } = {},
): Uint8Array {
  const { segments: staged, mask } = opts.stages ??
    encodeStages(s.indices, s.codedWidth, s.codedHeight, model, opts);
  const segments = [...staged];
  const refined = s.refinement !== undefined;
  if (refined) {
    const { w } = gridOf(s.codedWidth, s.codedHeight);
    segments.push(encodeRefinement(s.refinement!, w, Math.log2(model.codes)));
  }
  const version = refined || model.entropy ? PARAMS_ADAPTIVE_STAGES : PARAMS_FIXED;
  const pw = new ByteWriter(8).u8(version).varint(s.codedWidth).varint(s.codedHeight);
  if (version !== PARAMS_FIXED) pw.u8(mask).u8(refined ? 1 : 0);
  const params = pw.finish();
  return writeContainer({
    codec: CodecId.progic,
    model: model.id,
    weightsHash: model.weightsHash,
    width: s.width,
    height: s.height,
    quality: s.indices.length,
    params,
    checksumBytes: 2,
  }, segments);
}

/** Whether stage `i + 1` is rANS-coded under a coded-stage mask (one byte: stages 1–8). */
export function isRansStage(mask: number, i: number): boolean {
  return i < 8 && ((mask >> i) & 1) === 1;
}

/** What a ProGIC header's codec parameters say. */
export interface ProgicParams {
  readonly codedWidth: number;
  readonly codedHeight: number;
  /** Mask of rANS-coded stages (bit s: stage s + 1). */
  readonly entropyCoded: number;
  /** Stages written (the segments but the refinement). */
  readonly stages: number;
  /** Whether the last segment is a refinement section. */
  readonly refined: boolean;
  /** How that section codes its depths (version 3: a stored table). */
  readonly refinementLayout: RefinementLayout;
  /** How the rANS-coded stages are coded (versions 2–4: static). */
  readonly indexCoding: IndexCoding;
}

/**
 * The coded size, the mask of rANS-coded stages and the stage count from a ProGIC header's codec
 * parameters.
 * @throws {BitstreamError} on a malformed or unsupported parameter block
 */
export function readProgicParams(
  h: { params: Uint8Array; width: number; height: number; segmentCount: number },
): ProgicParams {
  const pr = new ByteReader(h.params, "ProGIC parameters");
  const version = pr.u8("version");
  if (version < PARAMS_FIXED || version > PARAMS_ADAPTIVE_STAGES) {
    throw new BitstreamError(
      `ProGIC parameters version ${version} is not supported`,
      "UNSUPPORTED",
    );
  }
  const codedWidth = pr.varint("coded width", h.width);
  const codedHeight = pr.varint("coded height", h.height);
  if (codedWidth < 1 || codedHeight < 1) {
    throw new BitstreamError(`ProGIC coded size ${codedWidth}×${codedHeight} is invalid`);
  }
  const entropyCoded = version >= PARAMS_CODED ? pr.u8("coded-stage mask") : 0;
  const flag = version >= PARAMS_REFINED_TABLE ? pr.u8("refinement flag") : 0;
  if (flag > 1) throw new BitstreamError(`ProGIC refinement flag ${flag} is invalid`);
  if (pr.remaining !== 0) {
    throw new BitstreamError(`ProGIC parameters hold ${pr.remaining} unexpected byte(s)`);
  }
  const refined = flag === 1;
  const stages = h.segmentCount - flag;
  if (refined && stages < 1) {
    throw new BitstreamError("ProGIC stream has a refinement section but no stage");
  }
  if (stages < 8 && entropyCoded >> stages !== 0) {
    throw new BitstreamError(
      `ProGIC parameters mark stages past the ${stages} written as rANS-coded`,
    );
  }
  const refinementLayout = version === PARAMS_REFINED_TABLE ? "table" : "adaptive";
  const indexCoding = version === PARAMS_ADAPTIVE_STAGES ? "adaptive" : "static";
  return { codedWidth, codedHeight, entropyCoded, stages, refined, refinementLayout, indexCoding };
}

/** Options of {@link readProgic}. */
export interface ReadProgicOptions {
  /** Decode the intact stages before a truncated or corrupt one instead of failing. */
  readonly bestEffort?: boolean;
}

/**
 * Parses a stream, checking it needs exactly the given model.
 * @throws {BitstreamError} on malformed input, {@link ModelMismatchError} for other weights
 */
export function readProgic(
  bytes: Uint8Array,
  model: ProgicStreamModel & { stages: number },
  opts: ReadProgicOptions = {},
): ProgicStream & { file: ContainerFile; refinementLost: boolean } {
  const file = readContainer(bytes, {
    expect: {
      codec: CodecId.progic,
      model: model.id,
      weightsHash: model.weightsHash,
      modelName: progicModelName,
    },
    bestEffort: opts.bestEffort,
    // Refinement follows all of the model's stages.
    segmentName: (i) => (i < model.stages ? `stage ${i + 1}` : "refinement"),
  });
  const h = file.header;
  const { codedWidth, codedHeight, entropyCoded, stages, refined, refinementLayout, indexCoding } =
    readProgicParams(h);
  if (stages < 1 || stages > model.stages) {
    throw new BitstreamError(
      `stream claims ${stages} stages; this model has 1 to ${model.stages}`,
    );
  }
  const books = model.refineBooks ?? 0;
  if (refined && (stages !== model.stages || books === 0)) {
    throw new BitstreamError(
      stages !== model.stages
        ? `stream refines ${stages} stages; refinement follows all ${model.stages}`
        : "the stream has a refinement section but the loaded weights carry no refinement codebooks",
      stages !== model.stages ? "BITSTREAM" : "UNSUPPORTED",
    );
  }
  const entropy = model.entropy;
  checkEntropyStages(model, stages);
  if (entropyCoded && !entropy) {
    // The weights hash matched, so these are other weights with the same hash prefix.
    throw new BitstreamError(
      "the stream has rANS-coded stages but the loaded weights carry no entropy tables",
      "UNSUPPORTED",
    );
  }
  const bits = Math.log2(model.codes);
  const { h: gh, w: gw } = gridOf(codedWidth, codedHeight);
  const want = stagePayloadBytes(codedWidth, codedHeight, bits);
  const indices: Int32Array[] = [];
  const readStage = (seg: Uint8Array, i: number): Int32Array => {
    if (isRansStage(entropyCoded, i)) {
      return decodeStageIndices(
        seg,
        gh * gw,
        gw,
        entropy![i],
        `stage ${i + 1}`,
        indices[i - 1],
        indexCoding,
      );
    }
    if (seg.length !== want) {
      throw new BitstreamError(
        `stage ${
          i + 1
        } holds ${seg.length} bytes; a ${codedWidth}×${codedHeight} image needs ${want}`,
      );
    }
    const br = new BitReader(seg, `stage ${i + 1}`);
    const idx = new Int32Array(gh * gw);
    for (let j = 0; j < idx.length; j++) idx[j] = br.readBits(bits);
    return idx;
  };
  // In order: a stage's entropy model reads the stage before.
  file.segments.slice(0, stages).forEach((seg, i) => indices.push(readStage(seg, i)));
  const refinement = refined && file.segments.length > stages
    ? decodeRefinement(
      file.segments[stages],
      { positions: gh * gw, width: gw, books, bits },
      refinementLayout,
    )
    : undefined;
  return {
    width: h.width,
    height: h.height,
    codedWidth,
    codedHeight,
    indices,
    stagesWritten: stages,
    ...(refinement ? { refinement } : {}),
    file,
    refinementLost: refined && !refinement,
  };
}
