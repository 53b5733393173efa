/**
 * ProGIC's bitstream inside the Tessera container (docs/format.md): one segment per RVQ stage,
 * each the stage's indices over the latent grid in raster order as fixed-length fields
 * (log2(codes) bits, most significant bit first). No entropy coding: ProGIC measured only a
 * 0.9 % gain from it, and fixed fields make the stream size exactly predictable, which the
 * byte-budget encoder relies on.
 *
 * Codec parameters (the container's opaque `params`): version (u8, = 1), then the width and
 * height actually coded (varints) — smaller than the header's display size when the encoder
 * downscaled to meet a byte budget; the decoder upsamples back.
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
import { BitstreamError } from "../../errors.ts";
import { LATENT_STRIDE } from "./config.ts";

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

const PARAMS_VERSION = 1;

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

/** Serializes a stream. */
export function writeProgic(
  s: ProgicStream,
  model: { id: number; weightsHash: Uint8Array; codes: number },
): Uint8Array {
  const bits = Math.log2(model.codes);
  const params = new ByteWriter(8).u8(PARAMS_VERSION).varint(s.codedWidth).varint(s.codedHeight)
    .finish();
  const segments = s.indices.map((idx) => {
    const bw = new BitWriter(Math.ceil((idx.length * bits) / 8));
    for (let i = 0; i < idx.length; i++) bw.writeBits(idx[i], bits);
    return bw.finish();
  });
  return writeContainer({
    codec: CodecId.progic,
    model: model.id,
    weightsHash: model.weightsHash,
    width: s.width,
    height: s.height,
    quality: s.indices.length,
    params,
  }, segments);
}

/**
 * The coded size from a ProGIC header's codec parameters (at most the display size).
 * @throws {BitstreamError} on a malformed or unsupported parameter block
 */
export function readProgicParams(
  h: { params: Uint8Array; width: number; height: number },
): { codedWidth: number; codedHeight: number } {
  const pr = new ByteReader(h.params, "ProGIC parameters");
  const version = pr.u8("version");
  if (version !== PARAMS_VERSION) {
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
  return { codedWidth, codedHeight };
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
  model: { id: number; weightsHash: Uint8Array; codes: number; stages: number },
  opts: ReadProgicOptions = {},
): ProgicStream & { file: ContainerFile } {
  const file = readContainer(bytes, {
    expect: {
      codec: CodecId.progic,
      model: model.id,
      weightsHash: model.weightsHash,
      modelName: progicModelName,
    },
    bestEffort: opts.bestEffort,
    segmentName: (i) => `stage ${i + 1}`,
  });
  const h = file.header;
  const { codedWidth, codedHeight } = readProgicParams(h);
  if (h.segmentCount < 1 || h.segmentCount > model.stages) {
    throw new BitstreamError(
      `stream claims ${h.segmentCount} stages; this model has 1 to ${model.stages}`,
    );
  }
  const bits = Math.log2(model.codes);
  const { h: gh, w: gw } = gridOf(codedWidth, codedHeight);
  const want = stagePayloadBytes(codedWidth, codedHeight, bits);
  const indices = file.segments.map((seg, i) => {
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
  });
  return {
    width: h.width,
    height: h.height,
    codedWidth,
    codedHeight,
    indices,
    stagesWritten: h.segmentCount,
    file,
  };
}
