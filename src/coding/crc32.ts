/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum of zlib, PNG and gzip.
 *
 * fflate does not export its CRC, so this is a small table-driven one. The running form
 * (`crc32Update`) lets the container checksum a file prefix incrementally.
 * @module
 */

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The state a running CRC-32 starts from (before any byte). */
export const CRC32_INIT = 0xffffffff;

/**
 * Feeds `bytes[start..end)` into a running CRC-32 state.
 * @param state a state from {@link CRC32_INIT} or a previous update
 * @returns the new running state (finalise it with {@link crc32Final})
 */
export function crc32Update(
  state: number,
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
): number {
  let c = state | 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** Turns a running state into the CRC-32 value (an unsigned 32-bit integer). */
export function crc32Final(state: number): number {
  return (state ^ 0xffffffff) >>> 0;
}

/** CRC-32 of `bytes` (the bytes of "123456789" give 0xcbf43926). */
export function crc32(bytes: Uint8Array): number {
  return crc32Final(crc32Update(CRC32_INIT, bytes));
}
