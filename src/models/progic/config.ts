/**
 * ProGIC configurations (docs/progic.md). The same table lives in train/progic.py.
 * @module
 */

/** Hyper-parameters of one ProGIC model. */
export interface ProgicConfig {
  /** Config name, e.g. `"progic-t"`. */
  readonly name: string;
  /** Main width at 1/8 resolution. */
  readonly c1: number;
  /** Encoder DepthConv blocks (head + M − 1). */
  readonly encBlocks: number;
  /** Decoder DepthConv blocks (up block + D − 2 + tail). */
  readonly decBlocks: number;
  /** DepthConv blocks per attention branch. */
  readonly attnK: number;
  /** Latent width = codeword dimension. */
  readonly c2: number;
  /** Residual-VQ stages. */
  readonly stages: number;
  /** Codes per codebook. */
  readonly codes: number;
  /** The decoder ends with a C1-wide block and a 1×1 projection to 192 channels. */
  readonly tailProjection: boolean;
}

/** Every known configuration by name. */
export const PROGIC_CONFIGS: Readonly<Record<string, ProgicConfig>> = {
  "progic": cfg("progic", 368, 8, 14, 3, false),
  "progic-s": cfg("progic-s", 256, 4, 8, 3, false),
  "progic-t": cfg("progic-t", 96, 2, 4, 1, true),
  "progic-test": cfg("progic-test", 16, 2, 3, 1, false),
};

function cfg(
  name: string,
  c1: number,
  enc: number,
  dec: number,
  k: number,
  tailProjection: boolean,
): ProgicConfig {
  return {
    name,
    c1,
    encBlocks: enc,
    decBlocks: dec,
    attnK: k,
    c2: 256,
    stages: 5,
    codes: 1024,
    tailProjection,
  };
}

/** Pixels per latent position along each axis (pixel-unshuffle ×8, then a stride-2 conv). */
export const LATENT_STRIDE = 16;

/** Bits per latent position per stage (log2 of the codebook size). */
export function bitsPerIndex(c: ProgicConfig): number {
  return Math.log2(c.codes);
}
