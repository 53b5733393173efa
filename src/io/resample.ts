/**
 * CPU image resampling and layout helpers for RGB images: area-average downscaling (no
 * aliasing), bilinear upscaling, and conversion to and from the padded float tensors the
 * models take.
 * @module
 */
import type { RgbImage } from "./image.ts";

/** Resizes with area averaging when shrinking and bilinear interpolation when enlarging. */
export function resize(img: RgbImage, width: number, height: number): RgbImage {
  if (width === img.width && height === img.height) return img;
  const xs = axis(img.width, width);
  const ys = axis(img.height, height);
  const out = new Uint8Array(width * height * 3);
  const acc = new Float64Array(3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      acc.fill(0);
      let wsum = 0;
      for (const [sy, wy] of ys[y]) {
        for (const [sx, wx] of xs[x]) {
          const w = wy * wx;
          const s = (sy * img.width + sx) * 3;
          acc[0] += w * img.data[s];
          acc[1] += w * img.data[s + 1];
          acc[2] += w * img.data[s + 2];
          wsum += w;
        }
      }
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        out[o + c] = Math.max(0, Math.min(255, Math.round(acc[c] / wsum)));
      }
    }
  }
  return { width, height, data: out };
}

/** For each output coordinate, the source coordinates and weights that form it. */
function axis(src: number, dst: number): [number, number][][] {
  const scale = src / dst;
  const taps: [number, number][][] = [];
  for (let o = 0; o < dst; o++) {
    const t: [number, number][] = [];
    if (scale > 1) {
      // Area average over the source span [o·scale, (o+1)·scale).
      const a = o * scale, b = a + scale;
      for (let s = Math.floor(a); s < Math.ceil(b); s++) {
        const w = Math.min(b, s + 1) - Math.max(a, s);
        if (w > 1e-9) t.push([Math.min(s, src - 1), w]);
      }
    } else {
      // Bilinear with pixel centres aligned (half-pixel convention).
      const c = Math.max(0, Math.min(src - 1, (o + 0.5) * scale - 0.5));
      const s0 = Math.floor(c), s1 = Math.min(src - 1, s0 + 1), f = c - s0;
      t.push([s0, 1 - f]);
      if (f > 0) t.push([s1, f]);
    }
    taps.push(t);
  }
  return taps;
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
