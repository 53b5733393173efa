/**
 * Mean squared error and PSNR of 8-bit images, over all samples of all channels.
 * @module
 */
import { channelsOf, type MetricImage } from "./image.ts";

/** Peak value of 8-bit samples. */
export const PEAK_8BIT = 255;

/**
 * Mean squared error over every sample of every channel.
 * @throws {InvalidArgumentError} when the images differ in size or channel count
 */
export function mse(a: MetricImage, b: MetricImage): number {
  channelsOf(a, b);
  const x = a.data, y = b.data;
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - y[i];
    sum += d * d;
  }
  return sum / x.length;
}

/** PSNR in dB for a given MSE of 8-bit samples; `Infinity` when the MSE is 0. */
export function psnrFromMse(m: number): number {
  return m === 0 ? Infinity : 10 * Math.log10((PEAK_8BIT * PEAK_8BIT) / m);
}

/**
 * PSNR in dB of 8-bit images, `10·log10(255² / MSE)` with the MSE taken over all channels
 * together (the usual "RGB PSNR" of learned-compression papers). Identical images give
 * `Infinity`.
 * @throws {InvalidArgumentError} when the images differ in size or channel count
 */
export function psnr(a: MetricImage, b: MetricImage): number {
  return psnrFromMse(mse(a, b));
}
