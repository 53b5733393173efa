/**
 * EXIF orientation of JPEG files: cameras store the sensor's pixels and a tag that says how to
 * turn them upright, and viewers (browsers included) apply it. Decoding applies it too, so that a
 * photo is coded the way it is seen.
 * @module
 */
import type { ImageData8 } from "./image.ts";

/**
 * The EXIF orientation (1…8) of a JPEG file; 1 (as stored) when the file has no EXIF block, no
 * orientation tag, or a malformed one.
 */
export function jpegOrientation(bytes: Uint8Array): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 2; // after SOI
  while (p + 4 <= bytes.length && bytes[p] === 0xff) {
    const marker = bytes[p + 1];
    if (marker === 0xda || marker === 0xd9) break; // image data: no more headers
    const len = dv.getUint16(p + 2);
    if (len < 2 || p + 2 + len > bytes.length) break;
    if (marker === 0xe1 && len >= 16 && exifHeader(bytes, p + 4)) {
      return tiffOrientation(dv, p + 10, p + 2 + len);
    }
    p += 2 + len;
  }
  return 1;
}

function exifHeader(b: Uint8Array, p: number): boolean {
  return b[p] === 0x45 && b[p + 1] === 0x78 && b[p + 2] === 0x69 && b[p + 3] === 0x66 &&
    b[p + 4] === 0 && b[p + 5] === 0;
}

/** Tag 0x0112 of IFD0 in the TIFF structure at [start, end). */
function tiffOrientation(dv: DataView, start: number, end: number): number {
  const order = dv.getUint16(start);
  if (order !== 0x4949 && order !== 0x4d4d) return 1;
  const le = order === 0x4949;
  if (dv.getUint16(start + 2, le) !== 42) return 1;
  const ifd = start + dv.getUint32(start + 4, le);
  if (ifd + 2 > end) return 1;
  const n = dv.getUint16(ifd, le);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > end) return 1;
    if (dv.getUint16(e, le) === 0x0112 && dv.getUint16(e + 2, le) === 3) {
      const v = dv.getUint16(e + 8, le);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/**
 * The image turned upright by EXIF orientation `o` (1…8): mirrored and/or rotated; 5…8 swap
 * width and height.
 */
export function applyOrientation(img: ImageData8, o: number): ImageData8 {
  if (o <= 1 || o > 8) return img;
  const { width: W, height: H } = img;
  const ch = img.channels ?? img.data.length / (W * H);
  const swap = o >= 5;
  const w = swap ? H : W, h = swap ? W : H;
  const out = new Uint8Array(W * H * ch);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Where output pixel (x, y) comes from in the stored image.
      let sx: number, sy: number;
      switch (o) {
        case 2:
          [sx, sy] = [W - 1 - x, y];
          break;
        case 3:
          [sx, sy] = [W - 1 - x, H - 1 - y];
          break;
        case 4:
          [sx, sy] = [x, H - 1 - y];
          break;
        case 5:
          [sx, sy] = [y, x];
          break;
        case 6:
          [sx, sy] = [y, H - 1 - x];
          break;
        case 7:
          [sx, sy] = [W - 1 - y, H - 1 - x];
          break;
        default:
          [sx, sy] = [W - 1 - y, x]; // 8
      }
      const s = (sy * W + sx) * ch, d = (y * w + x) * ch;
      for (let c = 0; c < ch; c++) out[d + c] = img.data[s + c];
    }
  }
  return { width: w, height: h, data: out, channels: ch as 1 | 2 | 3 | 4 };
}
