// Tests of src/coding: coder, tables, deterministic math, container, golden files and a
// seeded mutation fuzzer. Set TESSERA_UPDATE_GOLDEN=1 to rewrite tests/golden/coding_*.tsr
// after a deliberate format change (and bump FORMAT_VERSION; see docs/format.md).

import {
  BitReader,
  BitWriter,
  ByteReader,
  ByteWriter,
  CodecId,
  concatBytes,
  crc32,
  CRC32_INIT,
  crc32Final,
  crc32Update,
  detErfc,
  detExp,
  detLog,
  FrequencyTable,
  logScales,
  MAX_RADIUS,
  ParametricFamily,
  type ParametricKind,
  PROB_SCALE,
  quantizeFrequencies,
  RANS_L,
  RansDecoder,
  RansEncoder,
  readContainer,
  readFrequencyTable,
  varintSize,
  weightsHash,
  writeContainer,
  writeFrequencyTable,
} from "../src/coding/mod.ts";
import {
  BitstreamError,
  InvalidArgumentError,
  ModelMismatchError,
  TesseraError,
} from "../src/errors.ts";
import { assert, assertEquals, assertThrows, rng } from "./assert.ts";
import {
  decodeSample,
  fuzz,
  mixedSample,
  progicSample,
  SAMPLE_HASH,
  TOY_MAX_PIXELS,
} from "./coding_support.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));

/** Throws unless `fn` throws a BitstreamError with this code whose message has `includes`. */
function assertBitstream(fn: () => unknown, code: string, includes?: string): void {
  const e = assertThrows(fn, BitstreamError, includes) as BitstreamError;
  assertEquals(e.code, code, e.message);
}

/** A random distribution over `n` symbols: skewed (one peak), uniform or sparse. */
function randomWeights(r: () => number, n: number, shape: number): Float64Array {
  const w = new Float64Array(n);
  const centre = r() * n, width = 0.5 + r() * n / 4;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(i - centre) / width;
    w[i] = shape === 0 ? 1 / (1 + d * d * d) : shape === 1 ? 1 : r() < 0.1 ? r() : 0;
  }
  w[Math.floor(r() * n)] += 1; // never all zero
  return w;
}

/** Draws a symbol from a table with a uniform 16-bit slot. */
function draw(r: () => number, t: FrequencyTable): number {
  const slot = Math.floor(r() * PROB_SCALE);
  let s = 0;
  while (t.cdf[s + 1] <= slot) s++;
  return s;
}

Deno.test("crc32: known answers and running form", () => {
  const data = new TextEncoder().encode("123456789");
  assertEquals(crc32(data), 0xcbf43926);
  assertEquals(crc32(new Uint8Array(0)), 0);
  const split = crc32Update(crc32Update(CRC32_INIT, data, 0, 4), data, 4);
  assertEquals(crc32Final(split), 0xcbf43926);
});

Deno.test("bytes: varints round trip, strict decoding, named truncation", () => {
  const values = [0, 1, 127, 128, 255, 16383, 16384, 2 ** 21, 2 ** 28 - 1, 2 ** 32 - 1];
  const w = new ByteWriter(1);
  for (const v of values) w.varint(v);
  w.uintBE(0xabcdef, 3).u8(7);
  const r = new ByteReader(w.finish(), "test");
  for (const v of values) assertEquals(r.varint("v"), v);
  assertEquals(r.uintBE(3, "u24"), 0xabcdef);
  assertEquals(r.u8("u8"), 7);
  assertEquals(values.map(varintSize), [1, 1, 1, 2, 2, 2, 3, 4, 4, 5]);
  assertBitstream(() => r.u8("the flag"), "TRUNCATED", "the flag at byte");
  assertBitstream(() => new ByteReader(unhex("8000"), "t").varint("x"), "BITSTREAM", "minimal");
  assertBitstream(() => new ByteReader(unhex("ffffffff7f"), "t").varint("x"), "BITSTREAM", "limit");
  assertBitstream(() => new ByteReader(unhex("ffffffffff01"), "t").varint("x"), "BITSTREAM");
  assertBitstream(() => new ByteReader(unhex("8181"), "t").varint("x"), "TRUNCATED");
  assertBitstream(() => new ByteReader(unhex("0102"), "t").bytes(3, "blob"), "TRUNCATED", "blob");
  assertThrows(() => w.varint(2 ** 32), InvalidArgumentError);
  assertThrows(() => w.varint(-1), InvalidArgumentError);
  assertThrows(() => w.u8(256), InvalidArgumentError);
});

Deno.test("bits: fixed-length fields round trip, truncation and padding", () => {
  const r = rng(11);
  const fields: [number, number][] = [];
  const w = new BitWriter(1);
  for (let i = 0; i < 5000; i++) {
    const n = Math.floor(r() * 33);
    const v = Math.floor(r() * 2 ** n);
    fields.push([v, n]);
    w.writeBits(v, n);
  }
  const bits = w.bitLength;
  const bytes = w.finish();
  assertEquals(bytes.length, Math.ceil(bits / 8));
  const br = new BitReader(bytes);
  for (const [v, n] of fields) assertEquals(br.readBits(n), v);
  br.finish();
  // Known answer: MSB first, zero padded.
  const k = new BitWriter();
  k.writeBits(0x2a5, 10);
  k.writeBits(1, 1);
  assertEquals(hex(k.finish()), "a960");
  assertBitstream(() => new BitReader(unhex("a9")).readBits(10), "TRUNCATED");
  const padded = new BitReader(unhex("a961"));
  padded.readBits(10);
  padded.readBits(1);
  assertBitstream(() => padded.finish(), "BITSTREAM", "padding");
  const extra = new BitReader(unhex("a96000"));
  extra.readBits(11);
  assertBitstream(() => extra.finish(), "BITSTREAM");
  assertThrows(() => k.writeBits(4, 2), InvalidArgumentError);
  assertThrows(() => k.writeBits(0, 33), InvalidArgumentError);
  assertThrows(() => new BitReader(bytes).readBits(1.5), InvalidArgumentError);
});

Deno.test("cdf: quantization keeps every symbol, sums to 2^16, and is pinned", () => {
  const r = rng(5);
  for (const n of [2, 3, 17, 256, 1000, 4096, 40000, 65535, 65536]) {
    for (let shape = 0; shape < 3; shape++) {
      const w = randomWeights(r, n, shape);
      const f = quantizeFrequencies(w);
      let sum = 0;
      for (const x of f) {
        assert(x >= 1, "every frequency ≥ 1");
        sum += x;
      }
      assertEquals(sum, PROB_SCALE, `n=${n} shape=${shape}`);
    }
  }
  assertEquals(Array.from(quantizeFrequencies([0, 1, 1e-9, 1000, 3.5])), [1, 65, 1, 65241, 228]);
  assertEquals(Array.from(FrequencyTable.fromProbabilities([5, 3, 1, 1]).frequencies()), [
    32767,
    19661,
    6554,
    6554,
  ]);
  const u = FrequencyTable.uniform(65536);
  assertEquals(u.frequency(12345), 1);
  assertEquals(FrequencyTable.uniform(3).frequencies(), new Uint32Array([21846, 21845, 21845]));
  // Extreme skew: one symbol takes everything the others leave.
  const skew = quantizeFrequencies([1, 0, 0]);
  assertEquals(Array.from(skew), [65534, 1, 1]);
});

Deno.test("cdf: invalid tables and weights are rejected", () => {
  for (const f of [[65536], [65535, 0, 1], [32768, 32767], [32768, 32768.5], []]) {
    assertThrows(() => FrequencyTable.fromFrequencies(f), InvalidArgumentError);
  }
  for (const w of [[1], [1, -1], [1, NaN], [1, Infinity], [0, 0], new Float64Array(65537)]) {
    assertThrows(() => quantizeFrequencies(w), InvalidArgumentError);
  }
  assertThrows(() => FrequencyTable.uniform(1), InvalidArgumentError);
});

Deno.test("cdf: serialized tables round trip; bad sums and lying sizes are typed errors", () => {
  const r = rng(9);
  for (const n of [2, 40, 300, 65536]) {
    const t = FrequencyTable.fromProbabilities(randomWeights(r, n, 0));
    const w = new ByteWriter();
    writeFrequencyTable(w, t);
    const back = readFrequencyTable(new ByteReader(w.finish(), "t"));
    assertEquals(back.frequencies(), t.frequencies());
  }
  // 3 symbols: 40000 + 30000 already exceed 2^16.
  const over = new ByteWriter().varint(1).varint(39999).varint(29999).finish();
  assertBitstream(() => readFrequencyTable(new ByteReader(over, "t")), "BITSTREAM", "sum");
  // Exactly 2^16 in the first two leaves 0 for the last.
  const zero = new ByteWriter().varint(1).varint(32767).varint(32767).finish();
  assertBitstream(() => readFrequencyTable(new ByteReader(zero, "t")), "BITSTREAM", "sum");
  // Claims 65536 symbols in 3 bytes: refused before allocating.
  const lying = new ByteWriter().varint(65534).varint(0).finish();
  assertBitstream(() => readFrequencyTable(new ByteReader(lying, "t")), "TRUNCATED", "65536");
  const big = new ByteWriter().varint(65535).finish();
  assertBitstream(() => readFrequencyTable(new ByteReader(big, "t")), "BITSTREAM", "limit");
});

Deno.test("rans: random alphabets, mixed per-symbol tables and bypass bits round trip", () => {
  const r = rng(2024);
  for (let trial = 0; trial < 40; trial++) {
    const tables = Array.from({ length: 1 + Math.floor(r() * 6) }, () => {
      const n = 2 + Math.floor(r() ** 3 * 65535);
      return FrequencyTable.fromProbabilities(randomWeights(r, n, Math.floor(r() * 3)));
    });
    const ops: [number, number, number][] = []; // [kind, a, b]
    const enc = new RansEncoder(4);
    const count = Math.floor(r() * 3000);
    for (let i = 0; i < count; i++) {
      if (r() < 0.2) {
        const n = Math.floor(r() * 33), v = Math.floor(r() * 2 ** n);
        enc.encodeBits(v, n);
        ops.push([1, v, n]);
      } else {
        const t = Math.floor(r() * tables.length), s = draw(r, tables[t]);
        enc.encode(s, tables[t]);
        ops.push([0, s, t]);
      }
    }
    assertEquals(enc.length >= count, true);
    const bytes = enc.finish();
    const dec = new RansDecoder(bytes);
    for (const [kind, a, b] of ops) {
      assertEquals(kind ? dec.decodeBits(b) : dec.decode(tables[b]), a, `trial ${trial}`);
    }
    assertEquals(dec.bytesLeft, 0);
    dec.finish();
  }
});

Deno.test("rans: raw intervals code as their table's symbols do, and are checked", () => {
  const r = rng(77);
  const t = FrequencyTable.fromProbabilities(randomWeights(r, 300, 1));
  const syms = Array.from({ length: 2000 }, () => draw(r, t));
  const byTable = new RansEncoder(), byInterval = new RansEncoder();
  for (const s of syms) {
    byTable.encode(s, t);
    byInterval.encodeInterval(t.cdf[s], t.frequency(s));
  }
  const bytes = byInterval.finish();
  assertEquals(bytes, byTable.finish());
  // Decoded by slot and consume, as a coder with a per-symbol distribution does.
  const dec = new RansDecoder(bytes);
  for (const s of syms) {
    const slot = dec.slot();
    assert(t.cdf[s] <= slot && slot < t.cdf[s + 1]);
    dec.consume(t.cdf[s], t.frequency(s));
  }
  dec.finish();
  const enc = new RansEncoder();
  for (const [start, freq] of [[0, 0], [-1, 2], [65535, 2], [1.5, 1], [0, 65537]]) {
    assertThrows(() => enc.encodeInterval(start, freq), InvalidArgumentError);
  }
  enc.encodeInterval(0, 65536);
  // An interval that does not hold the slot is the caller's error, not a stream's.
  const wrong = new RansDecoder(bytes);
  const slot = wrong.slot();
  assertThrows(() => wrong.consume(slot + 1, 5), InvalidArgumentError, "does not hold");
  assertThrows(() => wrong.consume(Math.max(0, slot - 3), 3), InvalidArgumentError);
});

Deno.test("rans: empty, single-symbol and degenerate streams", () => {
  const enc = new RansEncoder();
  assertEquals(hex(enc.finish()), "00800000"); // the initial state alone
  new RansDecoder(unhex("00800000")).finish();
  const t = FrequencyTable.fromFrequencies([65535, 1]);
  enc.encode(1, t);
  const one = enc.finish();
  const d1 = new RansDecoder(one);
  assertEquals(d1.decode(t), 1);
  d1.finish();
  // 10^4 copies of the likely symbol cost almost nothing.
  for (let i = 0; i < 10000; i++) enc.encode(0, t);
  const many = enc.finish();
  assert(many.length <= 6, `10^4 near-certain symbols took ${many.length} bytes`);
  const d2 = new RansDecoder(many);
  for (let i = 0; i < 10000; i++) assertEquals(d2.decode(t), 0);
  d2.finish();
  enc.encodeBits(0, 0); // zero-width fields are free
  assertEquals(enc.finish().length, 4);
});

Deno.test("rans: 10^6 symbols with per-symbol tables within 0.1% of ideal", () => {
  const r = rng(77);
  for (const n of [256, 1024]) {
    const tables = Array.from(
      { length: 32 },
      () => FrequencyTable.fromProbabilities(randomWeights(r, n, 0)),
    );
    const N = 1_000_000;
    const which = Uint8Array.from({ length: N }, () => Math.floor(r() * tables.length));
    const syms = new Uint16Array(N);
    const enc = new RansEncoder(N);
    let ideal = 0;
    for (let i = 0; i < N; i++) {
      const t = tables[which[i]];
      syms[i] = draw(r, t);
      ideal += t.cost(syms[i]);
      enc.encode(syms[i], t);
    }
    const bytes = enc.finish();
    const overhead = (bytes.length * 8 - ideal) / ideal;
    assert(overhead < 0.001, `n=${n}: overhead ${(overhead * 100).toFixed(4)}% ≥ 0.1%`);
    const dec = new RansDecoder(bytes);
    for (let i = 0; i < N; i++) {
      if (dec.decode(tables[which[i]]) !== syms[i]) throw new Error(`mismatch at ${i}`);
    }
    dec.finish();
  }
});

Deno.test("rans: one stream cut into parts decodes part by part, each prefix alone", () => {
  const r = rng(909);
  const t = FrequencyTable.fromProbabilities(randomWeights(r, 700, 1));
  for (let trial = 0; trial < 30; trial++) {
    // Parts of 0 to 400 units, the empty ones included (a stage that needs no byte of its own).
    const sizes = Array.from(
      { length: 1 + Math.floor(r() * 6) },
      () => r() < 0.2 ? 0 : Math.floor(r() * 400),
    );
    const syms = sizes.map((n) => Array.from({ length: n }, () => draw(r, t)));
    const enc = new RansEncoder(), whole = new RansEncoder();
    const ends: number[] = [];
    for (const part of syms) {
      const one = new RansEncoder();
      for (const s of part) one.encode(s, t);
      enc.append(one);
      assertEquals(one.length, part.length); // append leaves its source as it was
      ends.push(enc.length);
      part.forEach((s) => whole.encode(s, t));
    }
    const ideal = syms.flat().reduce((b, s) => b + t.cost(s), 0);
    assert(Math.abs(enc.idealBits() - ideal) < 1e-6 * Math.max(1, ideal));
    const parts = enc.finishParts(ends);
    // The parts are the one stream the same units make, cut.
    assertEquals(concatBytes(parts), whole.finish());
    for (let k = 1; k <= parts.length; k++) {
      const dec = new RansDecoder(concatBytes(parts.slice(0, k)));
      let end = 0;
      for (let j = 0; j < k; j++) {
        for (const s of syms[j]) assertEquals(dec.decode(t), s, `trial ${trial} part ${j}`);
        end += parts[j].length;
        dec.endPart(end, `part ${j}`);
      }
      if (k === parts.length) dec.finish();
    }
  }
  const enc = new RansEncoder();
  enc.encode(1, t);
  assertThrows(() => enc.finishParts([]), InvalidArgumentError);
  assertThrows(() => enc.finishParts([0]), InvalidArgumentError, "rise");
  assertThrows(() => enc.finishParts([1, 0, 1]), InvalidArgumentError, "rise");
  // A part decoded with the wrong symbols count ends off its boundary: a typed error.
  for (let i = 0; i < 300; i++) enc.encode(draw(r, t), t);
  const [a, b] = enc.finishParts([150, 301]);
  const dec = new RansDecoder(concatBytes([a, b]));
  for (let i = 0; i < 151; i++) dec.decode(t);
  assertBitstream(() => dec.endPart(a.length, "stage 1"), "BITSTREAM", "stage 1");
});

Deno.test("rans: known-answer byte vector", () => {
  const t = FrequencyTable.fromProbabilities([5, 3, 1, 1]);
  const enc = new RansEncoder();
  for (const s of [0, 1, 2, 3, 0, 0, 1]) enc.encode(s, t);
  enc.encodeBits(0x2a5, 10);
  enc.encode(3, t);
  enc.encodeBits(0xdeadbeef, 32);
  const bytes = enc.finish();
  assertEquals(hex(bytes), "02bb111c7c0843beef0000");
  const dec = new RansDecoder(bytes);
  assertEquals([0, 1, 2, 3, 0, 0, 1].map(() => dec.decode(t)), [0, 1, 2, 3, 0, 0, 1]);
  assertEquals(dec.decodeBits(10), 0x2a5);
  assertEquals(dec.decode(t), 3);
  assertEquals(dec.decodeBits(32), 0xdeadbeef);
  dec.finish();
});

Deno.test("rans: truncated, corrupt and misused streams give typed errors", () => {
  const r = rng(3);
  const t = FrequencyTable.fromProbabilities(randomWeights(r, 50, 1));
  const enc = new RansEncoder();
  const syms = Array.from({ length: 500 }, () => draw(r, t));
  for (const s of syms) enc.encode(s, t);
  const bytes = enc.finish();
  assertBitstream(() => new RansDecoder(bytes.subarray(0, 3)), "TRUNCATED");
  assertBitstream(() => new RansDecoder(unhex("80000000")), "BITSTREAM", "initial state");
  assertBitstream(() => new RansDecoder(unhex("007fffff")), "BITSTREAM", "initial state");
  const cut = new RansDecoder(bytes.subarray(0, bytes.length - 20), "latents");
  assertBitstream(() => syms.forEach(() => cut.decode(t)), "TRUNCATED", "latents");
  // An efficient code has little redundancy, so a damaged stream often decodes to other
  // symbols: integrity is the container checksum's job. Here: typed errors or a decode, only.
  let caught = 0;
  for (let bit = 0; bit < 512; bit++) {
    const bad = bytes.slice();
    bad[4 + (bit >> 3) % (bytes.length - 4)] ^= 1 << (bit & 7);
    try {
      const dec = new RansDecoder(bad);
      syms.forEach(() => dec.decode(t));
      dec.finish();
    } catch (e) {
      assert(e instanceof BitstreamError, String(e));
      caught++;
    }
  }
  assert(caught > 256, `only ${caught} of 512 flips were noticed`);
  const early = new RansDecoder(bytes);
  early.decode(t);
  assertBitstream(() => early.finish(), "BITSTREAM");
  assertEquals(RANS_L, 1 << 23);
  assertThrows(() => enc.encode(50, t), InvalidArgumentError);
  assertThrows(() => enc.encode(-1, t), InvalidArgumentError);
  assertThrows(() => enc.encode(1.5, t), InvalidArgumentError);
  assertThrows(() => enc.encodeBits(8, 3), InvalidArgumentError);
  assertThrows(() => enc.encodeBits(0, 33), InvalidArgumentError);
  assertThrows(() => new RansDecoder(bytes).decodeBits(17.5), InvalidArgumentError);
});

Deno.test("detmath: accurate, and pinned bit for bit", () => {
  let worst = 0;
  for (let x = -700; x < 700; x += 0.37) {
    worst = Math.max(worst, Math.abs(detExp(x) / Math.exp(x) - 1));
  }
  assert(worst < 1e-15, `exp error ${worst}`);
  worst = 0;
  for (let x = 1e-300; x < 1e300; x *= 3.7) {
    worst = Math.max(worst, Math.abs(detLog(x) - Math.log(x)) / Math.max(1, Math.abs(Math.log(x))));
  }
  assert(worst < 1e-15, `log error ${worst}`);
  // Reference erfc values (to 1e-15) checked against the 1.2e-7 bound of the fit.
  const ref: [number, number][] = [
    [0, 1],
    [0.5, 0.4795001221869535],
    [1, 0.15729920705028513],
    [
      2,
      0.004677734981047266,
    ],
    [4, 1.541725790028002e-8],
    [-1, 1.8427007929497148],
  ];
  for (const [x, y] of ref) assert(Math.abs(detErfc(x) / y - 1) < 1.2e-7, `erfc(${x})`);
  assertEquals([detExp(-800), detExp(800), detExp(NaN)], [0, Infinity, NaN]);
  assertEquals([detLog(0), detLog(-1), detLog(Infinity)], [-Infinity, NaN, Infinity]);
  // Pin the exact bits: a platform or refactor that changes one ulp fails here.
  const xs = new Float64Array(4000);
  let p = 1e-300;
  const scales = logScales(0.11, 256, 1000);
  for (let i = 0; i < 1000; i++) {
    xs[i] = detExp(-745 + i * 1.4547);
    xs[1000 + i] = detLog(p);
    p *= 1.99;
    xs[2000 + i] = detErfc(-6 + i * 0.0123);
    xs[3000 + i] = scales[i];
  }
  assertEquals(crc32(new Uint8Array(xs.buffer)).toString(16), DETMATH_DIGEST);
});
const DETMATH_DIGEST = "be176ca2";

/** CRC-32 over (lo, hi, frequencies) of every table of the standard 64-scale, 4-mean family. */
function familyDigest(kind: ParametricKind): string {
  const f = new ParametricFamily({ kind, scales: logScales(0.11, 256, 64), meanLevels: 4 });
  let st = CRC32_INIT;
  for (let s = 0; s < 64; s++) {
    for (let m = 0; m < 4; m++) {
      const { table, lo, hi } = f.table(s, m);
      st = crc32Update(st, new Uint8Array(new Int32Array([lo, hi]).buffer));
      st = crc32Update(st, new Uint8Array(table.frequencies().buffer));
    }
  }
  return crc32Final(st).toString(16);
}

Deno.test("parametric: Gaussian and Laplacian tables are pinned", () => {
  const g = new ParametricFamily({ kind: "gaussian", scales: [1] }).table(0);
  assertEquals([g.lo, g.hi], [-4, 4]);
  assertEquals(Array.from(g.table.frequencies()), [
    15,
    392,
    3971,
    15842,
    25095,
    15842,
    3971,
    392,
    15,
    1,
  ]);
  const l = new ParametricFamily({ kind: "laplacian", scales: [1], meanLevels: 2 }).table(0, 1);
  assertEquals([l.lo, l.hi], [-9, 10]);
  assertEquals(l.table.frequency(9), 20714);
  assertEquals(familyDigest("gaussian"), "528ab99a");
  assertEquals(familyDigest("laplacian"), "7923991b");
});

Deno.test("parametric: values round trip, escapes included", () => {
  const r = rng(8);
  for (const kind of ["gaussian", "laplacian"] as const) {
    const fam = new ParametricFamily({
      kind,
      scales: logScales(0.11, 256, 64),
      meanLevels: 3,
      maxRadius: 200,
    });
    const enc = new RansEncoder();
    const items: [number, number, number][] = [];
    const extremes = [2 ** 31 - 1, -(2 ** 31), 201, -201, 100000, -7];
    for (let i = 0; i < 20000; i++) {
      const s = Math.floor(r() * 64), m = Math.floor(r() * 3);
      const v = i < extremes.length
        ? extremes[i]
        : Math.round((r() + r() + r() - 1.5) * 3 * fam.scales[s]) + 0; // no -0
      fam.encode(enc, v, s, m);
      items.push([v, s, m]);
    }
    const bytes = enc.finish();
    let bits = 0;
    for (const [v, s, m] of items) bits += fam.cost(v, s, m);
    assert(bytes.length * 8 < bits * 1.001 + 64, `${kind}: ${bytes.length * 8} bits vs ${bits}`);
    const dec = new RansDecoder(bytes);
    for (const [v, s, m] of items) assertEquals(fam.decode(dec, s, m), v);
    dec.finish();
  }
});

Deno.test("parametric: options and arguments are validated", () => {
  const bad = [
    { kind: "cauchy", scales: [1] },
    { kind: "gaussian", scales: [] },
    { kind: "gaussian", scales: [0] },
    { kind: "gaussian", scales: [4097] },
    { kind: "gaussian", scales: [NaN] },
    { kind: "gaussian", scales: [1], meanLevels: 0 },
    { kind: "gaussian", scales: [1], maxRadius: MAX_RADIUS + 1 },
    { kind: "gaussian", scales: new Float64Array(65536).fill(1), meanLevels: 65536 },
  ];
  for (const o of bad) {
    assertThrows(() => new ParametricFamily(o as never), InvalidArgumentError);
  }
  const fam = new ParametricFamily({ kind: "gaussian", scales: [1, 2], maxRadius: MAX_RADIUS });
  assertThrows(() => fam.table(2), InvalidArgumentError);
  assertThrows(() => fam.table(0, 1), InvalidArgumentError);
  assertThrows(() => fam.encode(new RansEncoder(), 2 ** 31, 0), InvalidArgumentError);
  assertThrows(() => fam.encode(new RansEncoder(), 0.5, 0), InvalidArgumentError);
  assertThrows(() => logScales(1, 1, 4), InvalidArgumentError);
  assertThrows(() => logScales(1, 2, 1), InvalidArgumentError);
  // Corrupt escapes: an Exp-Golomb prefix over 32 zeros, and a value past int32.
  const one = new ParametricFamily({ kind: "gaussian", scales: [1] });
  const { table, lo, hi } = one.table(0);
  const enc = new RansEncoder();
  enc.encode(hi - lo + 1, table);
  enc.encodeBits(1, 1);
  for (let i = 0; i < 33; i++) enc.encodeBits(0, 1);
  assertBitstream(() => one.decode(new RansDecoder(enc.finish()), 0), "BITSTREAM", "32 leading");
  enc.encode(hi - lo + 1, table);
  enc.encodeBits(1, 1);
  for (let i = 0; i < 32; i++) enc.encodeBits(0, 1);
  enc.encodeBits(1, 1);
  enc.encodeBits(0, 32);
  assertBitstream(() => one.decode(new RansDecoder(enc.finish()), 0), "BITSTREAM", "int32");
  // Tiny and huge scales still build valid tables.
  const wide = new ParametricFamily({ kind: "laplacian", scales: [2 ** -16, 4096] });
  assertEquals(wide.table(0).table.size, 2);
  assert(wide.table(1).table.size > 1000);
});

const MIXED = () => mixedSample(12, 10, 22);

Deno.test("container: every header field round trips", () => {
  const { init, content, bytes } = MIXED();
  const d = decodeSample(bytes);
  const h = d.file.header;
  assertEquals(
    [h.codec, h.model, h.width, h.height, h.quality, h.segmentCount, h.checksumBytes],
    [init.codec, init.model, 12, 10, 7, 4, 2],
  );
  assertEquals(h.weightsHash, SAMPLE_HASH);
  assertEquals(h.video, init.video);
  assertEquals(h.colour, init.colour);
  assertEquals(h.params, new Uint8Array(0));
  assertEquals(d.content, content);
  assert(d.file.complete);
  const p = progicSample(33, 17, 3, 1);
  const pd = decodeSample(p.bytes).file.header;
  assertEquals(pd.colour, { layout: "rgb", bitDepth: 8 });
  assertEquals([pd.video, pd.params, pd.checksumBytes], [undefined, new Uint8Array([1]), 4]);
});

Deno.test("container: progressive files decode every whole segment of a prefix", () => {
  const { stages, bytes } = progicSample(100, 75, 5, 4);
  const full = readContainer(bytes);
  assertEquals(full.segmentEnds.length, 5);
  assertEquals(full.segmentEnds[4], bytes.length);
  for (const end of [full.headerLength, ...full.segmentEnds]) {
    const d = decodeSample(bytes.subarray(0, end));
    assertEquals(d.content.length, full.segmentEnds.indexOf(end) + 1);
    d.content.forEach((c, i) => assertEquals(c, Array.from(stages[i])));
    assertEquals(d.file.complete, end === bytes.length);
  }
});

Deno.test("container: truncated or corrupt segments are named; best effort keeps the prefix", () => {
  const { stages, bytes } = progicSample(64, 48, 5, 6);
  const ends = readContainer(bytes).segmentEnds;
  const cut = bytes.subarray(0, ends[2] + 7);
  assertBitstream(() => decodeSample(cut), "TRUNCATED", "segment 4 of 5 (stage 4) is truncated");
  const bad = bytes.slice();
  bad[ends[1] + 5] ^= 4; // inside stage 3
  assertBitstream(() => decodeSample(bad), "CHECKSUM", "segment 3 of 5 (stage 3) is corrupt");
  for (const [file, keep, code] of [[cut, 3, "TRUNCATED"], [bad, 2, "CHECKSUM"]] as const) {
    const d = decodeSample(file, true);
    assertEquals(d.content.length, keep);
    assertEquals(d.content[keep - 1], Array.from(stages[keep - 1]));
    assertEquals(d.file.error?.code, code);
    assertEquals(d.file.complete, false);
  }
  // A cut inside a segment's length varint and trailing garbage.
  assertBitstream(
    () => readContainer(bytes.subarray(0, ends[0] + 1)),
    "TRUNCATED",
    "segment 2 of 5",
  );
  const big = progicSample(400, 400, 1, 1).bytes;
  const first = readContainer(big).headerLength;
  assertBitstream(() => readContainer(big.subarray(0, first + 1)), "TRUNCATED", "length");
  const trailing = new Uint8Array([...bytes, 0]);
  assertBitstream(() => readContainer(trailing), "BITSTREAM", "after the last of 5");
  assertEquals(readContainer(trailing, { bestEffort: true }).segments.length, 5);
  // The chained checksum catches swapped segments of equal length.
  const file = readContainer(bytes);
  const swapped = writeContainer(progicSample(64, 48, 5, 6).init, file.segments);
  assertEquals(swapped, bytes);
  const s = bytes.slice();
  s.set(bytes.subarray(ends[0], ends[1]), ends[1]);
  s.set(bytes.subarray(ends[1], ends[2]), ends[0]);
  assertBitstream(() => readContainer(s), "CHECKSUM", "segment 2 of 5");
});

Deno.test("container: codec, model and weights are checked", async () => {
  const { bytes } = progicSample(64, 64, 1, 1);
  const expect = { codec: CodecId.progic, model: 3, weightsHash: SAMPLE_HASH };
  readContainer(bytes, { expect });
  const names = (m: number) => ["progic", "progic-s", "progic-t", "progic-test"][m];
  const other = new Uint8Array(8).fill(0xaa);
  assertThrows(
    () => readContainer(bytes, { expect: { ...expect, weightsHash: other, modelName: names } }),
    ModelMismatchError,
    `needs "progic-test" (model 3) with weights 3a419c07e25b10d8, but "progic-test" (model 3) ` +
      "with weights aaaaaaaaaaaaaaaa",
  );
  assertThrows(
    () => readContainer(bytes, { expect: { ...expect, model: 1 } }),
    ModelMismatchError,
    "model 3",
  );
  const e = assertThrows(
    () => readContainer(bytes, { expect: { ...expect, codec: CodecId.glc } }),
    BitstreamError,
    "codec progic (1), but this decoder is glc (2)",
  );
  assertEquals((e as BitstreamError).code, "UNSUPPORTED");
  const h = await weightsHash(new TextEncoder().encode("abc"));
  assertEquals(hex(h), "ba7816bf8f01cfea"); // SHA-256("abc") begins so
});

Deno.test("container: bad headers give typed errors", () => {
  const { bytes, init } = progicSample(64, 64, 1, 1);
  assertBitstream(() => readContainer(new Uint8Array(0)), "TRUNCATED");
  assertBitstream(() => readContainer(unhex("5453")), "TRUNCATED");
  assertBitstream(
    () => readContainer(unhex("89504e470d0a1a0a")),
    "BITSTREAM",
    "not a Tessera file",
  );
  const v2 = bytes.slice();
  v2[3] = 2;
  assertBitstream(() => readContainer(v2), "UNSUPPORTED", "version 2");
  // A reserved bit: corruption unless the checksum vouches for it, then an unknown feature.
  const flags = bytes.slice();
  flags[4] |= 0x80;
  assertBitstream(() => readContainer(flags), "CHECKSUM", "header");
  const reseal = (b: Uint8Array) => {
    const end = readContainer(bytes).headerLength - 4;
    b.set(new ByteWriter().uintBE(crc32(b.subarray(0, end)), 4).view(), end);
    return b;
  };
  assertBitstream(() => readContainer(reseal(flags)), "UNSUPPORTED", "flags 0x80");
  const colour = bytes.slice();
  colour[17] = 3; // the colour byte: layout 3 is reserved
  assertBitstream(() => readContainer(reseal(colour)), "UNSUPPORTED", "colour byte 0x3");
  for (let n = 4; n < readContainer(bytes).headerLength; n++) {
    assertBitstream(() => readContainer(bytes.subarray(0, n)), "TRUNCATED", "container header");
  }
  const hdr = bytes.slice();
  hdr[15] ^= 1; // width
  assertBitstream(() => readContainer(hdr), "CHECKSUM", "header");
  // Absurd but well-sealed headers.
  assertBitstream(
    () => readContainer(writeContainer({ ...init, width: 65535, height: 65535 }, [])),
    "BITSTREAM",
    "limit",
  );
  assertBitstream(
    () =>
      readContainer(writeContainer({ ...init, width: 300, height: 300 }, []), { maxPixels: 1000 }),
    "BITSTREAM",
    "300×300",
  );
  // A segment declaring 4 GiB in a tiny file fails at once, allocating nothing.
  const lie = new ByteWriter().bytes(writeContainer(init, []).subarray(0, -4));
  const head = lie.view().slice();
  head[head.length - 3] = 1; // segment count 0 → 1
  const sealed = new ByteWriter().bytes(head).uintBE(crc32(head), 4).varint(2 ** 32 - 1).finish();
  assertBitstream(() => readContainer(sealed), "TRUNCATED", "4294967295");
  // Writer-side validation.
  for (
    const bad of [
      { width: 0 },
      { height: 65536 },
      { weightsHash: new Uint8Array(4) },
      {
        codec: -1,
      },
      { checksumBytes: 3 },
      { params: new Uint8Array(65536) },
      { video: { frames: 0, rateNum: 1, rateDen: 1 } },
      { codec: 2 ** 32 },
      { model: 1.5 },
      { quality: -1 },
      { colour: { layout: "cmyk", bitDepth: 8 } },
      { colour: { layout: "rgb", bitDepth: 9 } },
      { colour: { layout: "rgb", bitDepth: 8, cicp: { primaries: 256, transfer: 1, matrix: 1 } } },
    ]
  ) {
    assertThrows(() => writeContainer({ ...init, ...bad } as never, []), InvalidArgumentError);
  }
  assertThrows(
    () => writeContainer(init, Array(65536).fill(new Uint8Array(0))),
    InvalidArgumentError,
  );
});

Deno.test("container: overhead of small ProGIC files (documented in docs/format.md)", () => {
  const sizes = ([[1, 4], [1, 2], [5, 4], [5, 2]] as const).map(([stages, cb]) => {
    const { bytes } = progicSample(64, 64, stages, 1, cb);
    const f = readContainer(bytes);
    return [f.headerLength, bytes.length - stages * 20];
  });
  // [header bytes, total overhead] for 1 and 5 stages of a 64×64 image (20 payload bytes each).
  assertEquals(sizes, [[26, 31], [24, 27], [26, 51], [24, 39]]);
});

const GOLDEN = [
  ["coding_progic_64x64_1stage.tsr", () => progicSample(64, 64, 1, 64)],
  ["coding_progic_100x75_5stage_crc16.tsr", () => progicSample(100, 75, 5, 75, 2)],
  ["coding_mixed_12x10.tsr", MIXED],
] as const;

Deno.test("golden files pin the format", async () => {
  const dir = new URL("./golden/", import.meta.url);
  for (const [name, make] of GOLDEN) {
    const sample = make();
    const url = new URL(name, dir);
    if (Deno.env.get("TESSERA_UPDATE_GOLDEN") === "1") await Deno.writeFile(url, sample.bytes);
    const golden = await Deno.readFile(url);
    assertEquals(hex(sample.bytes), hex(golden), `${name}: the writer's output changed`);
    const d = decodeSample(golden);
    assert(d.file.complete);
    const want = "stages" in sample ? sample.stages.map((s) => Array.from(s)) : sample.content;
    assertEquals(d.content, want, `${name}: decoding changed`);
  }
});

Deno.test("fuzz: 4000 seeded mutations give only typed errors or correct decodes", () => {
  const stats = fuzz(20240601, 4000);
  assertEquals(stats.failures, [], stats.failures.slice(0, 3).join("\n"));
  assertEquals(stats.cases, 4000);
  assert(stats.decoded > 100, "some mutations decode (e.g. boundary truncations)");
  for (const code of ["TRUNCATED", "CHECKSUM", "BITSTREAM", "UNSUPPORTED"]) {
    assert((stats.typedErrors[code] ?? 0) > 0, `fuzzing reached ${code}`);
  }
  assert(stats.maxCaseMs < 1000, `slowest case took ${stats.maxCaseMs} ms`);
  assertEquals(TOY_MAX_PIXELS, 1 << 16);
  assert(new BitstreamError("x") instanceof TesseraError);
});

Deno.test("src/coding uses web-standard APIs only (runs unchanged in browsers)", async () => {
  for await (const entry of Deno.readDir(new URL("../src/coding/", import.meta.url))) {
    const text = await Deno.readTextFile(new URL(`../src/coding/${entry.name}`, import.meta.url));
    assert(!/\bDeno\.|from "node:|require\(/.test(text), `${entry.name} uses a non-web API`);
  }
});
