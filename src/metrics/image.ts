/**
 * The image shape every metric takes, and the check that two images can be compared.
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/**
 * An 8-bit image with interleaved channels (1 for gray, 3 for RGB, …); the channel count is
 * `data.length / (width·height)`. {@link RgbImage} from `src/io/image.ts` fits as is.
 */
export interface MetricImage {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** Interleaved samples in [0, 255], row-major. */
  readonly data: Uint8Array | Uint8ClampedArray;
}

/**
 * Checks that two images have the same geometry and returns their channel count.
 * @throws {InvalidArgumentError} when sizes or channel counts differ or the data is malformed
 */
export function channelsOf(a: MetricImage, b: MetricImage): number {
  if (a.width !== b.width || a.height !== b.height) {
    throw new InvalidArgumentError(
      `images differ in size: ${a.width}×${a.height} vs ${b.width}×${b.height}`,
    );
  }
  const px = a.width * a.height;
  if (!Number.isInteger(px) || px < 1) {
    throw new InvalidArgumentError(`image size ${a.width}×${a.height} is invalid`);
  }
  if (a.data.length !== b.data.length) {
    throw new InvalidArgumentError(
      `images differ in sample count: ${a.data.length} vs ${b.data.length}`,
    );
  }
  const ch = a.data.length / px;
  if (!Number.isInteger(ch) || ch < 1) {
    throw new InvalidArgumentError(
      `image data has ${a.data.length} samples, not a multiple of ${a.width}×${a.height}`,
    );
  }
  return ch;
}
