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

function gaussianKernel(sigma: number): Float64Array {
  const r = Math.ceil(3 * sigma);
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** Separable Gaussian blur of a plane, edges replicated; rows first, as the twin. */
function blur(src: Plane, width: number, height: number, sigma: number): Plane {
  const k = gaussianKernel(sigma), r = (k.length - 1) >> 1;
  const tmp = new Float64Array(src.length), out = new Float64Array(src.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let i = -r; i <= r; i++) {
        s += k[i + r] * src[row + Math.min(width - 1, Math.max(0, x + i))];
      }
      tmp[row + x] = s;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let i = -r; i <= r; i++) {
        s += k[i + r] * tmp[Math.min(height - 1, Math.max(0, y + i)) * width + x];
      }
      out[y * width + x] = s;
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
    const l = (0.30 * r + 0.622 * g + 0.078 * b + 0.0038) ** (1 / 3);
    const m = (0.23 * r + 0.692 * g + 0.078 * b + 0.0038) ** (1 / 3);
    px[i] = (l - m) / 2;
    py[i] = (l + m) / 2;
    pb[i] = (0.2434 * r + 0.2047 * g + 0.5519 * b + 0.0038) ** (1 / 3);
  }
  return [px, py, pb];
}

/** Local detail of a Y plane: G₃|Y − G₂Y|. */
function detail(y: Plane, width: number, height: number): Plane {
  const base = blur(y, width, height, SIGMA_DETAIL);
  const d = y.map((v, i) => Math.abs(v - base[i]));
  return blur(d, width, height, SIGMA_ACTIVITY);
}

/** Per-pixel band maps in the twin's order: the low band squared, then per mask offset the
 * masked middle and high bands (each of X, Y, B). */
function bandMaps(src: MetricImage, dec: MetricImage): Plane[] {
  const { width, height } = src;
  const a = opponent(src), b = opponent(dec);
  const act = detail(a[1], width, height);
  const actDec = detail(b[1], width, height);
  for (let i = 0; i < act.length; i++) act[i] += actDec[i];
  const low: Plane[] = [], mid2: Plane[] = [], high2: Plane[] = [];
  for (let c = 0; c < 3; c++) {
    const d = b[c].map((v, i) => v - a[c][i]);
    const lo = blur(d, width, height, SIGMA_LOW);
    const midAll = blur(d, width, height, SIGMA_MID);
    low.push(lo.map((v) => v * v));
    mid2.push(blur(midAll.map((v, i) => (v - lo[i]) ** 2), width, height, SIGMA_SPREAD));
    high2.push(blur(d.map((v, i) => (v - midAll[i]) ** 2), width, height, SIGMA_SPREAD));
  }
  const maps = [...low];
  for (const off of MASK_OFFSETS) {
    const den = act.map((v) => (v + off) ** 2);
    for (const bands of [mid2, high2]) {
      for (let c = 0; c < 3; c++) maps.push(bands[c].map((v, i) => v / den[i]));
    }
  }
  return maps;
}

/**
 * Estimated largest Butteraugli distance (at 80 nits) of each 16×16 block of `decoded` against
 * `original`, blocks in raster order over ⌈height/16⌉ × ⌈width/16⌉ (a partial block at the right
 * or bottom edge counts the pixels it has).
 * @param coefficients the fitted model; the shipped fit by default
 * @throws {InvalidArgumentError} unless both are RGB images of one size
 */
export function blockVisibility(
  original: MetricImage,
  decoded: MetricImage,
  coefficients: readonly number[] = VISIBILITY_COEFFICIENTS,
): Float64Array {
  if (channelsOf(original, decoded) !== 3) {
    throw new InvalidArgumentError("visibility is defined for RGB images");
  }
  if (coefficients.length !== FEATURES + 1) {
    throw new InvalidArgumentError(
      `visibility takes ${FEATURES + 1} coefficients, got ${coefficients.length}`,
    );
  }
  const { width, height } = original;
  const bw = Math.ceil(width / VISIBILITY_BLOCK), bh = Math.ceil(height / VISIBILITY_BLOCK);
  const blocks = bw * bh;
  const logit = new Float64Array(blocks).fill(coefficients[FEATURES]);
  const most = new Float64Array(blocks), sum = new Float64Array(blocks);
  const count = new Float64Array(blocks);
  const blockOf = (x: number, y: number) =>
    Math.floor(y / VISIBILITY_BLOCK) * bw + Math.floor(x / VISIBILITY_BLOCK);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) count[blockOf(x, y)]++;
  bandMaps(original, decoded).forEach((map, f) => {
    most.fill(-Infinity);
    sum.fill(0);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = blockOf(x, y), v = map[y * width + x];
        if (v > most[p]) most[p] = v;
        sum[p] += v;
      }
    }
    for (let p = 0; p < blocks; p++) {
      logit[p] += coefficients[f] * Math.log(Math.sqrt(most[p]) + FLOOR) +
        coefficients[BANDS + f] * Math.log(Math.sqrt(sum[p] / count[p]) + FLOOR);
    }
  });
  return logit.map(Math.exp);
}
