/**
 * Engine benchmark (issue 3, "Benchmarks"): each workload through Tessera, TensorFlow.js WebGPU
 * and onnxruntime-web's WebGPU EP, in one Deno process on the same default adapter; results
 * checked against an exact reference and against each other; a Markdown table printed and
 * written to bench/engine/last.md.
 *
 *   deno run -A bench/engine/main.ts [--only NAME[,NAME]] [--iters N] [--warmup N]
 *     [--peers tfjs,ort|none] [--models DIR] [--out FILE] [--ort-verbose]
 *
 * `DENO_WEBGPU_BACKEND=vulkan|gl` selects Vulkan lavapipe or GL llvmpipe for all three engines.
 * @module
 */
import { acquireGpu, type GpuContext } from "../../src/engine.ts";
import { type Err, errVsArray, errVsSamples, median, type Samples } from "./data.ts";
import {
  ensureModels,
  loadOrt,
  loadTfjs,
  type Ort,
  ortSessionOptions,
  peerVersions,
  type Tf,
} from "./peers.ts";
import { type Runner, type Workload, WORKLOADS } from "./workloads.ts";

type EngineName = "Tessera" | "Tessera (resident)" | "TF.js" | "ORT";
const RESIDENT: EngineName = "Tessera (resident)";

interface EngineResult {
  engine: EngineName;
  error?: string;
  setupMs?: number;
  firstMs?: number;
  times: number[];
  info?: string;
  /** Check against the exact reference. */
  refText?: string;
  /** Check against Tessera's full result. */
  tessText?: string;
  ok?: boolean;
}

interface WorkloadResult {
  workload: Workload;
  engines: EngineResult[];
}

const HELP = `usage: deno run -A bench/engine/main.ts [options]
  --only NAME[,NAME]   workloads: ${WORKLOADS.map((w) => w.name).join(", ")}
  --iters N            timed iterations per engine (default 10)
  --warmup N           untimed runs per engine first (default 2, at least 1)
  --peers LIST         tfjs,ort (default), one of them, or none
  --models DIR         ONNX model folder (default /tmp/tessera-onnx; built by tools/onnx_models.py)
  --out FILE           Markdown report (default bench/engine/last.md; "-" = don't write)
  --ort-verbose        let onnxruntime log node placement (verbose)
env DENO_WEBGPU_BACKEND=vulkan|gl selects the WebGPU backend for all three engines.`;

const args = parseCli(Deno.args);
const iters = Math.max(1, parseInt(args.iters, 10) || 1);
const warmup = Math.max(1, parseInt(args.warmup, 10) || 1);
const peers = new Set(args.peers === "none" ? [] : args.peers.split(",").map((s) => s.trim()));
for (const p of peers) {
  if (p !== "tfjs" && p !== "ort") throw new Error(`unknown peer "${p}" (tfjs, ort or none)`);
}
const only = args.only?.split(",").map((s) => s.trim()).filter(Boolean);
const selected = only ? WORKLOADS.filter((w) => only.includes(w.name)) : WORKLOADS;
if (only) {
  const unknown = only.filter((n) => !WORKLOADS.some((w) => w.name === n));
  if (unknown.length) throw new Error(`unknown workload(s) ${unknown.join(", ")}\n${HELP}`);
}
const outPath = args.out ?? new URL("./last.md", import.meta.url).pathname;

const log = (s: string) => console.error(s);
const requestedBackend = Deno.env.get("DENO_WEBGPU_BACKEND");
const load0 = Deno.loadavg();
const started = new Date();
const revText = await gitRev();

const ctx: GpuContext = await acquireGpu();
log(
  `adapter: ${ctx.adapter.description} (DENO_WEBGPU_BACKEND=${requestedBackend ?? "unset"}; ` +
    `${backendGuess()})`,
);
const tf: Tf | null = peers.has("tfjs") ? await loadTfjs() : null;
const ort: Ort | null = peers.has("ort") ? await loadOrt() : null;
if (ort) {
  await ensureModels(args.models, selected.map((w) => w.name));
  if (args["ort-verbose"]) {
    ort.env.logLevel = "verbose";
    ortSessionOptions.logSeverityLevel = 0;
    ortSessionOptions.logVerbosityLevel = 0;
  }
}

const results: WorkloadResult[] = [];
for (const w of selected) results.push(await runWorkload(w));

const md = report(results);
// deno.json excludes bench/engine/last.md from `deno fmt`, so the table is left unaligned.
if (outPath !== "-") {
  await Deno.writeTextFile(outPath, md);
  log(`wrote ${outPath}`);
}
console.log(md);
// TF.js and ORT keep devices and timers alive; end the process explicitly.
Deno.exit(0);

// ---------------------------------------------------------------- command line

interface Cli {
  only?: string;
  iters: string;
  warmup: string;
  peers: string;
  models: string;
  out?: string;
  "ort-verbose": boolean;
}

function parseCli(argv: readonly string[]): Cli {
  const cli: Cli = {
    iters: "10",
    warmup: "2",
    peers: "tfjs,ort",
    models: "/tmp/tessera-onnx",
    "ort-verbose": false,
  };
  const valued = ["only", "iters", "warmup", "peers", "models", "out"] as const;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const key = flag.replace(/^--/, "");
    if (key === "help" || key === "h") {
      console.log(HELP);
      Deno.exit(0);
    } else if (key === "ort-verbose") cli["ort-verbose"] = true;
    else if ((valued as readonly string[]).includes(key) && flag.startsWith("--")) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${HELP}`);
      cli[key as (typeof valued)[number]] = v;
    } else throw new Error(`unknown argument "${argv[i]}"\n${HELP}`);
  }
  return cli;
}

// ---------------------------------------------------------------- running

async function runWorkload(w: Workload): Promise<WorkloadResult> {
  log(`\n== ${w.name}: ${w.title}`);
  const prep = w.prepare();
  const makers: [EngineName, () => Promise<Runner>][] = [
    ["Tessera", () => prep.tessera(ctx, false)],
    [RESIDENT, () => prep.tessera(ctx, true)],
  ];
  if (tf) makers.push(["TF.js", () => Promise.resolve(prep.tfjs(tf))]);
  if (ort) {
    makers.push(["ORT", async () => {
      return prep.ort(ort, await Deno.readFile(`${args.models}/${w.name}.onnx`));
    }]);
  }
  const engines: EngineResult[] = [];
  const runners = new Map<EngineResult, Runner>();
  const outputs = new Map<EngineResult, Float32Array | Int32Array>();
  const lastRaw = new Map<EngineResult, unknown>();
  const fail = (e: EngineResult, err: unknown) => {
    e.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    log(`   ${e.engine} FAILED: ${e.error}`);
    const r = runners.get(e);
    runners.delete(e);
    try {
      r?.dispose();
    } catch { /* already failing */ }
  };

  for (const [engine, make] of makers) {
    const e: EngineResult = { engine, times: [] };
    engines.push(e);
    try {
      const t0 = performance.now();
      const r = await make();
      e.setupMs = performance.now() - t0;
      e.info = r.info;
      runners.set(e, r);
      // Warm-up (pipeline compilation happens on first use in all three engines).
      for (let i = 0; i < warmup; i++) {
        const t1 = performance.now();
        lastRaw.set(e, await r.run());
        if (i === 0) e.firstMs = performance.now() - t1;
      }
      log(`   ${engine}: setup ${e.setupMs.toFixed(0)} ms, first run ${e.firstMs!.toFixed(0)} ms`);
    } catch (err) {
      fail(e, err);
    }
  }
  // Timed iterations, interleaved across engines so load changes hit all of them alike.
  for (let i = 0; i < iters; i++) {
    for (const e of engines) {
      const r = runners.get(e);
      if (!r) continue;
      try {
        const t0 = performance.now();
        const raw = await r.run();
        e.times.push(performance.now() - t0);
        lastRaw.set(e, raw);
      } catch (err) {
        fail(e, err);
      }
    }
  }
  for (const e of engines) {
    const r = runners.get(e);
    if (!r) continue;
    try {
      outputs.set(e, r.canonical(lastRaw.get(e)));
    } catch (err) {
      fail(e, err);
    }
    log(`   ${e.engine}: median ${median(e.times).toFixed(1)} ms over ${e.times.length}`);
  }
  for (const r of runners.values()) r.dispose();

  checkResults(prep.check, engines, outputs);
  for (const e of engines) {
    if (!e.error) {
      log(
        `   ${e.engine}: ${e.ok ? "OK" : "WRONG"} ref ${e.refText}; vs Tessera ${
          e.tessText ?? "-"
        }`,
      );
    }
  }
  return { workload: w, engines };
}

function fmtErr(e: Err): string {
  const nf = e.nonFinite ? `, ${e.nonFinite} non-finite` : "";
  return `${e.maxAbs.toExponential(1)} / ${e.rel.toExponential(1)}${nf}`;
}

function checkResults(
  check: ReturnType<Workload["prepare"]>["check"],
  engines: EngineResult[],
  outputs: Map<EngineResult, Float32Array | Int32Array>,
): void {
  const tess = engines.find((e) => e.engine === "Tessera");
  const tessOut = tess ? outputs.get(tess) : undefined;
  if (check.kind === "float") {
    const t0 = performance.now();
    const samples: Samples = check.samples();
    log(`   reference: ${samples.at.length} samples in ${(performance.now() - t0).toFixed(0)} ms`);
    for (const e of engines) {
      const out = outputs.get(e);
      if (!out || e.error) continue;
      const ref = errVsSamples(out, samples);
      e.refText = fmtErr(ref);
      e.ok = ref.nonFinite === 0 && ref.rel <= check.tol;
      if (e !== tess && tessOut) {
        const vt = errVsArray(out, tessOut);
        e.tessText = fmtErr(vt);
        if (vt.nonFinite) e.ok = false;
        if (!(vt.rel <= check.tol) && tess) {
          // One of the two is wrong somewhere the samples missed; trust neither.
          e.ok = tess.ok = false;
          e.tessText += " (disagree)";
        }
      }
    }
    return;
  }
  // argmin: exact check on sampled rows; full comparison with Tessera, judging each
  // disagreement by exact distances (ties within f32 rounding are both right).
  const rows = [0, check.rows - 1];
  for (let i = 1; rows.length < 48; i++) rows.push((i * 2654435761) % check.rows);
  const best = rows.map((r) => check.best(r));
  for (const e of engines) {
    const out = outputs.get(e);
    if (!out || e.error) continue;
    let wrong = 0;
    rows.forEach((r, i) => {
      if (out[r] === best[i].index) return;
      const d = out[r] >= 0 && out[r] < 2 ** 31 ? check.dist(r, out[r]) : Infinity;
      if (!(d - best[i].d1 <= check.tieTol(r))) wrong++;
    });
    e.refText = `${rows.length} rows: ${wrong} wrong`;
    e.ok = wrong === 0;
    if (e !== tess && tessOut) {
      let differ = 0, ties = 0, peerWorse = 0, tessWorse = 0;
      for (let r = 0; r < check.rows; r++) {
        if (out[r] === tessOut[r]) continue;
        differ++;
        const dp = check.dist(r, out[r]), dt = check.dist(r, tessOut[r]);
        if (Math.abs(dp - dt) <= check.tieTol(r)) ties++;
        else if (dp > dt) peerWorse++;
        else tessWorse++;
      }
      e.tessText = `${differ} of ${check.rows} differ (${ties} f32 ties` +
        `${peerWorse ? `, ${peerWorse} peer wrong` : ""}${
          tessWorse ? `, ${tessWorse} Tessera wrong` : ""
        })`;
      if (peerWorse) e.ok = false;
      if (tessWorse && tess) {
        tess.ok = false;
        tess.refText += `; ${tessWorse} rows worse than ${e.engine}`;
      }
    }
  }
}

// ---------------------------------------------------------------- report

function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

async function gitRev(): Promise<string> {
  try {
    const run = (a: string[]) =>
      new Deno.Command("git", { args: a, stdout: "piped", stderr: "null" }).output();
    const rev = new TextDecoder().decode((await run(["rev-parse", "--short", "HEAD"])).stdout)
      .trim();
    const dirty = (await run(["status", "--porcelain", "--", "src", "shaders"])).stdout.length > 0;
    return rev ? `${rev}${dirty ? " + uncommitted changes in src/ or shaders/" : ""}` : "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * Which wgpu backend Deno opened. The adapter info is the same string on both Mesa paths, but
 * only the Vulkan driver (lavapipe) exposes `shader-f16` (shared/design/llvmpipe-facts.md).
 */
function backendGuess(): string {
  const a = ctx.adapter;
  if (!/llvmpipe|lavapipe/i.test(a.description)) return "unknown (not a Mesa software adapter)";
  return a.features.includes("shader-f16")
    ? "Vulkan lavapipe (inferred: the adapter exposes shader-f16, which Mesa's GL path lacks)"
    : "GL llvmpipe (inferred: no shader-f16, which Mesa's Vulkan lavapipe exposes)";
}

function report(res: WorkloadResult[]): string {
  const load1 = Deno.loadavg();
  const cmd = `${requestedBackend ? `DENO_WEBGPU_BACKEND=${requestedBackend} ` : ""}` +
    `deno run -A bench/engine/main.ts ${Deno.args.join(" ")}`.trim();
  const a = ctx.adapter;
  const lines: string[] = [];
  lines.push("# Engine benchmark: Tessera vs TF.js WebGPU vs onnxruntime-web WebGPU", "");
  lines.push(`- Command: \`${cmd}\``);
  lines.push(`- Date: ${started.toISOString()}; revision ${revText}`);
  lines.push(
    `- Adapter: "${a.description}" (vendor ${a.vendor || "?"}, ${
      a.software ? "software" : "hardware"
    }` +
      `${a.features.includes("shader-f16") ? ", shader-f16" : ""}); every engine calls ` +
      "`navigator.gpu.requestAdapter()` with default options, so all three use this adapter.",
  );
  lines.push(
    `- WebGPU backend requested: DENO_WEBGPU_BACKEND=${requestedBackend ?? "unset"}` +
      (requestedBackend
        ? ""
        : " (Deno's default: Vulkan when a Vulkan driver is installed, else GL)") +
      `; in use: ${backendGuess()}.`,
  );
  lines.push(
    `- Runtime: Deno ${Deno.version.deno}, V8 ${Deno.version.v8}; ${navigator.hardwareConcurrency} CPUs; ` +
      `load average ${load0.map((x) => x.toFixed(2)).join(" ")} at start, ` +
      `${load1.map((x) => x.toFixed(2)).join(" ")} at end.`,
  );
  lines.push(`- Peers: ${peerVersions(tf, ort).join("; ") || "none"}`);
  lines.push(
    `- Method: ${warmup} warm-up run(s) per engine, then ${iters} timed iteration(s) interleaved ` +
      "across engines (Tessera, TF.js, ORT, Tessera, …); median and min wall time.",
  );
  lines.push(
    "- What a run includes — Tessera: `await exe.run(feeds)` = input upload, all dispatches in " +
      "one submit, readback of the output (graph compiled once, weights as constants). TF.js: " +
      "the op(s) on tensors created beforehand + `await result.data()` (readback, no input " +
      "upload). ORT: `await session.run(feeds)` with CPU tensors in and out = upload, run, " +
      "readback (weights are initializers).",
  );
  lines.push(
    '- Checks: "vs reference" is max abs error / (max abs error ÷ max |reference|) over exact ' +
      'float64 values at sampled outputs; "vs Tessera" compares the whole output. ✓ = within ' +
      "tolerance of the reference. Speed-up = peer median ÷ Tessera median, like for like: TF.js " +
      "(tensors pre-created) against Tessera with its inputs resident on the GPU as graph " +
      "constants, ORT (uploads every run) against Tessera uploading every run; the target is " +
      "checked against the worse of the two (> 1: Tessera faster).",
    "",
  );
  lines.push(
    "| workload | engine | median ms | min ms | GFLOP/s | GB/s | setup / 1st run ms | vs reference | vs Tessera | ok | Tessera speed-up |",
    "|---|---|--:|--:|--:|--:|--:|---|---|:-:|---|",
  );
  for (const r of res) {
    const w = r.workload;
    const tess = r.engines.find((e) => e.engine === "Tessera");
    const resident = r.engines.find((e) => e.engine === RESIDENT);
    const usable = (e?: EngineResult) => e && !e.error && e.ok && e.times.length ? e : undefined;
    // Like for like: TF.js times pre-created tensors (no upload) against resident Tessera;
    // ORT uploads its inputs every run, as plain Tessera does.
    const pairs = r.engines.filter((e) => !e.engine.startsWith("Tessera") && usable(e))
      .map((e) => ({ e, t: usable(e.engine === "TF.js" ? resident : tess) }))
      .filter((p) => p.t)
      .map((p) => ({ ...p, s: median(p.e.times) / median(p.t!.times) }));
    const worst = pairs.sort((x, y) => x.s - y.s)[0];
    let speed = "";
    if (worst) {
      speed = pairs.map((p) => `${p.s.toFixed(2)}× vs ${p.e.engine}`).join(", ") +
        ` (target ${w.target}× vs the faster peer: ${worst.s >= w.target ? "met" : "missed"})`;
    } else if (tess && !tess.error && r.engines.length > 1) speed = "no correct peer";
    r.engines.forEach((e, i) => {
      const title = i === 0 ? w.title : "";
      if (e.error) {
        lines.push(
          `| ${title} | ${e.engine} | failed: ${
            e.error.replaceAll("|", "\\|").slice(0, 200)
          } | | | | | | | ✗ | |`,
        );
        return;
      }
      const med = median(e.times), min = Math.min(...e.times);
      const gflops = (w.flops / 1e9 / (med / 1e3)).toFixed(2);
      const gbs = w.bytes ? (w.bytes / 1e9 / (med / 1e3)).toFixed(2) : "";
      const setup = `${fmtMs(e.setupMs ?? 0)} / ${fmtMs(e.firstMs ?? 0)}`;
      lines.push(
        `| ${title} | ${e.engine} | ${fmtMs(med)} | ${
          fmtMs(min)
        } | ${gflops} | ${gbs} | ${setup} | ` +
          `${e.refText ?? ""} | ${e.tessText ?? (e.engine === "Tessera" ? "—" : "")} | ` +
          `${e.ok ? "✓" : "✗"} | ${e.engine === "Tessera" ? speed : ""} |`,
      );
    });
  }
  lines.push("", "## Workloads", "");
  for (const r of res) {
    const w = r.workload;
    const info = r.engines.find((e) => e.engine === "Tessera")?.info;
    lines.push(
      `- **${w.title}** (\`--only ${w.name}\`, ${(w.flops / 1e9).toFixed(3)} GFLOP` +
        `${w.bytes ? `, ${(w.bytes / 1e6).toFixed(1)} MB moved at minimum` : ""}; ` +
        `${(w.inBytes / 1e6).toFixed(1)} MB of inputs, ${
          (w.outBytes / 1e6).toFixed(2)
        } MB output): ` +
        `${w.notes}` +
        `${info ? ` Tessera: ${info}.` : ""}`,
    );
  }
  lines.push("");
  return lines.join("\n");
}
