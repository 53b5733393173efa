/**
 * Tessera: generative image compression that runs on WebGPU, in Deno and in browsers.
 *
 * The default codec is ProGIC, a progressive residual-VQ codec: five stages of 10-bit indices
 * on a 1/16-resolution grid, entropy-coded (at most 0.039 bpp per stage; about 0.034 … 0.178 bpp
 * on photographs), where every prefix of a stream decodes.
 *
 * @example
 * ```ts
 * import { decode, encode } from "@tessera/tessera";
 *
 * const image = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).fill(128) };
 * const { bytes, bpp } = await encode(image, { stages: 3 });
 * const { image: decoded } = await decode(bytes);
 * ```
 *
 * Run as a program it is the `tessera` CLI:
 * `deno run -A mod.ts encode in.png -o out.tsr --stages 3`.
 * @module
 */
export {
  decode,
  type DecodeOptions,
  type DecodeResult,
  DEFAULT_MODEL,
  encode,
  type EncodeOptions,
  type EncodeResult,
  inspect,
  isTesseraError,
  loadModel,
  type LoadModelOptions,
  type Model,
  type StreamInfo,
} from "./src/api.ts";
export type { AlphaOptions, ImageData8, RgbImage } from "./src/io/image.ts";
export { decodeImage, encodePng } from "./src/io/image.ts";
export type { AdapterReport, GpuContext } from "./src/graph/device.ts";
export type { DeviceCaps } from "./src/ops/op.ts";
export type { ProgicConfig } from "./src/models/progic/config.ts";
export {
  BitstreamError,
  DeviceLimitError,
  GraphError,
  ImageError,
  InvalidArgumentError,
  ModelMismatchError,
  ShapeError,
  TesseraError,
  type TesseraErrorCode,
  WebGpuUnavailableError,
  WeightsError,
} from "./src/errors.ts";

if (import.meta.main) {
  const { main } = await import("./cli.ts");
  // deno-lint-ignore no-explicit-any
  (globalThis as any).Deno.exit(await main((globalThis as any).Deno.args));
}
