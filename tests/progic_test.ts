// ProGIC parity with its PyTorch twin (golden vectors from train/golden.py), and codec behaviour:
// round trips, progressive truncation, corrupt streams, wrong weights.
import { readContainer } from "../src/coding/container.ts";
import { BitstreamError, InvalidArgumentError, ModelMismatchError } from "../src/errors.ts";
import type { Backend } from "../src/graph/backend.ts";
import { cpuBackend } from "../src/graph/cpu_backend.ts";
import { webgpuBackend } from "../src/graph/webgpu_backend.ts";
import type { RgbImage } from "../src/io/image.ts";
import { toPaddedTensor } from "../src/io/resample.ts";
import {
  DEFAULT_BEAMS,
  DEFAULT_PRESMOOTHING,
  DEFAULT_SMOOTHING,
  fitToGrid,
  ProgicCodec,
} from "../src/models/progic/codec.ts";
import { decoderGraph, encoderGraph, encoderIndices } from "../src/models/progic/network.ts";
import { choosePaths, DEFAULT_RATE_WEIGHT, pathErrors } from "../src/models/progic/choice.ts";
import { stageCodeBits } from "../src/models/progic/entropy.ts";
import type { ProgicWeights } from "../src/models/progic/weights.ts";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import { compare, gpu, GPU_TEST, synthetic } from "./harness.ts";
import { adapterCodec, fixture } from "./progic_fixture.ts";

const root = new URL("../", import.meta.url);

/** The golden input as an 8-bit image (it was made from 8-bit pixels, so this is exact). */
function imageOf(t: { shape: readonly number[]; data: ArrayLike<number> }): RgbImage {
  const [h, w] = t.shape;
  return { width: w, height: h, data: Uint8Array.from(t.data, (v) => Math.round(v * 255)) };
}

// progic-test: random weights, DCVC-RT's adaptor tail. progic-t: trained, tail projection.
// progic-s: trained on the GPU machine, C1 256 with 3×3 attention windows (attnK 3).
const PARITY_MODELS = ["progic-test", "progic-t", "progic-s"].filter((n) => {
  try {
    Deno.statSync(new URL(`tests/golden/${n}.safetensors`, root));
    return true;
  } catch {
    return false;
  }
});
const { weights, g } = await fixture("progic-test");
const goldenImage = () => imageOf(g("input"));

// Indices may differ only where the twin's best and second-best codes are within float rounding.
const NEAR_TIE = 1e-3;
// A beam path may differ from the twin's only if it leaves about the same residual energy.
const BEAM_ENERGY_TOL = 1e-2;

async function checkParity(backend: Backend, label: string, model: string) {
  const { weights, g } = await fixture(model);
  const img = imageOf(g("input"));
  const { data, height, width } = toPaddedTensor(img, 16);
  const enc = await backend.compile(encoderGraph(weights, height, width, { debug: true }));
  const res = await enc.run({ image: data });
  compare(res.latent, g("latent").data, { atol: 2e-3, rtol: 2e-3, nmse: 1e-8 }, `${label} latent`);
  // The encoder's default pre-filter against the twin's `smooth_image` of the padded input.
  const pre = await backend.compile(
    encoderGraph(weights, height, width, { debug: true, presmoothing: DEFAULT_PRESMOOTHING }),
  );
  compare(
    (await pre.run({ image: data })).latent,
    g("pre_latent").data,
    { atol: 2e-3, rtol: 2e-3, nmse: 1e-8 },
    `${label} pre-filtered latent`,
  );
  pre.dispose();
  const want = g("indices").data as Int32Array, gap = g("gap").data;
  const hw = want.length / weights.config.stages;
  let ties = 0;
  const indices: Int32Array[] = [];
  for (let s = 0; s < weights.config.stages; s++) {
    const got = res[`indices${s}`] as Int32Array;
    indices.push(got);
    for (let i = 0; i < hw; i++) {
      if (got[i] === want[s * hw + i]) continue;
      assert(
        gap[s * hw + i] < NEAR_TIE,
        `${label}: stage ${s + 1} index ${i} differs (gap ${gap[s * hw + i]})`,
      );
      ties++;
    }
  }
  // A flip changes every later residual; allow a documented handful, not a trend.
  assert(ties <= 2, `${label}: ${ties} near-tie flips`);
  const recon = g("recon");
  const [, rh, rw] = recon.shape;
  const per = rh * rw * 3;
  // Decodes the twin's own indices (so a near-tie flip cannot cascade into the pixels), clamped
  // and cropped as the twin's reconstructions are.
  const decode = async (s: number, smoothing: number) => {
    const dec = await backend.compile(decoderGraph(weights, height / 16, width / 16, s, smoothing));
    const feed: Record<string, Int32Array> = {};
    for (let i = 0; i < s; i++) {
      feed[`indices${i}`] = (want as Int32Array).slice(i * hw, (i + 1) * hw);
    }
    const out = (await dec.run(feed)).image as Float32Array;
    dec.dispose();
    const got = new Float32Array(per);
    for (let y = 0; y < rh; y++) {
      for (let x = 0; x < rw * 3; x++) {
        got[y * rw * 3 + x] = Math.min(1, Math.max(0, out[y * width * 3 + x] + 0.5));
      }
    }
    return got;
  };
  for (let s = 1; s <= weights.config.stages; s++) {
    compare(
      await decode(s, 0),
      recon.data.subarray((s - 1) * per, s * per),
      { atol: 2e-3, rtol: 0 },
      `${label} stage ${s}`,
    );
  }
  // The decoder's default post-filter against the twin's `smooth_image` at the same strength.
  compare(
    await decode(weights.config.stages, DEFAULT_SMOOTHING),
    g("smoothed").data,
    { atol: 2e-3, rtol: 0 },
    `${label} stage ${weights.config.stages} post-filtered`,
  );
  enc.dispose();
  await checkBeamParity(backend, label, weights, g, data, height, width);
  return indices;
}

/**
 * The beam search against the twin's (float64 distances): paths may differ only where both
 * leave about the same residual energy ‖y − Σ c‖² (within 1%), at most twice. A near-tie at
 * some stage's cut-off can keep another subtree in F32, so the winners need not tie exactly.
 */
async function checkBeamParity(
  backend: Backend,
  label: string,
  weights: ProgicWeights,
  g: (t: string) => { shape: readonly number[]; data: ArrayLike<number> },
  data: Float32Array,
  height: number,
  width: number,
) {
  const { stages, c2: d } = weights.config;
  const enc = await backend.compile(
    encoderGraph(weights, height, width, { beams: DEFAULT_BEAMS }),
  );
  const hw = (height / 16) * (width / 16);
  const got = encoderIndices(await enc.run({ image: data }), stages, hw);
  enc.dispose();
  const want = g("beam_indices").data, y = g("latent").data;
  const energy = (pick: (s: number) => number, p: number) => {
    let e = 0;
    for (let c = 0; c < d; c++) {
      let v = y[p * d + c];
      for (let s = 0; s < stages; s++) v -= weights.codebooks[s][pick(s) * d + c];
      e += v * v;
    }
    return e;
  };
  let flips = 0;
  for (let p = 0; p < hw; p++) {
    if (got.every((idx, s) => idx[p] === want[s * hw + p])) continue;
    const a = energy((s) => got[s][p], p), b = energy((s) => want[s * hw + p], p);
    assert(
      Math.abs(a - b) <= BEAM_ENERGY_TOL * Math.max(a, b, 1),
      `${label}: beam path at ${p} differs from the twin's (energy ${a} vs ${b})`,
    );
    flips++;
  }
  assert(flips <= 2, `${label}: ${flips} near-tie beam flips`);
}

// The trained models carry index tables, which the choice prices bits with; progic-test has none.
for (const model of PARITY_MODELS.filter((n) => n !== "progic-test")) {
  Deno.test(`progic: the rate-aware path choice reproduces the twin's (${model})`, async () => {
    const { weights, g } = await fixture(model);
    assert(weights.entropy !== undefined, `${model} has no index tables`);
    const paths = g("beam_paths"), want = g("chosen_indices").data;
    const [beams, stages, h, w] = paths.shape;
    const n = h * w, all = Int32Array.from(paths.data);
    const codes = Array.from(
      { length: beams },
      (_, b) =>
        Array.from(
          { length: stages },
          (_, s) => all.subarray((b * stages + s) * n, (b * stages + s + 1) * n),
        ),
    );
    const y = Float32Array.from(g("latent").data);
    const errors = pathErrors(codes, y, weights.codebooks, weights.config.c2);
    const got = choosePaths({ codes, errors }, w, weights.entropy!, DEFAULT_RATE_WEIGHT);
    assertEquals(got.flatMap((s) => [...s]), [...want]);
    // Path 0 has the least error everywhere; the choice trades some of it for fewer bits.
    const bits = (idx: Int32Array[]) =>
      idx.reduce((t, v, s) => t + stageCodeBits(v, w, weights.entropy![s], idx[s - 1]), 0);
    const sum = (a: Float64Array) => a.reduce((t, v) => t + v, 0);
    const chosenErr = sum(pathErrors([got], y, weights.codebooks, weights.config.c2)[0]);
    assert(chosenErr >= sum(errors[0]), "a path with less error than the search's best");
    assert(bits(got) < bits(codes[0]), `${bits(got)} bits, not fewer than ${bits(codes[0])}`);
    assert(got.some((v, s) => v.some((c, p) => c !== codes[0][s][p])), "nothing was chosen");
  });
}

for (const model of PARITY_MODELS) {
  Deno.test(`progic: CPU reference backend reproduces the PyTorch twin (${model})`, async () => {
    await checkParity(cpuBackend(), "cpu", model);
  });

  Deno.test({
    name: `progic: WebGPU reproduces the PyTorch twin (${model})`,
    ...GPU_TEST,
    async fn() {
      await checkParity(webgpuBackend((await gpu())!), "webgpu", model);
    },
  });
}

Deno.test({
  name: "progic: stream round trip, progressive prefixes and truncation",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const c = await adapterCodec(weights);
    const img = goldenImage();
    const full = await c.encode(img);
    assertEquals(full.stages, 5);
    const dFull = await c.decode(full.bytes);
    assertEquals(dFull.stages, 5);
    // The post-filter is a decoder option: off gives the network's output, out of range refuses.
    const raw = await c.decode(full.bytes, { smoothing: 0 });
    assert(raw.image.data.some((v, i) => v !== dFull.image.data[i]), "smoothing changed nothing");
    await assertRejects(() => c.decode(full.bytes, { smoothing: 1.5 }), InvalidArgumentError);
    // A greedy search serves every prefix: 2 of 5 greedy stages = a greedy 2-stage stream. The
    // default beam search aims at the last stage it writes, so its 2-stage stream differs.
    const greedy = await c.encode(img, { beams: 1 });
    const dPrefix = await c.decode(greedy.bytes, { stages: 2 });
    const dK2 = await c.decode((await c.encode(img, { stages: 2, beams: 1 })).bytes);
    assertEquals(dPrefix.image.data, dK2.image.data, "decoding 2 of 5 stages = a 2-stage stream");
    const beamK2 = await c.encode(img, { stages: 2 });
    assertEquals(beamK2.bytes.length, (await c.encode(img, { stages: 2, beams: 1 })).bytes.length);
    assert(
      (await c.decode(beamK2.bytes)).image.data.some((v, i) => v !== dK2.image.data[i]),
      "the beam search changed nothing",
    );
    assertEquals(dFull.image.width, img.width);
    // Cut the file right after stage 3: it still decodes 3 stages.
    const ends = readContainer(full.bytes).segmentEnds;
    const truncated = full.bytes.slice(0, ends[2]);
    const d3 = await c.decode(truncated);
    assertEquals(d3.stages, 3);
    assert(d3.warning?.includes("3 of 5"), d3.warning);
    assertEquals(d3.image.data, (await c.decode(full.bytes, { stages: 3 })).image.data);
    // Cut inside stage 4: strict decoding fails naming it, best effort returns 3 stages.
    const mid = full.bytes.slice(0, ends[2] + 5);
    await assertRejects(() => c.decode(mid), BitstreamError, "stage 4");
    assertEquals((await c.decode(mid, { bestEffort: true })).stages, 3);
  },
});

Deno.test({
  name: "progic: corrupt streams and other weights give typed errors",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const c = await adapterCodec(weights);
    const { bytes } = await c.encode(goldenImage(), { stages: 2 });
    const flipped = bytes.slice();
    flipped[flipped.length - 3] ^= 0x10;
    await assertRejects(() => c.decode(flipped), BitstreamError);
    await assertRejects(() => c.decode(bytes.slice(0, 5)), BitstreamError);
    await assertRejects(() => c.decode(new Uint8Array(0)), BitstreamError);
    const other = await ProgicCodec.create({ ...weights, sha256: "00".repeat(32) }, cpuBackend());
    await assertRejects(() => other.decode(bytes), ModelMismatchError);
  },
});

Deno.test("progic: fitToGrid shrinks only sides 1–4 pixels past a multiple of 16", () => {
  const cases: [number, number][] = [
    [481, 480],
    [321, 320],
    [484, 480],
    [485, 485],
    [480, 480],
    [500, 496],
    [255, 255],
    [257, 256],
    [100, 100],
    [50, 50],
    [17, 17],
    [65, 64],
    [1, 1],
    [16, 16],
  ];
  for (const [n, want] of cases) assertEquals(fitToGrid(n), want, `fitToGrid(${n})`);
});

Deno.test({
  name: "progic: grid fit and pre-filter are encoder choices the decoder follows",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const c = await adapterCodec(weights);
    // 161×97 is one pixel past 160×96: fitted, it codes a 10×6 grid instead of 11×7.
    const img = synthetic(161, 97);
    const fitted = await c.encode(img, { stages: 2 });
    assertEquals([fitted.codedWidth, fitted.codedHeight], [160, 96]);
    const padded = await c.encode(img, { stages: 2, fit: "pad" });
    assertEquals([padded.codedWidth, padded.codedHeight], [161, 97]);
    const payload = (w: number, h: number) => 2 * Math.ceil((w * h * 10) / 8);
    assertEquals(padded.bytes.length - fitted.bytes.length, payload(11, 7) - payload(10, 6));
    // The decoder enlarges the coded image back to the display size.
    const d = await c.decode(fitted.bytes);
    assertEquals([d.image.width, d.image.height], [161, 97]);
    // --bpp counts the fitted size: 2 fitted stages fit where 2 padded ones would not.
    const bpp = (padded.bytes.length * 8) / (161 * 97) - 1e-6;
    assertEquals((await c.encode(img, { bpp })).stages, 2);
    assertEquals((await c.encode(img, { bpp, fit: "pad" })).stages, 1);
    // The pre-filter changes what the encoder sees, not the stream's size or format.
    const sharp = await c.encode(img, { stages: 2, presmoothing: 0 });
    assertEquals(sharp.bytes.length, fitted.bytes.length);
    assert(sharp.bytes.some((v, i) => v !== fitted.bytes[i]), "presmoothing changed nothing");
    await assertRejects(() => c.encode(img, { presmoothing: -0.1 }), InvalidArgumentError);
    await assertRejects(
      // deno-lint-ignore no-explicit-any
      () => c.encode(img, { fit: "crop" as any }),
      InvalidArgumentError,
    );
  },
});

Deno.test({
  name: "progic: tiled coding matches untiled coding (no seams)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // A smooth synthetic 408×100 image: a 26×7 latent grid, several 15-wide tiles.
    const img = synthetic(408, 100);
    const whole = await adapterCodec(weights, 64);
    const tiled = await adapterCodec(weights, 15);
    const a = await whole.encodeIndices(img);
    const b = await tiled.encodeIndices(img);
    assert(a.w > 3, "test image must span several tiles");
    let diff = 0;
    a.indices.forEach((v, s) => v.forEach((x, i) => (diff += x === b.indices[s][i] ? 0 : 1)));
    assert(diff <= 2, `${diff} indices differ between tiled and untiled encoding`);
    const ra = await whole.decodeIndices(a.indices, img.width, img.height);
    const rb = await tiled.decodeIndices(a.indices, img.width, img.height);
    let maxd = 0;
    ra.data.forEach((v, i) => (maxd = Math.max(maxd, Math.abs(v - rb.data[i]))));
    assert(maxd <= 1, `tiled decode differs by ${maxd} levels`);
  },
});
