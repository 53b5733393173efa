/**
 * Image input and output: PNG (fast-png) and JPEG (jpeg-js) decoding, PNG encoding, and
 * normalisation of any 8-bit image (gray, gray+alpha, RGB, RGBA) to interleaved RGB. Pure
 * JavaScript, so it works in Deno and browsers alike.
 * @module
 */
import { decode as decodePngRaw, encode as encodePngRaw } from "fast-png";
import jpeg from "jpeg-js";
import { ImageError } from "../errors.ts";
import { applyOrientation, jpegOrientation } from "./orientation.ts";

/** An 8-bit image with 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) interleaved channels. */
export interface ImageData8 {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** Interleaved samples, row-major. `ImageData.data` from a canvas works as is. */
  readonly data: Uint8Array | Uint8ClampedArray;
  /** Channels per pixel; inferred from `data.length` when omitted. */
  readonly channels?: 1 | 2 | 3 | 4;
}

/** An 8-bit interleaved RGB image. */
export interface RgbImage {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** `width·height·3` samples. */
  readonly data: Uint8Array;
}

/** Largest image accepted, in pixels (256 megapixels). */
export const MAX_PIXELS = 256 * 2 ** 20;

/** How to treat an alpha channel that is not fully opaque. */
export interface AlphaOptions {
  /** Composite onto this RGB background instead of refusing the image. */
  readonly background?: readonly [number, number, number];
}

/**
 * Converts an image to RGB. Gray is replicated to three channels. An alpha channel that is fully
 * opaque is dropped; any transparency is refused (codecs code RGB only) unless a background is
 * given to flatten onto.
 * @throws {ImageError} for bad geometry, channel counts or transparency
 */
export function toRgb(img: ImageData8, opts: AlphaOptions = {}): RgbImage {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ImageError(`image size ${width}×${height} is invalid`);
  }
  if (width * height > MAX_PIXELS) {
    throw new ImageError(
      `image of ${width}×${height} exceeds the ${MAX_PIXELS / 2 ** 20} MP limit`,
    );
  }
  const px = width * height;
  const ch = img.channels ?? data.length / px;
  if (![1, 2, 3, 4].includes(ch) || data.length !== px * ch) {
    throw new ImageError(
      `image data has ${data.length} samples, not ${px}×(1, 2, 3 or 4) for ${width}×${height}`,
    );
  }
  const out = new Uint8Array(px * 3);
  const bg = opts.background;
  for (let i = 0; i < px; i++) {
    const s = i * ch;
    const rgb = ch < 3 ? [data[s], data[s], data[s]] : [data[s], data[s + 1], data[s + 2]];
    const a = ch === 2 || ch === 4 ? data[s + ch - 1] : 255;
    if (a !== 255) {
      if (!bg) {
        throw new ImageError(
          "image has transparent pixels; Tessera codes RGB only. Flatten it onto a background " +
            "first (CLI: --background white; API: { background: [255, 255, 255] }).",
        );
      }
      for (let c = 0; c < 3; c++) rgb[c] = Math.round((rgb[c] * a + bg[c] * (255 - a)) / 255);
    }
    out[i * 3] = rgb[0];
    out[i * 3 + 1] = rgb[1];
    out[i * 3 + 2] = rgb[2];
  }
  return { width, height, data: out };
}

function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
}

function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

/**
 * Decodes PNG or JPEG bytes (sniffed from the content, not a file name). A JPEG's EXIF orientation
 * is applied, so the image is upright as viewers show it.
 * @throws {ImageError} for other formats, corrupt files or images above {@link MAX_PIXELS}
 */
export function decodeImage(bytes: Uint8Array): ImageData8 {
  if (isPng(bytes)) return decodePng(bytes);
  if (isJpeg(bytes)) return applyOrientation(decodeJpeg(bytes), jpegOrientation(bytes));
  throw new ImageError("unsupported image format: expected PNG or JPEG");
}

function decodePng(bytes: Uint8Array): ImageData8 {
  // IHDR is the first chunk: width and height at bytes 16..23; check before inflating.
  if (bytes.length < 24) throw new ImageError("PNG file is truncated");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const w = dv.getUint32(16), h = dv.getUint32(20);
  if (w * h > MAX_PIXELS) throw new ImageError(`PNG of ${w}×${h} exceeds the pixel limit`);
  let png;
  try {
    png = decodePngRaw(bytes);
  } catch (e) {
    throw new ImageError(`PNG could not be decoded: ${(e as Error).message}`, { cause: e });
  }
  const px = png.width * png.height;
  // fast-png returns 1/2/4-bit rows packed as stored (palette indices too); one sample per byte
  // from here on.
  const samples = png.depth < 8
    ? unpackRows(png.data as Uint8Array, png.width, png.height, png.depth)
    : png.data;
  let data: Uint8Array;
  let channels = png.channels;
  if (png.palette) {
    const pal = png.palette;
    const hasAlpha = pal.some((c) => c.length === 4);
    channels = hasAlpha ? 4 : 3;
    data = new Uint8Array(px * channels);
    for (let i = 0; i < px; i++) {
      const c = pal[samples[i]];
      if (!c) {
        throw new ImageError(`PNG palette has ${pal.length} entries; a pixel uses ${samples[i]}`);
      }
      for (let k = 0; k < channels; k++) data[i * channels + k] = c[k] ?? 255;
    }
  } else if (png.depth === 16) {
    data = Uint8Array.from(samples as Uint16Array, (v) => Math.round(v / 257));
  } else if (png.depth === 8) {
    data = samples as Uint8Array;
  } else {
    const max = (1 << png.depth) - 1;
    data = Uint8Array.from(samples as Uint8Array, (v) => Math.round((v * 255) / max));
  }
  // A tRNS colour key (gray or RGB files) makes the pixels of exactly that colour transparent:
  // carried as an alpha channel, so that they are refused or flattened like any other alpha.
  const key = png.palette ? undefined : png.transparency;
  if (key?.length && (channels === 1 || channels === 3)) {
    const withAlpha = new Uint8Array(px * (channels + 1));
    for (let i = 0; i < px; i++) {
      let same = true;
      for (let c = 0; c < channels; c++) {
        withAlpha[i * (channels + 1) + c] = data[i * channels + c];
        same &&= samples[i * channels + c] === key[c];
      }
      withAlpha[i * (channels + 1) + channels] = same ? 0 : 255;
    }
    data = withAlpha;
    channels += 1;
  }
  return { width: png.width, height: png.height, data, channels: channels as 1 | 2 | 3 | 4 };
}

/** Packed 1/2/4-bit rows (most significant bits first, each row padded to a byte) -> a byte per
 * sample. */
function unpackRows(packed: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  const stride = Math.ceil((width * depth) / 8);
  if (packed.length < stride * height) throw new ImageError("PNG image data is truncated");
  const out = new Uint8Array(width * height);
  const perByte = 8 / depth, mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const byte = packed[y * stride + Math.floor(x / perByte)];
      out[y * width + x] = (byte >> (8 - depth * (1 + (x % perByte)))) & mask;
    }
  }
  return out;
}

function decodeJpeg(bytes: Uint8Array): ImageData8 {
  try {
    const j = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: MAX_PIXELS / 2 ** 20,
      maxMemoryUsageInMB: 2048,
    });
    return { width: j.width, height: j.height, data: j.data, channels: 3 };
  } catch (e) {
    throw new ImageError(`JPEG could not be decoded: ${(e as Error).message ?? e}`, { cause: e });
  }
}

/** Encodes an RGB image as an 8-bit PNG. */
export function encodePng(img: RgbImage): Uint8Array {
  return encodePngRaw({
    width: img.width,
    height: img.height,
    data: img.data,
    channels: 3,
    depth: 8,
  });
}
