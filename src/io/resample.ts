/**
 * CPU image resampling and layout helpers for RGB images: Lanczos-3 resizing (antialiased when
 * shrinking), and conversion to and from the padded float tensors the models take.
 * @module
 */
import type { RgbImage } from "./image.ts";

/**
 * Resizes with a separable Lanczos-3 filter, stretched by the scale factor when shrinking so
 * that it also removes what would alias. Lanczos rather than a box or
 * bilinear filter because the codec resizes by factors close to 1 (fitting the latent grid) and
 * back: there a bilinear round trip blurs as much as a [1 2 1] filter, Lanczos hardly at all.
 */
export function resize(img: RgbImage, width: number, height: number): RgbImage {
  if (width === img.width && height === img.height) return img;
  const xs = axis(img.width, width);
  const ys = axis(img.height, height);
  // Rows first (source height × output width), then columns.
  const rows = new Float32Array(img.height * width * 3);
  const src = img.data;
  for (let y = 0; y < img.height; y++) {
    const row = y * img.width * 3, dst = y * width * 3;
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (let k = x * xs.taps, end = k + xs.taps; k < end; k++) {
        const w = xs.weight[k], s = row + xs.index[k] * 3;
        r += w * src[s];
        g += w * src[s + 1];
        b += w * src[s + 2];
      }
      const o = dst + x * 3;
      rows[o] = r;
      rows[o + 1] = g;
      rows[o + 2] = b;
    }
  }
  const out = new Uint8Array(width * height * 3);
  const stride = width * 3;
  const acc = new Float64Array(stride);
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    for (let k = y * ys.taps, end = k + ys.taps; k < end; k++) {
      const w = ys.weight[k], s = ys.index[k] * stride;
      if (w === 0) continue;
      for (let x = 0; x < stride; x++) acc[x] += w * rows[s + x];
    }
    const o = y * stride;
    for (let x = 0; x < stride; x++) {
      const q = Math.round(acc[x]);
      out[o + x] = q < 0 ? 0 : q > 255 ? 255 : q;
    }
  }
  return { width, height, data: out };
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
