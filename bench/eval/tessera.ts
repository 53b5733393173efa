/**
 * The Tessera codec for the harness: ProGIC through the library's public `encode`/`decode`
 * (from `mod.ts`), one operating point per progressive stage count (`s1` … `s5`, no refinement),
 * and `s5r`: all stages plus the library's default refinement (as much as fits within the
 * stages' fixed-length size), what `mod.ts encode` writes by default.
 *
 * The library entry is imported at run time, so the harness still runs (and skips Tessera
 * with a clear message) while `mod.ts` does not yet export the codec API. Expected API:
 * `encode(image: {width, height, data, channels?: 3}, {stages?, model?}) => Promise<{bytes}>`,
 * `decode(bytes) => Promise<{image: {width, height, data}}>`.
 * @module
 */
import type { RgbImage } from "../../src/io/image.ts";
import type { Codec } from "./codec.ts";

/** Options of the library's `encode` that the harness uses. */
export interface TesseraEncodeOptions {
  /** Progressive stages to code (1–5 for ProGIC). */
  stages?: number;
  /** Model name (default: the library's default model). */
  model?: string;
  /** Refinement codes after the last stage: 0 none, "auto" the library's default. */
  refine?: number | "auto";
  /** Encoder pre-filter strength in [0, 1] (default: the library's). */
  presmoothing?: number;
}

/**
 * The codec's filter strengths when they are not the library's defaults (a measurement of other
 * settings): the encoder's pre-filter and the decoder's post-filter, each in [0, 1].
 */
export interface TesseraFilters {
  /** Encoder pre-filter strength. */
  presmoothing?: number;
  /** Decoder post-filter strength. */
  smoothing?: number;
}

/** The part of the library API the adapter needs. */
export interface TesseraApi {
  /** Encodes an RGB image. */
  encode(
    image: { width: number; height: number; data: Uint8Array; channels?: 3 },
    opts: TesseraEncodeOptions,
  ): Promise<{ bytes: Uint8Array }>;
  /** Decodes a stream back to an image. */
  decode(
    bytes: Uint8Array,
    opts?: { smoothing?: number },
  ): Promise<{ image: { width: number; height: number; data: Uint8Array } }>;
}

/** The Tessera codec cannot be used in this checkout or runtime. */
export class TesseraUnavailableError extends Error {
  override name = "TesseraUnavailableError";
}

/** Number of ProGIC progressive stages. */
export const TESSERA_STAGES = 5;

/** Operating point name of a stage count. */
export function stagePoint(stages: number): string {
  return `s${stages}`;
}

/** The point of all stages with the default refinement. */
export const REFINED_POINT = `s${TESSERA_STAGES}r`;

/**
 * Wraps a library API as a harness codec (exported for tests with a stand-in API).
 * `defaultModel` only names the model in the report when `model` is not given.
 */
export function tesseraCodec(
  api: TesseraApi,
  model?: string,
  defaultModel?: string,
  filters: TesseraFilters = {},
): Codec {
  const { presmoothing, smoothing } = filters;
  const filtered = presmoothing !== undefined || smoothing !== undefined;
  const points = [
    ...Array.from({ length: TESSERA_STAGES }, (_, i) => stagePoint(i + 1)),
    REFINED_POINT,
  ];
  return {
    // Other filter settings are another codec: records of the two must not be pooled.
    name: (model ? `tessera-${model}` : "tessera") +
      (filtered ? `-pre${presmoothing ?? "d"}-post${smoothing ?? "d"}` : ""),
    points,
    settings: `Tessera ProGIC, model ${model ?? defaultModel ?? "(library default)"}, ` +
      `stages 1–${TESSERA_STAGES} without refinement and ${REFINED_POINT} (${TESSERA_STAGES} stages ` +
      "with the default refinement), library defaults (grid fit, encoder pre-filter, beam search " +
      "aimed at each point's stage count, decoder post-filter)" +
      (filtered
        ? `, except pre-filter ${presmoothing ?? "default"} and post-filter ${
          smoothing ?? "default"
        }`
        : ""),
    async encode(rgb: RgbImage, point: string): Promise<Uint8Array> {
      if (!points.includes(point)) throw new Error(`unknown Tessera point "${point}"`);
      const refined = point === REFINED_POINT;
      const opts: TesseraEncodeOptions = {
        stages: refined ? TESSERA_STAGES : Number(point.slice(1)),
        refine: refined ? "auto" : 0,
        ...(model ? { model } : {}),
        ...(presmoothing !== undefined ? { presmoothing } : {}),
      };
      const r = await api.encode(
        { width: rgb.width, height: rgb.height, data: rgb.data, channels: 3 },
        opts,
      );
      return r.bytes;
    },
    async decode(bytes: Uint8Array): Promise<RgbImage> {
      const { image } = await api.decode(bytes, smoothing !== undefined ? { smoothing } : {});
      const px = image.width * image.height;
      if (image.data.length === px * 3) return image;
      if (image.data.length === px * 4) {
        const rgb = new Uint8Array(px * 3);
        for (let i = 0; i < px; i++) rgb.set(image.data.subarray(i * 4, i * 4 + 3), i * 3);
        return { width: image.width, height: image.height, data: rgb };
      }
      throw new Error(
        `decoded image has ${image.data.length} samples for ${image.width}×${image.height}`,
      );
    },
  };
}

/**
 * Imports the library entry and returns the Tessera codec.
 * @throws {TesseraUnavailableError} when `mod.ts` is missing or does not export `encode`/`decode`
 */
export async function loadTessera(
  model?: string,
  entry: string = new URL("../../mod.ts", import.meta.url).href,
  filters: TesseraFilters = {},
): Promise<Codec> {
  let mod: Record<string, unknown>;
  try {
    mod = await import(entry);
  } catch (e) {
    throw new TesseraUnavailableError(
      `cannot import ${entry}: ${(e as Error).message.split("\n")[0]}`,
      { cause: e },
    );
  }
  if (typeof mod.encode !== "function" || typeof mod.decode !== "function") {
    throw new TesseraUnavailableError(`${entry} does not export encode() and decode() yet`);
  }
  const dflt = typeof mod.DEFAULT_MODEL === "string" ? mod.DEFAULT_MODEL : undefined;
  return tesseraCodec(mod as unknown as TesseraApi, model, dflt, filters);
}
