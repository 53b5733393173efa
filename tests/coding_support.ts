// Sample files, a toy decoder and the mutation fuzzer shared by tests/coding_test.ts and
// bench/fuzz_coding.ts.

import {
  BitReader,
  BitWriter,
  ByteReader,
  ByteWriter,
  CodecId,
  type ContainerFile,
  type ContainerInit,
  FrequencyTable,
  logScales,
  ParametricFamily,
  RansDecoder,
  RansEncoder,
  readContainer,
  readFrequencyTable,
  writeContainer,
  writeFrequencyTable,
} from "../src/coding/mod.ts";
import { BitstreamError, TesseraError } from "../src/errors.ts";
import { rng } from "./assert.ts";

/** The weights hash the samples carry. */
export const SAMPLE_HASH = new Uint8Array([0x3a, 0x41, 0x9c, 0x07, 0xe2, 0x5b, 0x10, 0xd8]);
/** Toy geometry limit, so a lying (re-sealed) header cannot ask for a huge decode. */
export const TOY_MAX_PIXELS = 1 << 16;
/** ProGIC-like stage indices are 10 bits. */
const INDEX_BITS = 10;

/** The Gaussian family the "mixed" sample codes with. */
export const SAMPLE_FAMILY = new ParametricFamily({
  kind: "gaussian",
  scales: logScales(0.11, 256, 64),
  meanLevels: 4,
});

/** Latent grid of a ProGIC-like file: one position per 16×16 pixels. */
function latentCount(width: number, height: number): number {
  return Math.ceil(width / 16) * Math.ceil(height / 16);
}

/** A ProGIC-like file: `stages` segments of bit-packed 10-bit indices. */
export function progicSample(
  width: number,
  height: number,
  stages: number,
  seed: number,
  checksumBytes: 2 | 4 = 4,
): { init: ContainerInit; stages: Uint16Array[]; bytes: Uint8Array } {
  const r = rng(seed), n = latentCount(width, height);
  const indices: Uint16Array[] = [];
  const segments: Uint8Array[] = [];
  for (let s = 0; s < stages; s++) {
    const idx = Uint16Array.from({ length: n }, () => Math.floor(r() * 1024));
    const w = new BitWriter(Math.ceil(n * 10 / 8));
    for (const v of idx) w.writeBits(v, INDEX_BITS);
    indices.push(idx);
    segments.push(w.finish());
  }
  const init: ContainerInit = {
    codec: CodecId.progic,
    model: 3,
    weightsHash: SAMPLE_HASH,
    width,
    height,
    quality: stages,
    params: new Uint8Array([1]), // e.g. a downscale factor
    checksumBytes,
  };
  return { init, stages: indices, bytes: writeContainer(init, segments) };
}

/** Symbol i of the mixed sample's Gaussian segment uses scale i % 64 and mean i % 4. */
const gaussIndex = (i: number) => [i % 64, i % 4] as const;

/**
 * A GLC-like file (codec "raw") exercising every coder feature: a table sent as side
 * information and symbols coded with it, Gaussian values with per-symbol tables and escapes,
 * 12-bit bypass tokens, and an empty segment. Each of the first three holds width × height
 * items.
 */
export function mixedSample(width: number, height: number, seed: number): {
  init: ContainerInit;
  content: number[][];
  bytes: Uint8Array;
} {
  const r = rng(seed), n = width * height;
  let decay = 1;
  const weights = Array.from({ length: 40 }, (_, i) => (decay *= 0.85) + (i === 7 ? 0.5 : 0));
  const table = FrequencyTable.fromProbabilities(weights);
  const side = new ByteWriter();
  writeFrequencyTable(side, table);
  // Samples use basic arithmetic only (no Math.log/cos), so golden files regenerate
  // identically on every engine.
  const symbols = Array.from({ length: n }, () => {
    let s = 0;
    while (s < 39 && r() < 0.85) s++;
    return s;
  });
  const enc = new RansEncoder();
  for (const s of symbols) enc.encode(s, table);
  side.bytes(enc.finish());

  const values = Array.from({ length: n }, (_, i) => {
    const [s] = gaussIndex(i);
    const g = (r() + r() + r() - 1.5) * 2; // roughly N(0, 1)
    return i % 97 === 5 ? 100000 - i * 7 : Math.round(g * SAMPLE_FAMILY.scales[s]) + 0; // no -0
  });
  for (let i = 0; i < n; i++) SAMPLE_FAMILY.encode(enc, values[i], ...gaussIndex(i));
  const gauss = enc.finish();

  const tokens = Array.from({ length: n }, () => Math.floor(r() * 4096));
  for (const t of tokens) enc.encodeBits(t, 12);
  const bypass = enc.finish();

  const init: ContainerInit = {
    codec: CodecId.raw,
    model: 0,
    weightsHash: SAMPLE_HASH,
    width,
    height,
    video: { frames: 1, rateNum: 30000, rateDen: 1001 },
    colour: {
      layout: "rgba",
      bitDepth: 10,
      cicp: { primaries: 9, transfer: 16, matrix: 0, fullRange: true },
    },
    quality: 7,
    checksumBytes: 2,
  };
  const segments = [side.finish(), gauss, bypass, new Uint8Array(0)];
  return { init, content: [symbols, values, tokens, []], bytes: writeContainer(init, segments) };
}

/** What the toy decoder returns: the container and each decoded segment. */
export interface Decoded {
  file: ContainerFile;
  content: number[][];
}

function decodeStage(seg: Uint8Array, n: number, what: string): number[] {
  const need = Math.ceil(n * INDEX_BITS / 8);
  if (seg.length !== need) {
    throw new BitstreamError(`${what} has ${seg.length} bytes, expected ${need}`);
  }
  const br = new BitReader(seg, what);
  const out = Array.from({ length: n }, () => br.readBits(INDEX_BITS));
  br.finish();
  return out;
}

function decodeMixed(seg: Uint8Array, i: number, n: number, what: string): number[] {
  if (i === 3) {
    if (seg.length !== 0) throw new BitstreamError(`${what} should be empty`);
    return [];
  }
  let dec: RansDecoder;
  let read: (k: number) => number;
  if (i === 0) {
    const br = new ByteReader(seg, what);
    const table = readFrequencyTable(br, `${what} table`);
    dec = new RansDecoder(seg.subarray(br.pos), what);
    read = () => dec.decode(table);
  } else {
    dec = new RansDecoder(seg, what);
    read = i === 1 ? (k) => SAMPLE_FAMILY.decode(dec, ...gaussIndex(k)) : () => dec.decodeBits(12);
  }
  const out = Array.from({ length: n }, (_, k) => read(k));
  dec.finish();
  return out;
}

/**
 * Decodes a sample file the way a codec would: container, then every segment. In best-effort
 * mode a segment that fails to decode ends the content (as a truncated one would).
 */
export function decodeSample(bytes: Uint8Array, bestEffort = false): Decoded {
  const file = readContainer(bytes, {
    bestEffort,
    maxPixels: TOY_MAX_PIXELS,
    segmentName: (i) => `stage ${i + 1}`,
  });
  const { codec, width, height } = file.header;
  if (codec !== CodecId.progic && codec !== CodecId.raw) {
    throw new BitstreamError(`codec ${codec} is not a sample codec`, "UNSUPPORTED");
  }
  const content: number[][] = [];
  for (let i = 0; i < file.segments.length; i++) {
    const what = `segment ${i + 1}`;
    try {
      content.push(
        codec === CodecId.progic
          ? decodeStage(file.segments[i], latentCount(width, height), what)
          : decodeMixed(file.segments[i], i, width * height, what),
      );
    } catch (e) {
      if (!bestEffort) throw e;
      break;
    }
  }
  return { file, content };
}

// ---------------------------------------------------------------------------------------------
// Mutation fuzzer

/** Outcome counts of a fuzz run. */
export interface FuzzStats {
  cases: number;
  decoded: number;
  typedErrors: Record<string, number>;
  maxCaseMs: number;
  failures: string[];
}

const MUTATIONS = [
  "bitflip",
  "byte",
  "truncate",
  "boundary",
  "splice",
  "insert",
  "delete",
  "header",
  "reseal",
  "fields",
  "coder",
] as const;

type Corpus = { bytes: Uint8Array; content: number[][]; init: ContainerInit }[];

function corpus(): Corpus {
  const out: Corpus = [];
  for (const [w, h, st, cb] of [[64, 64, 1, 4], [100, 75, 5, 2], [33, 17, 3, 4]] as const) {
    const s = progicSample(w, h, st, w * h, cb);
    out.push({ bytes: s.bytes, content: s.stages.map((a) => Array.from(a)), init: s.init });
  }
  for (const [w, h] of [[12, 10], [7, 3]]) {
    const s = mixedSample(w, h, w + h);
    out.push(s);
  }
  return out;
}

function isPrefix(got: number[][], want: number[][]): boolean {
  return got.length <= want.length &&
    got.every((seg, i) => seg.length === want[i].length && seg.every((v, k) => v === want[i][k]));
}

/** Re-writes a sample with one segment's payload or one header field changed, checksums valid. */
function reseal(r: () => number, sample: Corpus[number], fields: boolean): Uint8Array {
  const file = readContainer(sample.bytes, { maxPixels: TOY_MAX_PIXELS });
  const segs = file.segments.map((s) => s.slice());
  const init: ContainerInit = { ...sample.init };
  const pick = Math.floor(r() * 6);
  if (!fields && segs.length > 0) {
    const seg = segs[Math.floor(r() * segs.length)];
    const k = 1 + Math.floor(r() * 3);
    for (let j = 0; j < k && seg.length > 0; j++) {
      seg[Math.floor(r() * seg.length)] ^= 1 << (r() * 8);
    }
    if (r() < 0.3 && seg.length > 0) {
      segs[segs.indexOf(seg)] = seg.subarray(0, Math.floor(r() * seg.length));
    }
  } else if (pick === 0) init.width = 1 + Math.floor(r() * 300);
  else if (pick === 1) init.height = 1 + Math.floor(r() * 300);
  else if (pick === 2) init.codec = Math.floor(r() * 4);
  else if (pick === 3) {
    init.params = Uint8Array.from({ length: Math.floor(r() * 5) }, () => r() * 256);
  } else if (pick === 4) segs.splice(Math.floor(r() * (segs.length + 1)), 0, new Uint8Array(3));
  else segs.reverse();
  return writeContainer(init, segs);
}

function mutate(
  r: () => number,
  kind: (typeof MUTATIONS)[number],
  a: Corpus[number],
  b: Corpus[number],
): Uint8Array {
  const src = a.bytes, n = src.length;
  const at = () => Math.floor(r() * n);
  switch (kind) {
    case "bitflip": {
      const out = src.slice();
      const k = 1 + Math.floor(r() * 4);
      for (let j = 0; j < k; j++) out[at()] ^= 1 << Math.floor(r() * 8);
      return out;
    }
    case "byte": {
      const out = src.slice();
      out[at()] = Math.floor(r() * 256);
      return out;
    }
    case "truncate":
      return src.slice(0, at());
    case "boundary": {
      const ends = readContainer(src, { maxPixels: TOY_MAX_PIXELS }).segmentEnds;
      return src.slice(0, ends[Math.floor(r() * ends.length)] ?? n);
    }
    case "splice": {
      const cut = at();
      return new Uint8Array([
        ...src.subarray(0, cut),
        ...b.bytes.subarray(Math.floor(r() * b.bytes.length)),
      ]);
    }
    case "insert": {
      const cut = at();
      const extra = Array.from({ length: 1 + Math.floor(r() * 8) }, () => Math.floor(r() * 256));
      return new Uint8Array([...src.subarray(0, cut), ...extra, ...src.subarray(cut)]);
    }
    case "delete": {
      const cut = at();
      return new Uint8Array([
        ...src.subarray(0, cut),
        ...src.subarray(cut + 1 + Math.floor(r() * 8)),
      ]);
    }
    case "header": {
      // Keep magic and version, randomize what follows for a while.
      const out = src.slice();
      const len = Math.min(n, 4 + Math.floor(r() * 30));
      for (let i = 4; i < len; i++) if (r() < 0.5) out[i] = Math.floor(r() * 256);
      return out;
    }
    case "reseal":
    case "fields":
      return reseal(r, a, kind === "fields");
    case "coder":
      return src; // handled by fuzzCoderOnce
  }
}

/** Feeds random bytes straight into the stream decoders (no container, no checksum). */
function fuzzCoderOnce(r: () => number): void {
  const bytes = Uint8Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256));
  const mode = Math.floor(r() * 4);
  if (mode === 0) {
    const br = new ByteReader(bytes, "fuzz table");
    const t = readFrequencyTable(br);
    const dec = new RansDecoder(bytes.subarray(br.pos));
    for (let i = 0; i < 64; i++) dec.decode(t);
    dec.finish();
  } else if (mode === 1) {
    const dec = new RansDecoder(bytes);
    for (let i = 0; i < 64; i++) {
      SAMPLE_FAMILY.decode(dec, Math.floor(r() * 64), Math.floor(r() * 4));
    }
    dec.finish();
  } else if (mode === 2) {
    const br = new BitReader(bytes);
    for (let i = 0; i < 40; i++) br.readBits(Math.floor(r() * 33));
    br.finish();
  } else {
    const dec = new RansDecoder(bytes);
    for (let i = 0; i < 64; i++) dec.decodeBits(Math.floor(r() * 33));
    dec.finish();
  }
}

/**
 * Runs `cases` seeded mutations. A case passes when the decoder returns or throws a
 * TesseraError; when a file whose checksums were not recomputed decodes, its content must be a
 * prefix of the original's (the checksums vouch for it).
 */
export function fuzz(seed: number, cases: number): FuzzStats {
  const r = rng(seed);
  const samples = corpus();
  const stats: FuzzStats = { cases: 0, decoded: 0, typedErrors: {}, maxCaseMs: 0, failures: [] };
  for (let c = 0; c < cases; c++) {
    const kind = MUTATIONS[Math.floor(r() * MUTATIONS.length)];
    const ai = Math.floor(r() * samples.length);
    const a = samples[ai],
      b = samples[(ai + 1 + Math.floor(r() * (samples.length - 1))) % samples.length];
    const t0 = performance.now();
    try {
      if (kind === "coder") {
        fuzzCoderOnce(r);
        stats.decoded++;
      } else {
        const bytes = mutate(r, kind, a, b);
        const strict = a.init.checksumBytes !== 2 && !["reseal", "fields", "splice"].includes(kind);
        for (const bestEffort of [false, true]) {
          let d: Decoded;
          try {
            d = decodeSample(bytes, bestEffort);
          } catch (e) {
            if (bestEffort || !(e instanceof TesseraError)) throw e;
            stats.typedErrors[e.code] = (stats.typedErrors[e.code] ?? 0) + 1;
            continue;
          }
          if (!bestEffort) stats.decoded++;
          if (strict && !isPrefix(d.content, a.content)) {
            stats.failures.push(`case ${c} (${kind}, seed ${seed}): decoded content differs`);
          }
        }
      }
    } catch (e) {
      if (e instanceof TesseraError) {
        stats.typedErrors[e.code] = (stats.typedErrors[e.code] ?? 0) + 1;
      } else {
        stats.failures.push(`case ${c} (${kind}, seed ${seed}): ${(e as Error)?.stack ?? e}`);
      }
    }
    stats.maxCaseMs = Math.max(stats.maxCaseMs, performance.now() - t0);
    stats.cases++;
  }
  return stats;
}
