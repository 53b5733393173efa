/**
 * Image-quality metrics (PSNR, SSIM, MS-SSIM) and the Bjøntegaard-delta rate, in plain
 * TypeScript for Deno and browsers alike.
 * @module
 */
export { channelsOf, type MetricImage } from "./image.ts";
export { mse, PEAK_8BIT, psnr, psnrFromMse } from "./psnr.ts";
export {
  MS_SSIM_WEIGHTS,
  msSsim,
  msSsimScales,
  msSsimWeights,
  ssim,
  SSIM_SIGMA,
  SSIM_WINDOW,
} from "./ssim.ts";
export {
  bdRate,
  type BdRateOptions,
  interpolateLogRate,
  monotoneCurve,
  type RdPoint,
} from "./bd_rate.ts";
