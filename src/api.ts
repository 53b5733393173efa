/**
 * The public codec API behind mod.ts: load a model, encode an image, decode a stream, inspect a
 * stream. Web-standard APIs only, so it runs in Deno and browsers.
 * @module
 */
import { CodecId, readContainer } from "./coding/container.ts";
import { BitstreamError, InvalidArgumentError, TesseraError, WeightsError } from "./errors.ts";
import type { Backend } from "./graph/backend.ts";
import { cpuBackend } from "./graph/cpu_backend.ts";
import { acquireGpu, type AdapterReport, type GpuContext } from "./graph/device.ts";
import { webgpuBackend } from "./graph/webgpu_backend.ts";
import { type AlphaOptions, type ImageData8, type RgbImage, toRgb } from "./io/image.ts";
import { isRansStage, progicModelName, readProgicParams } from "./models/progic/bitstream.ts";
import {
  maxTileLatent,
  ProgicCodec,
  type ProgicDecodeResult,
  type ProgicEncodeOptions,
} from "./models/progic/codec.ts";
import type { ProgicConfig } from "./models/progic/config.ts";
import { loadProgicWeights } from "./models/progic/weights.ts";

/** The model used when none is named: the best one trained so far. */
export const DEFAULT_MODEL = "progic-t";

/** Where a model's weights come from and what runs it. */
export interface LoadModelOptions {
  /** Model name (default {@link DEFAULT_MODEL}); weights are `weights/<name>.safetensors`. */
  readonly name?: string;
  /** Fetch the weights from this URL instead (e.g. in a web page). */
  readonly url?: string | URL;
  /** Use these weights bytes instead of fetching. */
  readonly bytes?: Uint8Array;
  /** `"webgpu"` (default) or `"cpu"` (the exact reference backend; slow, no adapter needed). */
  readonly backend?: "webgpu" | "cpu";
  /** An already acquired device to share. */
  readonly gpu?: GpuContext;
  /** Largest tile side in pixels (default: what the adapter's limits allow, at most 1024). */
  readonly tileSize?: number;
}

/** A loaded model ready to encode and decode. */
export interface Model {
  /** Model name. */
  readonly name: string;
  /** Its dimensions. */
  readonly config: ProgicConfig;
  /** SHA-256 of the weights file. */
  readonly sha256: string;
  /** The adapter it runs on (`null` on the CPU backend). */
  readonly adapter: AdapterReport | null;
  /** @internal */
  readonly codec: ProgicCodec;
}

/** The URL of a shipped model's weights, relative to this module. */
export function weightsUrl(name: string): URL {
  if (!/^[a-z0-9-]+$/.test(name)) throw new InvalidArgumentError(`invalid model name "${name}"`);
  return new URL(`../weights/${name}.safetensors`, import.meta.url);
}

let sharedGpu: Promise<GpuContext> | undefined;

/**
 * Loads a model's weights and binds them to a backend.
 * @throws {WeightsError} when the weights are missing or malformed
 * @throws {WebGpuUnavailableError} when WebGPU is requested but unavailable
 */
export async function loadModel(options: LoadModelOptions = {}): Promise<Model> {
  const name = options.name ?? DEFAULT_MODEL;
  let bytes = options.bytes;
  if (!bytes) {
    const url = options.url ? new URL(options.url, globalThis.location?.href) : weightsUrl(name);
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new WeightsError(`cannot read the weights of "${name}" at ${url}: ${e}`, { cause: e });
    }
    if (!res.ok) {
      throw new WeightsError(`cannot fetch the weights of "${name}" at ${url}: HTTP ${res.status}`);
    }
    bytes = new Uint8Array(await res.arrayBuffer());
  }
  const weights = await loadProgicWeights(bytes);
  let backend: Backend;
  let gpu: GpuContext | null = null;
  if (options.backend === "cpu") backend = cpuBackend();
  else {
    gpu = options.gpu ?? await (sharedGpu ??= acquireGpu().catch((e) => {
      sharedGpu = undefined;
      throw e;
    }));
    backend = webgpuBackend(gpu);
  }
  const limit = gpu
    ? maxTileLatent(weights.config, gpu.device.limits.maxStorageBufferBindingSize)
    : 64;
  const tile = Math.min(limit, Math.floor((options.tileSize ?? 1024) / 16));
  if (tile < 8) throw new InvalidArgumentError(`tileSize must be at least 128 pixels`);
  const codec = await ProgicCodec.create(weights, backend, tile);
  return {
    name: weights.config.name,
    config: weights.config,
    sha256: weights.sha256,
    adapter: gpu?.adapter ?? null,
    codec,
  };
}

const loaded = new Map<string, Promise<Model>>();

async function modelFor(m: Model | string | undefined): Promise<Model> {
  if (m && typeof m !== "string") return m;
  const name = m ?? DEFAULT_MODEL;
  let p = loaded.get(name);
  if (!p) {
    p = loadModel({ name });
    p.catch(() => loaded.delete(name));
    loaded.set(name, p);
  }
  return await p;
}

/** Options of {@link encode}. */
export interface EncodeOptions extends AlphaOptions {
  /** A loaded model or a shipped model's name (default {@link DEFAULT_MODEL}). */
  readonly model?: Model | string;
  /** Progressive stages to write (1…5). Default: all. */
  readonly stages?: number;
  /** Target bits per pixel: the most stages within it. */
  readonly bpp?: number;
  /** Byte budget for the whole file (downscales when it must). */
  readonly maxBytes?: number;
  /**
   * Residual-VQ search width, 1…8 (default 8): wider searches write streams of the same size
   * that decode better on average at the written stage count (shorter prefixes can decode a
   * little worse), at some encode time; 1 is greedy. The decoder is the same either way.
   */
  readonly beams?: number;
  /**
   * Weight ≥ 0 of one bit against the latent's squared error when the encoder picks one of the
   * search's complete paths (default 0.3; 0: the least error): cheaper indices, whose saved bits
   * the refinement spends. The decoder is the same either way.
   */
  readonly rateWeight?: number;
  /**
   * Refinement after the last stage, when the model has refinement codebooks and all stages are
   * written: extra codes where the error is largest (see `steer`). `"auto"` (default) fills what
   * `bpp` or `maxBytes` leave, or up to the stages' fixed-length size (0.195 bpp for ProGIC's
   * 5 × 10 bits per 16×16 block) when neither is given; a number is the mean count of codes per
   * 16×16 block (at most the model's refinement codebooks; 0: none).
   */
  readonly refine?: number | "auto";
  /**
   * `true` (default): the refinement codes go where the decoded image differs most visibly from
   * the source, by a fitted model of Butteraugli (one more decoder run while encoding), which
   * lowers the Butteraugli max-norm at the same size; `false`: where the latent's residual is
   * largest. The decoder is the same either way.
   */
  readonly steer?: boolean;
  /**
   * Pre-filter strength 0…1 (default 1): a light blur of the image before the encoder that
   * lowers Butteraugli for a little PSNR. The stream and the decoder are the same either way.
   */
  readonly presmoothing?: number;
  /**
   * `"auto"` (default): a side 1–4 pixels past a multiple of 16 (and at least 64× that
   * remainder) is shrunk to the multiple and enlarged back by the decoder, which saves the bits
   * of a nearly empty latent row or column (481×321: 7.8%); `"pad"`: always pad.
   */
  readonly fit?: "auto" | "pad";
  /** Progress messages. */
  readonly onProgress?: (message: string) => void;
}

/** What {@link encode} returns. */
export interface EncodeResult {
  /** The `.tsr` stream. */
  readonly bytes: Uint8Array;
  /** Stages written. */
  readonly stages: number;
  /** Bits per pixel, container overhead included. */
  readonly bpp: number;
  /** Refinement codes written after the last stage (0: none). */
  readonly refinementCodes: number;
  /** Size actually coded (smaller than the image when fitted to the grid or downscaled for `maxBytes`). */
  readonly codedWidth: number;
  /** See `codedWidth`. */
  readonly codedHeight: number;
  /** The model used. */
  readonly model: string;
}

/**
 * Encodes an 8-bit image (gray, RGB, or RGBA that is opaque or flattened via `background`).
 * @throws {ImageError} for unusable images; {@link InvalidArgumentError} for bad options
 */
export async function encode(
  image: ImageData8,
  options: EncodeOptions = {},
): Promise<EncodeResult> {
  const rgb = toRgb(image, options);
  const model = await modelFor(options.model);
  const opts: ProgicEncodeOptions = {
    stages: options.stages,
    bpp: options.bpp,
    maxBytes: options.maxBytes,
    beams: options.beams,
    rateWeight: options.rateWeight,
    refine: options.refine,
    steer: options.steer,
    presmoothing: options.presmoothing,
    fit: options.fit,
    onProgress: options.onProgress,
  };
  const r = await model.codec.encode(rgb, opts);
  return { ...r, model: model.name };
}

/** Options of {@link decode}. */
export interface DecodeOptions {
  /** The model to decode with (default: the one the stream names). */
  readonly model?: Model | string;
  /** Decode only the first k stages. */
  readonly stages?: number;
  /**
   * Post-filter strength in [0, 1] (default 1): a light blur blended into the decoded image,
   * which lowers Butteraugli at a small cost in PSNR; 0 returns the network's output unfiltered.
   */
  readonly smoothing?: number;
  /** Decode the intact stages of a damaged stream instead of failing. */
  readonly bestEffort?: boolean;
}

/** What {@link decode} returns. */
export interface DecodeResult {
  /** The decoded image (RGB, at the original size). */
  readonly image: RgbImage;
  /** Stages decoded. */
  readonly stages: number;
  /** Stages the stream was written with. */
  readonly stagesWritten: number;
  /** Refinement codes decoded (0: none, or fewer stages than all were decoded). */
  readonly refinementCodes: number;
  /** Set when a truncated or damaged stream was decoded partially. */
  readonly warning?: string;
}

/**
 * Decodes a Tessera stream. A stream truncated at a stage boundary decodes the stages it holds.
 * @throws {BitstreamError} for corrupt streams; {@link ModelMismatchError} for other weights
 */
export async function decode(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): Promise<DecodeResult> {
  const info = inspect(bytes);
  const model = await modelFor(options.model ?? info.model);
  const r: ProgicDecodeResult = await model.codec.decode(bytes, {
    stages: options.stages,
    smoothing: options.smoothing,
    bestEffort: options.bestEffort,
  });
  return r;
}

/** What a stream's header says. */
export interface StreamInfo {
  /** Codec name. */
  readonly codec: string;
  /** Model name the stream needs. */
  readonly model: string;
  /** First bytes of the needed weights' SHA-256, hex. */
  readonly weightsHash: string;
  /** Display size. */
  readonly width: number;
  /** Display size. */
  readonly height: number;
  /** Size that was coded (smaller than the display size when fitted to the grid or downscaled). */
  readonly codedWidth: number;
  /** See `codedWidth`. */
  readonly codedHeight: number;
  /** Stages written. */
  readonly stages: number;
  /** Stages present and intact. */
  readonly stagesPresent: number;
  /** Whether the encoder wrote a refinement section after the stages; see `refinementPresent`. */
  readonly refined: boolean;
  /** Whether that section is present and intact. */
  readonly refinementPresent: boolean;
  /** File size and rate. */
  readonly bytes: number;
  /** Bits per pixel of the whole file. */
  readonly bpp: number;
  /** Byte size of each intact segment (the stages', then the refinement's). */
  readonly segmentBytes: readonly number[];
  /** How each stage the encoder wrote is coded: fixed-length fields or rANS. */
  readonly stageCoding: readonly ("fixed" | "rans")[];
}

/**
 * Reads a stream's header and segment table without decoding.
 * @throws {BitstreamError} when the header is malformed or the codec unknown
 */
export function inspect(bytes: Uint8Array): StreamInfo {
  const f = readContainer(bytes, { bestEffort: true, segmentName: (i) => `stage ${i + 1}` });
  const h = f.header;
  if (h.codec !== CodecId.progic) {
    throw new BitstreamError(
      `the stream uses codec ${h.codec}, which this build cannot decode`,
      "UNSUPPORTED",
    );
  }
  const model = progicModelName(h.model);
  if (!model) {
    throw new BitstreamError(`the stream needs unknown ProGIC model id ${h.model}`, "UNSUPPORTED");
  }
  const { entropyCoded, stages, refined, ...coded } = readProgicParams(h);
  return {
    codec: "progic",
    model,
    weightsHash: Array.from(h.weightsHash, (b) => b.toString(16).padStart(2, "0")).join(""),
    width: h.width,
    height: h.height,
    ...coded,
    stages,
    stagesPresent: Math.min(stages, f.segments.length),
    refined,
    refinementPresent: refined && f.segments.length > stages,
    bytes: bytes.length,
    bpp: (bytes.length * 8) / (h.width * h.height),
    segmentBytes: f.segments.map((s) => s.length),
    stageCoding: Array.from(
      { length: stages },
      (_, i) => isRansStage(entropyCoded, i) ? "rans" : "fixed",
    ),
  };
}

/** True for Tessera's own errors (typed, with a `code`). */
export function isTesseraError(e: unknown): e is TesseraError {
  return e instanceof TesseraError;
}
