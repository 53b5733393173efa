/**
 * ProGIC benchmark (issue 5, "Benchmarks"): encode and decode times of the Tessera codec on the
 * default WebGPU adapter, side by side in one Deno process with the same model and weights
 * exported to ONNX (tools/export_onnx_progic.py) and run by onnxruntime-web's WebGPU EP on the
 * same adapter, and the PyTorch twin on the CPU (bench/progic/torch_bench.py, for the record).
 * ORT's outputs are checked against Tessera's before any time is reported. Also reports the GPU
 * memory the Tessera plans allocate. Prints a Markdown report and writes bench/progic/last.md.
 *
 *   deno run -A bench/progic/main.ts [--model progic-t] [--sizes 256x256,512x512,768x512]
 *     [--iters N] [--warmup N] [--peers ort,torch|none] [--image FILE] [--onnx-dir DIR]
 *     [--torch-device cpu|cuda] [--out FILE] [--ort-verbose]
 *
 * Sizes are WIDTHxHEIGHT. `DENO_WEBGPU_BACKEND=vulkan|gl` selects the WebGPU backend for Tessera
 * and ORT alike.
 * @module
 */
import { loadModel } from "../../src/api.ts";
import { acquireGpu, type ExecutableStats, type GpuContext } from "../../src/engine.ts";
import { webgpuBackend } from "../../src/graph/webgpu_backend.ts";
import type { RgbImage } from "../../src/io/image.ts";
import { resize, toPaddedTensor } from "../../src/io/resample.ts";
import { maxTileLatent, planTiles, tileMargin } from "../../src/models/progic/codec.ts";
import { decoderGraph, encoderGraph } from "../../src/models/progic/network.ts";
import type { ProgicWeights } from "../../src/models/progic/weights.ts";
import { median, nchwToNhwc, nhwcToNchw } from "../engine/data.ts";
import { loadOrt, type Ort, ortSessionOptions, peerVersions } from "../engine/peers.ts";
import { listImages, loadImage } from "../eval/runner.ts";
import { intFlag, parseFlags, strFlag } from "./cli.ts";
import {
  ensureOnnx,
  onnxFiles,
  type OrtModel,
  ortModel,
  runTorch,
  type Timing,
  type TorchReport,
} from "./peers.ts";

const HELP = `usage: deno run -A bench/progic/main.ts [options]
  --model NAME      shipped model (default progic-t)
  --sizes LIST      WxH sizes (default 256x256,512x512,768x512)
  --iters N         timed runs per engine and operation (default 5)
  --warmup N        untimed runs first, the first of them timed apart (default 1, at least 1)
  --peers LIST      ort,torch (default), one of them, or none
  --image FILE      test image, resized to each size (default: first bsds500/test image)
  --onnx-dir DIR    ONNX models (default /tmp/tessera-onnx-progic/MODEL)
  --torch-device D  where the PyTorch twin runs: cpu (default, 2 threads) or cuda (GPU machine;
                    env TESSERA_PYTHON names its python, default /usr/bin/python3)
  --out FILE        Markdown report (default bench/progic/last.md; "-" = stdout only)
  --ort-verbose     let onnxruntime log node placement
env DENO_WEBGPU_BACKEND=vulkan|gl selects the WebGPU backend for Tessera and ORT.`;

/** Indices may differ only where the two codes are this close (squared distance, as tests/). */
const NEAR_TIE = 1e-3;
/** Largest |ORT − Tessera| accepted on decoded pixels in [0, 1]. */
const PIXEL_TOL = 2e-3;
/** Issue 5's target: Tessera at least this much faster than ORT WebGPU. */
const TARGET = 1.5;

const flags = parseFlags(
  Deno.args,
  ["model", "sizes", "iters", "warmup", "peers", "image", "onnx-dir", "out", "torch-device"],
  ["ort-verbose"],
  HELP,
);
const log = (s: string) => console.error(s);
const started = new Date();
const load0 = Deno.loadavg();
const revisionText = await revision();
const modelName = strFlag(flags, "model", "progic-t");
const sizes = strFlag(flags, "sizes", "256x256,512x512,768x512").split(",").map(parseSize);
const iters = intFlag(flags, "iters", 5, 1);
const warmup = intFlag(flags, "warmup", 1, 1);
const peerList = strFlag(flags, "peers", "ort,torch");
const peers = new Set(peerList === "none" ? [] : peerList.split(",").map((s) => s.trim()));
for (const p of peers) {
  if (p !== "ort" && p !== "torch") throw new Error(`unknown peer "${p}"\n${HELP}`);
}
const weightsPath = new URL(`../../weights/${modelName}.safetensors`, import.meta.url).pathname;
const onnxDir = strFlag(flags, "onnx-dir", `/tmp/tessera-onnx-progic/${modelName}`);
const outPath = strFlag(flags, "out", new URL("./last.md", import.meta.url).pathname);
const torchDevice = strFlag(flags, "torch-device", "cpu");
const torchLabel = torchDevice === "cpu" ? "CPU" : torchDevice.toUpperCase();

const ctx: GpuContext = await acquireGpu();
log(`adapter: ${ctx.adapter.description} (DENO_WEBGPU_BACKEND=${envBackend() ?? "unset"})`);
const model = await loadModel({ name: modelName, gpu: ctx });
const weights = model.codec.weights;
const source = await testImage(strFlag(flags, "image"));
const ort: Ort | null = peers.has("ort") ? await loadOrt() : null;
if (ort) {
  await ensureOnnx(onnxDir, weightsPath, model.sha256, sizes, weights.config.stages);
  if (flags["ort-verbose"]) {
    ort.env.logLevel = "verbose";
    ortSessionOptions.logSeverityLevel = 0;
    ortSessionOptions.logVerbosityLevel = 0;
  }
}

const rows: SizeResult[] = [];
for (const [w, h] of sizes) rows.push(await benchSize(w, h));
let torch: TorchReport | null = null;
if (peers.has("torch")) {
  log(`\n== PyTorch twin (${torchDevice === "cpu" ? "CPU, 2 threads" : torchDevice})`);
  try {
    torch = await runTorch(weightsPath, sizes, iters, warmup, 2, torchDevice);
  } catch (e) {
    log(`   PyTorch FAILED: ${e}`);
  }
}

const md = report(rows, torch);
if (outPath !== "-") {
  await Deno.writeTextFile(outPath, md);
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", outPath] }).output()
    .catch(() => {});
  console.log(await Deno.readTextFile(outPath));
  log(`wrote ${outPath}`);
} else console.log(md);
// onnxruntime-web keeps its device and timers alive.
Deno.exit(rows.every((r) => r.ok) ? 0 : 1);

// ---------------------------------------------------------------- command line

function parseSize(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/i.exec(s.trim());
  if (!m) throw new Error(`size "${s}" is not WIDTHxHEIGHT`);
  const [w, h] = [Number(m[1]), Number(m[2])];
  if (w % 16 || h % 16 || !w || !h) throw new Error(`size ${s}: use multiples of 16`);
  return [w, h];
}

function envBackend(): string | undefined {
  return Deno.env.get("DENO_WEBGPU_BACKEND");
}

/** The test image: a real photograph (content matters for near-ties), or a smooth pattern. */
async function testImage(path?: string): Promise<{ name: string; image: RgbImage }> {
  if (path) return { name: path, image: await loadImage(path) };
  const dir = new URL("../../../shared/data/bsds500/test/", import.meta.url).pathname;
  try {
    const [first] = await listImages(dir, 1);
    if (first) return { name: `bsds500/test/${first}`, image: await loadImage(dir + first) };
  } catch { /* no data set here */ }
  const width = 256, height = 256, data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const x = i % width, y = Math.floor(i / width);
    data.set([x, y, (x * y) >> 8], i * 3);
  }
  return { name: "synthetic gradient", image: { width, height, data } };
}

// ---------------------------------------------------------------- measuring

interface EngineOp {
  timing?: Timing;
  /** Session creation (ORT) in ms. */
  setupMs?: number;
  error?: string;
}

interface SizeResult {
  width: number;
  height: number;
  enc: { tessera: EngineOp; ort?: EngineOp };
  dec: { tessera: EngineOp; ort?: EngineOp };
  encStats?: ExecutableStats;
  decStats?: ExecutableStats;
  /** Latent tile the codec runs (the stats are for it). */
  tile: [number, number];
  check: { enc?: string; dec?: string };
  /** False where ORT's result disagrees with Tessera's (its time then means nothing). */
  agree: { enc: boolean; dec: boolean };
  ok: boolean;
}

/** Times `fns` (one per engine) interleaved: first run, warm-up, then `iters` rounds. */
async function timeAll(
  fns: (null | (() => Promise<unknown>))[],
  ops: EngineOp[],
): Promise<unknown[]> {
  const last: unknown[] = fns.map(() => undefined);
  const once = async (i: number) => {
    const f = fns[i];
    if (!f || ops[i].error) return undefined;
    try {
      const t0 = performance.now();
      last[i] = await f();
      return performance.now() - t0;
    } catch (e) {
      ops[i].error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      log(`   FAILED: ${ops[i].error}`);
      return undefined;
    }
  };
  for (let i = 0; i < fns.length; i++) {
    const first = await once(i);
    if (first !== undefined) ops[i].timing = { first, times: [] };
    for (let k = 1; k < warmup; k++) await once(i);
  }
  for (let k = 0; k < iters; k++) {
    for (let i = 0; i < fns.length; i++) {
      const t = await once(i);
      if (t !== undefined) ops[i].timing?.times.push(t);
    }
  }
  return last;
}

async function ortSession(file: string, feeds: Parameters<typeof ortModel>[3], op: EngineOp) {
  try {
    const m = await ortModel(
      ort!,
      await Deno.readFile(`${onnxDir}/${file}`),
      ortSessionOptions,
      feeds,
    );
    op.setupMs = m.createMs;
    return m;
  } catch (e) {
    op.error = `session: ${e instanceof Error ? e.message : e}`;
    log(`   ORT FAILED: ${op.error}`);
    return null;
  }
}

async function benchSize(width: number, height: number): Promise<SizeResult> {
  log(`\n== ${width}×${height}`);
  const cfg = weights.config;
  const img = resize(source.image, width, height);
  const [gh, gw] = [height / 16, width / 16];
  const tileMax = Math.min(maxTileLatent(cfg, ctx.device.limits.maxStorageBufferBindingSize), 64);
  const tile = planTiles(gh, gw, tileMax, tileMargin(cfg)).size;
  const r: SizeResult = {
    width,
    height,
    enc: { tessera: {} },
    dec: { tessera: {} },
    tile,
    check: {},
    agree: { enc: true, dec: true },
    ok: true,
  };
  const files = onnxFiles(width, height, cfg.stages);

  // Encode: image -> indices of every stage.
  let ortEnc: OrtModel | null = null;
  if (ort) {
    r.enc.ort = {};
    const t = toPaddedTensor(img, 16);
    ortEnc = await ortSession(files.enc, {
      image: { data: nhwcToNchw(t.data, 1, height, width, 3), dims: [1, 3, height, width] },
    }, r.enc.ort);
  }
  const [tessOut, ortIdx] = await timeAll(
    // greedy search: the work the ONNX encoder does (the default beam search costs more, see
    // bench/RESULTS.md)
    [
      () => model.codec.encodeIndices(img, { beams: 1, presmoothing: 0 }),
      ortEnc && (() => ortEnc!.run()),
    ],
    [r.enc.tessera, r.enc.ort ?? {}],
  );
  await ortEnc?.release();
  logOp("encode", r.enc);

  // Decode: all stages' indices -> image.
  const indices = (tessOut as { indices: Int32Array[] } | undefined)?.indices;
  if (!indices) {
    r.ok = false;
    return r;
  }
  let ortDec: OrtModel | null = null;
  if (ort) {
    r.dec.ort = {};
    const feeds: Parameters<typeof ortModel>[3] = {};
    indices.forEach((v, s) => (feeds[`indices${s}`] = { data: v, dims: [1, gh, gw] }));
    ortDec = await ortSession(files.dec, feeds, r.dec.ort);
  }
  const [, ortImg] = await timeAll(
    // no post-filter: the work the ONNX decoder does (the default filter is one small pass)
    [() => model.codec.decodeIndices(indices, width, height, 0), ortDec && (() => ortDec!.run())],
    [r.dec.tessera, r.dec.ort ?? {}],
  );
  await ortDec?.release();
  logOp("decode", r.dec);
  // Checks and the plans' memory (graphs compiled here share the codec's weights).
  const backend = webgpuBackend(ctx);
  const encExe = await backend.compile(encoderGraph(weights, tile[0] * 16, tile[1] * 16));
  r.encStats = encExe.stats;
  encExe.dispose();
  const decExe = await backend.compile(decoderGraph(weights, tile[0], tile[1], cfg.stages));
  r.decStats = decExe.stats;
  if (ortIdx) {
    const verdict = await checkIndices(img, indices, ortIdx as Record<string, Int32Array>);
    r.check.enc = verdict.text;
    r.agree.enc = verdict.ok;
  }
  if (ortImg && tile[0] === gh && tile[1] === gw) {
    const feeds: Record<string, Int32Array> = {};
    indices.forEach((v, s) => (feeds[`indices${s}`] = v));
    const tess = (await decExe.run(feeds)).image as Float32Array;
    const o = nchwToNhwc((ortImg as Record<string, Float32Array>).image, 1, 3, height, width);
    let maxErr = 0, levels = 0;
    for (let i = 0; i < tess.length; i++) {
      const t = tess[i] + 0.5;
      maxErr = Math.max(maxErr, Math.abs(o[i] - t));
      if (to8(o[i]) !== to8(t)) levels++;
    }
    const ok = maxErr <= PIXEL_TOL;
    r.check.dec =
      `max abs error ${maxErr.toExponential(1)} (${(maxErr * 255).toFixed(3)} of 255), ` +
      `${levels} of ${tess.length} 8-bit samples differ ${ok ? "✓" : "✗"}`;
    r.agree.dec = ok;
  } else if (ortImg) r.check.dec = "not checked (the codec tiles this size)";
  decExe.dispose();
  r.ok = r.agree.enc && r.agree.dec && !r.enc.tessera.error && !r.dec.tessera.error;
  if (r.check.enc || r.check.dec) log(`   check: encoder ${r.check.enc}; decoder ${r.check.dec}`);
  return r;
}

function to8(v: number): number {
  return Math.min(255, Math.max(0, Math.round(v * 255)));
}

function logOp(what: string, op: { tessera: EngineOp; ort?: EngineOp }): void {
  const f = (e?: EngineOp) =>
    e?.timing
      ? `first ${e.timing.first.toFixed(0)} ms, median ${median(e.timing.times).toFixed(0)} ms`
      : e?.error ?? "-";
  log(`   ${what}: Tessera ${f(op.tessera)}; ORT ${f(op.ort)}`);
}

/**
 * ORT's indices against Tessera's. At each position the first stage where they differ is
 * judged with exact (float64) distances from Tessera's latent: a near-tie (|d_ort − d_tessera|
 * ≤ NEAR_TIE) is fine, and every later stage of that position then differs legitimately.
 */
async function checkIndices(
  img: RgbImage,
  tess: readonly Int32Array[],
  ortOut: Record<string, Int32Array>,
): Promise<{ ok: boolean; text: string }> {
  const { codebooks, config } = weights;
  const n = config.stages, d = config.c2, hw = tess[0].length;
  const ortIdx = Array.from({ length: n }, (_, s) => ortOut[`indices${s}`]);
  const diff: number[] = [];
  for (let p = 0; p < hw; p++) if (ortIdx.some((o, s) => o[p] !== tess[s][p])) diff.push(p);
  let ties = 0, ortWorse = 0, tessWorse = 0, maxDelta = 0;
  if (diff.length) {
    const latent = await debugLatent(img);
    for (const p of diff) {
      const s = ortIdx.findIndex((o, k) => o[p] !== tess[k][p]);
      const r = Float64Array.from(latent.subarray(p * d, (p + 1) * d));
      for (let k = 0; k < s; k++) subRow(r, codebooks[k], tess[k][p], d);
      const dt = dist(r, codebooks[s], tess[s][p], d), dO = dist(r, codebooks[s], ortIdx[s][p], d);
      maxDelta = Math.max(maxDelta, Math.abs(dO - dt));
      if (Math.abs(dO - dt) <= NEAR_TIE) ties++;
      else if (dO > dt) ortWorse++;
      else tessWorse++;
    }
  }
  const ok = ortWorse === 0 && tessWorse === 0;
  const text = diff.length === 0
    ? `all ${n}×${hw} indices equal ✓`
    : `${diff.length} of ${hw} positions differ: ${ties} near-ties (max distance gap ${
      maxDelta.toExponential(1)
    })${ortWorse ? `, ${ortWorse} ORT wrong` : ""}${
      tessWorse ? `, ${tessWorse} Tessera wrong` : ""
    } ${ok ? "✓" : "✗"}`;
  return { ok, text };
}

/** Tessera's latent (debug encoder graph) for the tie checks. */
async function debugLatent(img: RgbImage): Promise<Float32Array> {
  const t = toPaddedTensor(img, 16);
  const exe = await webgpuBackend(ctx).compile(
    encoderGraph(weights, t.height, t.width, { debug: true }),
  );
  try {
    return (await exe.run({ image: t.data })).latent as Float32Array;
  } finally {
    exe.dispose();
  }
}

function subRow(r: Float64Array, cb: Float32Array, k: number, d: number): void {
  for (let e = 0; e < d; e++) r[e] -= cb[k * d + e];
}

function dist(r: Float64Array, cb: Float32Array, k: number, d: number): number {
  let s = 0;
  for (let e = 0; e < d; e++) s += (r[e] - cb[k * d + e]) ** 2;
  return s;
}

// ---------------------------------------------------------------- report

function ms(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function medMin(t?: Timing): string {
  if (!t || !t.times.length) return "—";
  return `${ms(median(t.times))} (${ms(Math.min(...t.times))})`;
}

function mb(b: number): string {
  return (b / 2 ** 20).toFixed(1);
}

async function revision(): Promise<string> {
  const git = async (...args: string[]) =>
    new TextDecoder().decode(
      (await new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).output()).stdout,
    ).trim();
  try {
    const rev = await git("rev-parse", "--short", "HEAD");
    const dirty = await git("status", "--porcelain", "--", "src", "shaders", "weights");
    return `${rev || "unknown"}${
      dirty ? " (uncommitted changes in src/, shaders/ or weights/)" : ""
    }`;
  } catch {
    return "unknown";
  }
}

function weightsSummary(w: ProgicWeights): string {
  const c = w.config;
  return `${c.name} (C1 ${c.c1}, ${c.encBlocks} enc / ${c.decBlocks} dec blocks, attention k ${c.attnK}, ` +
    `${c.stages}×${c.codes} RVQ), weights sha256 ${w.sha256.slice(0, 12)}…`;
}

function speedup(t: EngineOp, o: EngineOp | undefined, agree: boolean): string {
  if (!o) return "";
  if (!agree) return "void: results disagree";
  if (!t.timing?.times.length || !o.timing?.times.length) return "—";
  const s = median(o.timing.times) / median(t.timing.times);
  return `${s.toFixed(2)}× (${s >= TARGET ? "met" : "missed"})`;
}

function report(res: SizeResult[], torch: TorchReport | null): string {
  const a = ctx.adapter;
  const load1 = Deno.loadavg();
  const cmd = `${envBackend() ? `DENO_WEBGPU_BACKEND=${envBackend()} ` : ""}` +
    `deno run -A bench/progic/main.ts ${Deno.args.join(" ")}`.trim();
  const f16 = a.features.includes("shader-f16");
  const L: string[] = [];
  L.push(`# ProGIC benchmark: Tessera vs onnxruntime-web WebGPU vs PyTorch ${torchLabel}`, "");
  L.push(`- Command: \`${cmd}\``);
  L.push(`- Date: ${started.toISOString()}; revision ${revisionText}`);
  L.push(
    `- Adapter: "${a.description}" (vendor ${a.vendor || "?"}, ${
      a.software ? "software" : "hardware"
    }${f16 ? ", shader-f16" : ""}); DENO_WEBGPU_BACKEND=${envBackend() ?? "unset"}` +
      (/llvmpipe|lavapipe/i.test(a.description)
        ? ` (Mesa ${f16 ? "Vulkan lavapipe" : "GL llvmpipe"}, inferred from shader-f16)`
        : "") +
      "; Tessera and ORT each call `navigator.gpu.requestAdapter()` with default " +
      "options in this process, so both run on this adapter.",
  );
  L.push(
    `- Runtime: Deno ${Deno.version.deno}, V8 ${Deno.version.v8}; ${navigator.hardwareConcurrency} ` +
      `CPUs; load average ${load0.map((x) => x.toFixed(2)).join(" ")} at start, ` +
      `${load1.map((x) => x.toFixed(2)).join(" ")} at end.`,
  );
  L.push(`- Model: ${weightsSummary(weights)}`);
  L.push(`- Test image: ${source.name}, resized to each size.`);
  L.push(
    `- Peers: ${peerVersions(null, ort).join("; ") || "none"}` +
      (torch
        ? torch.device && torch.device !== "cpu"
          ? `; PyTorch ${torch.torch} on ${torch.device} (CUDA, float32, cuDNN defaults), each ` +
            "run timed to `torch.cuda.synchronize()`"
          : `; PyTorch ${torch.torch} on the CPU, ${torch.threads} threads (BLAS ${torch.blas}, ` +
            `oneDNN ${torch.mkldnn ? "on" : "off"}), OMP_WAIT_POLICY=PASSIVE`
        : ""),
  );
  L.push(
    `- Method: per operation the first run is timed apart ("1st", pipeline compilation included), ` +
      `then ${warmup - 1} more untimed warm-up run(s) and ${iters} timed runs interleaved across ` +
      "Tessera and ORT; median (min) wall ms. Tessera encode = `codec.encodeIndices(image, { beams: 1, presmoothing: 0 })` (greedy, no pre-filter, as the ONNX encoder) " +
      "(8-bit image → padded float tensor, upload, one submit, readback of the indices); decode " +
      `= \`codec.decodeIndices(all ${weights.config.stages} stages, smoothing 0)\` (no post-filter, as the ONNX decoder; upload of the indices, ` +
      "one submit, readback, float → 8-bit image). ORT = `session.run` with CPU tensors in and " +
      "out (upload, run, readback; its input is prepared beforehand, its output left as " +
      "floats). ORT session creation is listed apart. PyTorch: `ProGIC.compress` / " +
      "`decompress` (bench/progic/torch_bench.py), same iteration counts.",
  );
  L.push(
    `- Checks (before any time counts): encoder — ORT's indices vs Tessera's on the same image; ` +
      `where they differ the first differing stage is judged by exact float64 distances from ` +
      `Tessera's latent, a near-tie being |Δd| ≤ ${NEAR_TIE}; decoder — both decode Tessera's ` +
      `indices, max |Δ| over pixels in [0, 1] ≤ ${PIXEL_TOL}. Speed-up = ORT median ÷ Tessera ` +
      `median, target ≥ ${TARGET}×.`,
    "",
  );
  L.push(
    `| size | op | Tessera ms | Tessera 1st | ORT ms | ORT session / 1st | Tessera vs ORT | PyTorch ${torchLabel} ms | check |`,
    "|---|---|--:|--:|--:|--:|---|--:|---|",
  );
  for (const r of res) {
    const size = `${r.width}×${r.height}`;
    const tr = torch?.results.find((t) => t.size === `${r.width}x${r.height}`);
    for (const op of ["enc", "dec"] as const) {
      const e = r[op];
      const ortCol = e.ort?.error
        ? `failed: ${e.ort.error.replaceAll("|", "\\|").slice(0, 120)}`
        : medMin(e.ort?.timing);
      const ortSetup = e.ort?.timing
        ? `${ms(e.ort.setupMs ?? 0)} / ${ms(e.ort.timing.first)}`
        : "—";
      const tt = op === "enc" ? tr?.encode : tr?.decode;
      L.push(
        `| ${op === "enc" ? size : ""} | ${op === "enc" ? "encode" : "decode"} | ${
          e.tessera.error ? `failed: ${e.tessera.error.slice(0, 120)}` : medMin(e.tessera.timing)
        } | ${e.tessera.timing ? ms(e.tessera.timing.first) : "—"} | ${ortCol} | ${ortSetup} | ${
          speedup(e.tessera, e.ort, r.agree[op])
        } | ${medMin(tt)} | ${r.check[op] ?? ""} |`,
      );
    }
  }
  L.push("", "## GPU memory of the Tessera plans", "");
  L.push(
    "`Executable.stats` of the graphs the codec compiles for each size (MiB): weights (f32 on the " +
      "device, shared by every graph of the model), intermediates (shared slots after liveness " +
      "planning), the largest single activation, io (inputs, outputs and readback staging), and " +
      "peak = weights + intermediates + io + uniforms. Target (issue 5): peak ≤ weights + 3× the " +
      "largest activation.",
    "",
  );
  L.push(
    "| size | graph | dispatches | weights | intermediates | largest | io | peak | target | intermediates ÷ largest | met |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|:-:|",
  );
  for (const r of res) {
    for (const [name, s] of [["encoder", r.encStats], ["decoder", r.decStats]] as const) {
      if (!s) continue;
      const target = s.weightBytes + 3 * s.largestIntermediateBytes;
      const tiled = r.tile[0] * 16 !== r.height || r.tile[1] * 16 !== r.width;
      L.push(
        `| ${
          name === "encoder"
            ? `${r.width}×${r.height}${tiled ? ` (tile ${r.tile[1] * 16}×${r.tile[0] * 16})` : ""}`
            : ""
        } | ${name} | ${s.dispatches} | ${mb(s.weightBytes)} | ${mb(s.intermediateBytes)} | ${
          mb(s.largestIntermediateBytes)
        } | ${mb(s.ioBytes)} | ${mb(s.peakBytes)} | ${mb(target)} | ${
          (s.intermediateBytes / s.largestIntermediateBytes).toFixed(2)
        } | ${s.peakBytes <= target ? "✓" : "✗"} |`,
      );
    }
  }
  L.push("");
  return L.join("\n");
}
