/**
 * CPU image resampling and layout helpers for RGB images: Lanczos-3 resizing (antialiased when
 * shrinking), and conversion to and from the padded float tensors the models take.
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import type { RgbImage } from "./image.ts";

/**
 * Resizes with a separable Lanczos-3 filter, stretched by the scale factor when shrinking so
 * that it also removes what would alias: rows first, then columns, rounding to 8 bits in between,
 * as Pillow does (so the PyTorch twin's Pillow resize gives the same pixels within ±1). Lanczos
 * rather than a box or bilinear filter because the codec resizes by factors close to 1 (fitting
 * the latent grid) and back: there a bilinear round trip blurs as much as a [1 2 1] filter,
 * Lanczos hardly at all.
 * @throws {InvalidArgumentError} unless width and height are positive integers
 */
export function resize(img: RgbImage, width: number, height: number): RgbImage {
  for (const [name, v] of [["width", width], ["height", height]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) {
      throw new InvalidArgumentError(`resize: ${name} must be a positive integer, got ${v}`);
    }
  }
  let out = img;
  if (width !== out.width) out = resizeRows(out, width);
  if (height !== out.height) out = transpose(resizeRows(transpose(out), height));
  return out;
}

/** Resamples every row to `width` pixels. */
function resizeRows(img: RgbImage, width: number): RgbImage {
  const t = axis(img.width, width);
  const src = img.data, out = new Uint8Array(img.height * width * 3);
  for (let y = 0; y < img.height; y++) {
    const row = y * img.width * 3;
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (let k = x * t.taps, end = k + t.taps; k < end; k++) {
        const w = t.weight[k], s = row + t.index[k] * 3;
        r += w * src[s];
        g += w * src[s + 1];
        b += w * src[s + 2];
      }
      const o = (y * width + x) * 3;
      out[o] = clamp8(r);
      out[o + 1] = clamp8(g);
      out[o + 2] = clamp8(b);
    }
  }
  return { width, height: img.height, data: out };
}

function clamp8(v: number): number {
  const q = Math.round(v);
  return q < 0 ? 0 : q > 255 ? 255 : q;
}

function transpose(img: RgbImage): RgbImage {
  const { width: w, height: h, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3, o = (x * h + y) * 3;
      out[o] = data[s];
      out[o + 1] = data[s + 1];
      out[o + 2] = data[s + 2];
    }
  }
  return { width: h, height: w, data: out };
}

const LOBES = 3;

function lanczos(x: number): number {
  if (x === 0) return 1;
  if (x <= -LOBES || x >= LOBES) return 0;
  const px = Math.PI * x;
  return (LOBES * Math.sin(px) * Math.sin(px / LOBES)) / (px * px);
}

/** Filter taps along one axis: output o reads `index[o·taps + k]` with `weight[o·taps + k]`. */
interface Taps {
  readonly taps: number;
  readonly index: Int32Array;
  readonly weight: Float64Array;
}

/**
 * For each output coordinate, the source coordinates and normalised weights that form it. Taps
 * that fall outside the source are dropped and the rest renormalised (as Pillow does); unused
 * slots have weight 0.
 */
function axis(src: number, dst: number): Taps {
  const scale = src / dst;
  const stretch = Math.max(1, scale);
  const support = LOBES * stretch;
  const taps = Math.ceil(2 * support) + 1;
  const index = new Int32Array(dst * taps), weight = new Float64Array(dst * taps);
  const w = new Float64Array(taps);
  for (let o = 0; o < dst; o++) {
    // Pixel centres aligned (half-pixel convention).
    const centre = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(src, Math.ceil(centre + support), lo + taps);
    let sum = 0;
    for (let s = lo; s < hi; s++) sum += w[s - lo] = lanczos((s + 0.5 - centre) / stretch);
    for (let s = lo; s < hi; s++) {
      index[o * taps + s - lo] = s;
      weight[o * taps + s - lo] = w[s - lo] / sum;
    }
  }
  return { taps, index, weight };
}

/**
 * An image as a float tensor `[1, H', W', 3]` holding `v/255 − 0.5`, padded on the bottom and
 * right to multiples of `multiple` by replicating the edge pixels.
 */
export function toPaddedTensor(
  img: RgbImage,
  multiple: number,
): { data: Float32Array; height: number; width: number } {
  const height = Math.ceil(img.height / multiple) * multiple;
  const width = Math.ceil(img.width / multiple) * multiple;
  const data = new Float32Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(y, img.height - 1);
    for (let x = 0; x < width; x++) {
      const s = (sy * img.width + Math.min(x, img.width - 1)) * 3;
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) data[o + c] = img.data[s + c] / 255 - 0.5;
    }
  }
  return { data, height, width };
}

/**
 * The inverse of {@link toPaddedTensor}: `(v + 0.5)·255`, rounded and clamped, cropped to
 * `width × height` from a tensor of row length `stride` pixels.
 */
export function fromTensor(
  data: Float32Array,
  stride: number,
  width: number,
  height: number,
): RgbImage {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width * 3; x++) {
      const v = Math.round((data[y * stride * 3 + x] + 0.5) * 255);
      out[y * width * 3 + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { width, height, data: out };
}
