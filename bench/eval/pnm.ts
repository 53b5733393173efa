/**
 * Binary PNM (P5 gray, P6 RGB) reading and PPM writing: the exchange format with the anchor
 * command-line tools.
 * @module
 */
import type { RgbImage } from "../../src/io/image.ts";

/** Encodes an RGB image as a binary PPM (P6, maxval 255). */
export function encodePpm(img: RgbImage): Uint8Array {
  const header = new TextEncoder().encode(`P6\n${img.width} ${img.height}\n255\n`);
  const out = new Uint8Array(header.length + img.data.length);
  out.set(header);
  out.set(img.data, header.length);
  return out;
}

/**
 * Decodes a binary PGM (P5) or PPM (P6), 8 or 16 bits, to RGB (gray replicated; 16-bit and
 * other maxvals scaled to 0..255).
 * @throws {Error} for other formats or truncated data
 */
export function decodePnm(bytes: Uint8Array): RgbImage {
  let pos = 0;
  const token = (): string => {
    for (;;) {
      while (pos < bytes.length && /\s/.test(String.fromCharCode(bytes[pos]))) pos++;
      if (bytes[pos] !== 0x23) break; // '#' comment to end of line
      while (pos < bytes.length && bytes[pos] !== 0x0a) pos++;
    }
    const start = pos;
    while (pos < bytes.length && !/\s/.test(String.fromCharCode(bytes[pos]))) pos++;
    return new TextDecoder().decode(bytes.subarray(start, pos));
  };
  const magic = token();
  if (magic !== "P5" && magic !== "P6") throw new Error(`not a binary PGM/PPM (magic "${magic}")`);
  const width = Number(token()), height = Number(token()), maxval = Number(token());
  if (!(width > 0 && height > 0 && maxval > 0 && maxval < 65536)) {
    throw new Error(`bad PNM header ${width}×${height} maxval ${maxval}`);
  }
  pos++; // the single whitespace after maxval
  const ch = magic === "P6" ? 3 : 1, bps = maxval > 255 ? 2 : 1;
  const px = width * height;
  if (bytes.length - pos < px * ch * bps) throw new Error("PNM data is truncated");
  const data = new Uint8Array(px * 3);
  for (let i = 0; i < px; i++) {
    for (let c = 0; c < 3; c++) {
      const s = pos + (i * ch + (ch === 3 ? c : 0)) * bps;
      const v = bps === 2 ? (bytes[s] << 8) | bytes[s + 1] : bytes[s];
      data[i * 3 + c] = maxval === 255 ? v : Math.round((v * 255) / maxval);
    }
  }
  return { width, height, data };
}
