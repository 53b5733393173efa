// ProGIC's refinement section (src/models/progic/refine.ts): the fill order and the segment
// coder against known answers, parity of the refinement search and decoder with the PyTorch twin
// (golden vectors of progic-t), and the codec's behaviour with it: budgets, truncation, errors.
import { readContainer } from "../src/coding/container.ts";
import { BitstreamError, InvalidArgumentError } from "../src/errors.ts";
import type { Backend } from "../src/graph/backend.ts";
import { cpuBackend } from "../src/graph/cpu_backend.ts";
import { webgpuBackend } from "../src/graph/webgpu_backend.ts";
import { ProgicCodec } from "../src/models/progic/codec.ts";
import { decoderGraph } from "../src/models/progic/network.ts";
import {
  decodeRefinement,
  encodeRefinement,
  fillOrder,
  refinementMaps,
  refinementOf,
  steered,
} from "../src/models/progic/refine.ts";
import { readProgic } from "../src/models/progic/bitstream.ts";
import { blockVisibility } from "../src/metrics/visibility.ts";
import { assert, assertEquals, assertRejects, assertThrows, rng } from "./assert.ts";
import { compare, gpu, GPU_TEST, synthetic } from "./harness.ts";
import { adapterCodec, fixture } from "./progic_fixture.ts";

const root = new URL("../", import.meta.url);
const { weights, g, metadata } = await fixture("progic-t");
const K = weights.config.codes, BITS = Math.log2(K);

Deno.test("refine: the fill order gives the largest residual first, the lower position on ties", () => {
  // Worked by hand: 9 (p1), then the 4s of p0 and p2 (p0 first), then p2's 3.9, p1's 2, p0's 1.
  const e = [[4, 9, 4], [1, 2, 3.9], [0, 1, 0]].map((r) => Float64Array.from(r));
  assertEquals(Array.from(fillOrder(e)), [1, 0, 2, 2, 1, 0]);
  // The twin's order on the golden energies (as stored, f32), position for position.
  const energy = g("refine_energy");
  const [levels] = energy.shape, n = energy.data.length / levels;
  const rows = Array.from(
    { length: levels },
    (_, l) => Float64Array.from(energy.data.subarray(l * n, (l + 1) * n)),
  );
  assertEquals(Array.from(fillOrder(rows)), Array.from(g("refine_order").data));
});

Deno.test("refine: steering scales each position's energies by its visibility cubed", () => {
  const e = [[4, 9, 4], [1, 2, 3.9], [0, 1, 0]].map((r) => Float64Array.from(r));
  // The same visibility everywhere keeps the order; a visible p2 (×3, so 27×) goes first.
  assertEquals(Array.from(fillOrder(steered(e, new Float64Array([2, 2, 2])))), [1, 0, 2, 2, 1, 0]);
  const s = steered(e, new Float64Array([1, 1, 3]));
  assertEquals(s.map((r) => Array.from(r)), [[4, 9, 108], [1, 2, 105.3], [0, 1, 0]]);
  assertEquals(Array.from(fillOrder(s)), [2, 2, 1, 0, 1, 0]);
  assertThrows(() => steered(e, new Float64Array(2)), InvalidArgumentError, "positions");
});

// A 37-position grid, 5 positions wide (the last row holds 2).
const GRID = { positions: 37, width: 5, books: 4, bits: BITS };
const CHAIN = Array.from(
  { length: 4 },
  (_, e) => Int32Array.from({ length: 37 }, (_, p) => (p * 97 + e * 13) % K),
);
const ORDER = Int32Array.from({ length: 4 * 37 }, (_, k) => (k * 11) % 37);

Deno.test("refine: segments round-trip, and damaged ones give typed errors", () => {
  for (const m of [1, 20, 37, 100, 148]) {
    const r = refinementOf(ORDER, m, CHAIN);
    assertEquals(r.codes.length, m);
    const bytes = encodeRefinement(r, GRID.width, BITS);
    const back = decodeRefinement(bytes, GRID);
    assertEquals([Array.from(back.depth), Array.from(back.codes)], [
      Array.from(r.depth),
      Array.from(r.codes),
    ]);
    // The maps the decoder gathers from: a code where a position has one, K where it has none.
    const maps = refinementMaps(r, 4, K);
    for (let p = 0; p < 37; p++) {
      for (let e = 0; e < 4; e++) assertEquals(maps[e][p], e < r.depth[p] ? CHAIN[e][p] : K);
    }
    assertThrows(
      () => decodeRefinement(bytes.slice(0, bytes.length - 3), GRID),
      BitstreamError,
    );
    if (Math.max(...r.depth) > 1) {
      assertThrows(
        () => decodeRefinement(bytes, { ...GRID, books: 1 }),
        BitstreamError,
        "refinement codebooks",
      );
    }
  }
  assertThrows(
    () => encodeRefinement(refinementOf(ORDER, 0, CHAIN), 5, BITS),
    InvalidArgumentError,
  );
  // Mutated sections (as a checksum-valid but doctored file would hold): a typed error, or depths
  // and codes in range.
  const good = encodeRefinement(refinementOf(ORDER, 60, CHAIN), GRID.width, BITS);
  const rand = rng(17);
  let rejected = 0;
  for (let t = 0; t < 300; t++) {
    const bad = good.slice(0, 1 + Math.floor(rand() * (good.length + 2)));
    for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) {
      bad[Math.floor(rand() * bad.length)] = Math.floor(rand() * 256);
    }
    try {
      const r = decodeRefinement(bad, GRID);
      let total = 0;
      r.depth.forEach((d) => (assert(d <= 4, `depth ${d}`), total += d));
      assertEquals(r.codes.length, total);
      r.codes.forEach((c) => assert(c >= 0 && c < K, `code ${c}`));
    } catch (e) {
      assert(e instanceof BitstreamError, `mutation ${t}: ${e}`);
      rejected++;
    }
  }
  assert(rejected > 200, `only ${rejected} of 300 mutations were rejected`);
});

Deno.test("refine: version 3 sections (a stored depth table) still read", async () => {
  // Written by the version-3 encoder (2026-12-04) from ORDER's first 60 codes of CHAIN.
  const bytes = await Deno.readFile(new URL("tests/golden/progic_refine_table_37x60.bin", root));
  const want = refinementOf(ORDER, 60, CHAIN);
  const back = decodeRefinement(bytes, GRID, "table");
  assertEquals([Array.from(back.depth), Array.from(back.codes)], [
    Array.from(want.depth),
    Array.from(want.codes),
  ]);
  // Read in the other layout, the same bytes are not the same refinement.
  let same = false;
  try {
    const other = decodeRefinement(bytes, GRID);
    same = Array.from(other.depth).join() === Array.from(want.depth).join();
  } catch (e) {
    assert(e instanceof BitstreamError, String(e));
  }
  assert(!same, "the layouts should differ");
});

Deno.test("refine: the adaptive depth model costs what its counts say, and less than a table when depths cluster", () => {
  // Depths of a 12×10 grid: a refined 4×5 block (depth 2 inside, 1 on its border), the rest 0.
  const w = 12, h = 10, depth = new Uint8Array(w * h);
  for (let y = 2; y < 6; y++) {
    for (let x = 3; x < 8; x++) depth[y * w + x] = y === 2 || x === 3 ? 1 : 2;
  }
  let total = 0;
  depth.forEach((d) => total += d);
  const r = { depth, codes: Int32Array.from({ length: total }, (_, i) => (i * 37) % K) };
  const bytes = encodeRefinement(r, w, BITS);
  assertEquals(
    Array.from(decodeRefinement(bytes, { positions: w * h, width: w, books: 4, bits: BITS }).depth),
    Array.from(depth),
  );
  // Independent count of the ideal size: contexts by hand, counts 1 + 2 per depth seen.
  const counts = [0, 1, 2].map(() => [1, 1, 1]);
  let ideal = 0;
  for (let p = 0; p < w * h; p++) {
    const x = p % w;
    const c = (x > 0 && depth[p - 1] > 0 ? 1 : 0) + (p >= w && depth[p - w] > 0 ? 1 : 0);
    const sum = counts[c][0] + counts[c][1] + counts[c][2];
    ideal += -Math.log2(counts[c][depth[p]] / sum);
    counts[c][depth[p]] += 2;
  }
  const bodyBits = (bytes.length - 1 - 4) * 8; // less E′ and the 4-byte rANS state
  assert(
    Math.abs(bodyBits - (ideal + total * BITS)) <= 8,
    `${bodyBits} bits coded for an ideal ${ideal + total * BITS}`,
  );
  // A static table of these counts (version 3's layout) would cost more than the whole body.
  const n = [0, 0, 0];
  depth.forEach((d) => n[d]++);
  const staticBits = -n.reduce((a, k) => a + (k ? k * Math.log2(k / (w * h)) : 0), 0);
  assert(ideal < staticBits, `adaptive ${ideal.toFixed(1)} ≥ static ${staticBits.toFixed(1)} bits`);
});

/** The refinement search and the refined decode against the twin. */
async function checkRefineParity(backend: Backend, label: string) {
  const c = await ProgicCodec.create(weights, backend);
  const [, h, w] = g("refine_codes").shape;
  const n = h * w, stages = weights.config.stages;
  const beam = g("beam_indices").data as Int32Array;
  const indices = Array.from({ length: stages }, (_, s) => beam.slice(s * n, (s + 1) * n));
  const { chain, energies } = await c.refineSearch(g("latent").data as Float32Array, indices);
  const want = g("refine_codes").data, energy = g("refine_energy").data;
  // A code may differ only at a near-tie, which then leaves about the same energy.
  let flips = 0;
  chain.forEach((codes, e) =>
    codes.forEach((v, p) => {
      if (v === want[e * n + p]) return;
      flips++;
      const a = energies[e + 1][p], b = energy[(e + 1) * n + p];
      assert(
        Math.abs(a - b) <= 1e-3 * Math.max(a, b, 1),
        `${label}: code ${e}/${p} energy ${a} vs ${b}`,
      );
    })
  );
  assert(flips <= 1, `${label}: ${flips} refinement codes differ from the twin's`);
  compare(
    Float32Array.from(energies[0]),
    energy.subarray(0, n),
    { atol: 1e-3, rtol: 1e-4 },
    `${label} energy`,
  );
  // The refined decode of the twin's codes and order (no post-filter), clamped and cropped.
  const twinChain = Array.from(
    { length: chain.length },
    (_, e) => (want as Int32Array).slice(e * n, (e + 1) * n),
  );
  const budget = Number(metadata.refine_budget);
  const r = refinementOf(g("refine_order").data as Int32Array, budget, twinChain);
  const books = Math.max(...r.depth);
  const dec = await backend.compile(decoderGraph(weights, h, w, stages, 0, books));
  const feed: Record<string, Int32Array> = {};
  indices.forEach((idx, s) => (feed[`indices${s}`] = idx));
  refinementMaps(r, books, K).forEach((m, e) => (feed[`refine${e}`] = m));
  const out = (await dec.run(feed)).image as Float32Array;
  dec.dispose();
  const rec = g("refine_recon"), [rh, rw] = rec.shape;
  const got = new Float32Array(rh * rw * 3);
  for (let y = 0; y < rh; y++) {
    for (let x = 0; x < rw * 3; x++) {
      got[y * rw * 3 + x] = Math.min(1, Math.max(0, out[y * w * 16 * 3 + x] + 0.5));
    }
  }
  compare(got, rec.data, { atol: 2e-3, rtol: 0 }, `${label} refined recon`);
}

Deno.test("refine: CPU reference backend reproduces the PyTorch twin (progic-t)", async () => {
  await checkRefineParity(cpuBackend(), "cpu");
});

Deno.test({
  name: "refine: WebGPU reproduces the PyTorch twin (progic-t)",
  ...GPU_TEST,
  async fn() {
    await checkRefineParity(webgpuBackend((await gpu())!), "webgpu");
  },
});

/** Smooth gradients with a little detail: entropy coding leaves room under the fixed-length size. */
const texture = (width: number, height: number) =>
  synthetic(
    width,
    height,
    (x, y) => (x > 40 && x < 56 && y > 20 && y < 40 ? ((x * y) % 7) * 30 : 60),
  );

Deno.test({
  name: "refine: steered codes go to blocks whose stage-5 decode differs more visibly",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const c = await adapterCodec(weights);
    const img = texture(160, 128);
    const model = {
      id: c.modelId,
      weightsHash: c.hash,
      codes: K,
      entropy: weights.entropy,
      refineBooks: weights.refine!.length,
      stages: weights.config.stages,
    };
    const on = readProgic((await c.encode(img)).bytes, model);
    const off = readProgic((await c.encode(img, { steer: false })).bytes, model);
    assertEquals(on.indices, off.indices);
    const visible = blockVisibility(img, await c.decodeIndices(on.indices, 160, 128));
    // Mean visibility of the positions given codes, each code counted.
    const aim = (d: Uint8Array) =>
      d.reduce((a, n, p) => a + n * visible[p], 0) / d.reduce((a, n) => a + n, 0);
    const [a, b] = [aim(on.refinement!.depth), aim(off.refinement!.depth)];
    assert(a > b, `steered codes aim at mean visibility ${a}, unsteered ${b}`);
    // Every code written: the order cannot matter, and the streams are the same.
    const books = weights.refine!.length;
    assertEquals(
      (await c.encode(img, { refine: books })).bytes,
      (await c.encode(img, { refine: books, steer: false })).bytes,
    );
  },
});

Deno.test({
  name: "refine: budgets, decoding, truncation and errors of refined streams",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const c = await adapterCodec(weights);
    // 80 positions: enough for the entropy-coded stages to leave room for some refinement.
    const img = texture(160, 128), positions = 10 * 8;
    const plain = await c.encode(img, { refine: 0 });
    assertEquals([plain.stages, plain.refinementCodes], [5, 0]);
    // The rate-aware path choice writes fewer bytes than the least-error path (rateWeight 0).
    const exact = await c.encode(img, { refine: 0, rateWeight: 0 });
    assert(
      plain.bytes.length < exact.bytes.length,
      `${plain.bytes.length} ≥ ${exact.bytes.length}`,
    );
    for (const bad of [-1, Number.NaN, Infinity]) {
      await assertRejects(() => c.encode(img, { rateWeight: bad }), InvalidArgumentError);
    }
    // The default fills up to the five stages' fixed-length size: 5 × 10 bits per position.
    const auto = await c.encode(img);
    assert(auto.refinementCodes > 0, "the default wrote no refinement");
    const segments = readContainer(plain.bytes).segments.reduce((a, s) => a + s.length, 0);
    const fixed = plain.bytes.length - segments + 5 * Math.ceil((positions * BITS) / 8);
    assert(auto.bytes.length <= fixed, `${auto.bytes.length} bytes > the fixed-length ${fixed}`);
    // A count per position; at most as many books as the model has.
    const one = await c.encode(img, { refine: 1 });
    assertEquals(one.refinementCodes, positions);
    const all = await c.encode(img, { refine: weights.refine!.length });
    assertEquals(all.refinementCodes, positions * weights.refine!.length);
    // A rate or byte budget is filled and never exceeded.
    const bpp = (plain.bytes.length + 40) * 8 / (160 * 128);
    const r = await c.encode(img, { bpp });
    assert(r.refinementCodes > 0 && r.bpp <= bpp, `bpp ${r.bpp} > ${bpp} or no refinement`);
    const budget = await c.encode(img, { maxBytes: plain.bytes.length + 30 });
    assert(budget.bytes.length <= plain.bytes.length + 30, "maxBytes exceeded");
    assert(budget.refinementCodes > 0, "maxBytes left room for refinement but none was written");
    // Decoding: refinement changes the image, only at all stages.
    const d = await c.decode(one.bytes);
    assertEquals([d.stages, d.refinementCodes, d.warning], [5, positions, undefined]);
    const d0 = await c.decode(plain.bytes);
    assert(d.image.data.some((v, i) => v !== d0.image.data[i]), "refinement changed nothing");
    const d4 = await c.decode(one.bytes, { stages: 4 });
    assertEquals([d4.stages, d4.refinementCodes], [4, 0]);
    assertEquals(d4.image.data, (await c.decode(plain.bytes, { stages: 4 })).image.data);
    // Cut after stage 5: the five stages decode, with a warning.
    const ends = readContainer(one.bytes).segmentEnds;
    const cut = await c.decode(one.bytes.slice(0, ends[4]));
    assertEquals([cut.stages, cut.refinementCodes], [5, 0]);
    assert(cut.warning?.includes("refinement"), cut.warning);
    assertEquals(cut.image.data, d0.image.data);
    // Cut inside it: strict decoding names it, best effort returns the five stages.
    const mid = one.bytes.slice(0, ends[4] + 3);
    await assertRejects(() => c.decode(mid), BitstreamError, "refinement");
    const best = await c.decode(mid, { bestEffort: true });
    assertEquals([best.stages, best.refinementCodes], [5, 0]);
    // Weights without refinement books (same hash) cannot read it; bad options are refused.
    const bare = await ProgicCodec.create({ ...weights, refine: undefined }, c.backend);
    await assertRejects(() => bare.decode(one.bytes), BitstreamError, "refinement codebooks");
    await assertRejects(() => bare.encode(img, { refine: 1 }), InvalidArgumentError);
    assertEquals((await bare.encode(img)).refinementCodes, 0);
    for (const bad of [-1, weights.refine!.length + 1, Number.NaN]) {
      await assertRejects(() => c.encode(img, { refine: bad }), InvalidArgumentError);
    }
    // Fewer stages than all: no refinement, and asking for some is refused.
    assertEquals((await c.encode(img, { stages: 4 })).refinementCodes, 0);
    await assertRejects(
      () => c.encode(img, { stages: 4, refine: 1 }),
      InvalidArgumentError,
      "follows all 5",
    );
  },
});

Deno.test({
  name: "refine: the rate-aware choice sees the whole grid, tiled or not",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // A 26×7 latent grid in 15-wide tiles: the paths are merged before the choice walks them.
    const ctx = await gpu();
    const backend = ctx ? webgpuBackend(ctx) : cpuBackend();
    const img = synthetic(408, 100);
    const whole = await (await ProgicCodec.create(weights, backend, 64)).encodeIndices(img);
    const tiled = await (await ProgicCodec.create(weights, backend, 15)).encodeIndices(img);
    const exact = await (await ProgicCodec.create(weights, backend, 64)).encodeIndices(img, {
      rateWeight: 0,
    });
    let diff = 0, chosen = 0;
    whole.indices.forEach((v, s) =>
      v.forEach((x, i) => {
        diff += x === tiled.indices[s][i] ? 0 : 1;
        chosen += x === exact.indices[s][i] ? 0 : 1;
      })
    );
    // Tiles change the latent by float rounding: a near-tie may flip a path, and its neighbours'.
    assert(diff <= 4, `${diff} indices differ between tiled and untiled encoding`);
    assert(chosen > 0, "the choice changed nothing");
  },
});
