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
 * index model (entropy.ts, "adaptive"). Version 6, what encoders write whenever the model has an
 * entropy model or the stream a refinement, is version 5 with the rANS-coded stages and the
 * refinement in one rANS stream cut at their segment boundaries (`RansEncoder.finishParts`): one
 * 4-byte state per file instead of one per segment, 20 bytes of a default five-stage stream that
 * the refinement then spends; every prefix of segments still decodes. Decoders read 1–6.
 *
 * ProGIC files use the container's 16-bit checksums: at these rates a file is a few hundred to a
 * few thousand bytes, where CRC-32's two more bytes per segment (12 in a refined 5-stage file)
 * would be bits the image does not get; a damaged segment still escapes detection only once in
 * 65 536.
 * @module
 */
import { BitReader, BitWriter } from "../../coding/bits.ts";
import { ByteReader, ByteWriter, concatBytes } from "../../coding/bytes.ts";
import {
  CodecId,
  type ContainerFile,
  readContainer,
  writeContainer,
} from "../../coding/container.ts";
import { RansDecoder, RansEncoder } from "../../coding/rans.ts";
import { BitstreamError, InvalidArgumentError } from "../../errors.ts";
import { LATENT_STRIDE } from "./config.ts";
import {
  decodeStageIndices,
  type IndexCoding,
  type IndexEntropyModel,
  readStageIndices,
  recordStageIndices,
} from "./entropy.ts";
import {
  decodeRefinement,
  readRefinement,
  recordRefinement,
  type Refinement,
  refinementDepth,
  type RefinementGeometry,
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
 * the refinement flag; 4 codes the refinement's depths adaptively; 5 the stages' indices too; 6
 * codes the rANS-coded stages and the refinement as one rANS stream cut into their segments.
 */
const PARAMS_FIXED = 1;
const PARAMS_CODED = 2;
const PARAMS_REFINED_TABLE = 3;
const PARAMS_ADAPTIVE_STAGES = 5;
const PARAMS_ONE_STREAM = 6;

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

/**
 * A stream's stages as coded: each fixed-length stage's segment, each rANS-coded stage's symbols
 * (they become segments when {@link writeProgic} codes them in the stream's one rANS stream), and
 * which are rANS-coded (bit s: stage s + 1).
 */
export interface StageSegments {
  readonly fixed: readonly (Uint8Array | undefined)[];
  readonly coded: readonly (RansEncoder | undefined)[];
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
  const fixed: (Uint8Array | undefined)[] = [];
  const coded: (RansEncoder | undefined)[] = [];
  indices.forEach((idx, i) => {
    const bw = new BitWriter(Math.ceil((idx.length * bits) / 8));
    for (let j = 0; j < idx.length; j++) bw.writeBits(idx[j], bits);
    const plain = bw.finish();
    // The mask is one byte: stages past the eighth (no ProGIC config has them) stay fixed.
    if (model.entropy && !opts.fixed && i < 8) {
      const enc = new RansEncoder(idx.length * 2);
      recordStageIndices(enc, idx, w, model.entropy[i], indices[i - 1], "adaptive");
      // In the shared stream a stage costs its ideal length within a fraction of a byte.
      if (Math.ceil(enc.idealBits() / 8) < plain.length) {
        mask |= 1 << i;
        fixed.push(undefined);
        coded.push(enc);
        return;
      }
    }
    fixed.push(plain);
    coded.push(undefined);
  });
  return { fixed, coded, mask };
}

/**
 * Serializes a stream. With an entropy model each stage is written the shorter way (rANS or
 * fixed fields), and the rANS-coded stages and the refinement share one rANS stream (parameters
 * version 6: one 4-byte state per file, not per segment); `fixed` forces fixed fields, which
 * gives the size bound of any such stream; `stages`, the stream's stages as
 * {@link encodeStages} coded them, skips coding them again.
 */
export function writeProgic(
  s: ProgicStream,
  model: ProgicStreamModel,
  opts: { fixed?: boolean; stages?: StageSegments } = {},
): Uint8Array {
  const { fixed, coded, mask } = opts.stages ??
    encodeStages(s.indices, s.codedWidth, s.codedHeight, model, opts);
  const refined = s.refinement !== undefined;
  // The symbols of every rANS-coded segment, in order, and where each segment's end.
  const stream = new RansEncoder();
  const ends: number[] = [];
  for (const enc of coded) {
    if (!enc) continue;
    stream.append(enc);
    ends.push(stream.length);
  }
  let deepest = 0;
  if (refined) {
    const { w } = gridOf(s.codedWidth, s.codedHeight);
    deepest = recordRefinement(stream, s.refinement!, w, Math.log2(model.codes));
    ends.push(stream.length);
  }
  const parts = ends.length > 0 ? stream.finishParts(ends) : [];
  let k = 0;
  const segments = fixed.map((f) => f ?? parts[k++]);
  if (refined) segments.push(concatBytes([Uint8Array.of(deepest), parts[k]]));
  const version = refined || model.entropy ? PARAMS_ONE_STREAM : PARAMS_FIXED;
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
  /** Whether the rANS-coded stages and the refinement share one rANS stream (version 6). */
  readonly oneStream: boolean;
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
  if (version < PARAMS_FIXED || version > PARAMS_ONE_STREAM) {
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
  const indexCoding = version >= PARAMS_ADAPTIVE_STAGES ? "adaptive" : "static";
  const oneStream = version >= PARAMS_ONE_STREAM;
  return {
    codedWidth,
    codedHeight,
    entropyCoded,
    stages,
    refined,
    refinementLayout,
    indexCoding,
    oneStream,
  };
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
  const params = readProgicParams(h);
  const { codedWidth, codedHeight, entropyCoded, stages, refined, indexCoding } = params;
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
  const geometry: RefinementGeometry = { positions: gh * gw, width: gw, books, bits };
  const present = file.segments.slice(0, stages);
  const section = refined ? file.segments[stages] : undefined;
  // Version 6: the rANS-coded segments (the refinement after its E′ byte) are one stream, cut.
  const shared = params.oneStream ? sharedStream(present, entropyCoded, section) : undefined;
  const indices: Int32Array[] = [];
  const readStage = (seg: Uint8Array, i: number): Int32Array => {
    const what = `stage ${i + 1}`;
    if (isRansStage(entropyCoded, i)) {
      const idx = shared
        ? readStageIndices(shared.next(), gh * gw, gw, entropy![i], indices[i - 1], indexCoding)
        : decodeStageIndices(seg, gh * gw, gw, entropy![i], what, indices[i - 1], indexCoding);
      shared?.endPart(what);
      return idx;
    }
    if (seg.length !== want) {
      throw new BitstreamError(
        `${what} holds ${seg.length} bytes; a ${codedWidth}×${codedHeight} image needs ${want}`,
      );
    }
    const br = new BitReader(seg, what);
    const idx = new Int32Array(gh * gw);
    for (let j = 0; j < idx.length; j++) idx[j] = br.readBits(bits);
    return idx;
  };
  // In order: a stage's entropy model reads the stage before.
  present.forEach((seg, i) => indices.push(readStage(seg, i)));
  let refinement: Refinement | undefined;
  if (section && shared) {
    const deepest = refinementDepth(section[0], geometry);
    refinement = readRefinement(shared.next(), deepest, geometry);
    shared.endPart("refinement");
  } else if (section) {
    refinement = decodeRefinement(section, geometry, params.refinementLayout);
  }
  // Only a stream that holds every segment ends where the encoder started.
  if (file.complete) shared?.finish();
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

/**
 * The one rANS stream of a version-6 file over the segments present: the rANS-coded stages' and,
 * after its E′ byte, the refinement's. `next` gives the decoder for the next part's symbols and
 * `endPart` checks that they ended exactly at that part's end.
 */
function sharedStream(
  stages: readonly Uint8Array[],
  mask: number,
  section: Uint8Array | undefined,
): { next(): RansDecoder; endPart(what: string): void; finish(): void } {
  const parts = stages.filter((_, i) => isRansStage(mask, i));
  if (section) {
    if (section.length < 1) throw new BitstreamError("the refinement segment is empty");
    parts.push(section.subarray(1));
  }
  let dec: RansDecoder | undefined;
  let k = 0, end = 0;
  return {
    next() {
      dec ??= new RansDecoder(concatBytes(parts), "ProGIC rANS stream");
      return dec;
    },
    endPart(what) {
      end += parts[k++].length;
      dec!.endPart(end, what);
    },
    finish() {
      dec?.finish();
    },
  };
}
