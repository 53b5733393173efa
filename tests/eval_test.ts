// Tests of the evaluation harness (bench/eval): BD-rate against SciPy numbers, results
// resume, per-image failures, the report, the anchor tools (skipped when not installed) and
// the Tessera adapter. Vectors: tools/gen_eval_vectors.py.
import {
  aggregate,
  bdRates,
  metricAtRate,
  METRICS,
  perImageComparison,
} from "../bench/eval/aggregate.ts";
import { ANCHOR_NAMES, anchorCodecs } from "../bench/eval/anchors.ts";
import { findButteraugli, parseButteraugli } from "../bench/eval/butteraugli.ts";
import type { Codec, OkRecord, ResultRecord } from "../bench/eval/codec.ts";
import { parseArgs } from "../bench/eval/main.ts";
import { decodePnm, encodePpm } from "../bench/eval/pnm.ts";
import { hstack, nearestRecord, writeReport } from "../bench/eval/report.ts";
import { latestRecords, parseRecordLine, readRecords, recordLine } from "../bench/eval/results.ts";
import { evaluate, listImages, loadImage } from "../bench/eval/runner.ts";
import { lineChart, logTicks } from "../bench/eval/svg.ts";
import {
  loadTessera,
  type TesseraApi,
  tesseraCodec,
  TesseraUnavailableError,
} from "../bench/eval/tessera.ts";
import { decodeImage, encodePng, type RgbImage, toRgb } from "../src/io/image.ts";
import { bdRate, interpolateLogRate, monotoneCurve, psnr } from "../src/metrics/mod.ts";
import { encode as encodePngRaw } from "fast-png";
import { assert, assertClose, assertEquals, assertRejects, assertThrows } from "./assert.ts";

interface BdCase {
  name: string;
  anchor_rate: number[];
  anchor_quality: number[];
  test_rate: number[];
  test_quality: number[];
  lower_is_better: boolean;
  bd_rate: number;
}

const vectors = JSON.parse(
  await Deno.readTextFile(new URL("./data/eval_vectors.json", import.meta.url)),
) as {
  bd_rate: BdCase[];
  pchip: { rate: number[]; quality: number[]; at: number[]; log10_rate: number[] };
};

const pts = (r: number[], q: number[]) => r.map((rate, i) => ({ rate, quality: q[i] }));
const ANCHOR = pts([0.1, 0.2, 0.4, 0.8, 1.6], [28, 30.5, 33, 35, 36.8]);

// ---------------------------------------------------------------- BD-rate

Deno.test("bd-rate: identical curves give 0", () => {
  assertClose([bdRate(ANCHOR, ANCHOR)], [0], { atol: 1e-12, rtol: 0 });
});

Deno.test("bd-rate: every rate ×0.9 gives −10%, ×1.25 gives +25%", () => {
  const scaled = (f: number) => ANCHOR.map((p) => ({ rate: p.rate * f, quality: p.quality }));
  assertClose([bdRate(ANCHOR, scaled(0.9))], [-10], { atol: 1e-9, rtol: 0 });
  assertClose([bdRate(ANCHOR, scaled(1.25))], [25], { atol: 1e-9, rtol: 0 });
  // Same for a distortion metric (lower is better).
  const dist = ANCHOR.map((p) => ({ rate: p.rate, quality: 50 - p.quality }));
  const d09 = dist.map((p) => ({ rate: p.rate * 0.9, quality: p.quality }));
  assertClose([bdRate(dist, d09, { lowerIsBetter: true })], [-10], { atol: 1e-9, rtol: 0 });
});

for (const c of vectors.bd_rate) {
  Deno.test(`bd-rate: "${c.name}" matches SciPy's PchipInterpolator`, () => {
    const v = bdRate(pts(c.anchor_rate, c.anchor_quality), pts(c.test_rate, c.test_quality), {
      lowerIsBetter: c.lower_is_better,
    });
    assertClose([v], [c.bd_rate], { atol: 1e-9, rtol: 0 });
  });
}

Deno.test("bd-rate: PCHIP interpolation matches SciPy at sample qualities", () => {
  const p = vectors.pchip;
  const got = p.at.map((q) => interpolateLogRate(pts(p.rate, p.quality), q));
  assertClose(got, p.log10_rate, { atol: 1e-12, rtol: 0 });
});

Deno.test("bd-rate: non-overlapping or too short curves give NaN; non-monotone points drop", () => {
  const high = ANCHOR.map((p) => ({ rate: p.rate, quality: p.quality + 20 }));
  assert(Number.isNaN(bdRate(ANCHOR, high)));
  assert(Number.isNaN(bdRate(ANCHOR, ANCHOR.slice(0, 1))));
  const noisy = [...ANCHOR, { rate: 0.5, quality: 32 }, { rate: 2, quality: Infinity }];
  assertEquals(monotoneCurve(noisy).length, ANCHOR.length);
  assertClose([bdRate(ANCHOR, noisy)], [0], { atol: 1e-12, rtol: 0 });
});

// ---------------------------------------------------------------- small pieces

Deno.test("pnm: PPM round trip, PGM and 16-bit input", () => {
  const img = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i * 14) };
  assertEquals(decodePnm(encodePpm(img)), img);
  const pgm = new Uint8Array([...new TextEncoder().encode("P5\n# c\n2 1\n255\n"), 10, 200]);
  assertEquals(decodePnm(pgm).data, Uint8Array.from([10, 10, 10, 200, 200, 200]));
  const p16 = new Uint8Array([...new TextEncoder().encode("P5 1 1 65535\n"), 0xff, 0xff]);
  assertEquals(decodePnm(p16).data, Uint8Array.from([255, 255, 255]));
  assertThrows(() => decodePnm(new TextEncoder().encode("P3\n1 1\n255\n0 0 0")));
});

Deno.test("results: records round-trip with PSNR ∞ and a torn last line is ignored", () => {
  const r: OkRecord = {
    image: "a.png",
    codec: "x",
    point: "1",
    ok: true,
    width: 2,
    height: 2,
    bytes: 3,
    bpp: 6,
    psnr: Infinity,
    msssim: 1,
    encodeMs: 1,
    decodeMs: 1,
  };
  const line = recordLine(r);
  assert(line.includes('"psnr":"Infinity"') && line.endsWith("\n"));
  assertEquals(parseRecordLine(line), r);
  assertEquals(parseRecordLine(line.slice(0, 20)), null);
  const later = { ...r, bpp: 7 };
  assertEquals(latestRecords([r, { ...r, point: "2" }, later]).map((x) => x.ok && x.bpp), [6, 7]);
});

Deno.test("butteraugli: both tools' output formats parse", () => {
  assertEquals(parseButteraugli("4.3057341576\n3-norm: 1.673027\n"), {
    max: 4.3057341576,
    pnorm3: 1.673027,
  });
  assertEquals(parseButteraugli("4.194004\n"), { max: 4.194004 });
  assertThrows(() => parseButteraugli("usage: ..."));
});

Deno.test("cli: options parse and bad ones are refused", () => {
  const o = parseArgs(["--data", "d", "--codecs", "jpeg,webp", "--limit=5", "--jobs", "2"]);
  assertEquals([o.data, o.codecs, o.limit, o.jobs, o.out], [
    "d",
    ["jpeg", "webp"],
    5,
    2,
    "bench/eval/results/latest",
  ]);
  assertEquals(parseArgs(["--data", "d"]).codecs, ["tessera", ...ANCHOR_NAMES]);
  assertThrows(() => parseArgs([]), Error, "--data");
  assertThrows(() => parseArgs(["--data", "d", "--codecs", "gif"]), Error, "unknown codec");
  assertThrows(() => parseArgs(["--data", "d", "--limit", "0"]), Error, "--limit");
  const f = parseArgs(["--data", "d", "--presmoothing", "1", "--smoothing=0"]);
  assertEquals([f.presmoothing, f.smoothing], [1, 0]);
  assertEquals(parseArgs(["--data", "d"]).smoothing, undefined);
  for (const bad of ["1.5", "-0.1", "", "x"]) {
    assertThrows(() => parseArgs(["--data", "d", "--smoothing", bad]), Error, "[0, 1]");
  }
});

Deno.test("svg: RD chart has one line per series on a log axis", () => {
  assertEquals(logTicks(0.04, 2.5), [0.05, 0.1, 0.2, 0.5, 1, 2]);
  const svg = lineChart({
    title: "t <&>",
    xLabel: "bpp",
    yLabel: "PSNR",
    series: [
      { name: "a", points: [{ x: 0.1, y: 25 }, { x: 1, y: 35 }] },
      { name: "b", points: [{ x: 0.2, y: 27 }, { x: 0.8, y: Infinity }, { x: 2, y: 38 }] },
    ],
  });
  assert(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  assertEquals(svg.match(/<polyline/g)?.length, 2);
  assertEquals(svg.match(/<circle/g)?.length, 4); // the ∞ point is not drawn
  assert(svg.includes("t &lt;&amp;&gt;"));
});

// ---------------------------------------------------------------- the harness on tiny images

/** Tiny test images: odd-sized RGB, grayscale, a 64×48 RGB and an unreadable file. */
async function makeImages(dir: string): Promise<string[]> {
  const rgb = (w: number, h: number, seed: number): RgbImage => {
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++) {
      const p = (i / 3) | 0, x = p % w, y = (p / w) | 0;
      data[i] = (x * 5 + y * 7 + (i % 3) * 60 + seed * 31 + ((x * y) % 13) * 3) & 255;
    }
    return { width: w, height: h, data };
  };
  await Deno.writeFile(`${dir}/a_odd.png`, encodePng(rgb(37, 23, 1)));
  const gray = Uint8Array.from({ length: 20 * 16 }, (_, i) => (i * 11) & 255);
  await Deno.writeFile(
    `${dir}/b_gray.png`,
    encodePngRaw({ width: 20, height: 16, data: gray, channels: 1, depth: 8 }),
  );
  await Deno.writeFile(`${dir}/c_rgb.png`, encodePng(rgb(64, 48, 2)));
  await Deno.writeFile(`${dir}/d_broken.png`, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2]));
  await Deno.writeTextFile(`${dir}/notes.txt`, "not an image");
  return ["a_odd.png", "b_gray.png", "c_rgb.png", "d_broken.png"];
}

/** Lossless stand-in: 4-byte size header + raw RGB. */
const identity: Codec = {
  name: "identity",
  points: ["lossless"],
  encode(rgb) {
    const out = new Uint8Array(4 + rgb.data.length);
    new DataView(out.buffer).setUint16(0, rgb.width);
    new DataView(out.buffer).setUint16(2, rgb.height);
    out.set(rgb.data, 4);
    return Promise.resolve(out);
  },
  decode(bytes) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    return Promise.resolve({
      width: dv.getUint16(0),
      height: dv.getUint16(2),
      data: bytes.slice(4),
    });
  },
};

/** Lossy stand-in: drops low bits, stores PNG. Points are the bits dropped. */
const quant: Codec = {
  name: "quant",
  points: ["6", "4", "2"],
  encode(rgb, point) {
    const mask = 0xff << Number(point) & 0xff;
    return Promise.resolve(encodePng({ ...rgb, data: rgb.data.map((v) => v & mask) }));
  },
  decode: (bytes) => Promise.resolve(toRgb(decodeImage(bytes))),
};

/** Fails to encode the gray image, and decodes point "bad" to the wrong size. */
const flaky: Codec = {
  name: "flaky",
  points: ["good", "bad"],
  async encode(rgb, point) {
    if (rgb.width === 20) throw new Error("cannot encode 20-px images");
    return new Uint8Array([...await identity.encode(rgb, ""), point === "bad" ? 1 : 0]);
  },
  async decode(bytes) {
    const img = await identity.decode(bytes.subarray(0, bytes.length - 1));
    return bytes[bytes.length - 1] ? { ...img, width: img.width - 1 } : img;
  },
};

/** Wraps a codec to count encode calls. */
function counted(c: Codec): Codec & { calls: number } {
  const w = {
    ...c,
    calls: 0,
    encode: (rgb: RgbImage, p: string) => {
      w.calls++;
      return c.encode(rgb, p);
    },
  };
  return w;
}

Deno.test("harness: measures, records failures per image, resumes and reports", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tessera-eval-test-" });
  try {
    const names = await makeImages(dir);
    assertEquals(await listImages(dir), names);
    assertEquals(await listImages(dir, 2), names.slice(0, 2));
    assertEquals((await loadImage(`${dir}/b_gray.png`)).data.length, 20 * 16 * 3);
    const results = `${dir}/out/results.jsonl`;
    await Deno.mkdir(`${dir}/out`);
    const logs: string[] = [];
    const codecs = [counted(identity), counted(quant), counted(flaky)];
    const opts = {
      data: dir,
      images: names,
      codecs,
      results,
      butteraugli: null,
      log: (m: string) => logs.push(m),
    };
    const s1 = await evaluate(opts);
    // 3 readable images × 6 points = 18, minus 4 flaky failures; 1 load failure.
    assertEquals(s1, { measured: 14, skipped: 0, failed: 5 });
    const recs = await readRecords(results);
    assertEquals(recs.length, 19);
    const ok = recs.filter((r): r is OkRecord => r.ok);
    for (const r of ok) {
      const [w, h] = r.image === "a_odd.png"
        ? [37, 23]
        : r.image === "b_gray.png"
        ? [20, 16]
        : [64, 48];
      assertEquals([r.width, r.height], [w, h], r.image);
      assertEquals(r.bpp, (r.bytes * 8) / (w * h));
      assert(r.msssim > 0 && r.msssim <= 1 && r.psnr > 10, `${r.codec} ${r.point} sane`);
    }
    for (const r of ok.filter((r) => r.codec === "identity")) {
      assertEquals([r.psnr, r.msssim], [Infinity, 1]);
    }
    const q = (im: string, p: string) =>
      ok.find((r) => r.image === im && r.codec === "quant" && r.point === p)!;
    assert(q("c_rgb.png", "2").psnr > q("c_rgb.png", "4").psnr, "PSNR rises with bits kept");
    assert(q("c_rgb.png", "4").msssim > q("c_rgb.png", "6").msssim, "MS-SSIM rises with bits kept");
    const failed = recs.filter((r) => !r.ok);
    assertEquals(
      failed.map((r) => `${r.image} ${r.codec} ${r.point} ${r.ok ? "" : r.stage}`).sort(),
      [
        "a_odd.png flaky bad decode",
        "b_gray.png flaky bad encode",
        "b_gray.png flaky good encode",
        "c_rgb.png flaky bad decode",
        "d_broken.png * * load",
      ],
    );
    assert(logs.some((l) => l.includes("d_broken.png: cannot load")));
    assert(logs.some((l) => l.startsWith("[4/4]")));

    // A rerun only retries what failed.
    codecs.forEach((c) => (c.calls = 0));
    const s2 = await evaluate(opts);
    assertEquals([s2.measured, s2.skipped, s2.failed], [0, 14, 5]);
    assertEquals(codecs.map((c) => c.calls), [0, 0, 4]);

    // A run cut short: drop the last 3 lines and tear the one before; the rerun redoes those.
    const lines = (await Deno.readTextFile(results)).trimEnd().split("\n");
    const kept = lines.slice(0, 7);
    const torn = JSON.parse(kept.pop()!) as ResultRecord;
    await Deno.writeTextFile(results, kept.join("\n") + "\n" + recordLine(torn).slice(0, 30));
    const okBefore = latestRecords(await readRecords(results)).filter((r) => r.ok).length;
    const s3 = await evaluate(opts);
    const latest = latestRecords(await readRecords(results));
    assertEquals(latest.filter((r) => r.ok).length, 14);
    assertEquals(s3.measured, 14 - okBefore);
    assertEquals(latest.length, 19);

    // The report: tables, plots and a contact sheet.
    const files = await writeReport({
      out: `${dir}/out`,
      records: latest,
      codecs,
      data: dir,
      command: "test",
      butteraugli: null,
      sheets: 2,
      sheetBpp: 8,
      sheetCrop: 0,
    });
    const md = await Deno.readTextFile(files.report);
    for (const s of ["## Lowest rate reached", "## BD-rate", "### quant", "∞", "## Failures"]) {
      assert(md.includes(s), `report has ${s}`);
    }
    assertEquals(files.plots.map((p) => p.split("/").pop()), ["rd_psnr.svg", "rd_msssim.svg"]);
    assertEquals(files.sheets.length, 2); // b_gray lacks flaky's points: a_odd and c_rgb
    const sheet = decodeImage(await Deno.readFile(files.sheets[0]));
    // original | identity | quant | flaky, 6-px gaps
    assertEquals([sheet.width, sheet.height], [37 * 4 + 6 * 3, 23]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A 10×10 image's record; `fields` sets the metrics. */
function okRecord(
  image: string,
  codec: string,
  point: string,
  bpp: number,
  fields: Partial<OkRecord> = {},
): OkRecord {
  return {
    image,
    codec,
    point,
    ok: true,
    width: 10,
    height: 10,
    bytes: bpp * 100 / 8,
    bpp,
    psnr: 30,
    msssim: 0.9,
    encodeMs: 2,
    decodeMs: 1,
    ...fields,
  };
}

Deno.test("aggregate: means over complete images, lowest rates, BD of a codec against itself", () => {
  const rec = (image: string, codec: string, point: string, bpp: number, q: number) =>
    okRecord(image, codec, point, bpp, { psnr: q, msssim: q / 50 });
  const records: ResultRecord[] = [];
  for (const [im, k] of [["i1", 1], ["i2", 2]] as const) {
    records.push(rec(im, "a", "lo", 0.1 * k, 25 + k), rec(im, "a", "mid", 0.3 * k, 30 + k));
    records.push(rec(im, "a", "hi", 0.9 * k, 35 + k));
    records.push(rec(im, "b", "lo", 0.09 * k, 25 + k), rec(im, "b", "mid", 0.27 * k, 30 + k));
    records.push(rec(im, "b", "hi", 0.81 * k, 35 + k));
  }
  records.push(rec("i3", "a", "lo", 0.01, 20)); // incomplete image: left out
  const agg = aggregate(records, new Map([["a", ["lo", "mid", "hi"]], ["b", ["lo", "mid", "hi"]]]));
  assertEquals(agg.images, ["i1", "i2"]);
  assertEquals(agg.incomplete, ["i3"]);
  const a = agg.codecs[0];
  assertEquals(a.points.map((p) => p.point), ["lo", "mid", "hi"]);
  assertClose([a.points[0].bpp, a.points[0].metrics.psnr!, a.lowestMeanBpp, a.lowestImageBpp], [
    0.15,
    26.5,
    0.15,
    0.1,
  ]);
  assertClose([metricAtRate(a, "psnr", 0.45)!], [31.5], { atol: 1e-12, rtol: 0 });
  const bd = bdRates(agg, ["b"], ["a"]);
  assertClose(bd.filter((e) => e.metric === "psnr").map((e) => e.value), [-10], {
    atol: 1e-9,
    rtol: 0,
  });
  assertEquals(bdRates(agg, ["a"], ["a"]), []);
  assertEquals(nearestRecord(records, "i1", "a", 0.25)?.point, "mid");
  assertEquals(hstack([{ width: 2, height: 1, data: new Uint8Array(6) }], 4).width, 2);
});

/**
 * Records of a test codec's point "s5" against an anchor's curve (points q0, q1), Butteraugli only:
 * i1 better than the anchor, i2 worse, i3 outside the anchor's curve, i4 without an anchor.
 */
function perImageFixture(test: string, anchor: string): ResultRecord[] {
  const rec = (image: string, codec: string, point: string, bpp: number, b: number) =>
    okRecord(image, codec, point, bpp, { butteraugli: b });
  return [
    // i1: anchor 20 at 0.1 and 10 at 0.4 -> 15 at 0.2 (log-rate midpoint); test 14 is better.
    rec("i1", anchor, "q1", 0.4, 10),
    rec("i1", anchor, "q0", 0.1, 20),
    rec("i1", test, "s5", 0.2, 14),
    rec("i1", test, "s1", 0.05, 40), // another test point: ignored
    // i2: anchor 10 at 0.1, 8 at 0.4 -> 9 at 0.2; test 12 is worse.
    rec("i2", anchor, "q0", 0.1, 10),
    rec("i2", anchor, "q1", 0.4, 8),
    rec("i2", test, "s5", 0.2, 12),
    // i3: the anchor's curve starts above the test rate.
    rec("i3", anchor, "q0", 0.3, 10),
    rec("i3", anchor, "q1", 0.5, 8),
    rec("i3", test, "s5", 0.2, 9),
    // i4: no anchor at all; a failed anchor record does not count.
    rec("i4", test, "s5", 0.2, 9),
    { image: "i4", codec: anchor, point: "q0", ok: false, stage: "encode", error: "x" },
  ];
}

Deno.test("aggregate: per image, the anchor's own curve is interpolated to the test rate", () => {
  const records = perImageFixture("t", "w");
  const ba = METRICS.find((m) => m.key === "butteraugli")!;
  const c = perImageComparison(records, "t", "s5", "w", ba);
  assertEquals(c.pairs.map((p) => p.image), ["i1", "i2"]);
  assertClose(c.pairs.flatMap((p) => [p.bpp, p.test, p.anchor]), [0.2, 14, 15, 0.2, 12, 9], {
    atol: 1e-12,
    rtol: 0,
  });
  assertEquals([c.outside, c.better], [1, 1]);
  assertClose([c.medianRatio], [(14 / 15 + 12 / 9) / 2], { atol: 1e-12, rtol: 0 });
  // Higher is better for PSNR: equal values are not "better".
  const psnr = perImageComparison(records, "t", "s5", "w", METRICS[0]);
  assertEquals([psnr.pairs.length, psnr.better, psnr.medianRatio], [2, 0, 1]);
  assert(Number.isNaN(perImageComparison(records, "t", "s9", "w", ba).medianRatio));
});

Deno.test("report: per-image section for the highest Tessera point against each anchor", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const records = perImageFixture("tessera", "webp");
    const stub = (name: string, points: string[]): Codec => ({
      name,
      points,
      encode: () => Promise.reject(new Error("not used")),
      decode: () => Promise.reject(new Error("not used")),
    });
    const files = await writeReport({
      out: dir,
      records,
      codecs: [stub("tessera", ["s5"]), stub("webp", ["q0", "q1"])],
      data: dir,
      command: "test",
      butteraugli: "test",
      sheets: 0,
    });
    const md = await Deno.readTextFile(files.report);
    assert(md.includes("## Per image at the highest Tessera point"), "section");
    assert(md.includes("### tessera, point s5 (mean 0.2000 bpp)"), "the highest point");
    // i1 and i2 compared (i3 out of range; i4, without WebP, is not in the aggregate's images).
    assert(md.includes("| webp | 2 (1 out of range) | 1 (50%) | 1.133 | 13.000 | 12.000 |"), md);
    assert(md.includes("Largest ratios — webp: i2 12.00 vs 9.00, i1 14.00 vs 15.00."), md);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------- Tessera adapter

Deno.test("tessera: the adapter passes stages, refinement and model, and fails clearly without mod.ts", async () => {
  const seen: unknown[] = [];
  const api: TesseraApi = {
    encode(image, opts) {
      seen.push(opts);
      return Promise.resolve({ bytes: image.data.slice() });
    },
    decode(bytes) {
      return Promise.resolve({ image: { width: 2, height: 1, data: bytes } });
    },
  };
  const c = tesseraCodec(api, "progic-t");
  assertEquals([c.name, c.points], [
    "tessera-progic-t",
    ["s1", "s2", "s3", "s4", "s5", "s5r"],
  ]);
  const img = { width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
  assertEquals(await c.decode(await c.encode(img, "s3")), img);
  await c.encode(img, "s5r");
  assertEquals(seen, [
    { stages: 3, refine: 0, model: "progic-t" },
    { stages: 5, refine: "auto", model: "progic-t" },
  ]);
  await assertRejects(() => c.encode(img, "s9"), Error, "unknown Tessera point");
  await assertRejects(
    () => loadTessera(undefined, new URL("./data/no_such_module.ts", import.meta.url).href),
    TesseraUnavailableError,
    "cannot import",
  );
  await assertRejects(
    () => loadTessera(undefined, "data:application/javascript,export const x = 1;"),
    TesseraUnavailableError,
    "does not export encode() and decode()",
  );
  // Other filter strengths reach encode and decode, and name another codec.
  const decodeOpts: unknown[] = [];
  const filteredApi: TesseraApi = {
    ...api,
    decode(bytes, opts) {
      decodeOpts.push(opts);
      return api.decode(bytes);
    },
  };
  const cf = tesseraCodec(filteredApi, "progic-t", undefined, { presmoothing: 1, smoothing: 0.75 });
  assertEquals(cf.name, "tessera-progic-t-pre1-post0.75");
  assert(cf.settings?.includes("pre-filter 1 and post-filter 0.75"), cf.settings);
  seen.length = 0;
  assertEquals(await cf.decode(await cf.encode(img, "s5r")), img);
  assertEquals(seen, [{ stages: 5, refine: "auto", model: "progic-t", presmoothing: 1 }]);
  assertEquals(decodeOpts, [{ smoothing: 0.75 }]);
  assertEquals(
    tesseraCodec(api, "progic-t", undefined, { smoothing: 0 }).name,
    "tessera-progic-t-pred-post0",
  );
  // The real entry either loads or is reported as unavailable; nothing else.
  try {
    assertEquals((await loadTessera()).points.length, 6);
  } catch (e) {
    assert(e instanceof TesseraUnavailableError, String(e));
  }
});

// ---------------------------------------------------------------- anchors (need the CLI tools)

const anchors = await anchorCodecs(ANCHOR_NAMES);
for (const m of anchors.missing) {
  console.warn(
    `eval anchor test skipped: ${m.tools.join(", ")} missing (apt-get install ${m.pkg})`,
  );
}

for (const name of ANCHOR_NAMES) {
  const codec = anchors.codecs.find((c) => c.name === name);
  Deno.test({
    name: `anchor ${name}: lowest and highest points round-trip odd-sized RGB and gray`,
    ignore: !codec,
    fn: async () => {
      const c = codec!;
      const w = 37, h = 23;
      const rgb = {
        width: w,
        height: h,
        data: Uint8Array.from(
          { length: w * h * 3 },
          (_, i) => {
            const x = ((i / 3) | 0) % w, y = ((i / 3) | 0) / w | 0;
            return x * 3 + y * 3 + (i % 3) * 30 + ((x * y) % 7) * 3;
          },
        ),
      };
      const grayish = { width: w, height: h, data: rgb.data.map((_, i) => rgb.data[i - (i % 3)]) };
      for (const img of [rgb, grayish]) {
        const lo = await c.encode(img, c.points[0]), hi = await c.encode(img, c.points.at(-1)!);
        assert(lo.length > 0 && lo.length < hi.length, `${name}: lowest point is smaller`);
        const dlo = await c.decode(lo), dhi = await c.decode(hi);
        assertEquals([dlo.width, dlo.height, dlo.data.length], [w, h, w * h * 3]);
        assertEquals([dhi.width, dhi.height, dhi.data.length], [w, h, w * h * 3]);
        assert(psnr(img, dhi) > psnr(img, dlo), `${name}: quality rises with rate`);
        assert(psnr(img, dhi) > 30, `${name}: highest point PSNR ${psnr(img, dhi)}`);
      }
    },
  });
}

const ba = findButteraugli();
Deno.test({
  name: `butteraugli (${ba?.tool ?? "missing"}): 0 for identical images, > 0 otherwise`,
  ignore: !ba,
  fn: async () => {
    const w = 64, h = 48;
    const a = {
      width: w,
      height: h,
      data: Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7) & 255),
    };
    const b = { ...a, data: a.data.map((v, i) => (i % 5 ? v : 255 - v)) };
    assertEquals((await ba!.measure(a, a)).max, 0);
    const d = await ba!.measure(a, b);
    assert(d.max > 0.5, `distance ${d.max}`);
    if (ba!.tool === "butteraugli_main") assert(d.pnorm3! > 0 && d.pnorm3! <= d.max);
  },
});
