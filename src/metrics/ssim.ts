/**
 * SSIM and MS-SSIM of 8-bit images, as learned-compression papers compute them.
 *
 * - Each channel is scored on its own in [0, 255] (data range 255) and the channel scores are
 *   averaged: RGB MS-SSIM, as `pytorch_msssim` and `tf.image.ssim_multiscale` report it.
 * - 11×11 Gaussian window, σ = 1.5, applied as a separable "valid" filter (no padding);
 *   C1 = (0.01·255)², C2 = (0.03·255)²; population (not sample) covariances.
 * - MS-SSIM (Wang, Simoncelli & Bovik 2003): 5 scales with weights
 *   {@link MS_SSIM_WEIGHTS}; between scales a 2×2 average pool. A side of odd length is first
 *   extended by repeating its last row/column (TensorFlow's symmetric padding, the original
 *   MATLAB code's behaviour), so a side of n becomes ⌈n/2⌉. The contrast-structure terms of
 *   scales 1–4 and the SSIM of scale 5 are clamped at 0 before the weighted product, as in
 *   `pytorch_msssim` and TensorFlow.
 * - Small images: the full 5 scales need a side of at least 161 px. A smaller image uses the
 *   largest number of scales L for which every scale still holds the 11-px window, with the
 *   first L weights renormalised to sum to 1; an image under 11 px on a side is scored at one
 *   scale with the window cut to the largest odd size that fits (σ stays 1.5). At 5 scales the
 *   published weights are used unchanged (they sum to 1.0001, as in every reference code).
 * @module
 */
import { channelsOf, type MetricImage } from "./image.ts";

/** Scale weights of the standard 5-scale MS-SSIM, finest scale first. */
export const MS_SSIM_WEIGHTS: readonly number[] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

/** Side of the Gaussian window. */
export const SSIM_WINDOW = 11;

/** Standard deviation of the Gaussian window, in pixels. */
export const SSIM_SIGMA = 1.5;

const K1 = 0.01, K2 = 0.03, RANGE = 255;
const C1 = (K1 * RANGE) ** 2, C2 = (K2 * RANGE) ** 2;

/** Mean SSIM and mean contrast-structure term of one channel at one scale. */
interface SsimTerms {
  ssim: number;
  cs: number;
}

/** A single-channel float plane. */
interface Plane {
  w: number;
  h: number;
  v: Float64Array;
}

/** Window side used for an image whose shorter side is `minSide` (odd, at most 11). */
function windowSide(minSide: number): number {
  const s = Math.min(SSIM_WINDOW, minSide);
  return s % 2 === 1 ? s : s - 1;
}

/** Normalised Gaussian taps of an odd `size`, centred (also the visibility model's blur). */
export function gaussian(size: number, sigma: number): Float64Array {
  const g = new Float64Array(size);
  const c = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    g[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
    sum += g[i];
  }
  for (let i = 0; i < size; i++) g[i] /= sum;
  return g;
}

/**
 * Mean SSIM and mean contrast-structure term of two planes: the five local moments are
 * filtered with the separable window in "valid" mode (rows first, then columns) in one pass.
 */
function ssimTerms(x: Plane, y: Plane, k: Float64Array): SsimTerms {
  const n = k.length, w = x.w, h = x.h, ow = w - n + 1, oh = h - n + 1;
  const xv = x.v, yv = y.v;
  const size = ow * h;
  const tx = new Float64Array(size), ty = new Float64Array(size);
  const txx = new Float64Array(size), tyy = new Float64Array(size), txy = new Float64Array(size);
  for (let r = 0; r < h; r++) {
    const row = r * w;
    for (let c = 0; c < ow; c++) {
      let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (let i = 0; i < n; i++) {
        const g = k[i], a = xv[row + c + i], b = yv[row + c + i];
        sx += g * a;
        sy += g * b;
        sxx += g * a * a;
        syy += g * b * b;
        sxy += g * a * b;
      }
      const o = r * ow + c;
      tx[o] = sx;
      ty[o] = sy;
      txx[o] = sxx;
      tyy[o] = syy;
      txy[o] = sxy;
    }
  }
  let ssim = 0, cs = 0;
  for (let r = 0; r < oh; r++) {
    for (let c = 0; c < ow; c++) {
      let ux = 0, uy = 0, exx = 0, eyy = 0, exy = 0;
      for (let i = 0; i < n; i++) {
        const g = k[i], o = (r + i) * ow + c;
        ux += g * tx[o];
        uy += g * ty[o];
        exx += g * txx[o];
        eyy += g * tyy[o];
        exy += g * txy[o];
      }
      const vx = exx - ux * ux, vy = eyy - uy * uy, vxy = exy - ux * uy;
      const t = (2 * vxy + C2) / (vx + vy + C2);
      cs += t;
      ssim += ((2 * ux * uy + C1) / (ux * ux + uy * uy + C1)) * t;
    }
  }
  return { ssim: ssim / (ow * oh), cs: cs / (ow * oh) };
}

/** 2×2 average pooling; an odd side is first extended by repeating its last row/column. */
function downsample(p: Plane): Plane {
  const w = Math.ceil(p.w / 2), h = Math.ceil(p.h / 2);
  const v = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    const y0 = 2 * y, y1 = Math.min(2 * y + 1, p.h - 1);
    for (let x = 0; x < w; x++) {
      const x0 = 2 * x, x1 = Math.min(2 * x + 1, p.w - 1);
      v[y * w + x] = (p.v[y0 * p.w + x0] + p.v[y0 * p.w + x1] + p.v[y1 * p.w + x0] +
        p.v[y1 * p.w + x1]) / 4;
    }
  }
  return { w, h, v };
}

function planes(img: MetricImage, channels: number): Plane[] {
  const px = img.width * img.height;
  const out: Plane[] = [];
  for (let c = 0; c < channels; c++) {
    const v = new Float64Array(px);
    for (let i = 0; i < px; i++) v[i] = img.data[i * channels + c];
    out.push({ w: img.width, h: img.height, v });
  }
  return out;
}

/**
 * Number of MS-SSIM scales used for an image of this size: 5 when the shorter side is at least
 * 161 px, else the most scales at which every downsampled image still holds the 11-px window
 * (at least 1).
 */
export function msSsimScales(width: number, height: number): number {
  let side = Math.min(width, height), scales = 1;
  while (scales < MS_SSIM_WEIGHTS.length) {
    side = Math.ceil(side / 2);
    if (side < SSIM_WINDOW) break;
    scales++;
  }
  return scales;
}

/**
 * The scale weights used for an image of this size: the standard weights as published (they
 * sum to 1.0001) at 5 scales, else the first L weights renormalised to sum to 1.
 */
export function msSsimWeights(width: number, height: number): number[] {
  const scales = msSsimScales(width, height);
  if (scales === MS_SSIM_WEIGHTS.length) return [...MS_SSIM_WEIGHTS];
  const w = MS_SSIM_WEIGHTS.slice(0, scales);
  const sum = w.reduce((s, x) => s + x, 0);
  return w.map((x) => x / sum);
}

/**
 * Single-scale SSIM, averaged over channels: the mean of the SSIM map over the positions where
 * the whole window lies inside the image. Matches scikit-image's
 * `structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
 * data_range=255)`.
 * @throws {InvalidArgumentError} when the images differ in size or channel count
 */
export function ssim(a: MetricImage, b: MetricImage): number {
  const ch = channelsOf(a, b);
  const k = gaussian(windowSide(Math.min(a.width, a.height)), SSIM_SIGMA);
  const pa = planes(a, ch), pb = planes(b, ch);
  let sum = 0;
  for (let c = 0; c < ch; c++) sum += ssimTerms(pa[c], pb[c], k).ssim;
  return sum / ch;
}

/**
 * Multi-scale SSIM, averaged over channels (see the module notes for the exact definition and
 * the handling of images smaller than 161 px). Identical images give exactly 1; the value lies
 * in [0, 1].
 * @throws {InvalidArgumentError} when the images differ in size or channel count
 */
export function msSsim(a: MetricImage, b: MetricImage): number {
  const ch = channelsOf(a, b);
  const weights = msSsimWeights(a.width, a.height);
  const k = gaussian(windowSide(Math.min(a.width, a.height)), SSIM_SIGMA);
  let pa = planes(a, ch), pb = planes(b, ch);
  const score = new Array<number>(ch).fill(1);
  for (let s = 0; s < weights.length; s++) {
    if (s > 0) {
      pa = pa.map(downsample);
      pb = pb.map(downsample);
    }
    const last = s === weights.length - 1;
    for (let c = 0; c < ch; c++) {
      const t = ssimTerms(pa[c], pb[c], k);
      score[c] *= Math.max(0, last ? t.ssim : t.cs) ** weights[s];
    }
  }
  return score.reduce((s, x) => s + x, 0) / ch;
}
