/**
 * Tessera's entropy-coding layer and bitstream container.
 *
 * - {@link RansEncoder} / {@link RansDecoder}: rANS over 16-bit {@link FrequencyTable}s, with
 *   per-symbol table choice and raw bypass bits.
 * - {@link ParametricFamily}: deterministic discretized Gaussian/Laplacian tables with escape
 *   coding, for learned entropy models.
 * - {@link BitWriter} / {@link BitReader}: plain fixed-length fields (e.g. RVQ indices).
 * - {@link writeContainer} / {@link readContainer}: the versioned, checksummed file format
 *   (docs/format.md).
 * @module
 */

export { BitReader, BitWriter } from "./bits.ts";
export { ByteReader, ByteWriter, concatBytes, MAX_VARINT, varintSize } from "./bytes.ts";
export {
  FrequencyTable,
  MAX_ALPHABET,
  PROB_BITS,
  PROB_SCALE,
  quantizeFrequencies,
  readFrequencyTable,
  writeFrequencyTable,
} from "./cdf.ts";
export {
  checkModel,
  CodecId,
  DEFAULT_MAX_PIXELS,
  FORMAT_VERSION,
  MAGIC,
  MAX_DIMENSION,
  MAX_PARAMS,
  MAX_SEGMENTS,
  readContainer,
  WEIGHTS_HASH_BYTES,
  weightsHash,
  writeContainer,
} from "./container.ts";
export type {
  ChannelLayout,
  Cicp,
  ColourInfo,
  ContainerFile,
  ContainerHeader,
  ContainerInit,
  DefaultedField,
  ExpectedModel,
  ReadOptions,
  VideoInfo,
} from "./container.ts";
export { crc32, CRC32_INIT, crc32Final, crc32Update } from "./crc32.ts";
export { detErfc, detExp, detLog } from "./detmath.ts";
export {
  logScales,
  MAX_RADIUS,
  MAX_SCALE,
  MAX_TABLES,
  MIN_SCALE,
  ParametricFamily,
} from "./parametric.ts";
export type { ParametricKind, ParametricOptions, ParametricTable } from "./parametric.ts";
export { RANS_L, RansDecoder, RansEncoder } from "./rans.ts";
