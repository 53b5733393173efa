/**
 * Visibility: a fitted estimate, per 16×16 block, of the largest Butteraugli distance between an
 * image and its decoded version there. Butteraugli's max-norm is set by an image's worst spot,
 * so the ProGIC encoder hands its refinement codes to the blocks this ranks highest.
 *
 * The model (the PyTorch twin `train/visibility.py` documents it and fits the coefficients):
 * both images to an XYB-like opponent space; their difference split into low, middle and high
 * bands by separable Gaussian blurs (edges replicated, radius ⌈3σ⌉); the middle and high bands
 * masked by the local detail of both images; per block the log of each band's largest and mean
 * magnitude (42 features) and a linear fit of them to the log of Butteraugli's block maximum.
 * All arithmetic is in binary64, as the twin's.
 * @module
 */
import { channelsOf, type MetricImage } from "./image.ts";
import { gaussian } from "./ssim.ts";
import { InvalidArgumentError } from "../errors.ts";
import { VISIBILITY_COEFFICIENTS } from "./visibility_coefficients.ts";

/** Side of a scored block, in pixels (one ProGIC latent position). */
export const VISIBILITY_BLOCK = 16;

const SIGMA_LOW = 4, SIGMA_MID = 1.5, SIGMA_SPREAD = 1, SIGMA_DETAIL = 2, SIGMA_ACTIVITY = 3;
const MASK_OFFSETS = [0.01, 0.03, 0.1];
const FLOOR = 1e-4;
const BANDS = 3 * (1 + 2 * MASK_OFFSETS.length);
/** Each band's block maximum and block mean. */
const FEATURES = 2 * BANDS;

/** One channel plane of `width·height` samples. */
type Plane = Float64Array;

/**
 * Separable Gaussian blur of a plane, edges replicated; rows first, as the twin. Each row is
 * copied into a buffer extended by r replicated samples on both sides, so the tap loop needs no
 * clamping; the column pass adds whole rows, one tap at a time, which keeps memory access
 * sequential.
 */
function blur(src: Plane, width: number, height: number, sigma: number): Plane {
  const r = Math.ceil(3 * sigma), k = gaussian(2 * r + 1, sigma);
  const tmp = new Float64Array(src.length), out = new Float64Array(src.length);
  const line = new Float64Array(width + 2 * r);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    line.set(src.subarray(row, row + width), r);
    line.fill(src[row], 0, r);
    line.fill(src[row + width - 1], r + width);
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let i = 0; i < k.length; i++) s += k[i] * line[x + i];
      tmp[row + x] = s;
    }
  }
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let i = 0; i < k.length; i++) {
      const from = Math.min(height - 1, Math.max(0, y + i - r)) * width, w = k[i];
      for (let x = 0; x < width; x++) out[o + x] += w * tmp[from + x];
    }
  }
  return out;
}

/** 8-bit sRGB to linear light, per sample value. */
const LINEAR = Float64Array.from({ length: 256 }, (_, v) => {
  const x = v / 255;
  return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
});

/** RGB samples to the X, Y, B planes of the opponent space. */
function opponent(img: MetricImage): [Plane, Plane, Plane] {
  const n = img.width * img.height;
  const px = new Float64Array(n), py = new Float64Array(n), pb = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = LINEAR[img.data[3 * i]], g = LINEAR[img.data[3 * i + 1]];
    const b = LINEAR[img.data[3 * i + 2]];
    const l = Math.cbrt(0.30 * r + 0.622 * g + 0.078 * b + 0.0038);
    const m = Math.cbrt(0.23 * r + 0.692 * g + 0.078 * b + 0.0038);
    px[i] = (l - m) / 2;
    py[i] = (l + m) / 2;
    pb[i] = Math.cbrt(0.2434 * r + 0.2047 * g + 0.5519 * b + 0.0038);
  }
  return [px, py, pb];
}

/** Local detail of a Y plane: G₃|Y − G₂Y|. */
function detail(y: Plane, width: number, height: number): Plane {
  const base = blur(y, width, height, SIGMA_DETAIL);
  for (let i = 0; i < base.length; i++) base[i] = Math.abs(y[i] - base[i]);
  return blur(base, width, height, SIGMA_ACTIVITY);
}

/**
 * Visits every per-pixel band map with its index in the twin's order (`band_maps`): the low band
 * squared (0–2: X, Y, B), then for mask offset j the masked middle (3 + 6j + c) and high
 * (6 + 6j + c) bands. Maps are produced one channel at a time and the visited plane is reused, so
 * about ten planes are alive at once rather than all 21.
 */
function forEachBand(
  src: MetricImage,
  dec: MetricImage,
  visit: (band: number, map: Plane) => void,
): void {
  const { width, height } = src;
  const n = width * height;
  const a = opponent(src), b = opponent(dec);
  const act = detail(a[1], width, height);
  const actDec = detail(b[1], width, height);
  for (let i = 0; i < n; i++) act[i] += actDec[i];
  const scratch = new Float64Array(n), d = new Float64Array(n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) d[i] = b[c][i] - a[c][i];
    const lo = blur(d, width, height, SIGMA_LOW);
    const midAll = blur(d, width, height, SIGMA_MID);
    for (let i = 0; i < n; i++) scratch[i] = lo[i] * lo[i];
    visit(c, scratch);
    for (let i = 0; i < n; i++) scratch[i] = (midAll[i] - lo[i]) ** 2;
    const mid2 = blur(scratch, width, height, SIGMA_SPREAD);
    for (let i = 0; i < n; i++) scratch[i] = (d[i] - midAll[i]) ** 2;
    const high2 = blur(scratch, width, height, SIGMA_SPREAD);
    MASK_OFFSETS.forEach((off, j) => {
      for (const [band, map] of [[3 + 6 * j + c, mid2], [6 + 6 * j + c, high2]] as const) {
        for (let i = 0; i < n; i++) scratch[i] = map[i] / (act[i] + off) ** 2;
        visit(band, scratch);
      }
    });
  }
}

/**
 * Side, in pixels, of the square regions {@link blockVisibility} works on by default. Each runs
 * with {@link VISIBILITY_MARGIN} pixels of real neighbours around it, so memory stays near 11 MB
 * whatever the image size.
 */
export const VISIBILITY_TILE = 256;

/**
 * Neighbours each region is computed with. The longest chain of blurs reaches 15 pixels (the
 * detail map: radius 6 then 9; the masked middle band: 12 then 3), so every pixel of a region's
 * core sees exactly what it sees in the whole image and tiled results equal whole-image ones
 * bit for bit.
 */
export const VISIBILITY_MARGIN = 16;

/** The w×h window of an interleaved RGB image at (x0, y0). */
function window(img: MetricImage, x0: number, y0: number, w: number, h: number): MetricImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const from = ((y0 + y) * img.width + x0) * 3;
    data.set(img.data.subarray(from, from + w * 3), y * w * 3);
  }
  return { width: w, height: h, data };
}

/**
 * Estimated largest Butteraugli distance (at 80 nits) of each 16×16 block of `decoded` against
 * `original`, blocks in raster order over ⌈height/16⌉ × ⌈width/16⌉ (a partial block at the right
 * or bottom edge counts the pixels it has).
 * @param coefficients the fitted model; the shipped fit by default
 * @param tile side of the regions computed one at a time (a multiple of 16); the result does not
 *   depend on it
 * @throws {InvalidArgumentError} unless both are RGB images of one size
 */
export function blockVisibility(
  original: MetricImage,
  decoded: MetricImage,
  coefficients: readonly number[] = VISIBILITY_COEFFICIENTS,
  tile = VISIBILITY_TILE,
): Float64Array {
  if (channelsOf(original, decoded) !== 3) {
    throw new InvalidArgumentError("visibility is defined for RGB images");
  }
  if (coefficients.length !== FEATURES + 1) {
    throw new InvalidArgumentError(
      `visibility takes ${FEATURES + 1} coefficients, got ${coefficients.length}`,
    );
  }
  if (!(Number.isInteger(tile) && tile > 0 && tile % VISIBILITY_BLOCK === 0)) {
    throw new InvalidArgumentError(`tile must be a positive multiple of 16, got ${tile}`);
  }
  const { width, height } = original;
  const B = VISIBILITY_BLOCK, bw = Math.ceil(width / B);
  const logit = new Float64Array(bw * Math.ceil(height / B)).fill(coefficients[FEATURES]);
  for (let ty = 0; ty < height; ty += tile) {
    for (let tx = 0; tx < width; tx += tile) {
      const x0 = Math.max(0, tx - VISIBILITY_MARGIN), y0 = Math.max(0, ty - VISIBILITY_MARGIN);
      const x1 = Math.min(width, tx + tile + VISIBILITY_MARGIN);
      const y1 = Math.min(height, ty + tile + VISIBILITY_MARGIN);
      const w = x1 - x0, h = y1 - y0;
      // The region's pixels that lie in this tile's blocks, and which block (−1: margin).
      const tbw = Math.ceil(Math.min(tile, width - tx) / B);
      const tbh = Math.ceil(Math.min(tile, height - ty) / B);
      const blockOf = new Int32Array(w * h).fill(-1), count = new Float64Array(tbw * tbh);
      for (let y = ty; y < Math.min(height, ty + tile); y++) {
        for (let x = tx; x < Math.min(width, tx + tile); x++) {
          const q = Math.floor((y - ty) / B) * tbw + Math.floor((x - tx) / B);
          blockOf[(y - y0) * w + (x - x0)] = q;
          count[q]++;
        }
      }
      const most = new Float64Array(count.length), sum = new Float64Array(count.length);
      const a = window(original, x0, y0, w, h), b = window(decoded, x0, y0, w, h);
      forEachBand(a, b, (f, map) => {
        most.fill(-Infinity);
        sum.fill(0);
        for (let i = 0; i < map.length; i++) {
          const q = blockOf[i], v = map[i];
          if (q < 0) continue;
          if (v > most[q]) most[q] = v;
          sum[q] += v;
        }
        for (let q = 0; q < count.length; q++) {
          const p = (ty / B + Math.floor(q / tbw)) * bw + tx / B + (q % tbw);
          logit[p] += coefficients[f] * Math.log(Math.sqrt(most[q]) + FLOOR) +
            coefficients[BANDS + f] * Math.log(Math.sqrt(sum[q] / count[q]) + FLOOR);
        }
      });
    }
  }
  return logit.map(Math.exp);
}
