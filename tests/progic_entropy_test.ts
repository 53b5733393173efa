// ProGIC's index entropy coding: the rANS stage coder against the twin's ideal code lengths
// (train/entropy.py via the golden file), lossless round trips, the stream's per-stage choice and
// its parameter block, typed errors for crafted streams, and the codec's rate targets.
import { inspect } from "../src/api.ts";
import { FrequencyTable, PROB_SCALE, quantizeFrequencies } from "../src/coding/cdf.ts";
import { CodecId, readContainer, writeContainer } from "../src/coding/container.ts";
import { BitstreamError, WeightsError } from "../src/errors.ts";
import { cpuBackend } from "../src/graph/cpu_backend.ts";
import type { RgbImage } from "../src/io/image.ts";
import {
  encodeStages,
  gridOf,
  type ProgicStream,
  type ProgicStreamModel,
  readProgic,
  readProgicParams,
  writeProgic,
} from "../src/models/progic/bitstream.ts";
import { ProgicCodec } from "../src/models/progic/codec.ts";
import {
  decodeStageIndices,
  encodeStageIndices,
  type IndexCoding,
  type IndexEntropyModel,
  indexEntropyModel,
  stageCodeBits,
  type StageEntropy,
} from "../src/models/progic/entropy.ts";
import { assert, assertEquals, assertThrows, rng } from "./assert.ts";
import { fixture } from "./progic_fixture.ts";

const { weights, g } = await fixture("progic-t");
const K = weights.config.codes, N = weights.config.stages;
const entropy = weights.entropy!;

/** A model whose stage tables favour low codes and repeats (not the shipped ones), in the
 * layout without `entropy.context` (stage s uses table s). */
function skewedModel(stages: number, codes: number): IndexEntropyModel {
  const one = quantizeFrequencies(Array.from({ length: codes }, (_, i) => 1 / (1 + i)));
  const freq = new Float32Array(stages * codes);
  for (let s = 0; s < stages; s++) freq.set(one, s * codes);
  const repeat = new Float32Array(stages * 2).fill(20000);
  return indexEntropyModel({ freq, repeat }, stages, codes);
}

/** Two stages whose tables depend on the context code: low codes follow low codes, high codes
 * high ones (the left neighbour at stage 1, the same position's stage-1 code at stage 2), and
 * stage 1's first position has a flat table. */
function contextModel(codes: number): IndexEntropyModel {
  const low = quantizeFrequencies(Array.from({ length: codes }, (_, i) => 1 / (1 + i)));
  const high = quantizeFrequencies(Array.from({ length: codes }, (_, i) => 1 / (codes - i)));
  const flat = quantizeFrequencies(new Array(codes).fill(1));
  const freq = new Float32Array(3 * codes);
  [low, high, flat].forEach((f, i) => freq.set(f, i * codes));
  const repeat = Float32Array.from([30000, 20000, 1000, 1000, 32768, 32768]);
  const context = Float32Array.from(
    { length: 2 * (codes + 1) },
    (_, i) => i % (codes + 1) === codes ? 2 : i % (codes + 1) < codes / 2 ? 0 : 1,
  );
  return indexEntropyModel({ freq, repeat, context }, 2, codes);
}

/**
 * The coder's ideal length, walked here position by position from docs/format.md; `coding`
 * "adaptive": parameter version 5's adaptation of the flags and codes to the stage so far.
 */
function walkBits(
  idx: Int32Array,
  w: number,
  m: StageEntropy,
  previous?: Int32Array,
  coding: IndexCoding = "adaptive",
): number {
  const S = PROB_SCALE, prior = [800, 1600, 3200][Math.min(m.stage, 2)];
  const repeats = [0, 0], expected = [0, 0], seen = new Map<number, number>();
  let bits = 0;
  const flag = (kind: number, t: FrequencyTable, repeat: boolean) => {
    const p = t.frequency(1);
    let q = p;
    if (coding === "adaptive") {
      const a = p * ((repeats[kind] + 2) / (expected[kind] + 2));
      q = Math.min(S - 1, Math.max(1, Math.floor((S * a) / (a + (S - p)) + 0.5)));
      repeats[kind] += repeat ? 1 : 0;
      expected[kind] += p / S;
    }
    bits -= Math.log2((repeat ? q : S - q) / S);
    return repeat;
  };
  const code = (t: FrequencyTable, c: number) => {
    let n = 0;
    seen.forEach((k) => n += k);
    if (coding === "static" || n === 0) {
      bits += t.cost(c);
    } else {
      // Each code seen owns `unit` per time; the static frequencies less 1 are scaled into the
      // rest by their cumulative sums (docs/format.md).
      const room = S - K, unit = Math.floor(room / (prior + n)), rest = room - n * unit;
      const bound = (k: number) => {
        let below = 0, count = 0;
        for (let i = 0; i < k; i++) below += t.frequency(i);
        seen.forEach((v, code) => count += code < k ? v : 0);
        return k + Math.floor(((below - k) * rest) / room) + unit * count;
      };
      bits -= Math.log2((bound(c + 1) - bound(c)) / S);
    }
    seen.set(c, (seen.get(c) ?? 0) + 1);
  };
  for (let p = 0; p < idx.length; p++) {
    const x = p % w, left = x > 0 ? idx[p - 1] : -1, up = p >= w ? idx[p - w] : -1;
    const c = previous ? previous[p] : left >= 0 ? left : up >= 0 ? up : K;
    const t = m.tables[m.byContext[c]];
    if (left >= 0 && flag(0, t.left, idx[p] === left)) continue;
    if (up >= 0 && up !== left && flag(1, t.up, idx[p] === up)) continue;
    code(t.codes, idx[p]);
  }
  return bits;
}

Deno.test("progic entropy: the shipped weights carry context tables for every stage", () => {
  assertEquals(entropy.length, N);
  entropy.forEach((s, i) => {
    assertEquals(s.fromPrevious, i > 0);
    assertEquals(s.byContext.length, K + 1);
    for (const t of s.tables) assertEquals(t.codes.size, K);
    // A table per cluster of the context code's codebook (train/entropy.py).
    assert(new Set(s.byContext).size > 1, `stage ${i + 1} without context`);
  });
});

Deno.test("progic entropy: the context code picks the tables", () => {
  const m = contextModel(K);
  const rand = rng(13);
  // Rows that stay in one half of the code range: cheap under the context, dear without it;
  // stage 2 stays in the half of stage 1 at the same position.
  const h = 12, w = 20;
  const grids = [new Int32Array(h * w), new Int32Array(h * w)];
  for (let p = 0; p < h * w; p++) {
    const u = () => Math.floor(rand() ** 6 * (K / 2));
    const half = Math.floor(p / w) % 2;
    grids[0][p] = half ? K - 1 - u() : u();
    grids[1][p] = (grids[0][p] >= K / 2) === (rand() < 0.9) ? K - 1 - u() : u();
  }
  const flat = skewedModel(2, K);
  for (const coding of ["static", "adaptive"] as const) {
    grids.forEach((idx, s) => {
      const previous = s ? grids[0] : undefined;
      const bytes = encodeStageIndices(idx, w, m[s], previous, coding);
      assertEquals(decodeStageIndices(bytes, h * w, w, m[s], "stage", previous, coding), idx);
      const ideal = walkBits(idx, w, m[s], previous, coding);
      const bits = stageCodeBits(idx, w, m[s], previous, coding);
      assert(Math.abs(bits - ideal) < 1e-6, `${coding} stage ${s + 1}: ${bits} vs ${ideal}`);
      assert(bytes.length <= ideal / 8 + 5, `${bytes.length} bytes for ${ideal} bits`);
      const without = stageCodeBits(idx, w, flat[s], previous, coding);
      // Adapting learns part of what the context tells, so the context saves less there.
      const gain = coding === "static" ? 0.85 : 0.92;
      assert(bits < gain * without, `stage ${s + 1}: context did not help (${bits} vs ${without})`);
    });
  }
  // Stage 2's model reads stage 1: without it (or with the wrong size) the coder refuses.
  assertThrows(() => encodeStageIndices(grids[1], w, m[1]), RangeError, "previous stage");
  assertThrows(
    () => stageCodeBits(grids[1], w, m[1], grids[0].subarray(1)),
    RangeError,
    "previous stage",
  );
});

Deno.test("progic entropy: stage streams match the twin's ideal code lengths", () => {
  // The twin's code_bits (train/entropy.py) on the golden beam indices and on a 16×16 grid full
  // of left and upper runs: the same walk gives the same bits (a flag asked or skipped
  // differently would move them by whole flag costs), and rANS meets them within its state.
  const cases = [
    ["beam_indices", "entropy_bits", "adaptive"],
    ["beam_indices", "entropy_static_bits", "static"],
    ["entropy_grid", "entropy_grid_bits", "adaptive"],
    ["entropy_grid", "entropy_grid_static_bits", "static"],
  ] as const;
  for (const [grid, bitsName, coding] of cases) {
    const t = g(grid), bits = g(bitsName);
    const [, h, w] = t.shape;
    const stage = (s: number) => Int32Array.from(t.data.subarray(s * h * w, (s + 1) * h * w));
    for (let s = 0; s < N; s++) {
      const idx = stage(s), previous = s ? stage(s - 1) : undefined;
      const ideal = stageCodeBits(idx, w, entropy[s], previous, coding);
      assert(
        Math.abs(ideal - bits.data[s]) <= 1e-3 * Math.max(1, bits.data[s] / 1000),
        `${grid} ${coding} stage ${s + 1}: ${ideal} bits, the twin's ${bits.data[s]}`,
      );
      assert(Math.abs(walkBits(idx, w, entropy[s], previous, coding) - ideal) < 1e-6);
      const bytes = encodeStageIndices(idx, w, entropy[s], previous, coding);
      assert(
        bytes.length >= ideal / 8 + 3 && bytes.length <= ideal / 8 + 5,
        `${grid} stage ${s + 1}: ${bytes.length} bytes for ${ideal.toFixed(1)} ideal bits`,
      );
      assertEquals(
        decodeStageIndices(bytes, h * w, w, entropy[s], "stage", previous, coding),
        idx,
      );
    }
  }
  // Adapting pays on the grid's runs and on the image's recurring codes.
  const sum = (name: string) => Array.from(g(name).data).reduce((a, b) => a + b, 0);
  assert(sum("entropy_grid_bits") < sum("entropy_grid_static_bits"));
});

Deno.test("progic entropy: lossless on random, repetitive and degenerate grids", () => {
  const rand = rng(7);
  const m = skewedModel(1, K)[0];
  const shapes: [number, number][] = [[1, 1], [1, 9], [9, 1], [7, 5], [30, 20]];
  for (const [h, w] of shapes) {
    for (const kind of ["uniform", "runs", "constant"]) {
      const idx = new Int32Array(h * w);
      for (let p = 0; p < idx.length; p++) {
        idx[p] = kind === "constant"
          ? K - 1
          : kind === "runs" && p > 0 && rand() < 0.6
          ? idx[p - (rand() < 0.5 || p < w ? 1 : w)]
          : Math.floor(rand() * K);
      }
      for (const coding of ["static", "adaptive"] as const) {
        const bytes = encodeStageIndices(idx, w, m, undefined, coding);
        assertEquals(
          decodeStageIndices(bytes, idx.length, w, m, "stage", undefined, coding),
          idx,
          `${kind} ${h}×${w} ${coding}`,
        );
        if (kind === "constant" && coding === "static") {
          // Every position after the first is one "repeat" flag (left, or up in column 0).
          const t = m.tables[0];
          const ideal = (t.codes.cost(K - 1) + (h * w - 1) * t.left.cost(1)) / 8 + 4;
          assert(Math.abs(bytes.length - ideal) <= 1.5, `${h}×${w}: ${bytes.length} vs ${ideal}`);
        }
        if (kind === "constant" && coding === "adaptive" && h * w >= 35) {
          // The flags learn that everything repeats.
          const fixedCost = encodeStageIndices(idx, w, m, undefined, "static").length;
          assert(bytes.length < fixedCost, `${h}×${w}: ${bytes.length} vs ${fixedCost}`);
        }
      }
    }
  }
  // The shipped tables too (uniform codes: a round trip only).
  const idx = Int32Array.from({ length: 600 }, () => Math.floor(rand() * K));
  assertEquals(
    decodeStageIndices(encodeStageIndices(idx, 30, entropy[0]), 600, 30, entropy[0], ""),
    idx,
  );
});

Deno.test("progic entropy: bad tables are refused as weights errors", () => {
  const ok = new Float32Array(2 * 4).fill(PROB_SCALE / 4);
  const rep = new Float32Array(4).fill(100);
  const model = (freq: Float32Array, repeat: Float32Array, context?: Float32Array) =>
    indexEntropyModel({ freq, repeat, context }, 2, 4);
  model(ok, rep);
  const bad = ok.slice();
  bad[5] += 1;
  assertThrows(() => model(bad, rep), WeightsError, "table 1");
  const zero = ok.slice();
  zero[0] = 0;
  zero[1] += PROB_SCALE / 4;
  assertThrows(() => model(zero, rep), WeightsError);
  for (const p of [0, PROB_SCALE, 1.5, NaN]) {
    const r = rep.slice();
    r[3] = p;
    assertThrows(() => model(ok, r), WeightsError, "entropy.repeat[1][1]");
  }
  // Tables and repeat pairs that disagree; a table count other than the stages' without context.
  assertThrows(() => model(ok, rep.subarray(0, 2)), WeightsError, "agree");
  const three = new Float32Array(3 * 4).fill(PROB_SCALE / 4);
  assertThrows(
    () => model(three, new Float32Array(6).fill(100)),
    WeightsError,
    "one table per stage",
  );
  // A context row naming a table that is not there, or no integer.
  const ctx = new Float32Array(2 * 5);
  model(ok, rep, ctx);
  for (const v of [2, -1, 0.5, NaN]) {
    const c = ctx.slice();
    c[7] = v;
    assertThrows(() => model(ok, rep, c), WeightsError, "entropy.context[1][2]");
  }
});

const HASH = new Uint8Array(8).fill(7);
const fixedModel: ProgicStreamModel = { id: 2, weightsHash: HASH, codes: K };
const codedModel: ProgicStreamModel = { ...fixedModel, entropy: skewedModel(N, K) };

function stream(width: number, height: number, stages: number, seed: number): ProgicStream {
  const rand = rng(seed);
  const { h, w } = gridOf(width, height);
  // Low codes, as the skewed tables expect, so rANS wins; stage 2 uniform, so fixed fields win.
  const indices = Array.from({ length: stages }, (_, s) =>
    Int32Array.from(
      { length: h * w },
      () => s === 1 ? Math.floor(rand() * K) : Math.floor(rand() ** 4 * 40),
    ));
  return { width, height, codedWidth: width, codedHeight: height, indices, stagesWritten: stages };
}

Deno.test("progic entropy: each stage is written the shorter way and read back", () => {
  const s = stream(160, 96, 3, 3);
  const coded = writeProgic(s, codedModel);
  const fixed = writeProgic(s, codedModel, { fixed: true });
  const plain = writeProgic(s, fixedModel);
  assert(coded.length < fixed.length, `${coded.length} vs ${fixed.length}`);
  // Stages coded once ahead (as the refining encoder does) write the same file.
  const staged = encodeStages(s.indices, 160, 96, codedModel);
  assertEquals(writeProgic(s, codedModel, { stages: staged }), coded);
  assertEquals(staged.mask, 0b101);
  // Stages 1 and 3 share one rANS state: about 4 bytes less than two streams (version 5).
  const f6 = readContainer(coded).segments;
  const own = [
    encodeStageIndices(s.indices[0], 10, codedModel.entropy![0]),
    encodeStageIndices(s.indices[2], 10, codedModel.entropy![2], s.indices[1]),
  ];
  const saved = own[0].length + own[2 - 1].length - f6[0].length - f6[2].length;
  assert(saved >= 3 && saved <= 5, `one stream saved ${saved} bytes`);
  // Every prefix of whole segments still decodes its stages; a cut inside one does not.
  const ends = readContainer(coded).segmentEnds;
  for (let k = 1; k <= 3; k++) {
    const r = readProgic(coded.slice(0, ends[k - 1]), { ...codedModel, stages: N });
    assertEquals(r.indices, s.indices.slice(0, k));
  }
  assertThrows(
    () => readProgic(coded.slice(0, ends[1] + 3), { ...codedModel, stages: N }),
    BitstreamError,
    "stage 3",
  );
  // Version 6 parameters are two bytes longer than version 1 (the stage mask, the refinement flag).
  assertEquals(fixed.length, plain.length + 2);
  const f = readContainer(coded);
  assertEquals([...f.header.params.subarray(-2)], [0b101, 0]);
  const spec = { stages: N };
  for (
    const [bytes, model] of [[coded, codedModel], [fixed, codedModel], [plain, codedModel]] as const
  ) {
    const r = readProgic(bytes, { ...model, ...spec });
    assertEquals(r.indices, s.indices);
  }
  // A version-1 stream needs no tables; a coded one does.
  assertEquals(readProgic(plain, { ...fixedModel, ...spec }).indices, s.indices);
  assertThrows(
    () => readProgic(coded, { ...fixedModel, ...spec }),
    BitstreamError,
    "entropy tables",
  );
});

Deno.test("progic entropy: crafted parameter blocks and stage payloads give typed errors", () => {
  const s = stream(64, 48, 2, 5);
  const good = readContainer(writeProgic(s, codedModel));
  const { h, w } = gridOf(64, 48);
  const make = (params: number[], segments: Uint8Array[]) =>
    writeContainer({
      codec: CodecId.progic,
      model: 2,
      weightsHash: HASH,
      width: 64,
      height: 48,
      quality: segments.length,
      params: Uint8Array.from(params),
    }, segments);
  const read = (bytes: Uint8Array) => readProgic(bytes, { ...codedModel, stages: N });
  // The writer's version-6 stages (adaptive; with one rANS-coded stage and no refinement the one
  // stream is that stage's own, as in version 5) and the same stage 1 under the static tables of
  // versions 2-4: each reads back under its own versions only.
  const segs = good.segments;
  assertEquals([...good.header.params], [6, 64, 48, 0b01, 0]);
  assertEquals(
    segs[0],
    encodeStageIndices(s.indices[0], w, codedModel.entropy![0], undefined, "adaptive"),
  );
  const staticSegs = [
    encodeStageIndices(s.indices[0], w, codedModel.entropy![0], undefined, "static"),
    segs[1],
  ];
  assertEquals(read(make([2, 64, 48, 0b01], staticSegs)).indices, s.indices);
  assertEquals(read(make([5, 64, 48, 0b01, 0], segs)).indices, s.indices);
  assertEquals(read(make([6, 64, 48, 0b01, 0], segs)).indices, s.indices);
  assertThrows(() => read(make([2, 64, 48, 0b01], segs)), BitstreamError);
  assertThrows(() => read(make([5, 64, 48, 0b01, 0], staticSegs)), BitstreamError);
  // A mask bit past the stages written, a trailing byte, an unknown version.
  assertThrows(() => read(make([2, 64, 48, 0b101], staticSegs)), BitstreamError, "past the 2");
  assertThrows(() => inspect(make([2, 64, 48, 0b101], segs)), BitstreamError, "past the 2");
  assertEquals(inspect(make([2, 64, 48, 0b01], segs)).stageCoding, ["rans", "fixed"]);
  assertThrows(() => read(make([2, 64, 48, 1, 0], staticSegs)), BitstreamError, "unexpected");
  assertThrows(() => read(make([5, 64, 48, 1], segs)), BitstreamError);
  assertThrows(() => read(make([7, 64, 48, 1, 0], segs)), BitstreamError, "version 7");
  assertThrows(() => read(make([0, 64, 48], segs)), BitstreamError, "version 0");
  // The refinement flag of versions 3 to 6: 0 or 1, and a refinement only after all N stages.
  for (const v of [3, 4, 5, 6]) {
    const own = v >= 5 ? segs : staticSegs;
    assertEquals(read(make([v, 64, 48, 0b01, 0], own)).indices, s.indices);
    assertThrows(() => read(make([v, 64, 48, 0b01, 2], own)), BitstreamError, "flag 2");
    assertThrows(() => read(make([v, 64, 48, 0b01, 1], own)), BitstreamError, "all 5");
    assertEquals(inspect(make([v, 64, 48, 0b01, 1], own)).stages, 1);
    // Version 3 stored the refinement's depth table; versions 4 to 6 code the depths
    // adaptively, versions 5 and 6 the stages too, and version 6 shares one rANS state.
    const params = readProgicParams({
      params: Uint8Array.from([v, 64, 48, 0b01, 1]),
      width: 64,
      height: 48,
      segmentCount: 6,
    });
    assertEquals(params.refinementLayout, v === 3 ? "table" : "adaptive");
    assertEquals(params.indexCoding, v >= 5 ? "adaptive" : "static");
    assertEquals(params.oneStream, v === 6);
  }
  // Checksummed but wrong rANS payloads: cut short, extended, random.
  const rand = rng(11);
  const rans = segs[0];
  for (
    const bad of [
      rans.slice(0, rans.length - 2),
      Uint8Array.from([...rans, 0]),
      Uint8Array.from({ length: rans.length }, () => Math.floor(rand() * 256)),
      new Uint8Array(2),
    ]
  ) {
    for (const v of [5, 6]) {
      assertThrows(() => read(make([v, 64, 48, 1, 0], [bad, segs[1]])), BitstreamError);
    }
  }
  // Seeded mutations of the rANS payload under valid checksums: a typed error or h·w codes < K.
  for (let t = 0; t < 300; t++) {
    const m = rans.slice(0, Math.max(0, rans.length + Math.floor(rand() * 5) - 3));
    for (let j = 0; j < 1 + t % 4 && m.length; j++) {
      m[Math.floor(rand() * m.length)] ^= 1 << Math.floor(rand() * 8);
    }
    try {
      const r = read(make([5 + t % 2, 64, 48, 1, 0], [m, segs[1]]));
      assert(r.indices[0].length === h * w && r.indices[0].every((v) => v >= 0 && v < K));
    } catch (e) {
      assert(e instanceof BitstreamError, `mutation ${t}: ${e}`);
    }
  }
  // A fixed-length stage marked as rANS is not silently misread either.
  for (const v of [5, 6]) {
    assertThrows(() => read(make([v, 64, 48, 0b11, 0], segs)), BitstreamError, "stage 2");
  }
  assertEquals(h * w, s.indices[0].length);
});

function photoLike(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const sky = y < height / 2;
      data[o] = sky ? 120 + y : 60 + 50 * Math.sin(x / 5) * Math.cos(y / 7);
      data[o + 1] = sky ? 160 + y / 2 : 90 + ((x * 7 + y * 3) % 40);
      data[o + 2] = sky ? 220 : 40 + ((x ^ y) & 31);
    }
  }
  return { width, height, data };
}

Deno.test({
  name: "progic entropy: the codec entropy-codes losslessly and fills a rate target",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const c = await ProgicCodec.create(weights, cpuBackend());
    const img = photoLike(96, 64);
    // No refinement: it would fill the room entropy coding leaves (progic_refine_test.ts); the
    // least-error paths (rateWeight 0), which a model without tables writes too.
    const full = await c.encode(img, { refine: 0, rateWeight: 0 });
    const chosen = await c.encode(img, { refine: 0 });
    assert(chosen.bytes.length <= full.bytes.length, "the rate-aware choice wrote more");
    // Same indices as a fixed-length stream, so the same pixels.
    const noTables = await ProgicCodec.create({ ...weights, entropy: undefined }, cpuBackend());
    const plain = await noTables.encode(img);
    assert(full.bytes.length < plain.bytes.length, `${full.bytes.length} vs ${plain.bytes.length}`);
    const coding = inspect(full.bytes).stageCoding;
    assertEquals(coding.length, N);
    assert(coding.includes("rans"), coding.join());
    assertEquals(inspect(plain.bytes).stageCoding, Array(N).fill("fixed"));
    assertEquals(
      (await c.decode(full.bytes)).image.data,
      (await noTables.decode(plain.bytes)).image.data,
    );
    // A rate between the fixed-length sizes of 3 and 4 stages that the coded 4-stage file meets.
    const at = async (stages: number) => (await c.encode(img, { stages })).bytes.length;
    const bound3 = (await noTables.encode(img, { stages: 3 })).bytes.length + 2;
    const bound4 = (await noTables.encode(img, { stages: 4 })).bytes.length + 2;
    const coded4 = await at(4);
    assert(coded4 < bound4, `4 coded stages ${coded4} bytes, bound ${bound4}`);
    const target = Math.max(coded4, bound3);
    const r = await c.encode(img, { maxBytes: target });
    assert(
      r.bytes.length <= target && r.stages >= 4,
      `${r.stages} stages in ${r.bytes.length} bytes`,
    );
    // At full size: a downscaled candidate reaches 4 stages by the fixed bound alone.
    assertEquals([r.codedWidth, r.codedHeight], [96, 64]);
    // A budget below one fixed-length stage at full size but above its coded size: the full
    // size is still a candidate (the bound alone would start at a smaller scale; the encoder
    // climbs through the larger ones while one coded stage fits).
    const coded1 = await at(1);
    const bound1 = (await noTables.encode(img, { stages: 1 })).bytes.length + 2;
    assert(coded1 < bound1, `${coded1} vs ${bound1}`);
    const log: string[] = [];
    const tight = await c.encode(img, { maxBytes: coded1, onProgress: (m) => log.push(m) });
    assert(tight.bytes.length <= coded1);
    assert(
      log.some((m) => m.startsWith("candidate scale 1.000 (96×64), 1 stage(s): MSE")),
      log.join("\n"),
    );
    const bpp = await c.encode(img, { bpp: (target * 8) / (96 * 64) });
    assert(
      bpp.stages >= 4 && bpp.bytes.length <= target,
      `${bpp.stages} stages, ${bpp.bytes.length}`,
    );
  },
});
