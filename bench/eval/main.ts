/**
 * Rate–distortion evaluation of Tessera against JPEG, WebP, AVIF and JPEG XL.
 *
 *   deno run -A bench/eval/main.ts --data DIR [--codecs tessera,jpeg,webp,avif,jxl]
 *     [--out DIR] [--limit N] [--jobs N] [--model NAME] [--presmoothing X] [--smoothing X]
 *     [--butteraugli auto|libjxl|debian|none]
 *     [--sheets N] [--sheet-stage K] [--sheet-bpp X] [--sheet-crop PX] [--report-only]
 *     [--no-setup]
 *
 * Results go to OUT/results.jsonl as they are measured (a rerun resumes), then OUT/report.md,
 * OUT/rd_*.svg and OUT/sheet_*.png are written. See docs/eval.md.
 * @module
 */
import { ANCHOR_NAMES, anchorCodecs } from "./anchors.ts";
import { type ButteraugliChoice, findButteraugli } from "./butteraugli.ts";
import type { Codec } from "./codec.ts";
import { hasTool, resetToolCache } from "./exec.ts";
import { writeReport } from "./report.ts";
import { latestRecords, readRecords } from "./results.ts";
import { evaluate, listImages } from "./runner.ts";
import { loadTessera } from "./tessera.ts";

/** Parsed command line. */
export interface CliOptions {
  /** Image folder. */
  data: string;
  /** Codec names. */
  codecs: string[];
  /** Output folder. */
  out: string;
  /** Evaluate only the first N images (by name). */
  limit?: number;
  /** Images evaluated concurrently. */
  jobs: number;
  /** Tessera model name. */
  model?: string;
  /** Tessera's encoder pre-filter strength, when not the library's default. */
  presmoothing?: number;
  /** Tessera's decoder post-filter strength, when not the library's default. */
  smoothing?: number;
  /** Butteraugli tool. */
  butteraugli: ButteraugliChoice;
  /** Contact sheets. */
  sheets: number;
  /** Tessera stage the sheets match. */
  sheetStage: number;
  /** Target bpp of the sheets without Tessera. */
  sheetBpp: number;
  /** Crop side of sheet tiles (0 = whole image). */
  sheetCrop: number;
  /** Skip measuring; rebuild the report from results.jsonl. */
  reportOnly: boolean;
  /** Do not try to install missing anchor tools. */
  noSetup: boolean;
}

/** Usage text. */
export const USAGE: string = `usage: deno run -A bench/eval/main.ts --data DIR [options]
  --codecs LIST       comma-separated, from tessera,${ANCHOR_NAMES.join(",")} (default: all)
  --out DIR           output folder (default bench/eval/results/latest)
  --limit N           only the first N images (sorted by name)
  --jobs N            images evaluated concurrently (default 1)
  --model NAME        Tessera model (default: the library default)
  --presmoothing X    Tessera's encoder pre-filter in [0, 1] (default: the library's)
  --smoothing X       Tessera's decoder post-filter in [0, 1] (default: the library's)
  --butteraugli TOOL  auto | libjxl | debian | none (default auto)
  --sheets N          contact sheets for the first N images (default 3)
  --sheet-stage K     Tessera stage the sheets match (default 2)
  --sheet-bpp X       target bpp of the sheets when Tessera is absent (default 0.25)
  --sheet-crop PX     centre crop of each sheet tile, 0 = whole image (default 256)
  --report-only       rebuild the report from OUT/results.jsonl without measuring
  --no-setup          do not run tools/eval_setup.sh when anchor tools are missing`;

/**
 * Parses the command line.
 * @throws {Error} with a message for unknown or malformed options
 */
export function parseArgs(args: readonly string[]): CliOptions {
  const o: CliOptions = {
    data: "",
    codecs: ["tessera", ...ANCHOR_NAMES],
    out: "bench/eval/results/latest",
    jobs: 1,
    butteraugli: "auto",
    sheets: 3,
    sheetStage: 2,
    sheetBpp: 0.25,
    sheetCrop: 256,
    reportOnly: false,
    noSetup: false,
  };
  const int = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} needs an integer ≥ ${min}`);
    return n;
  };
  const unit = (name: string, v: string): number => {
    const x = Number(v);
    if (v.trim() === "" || !(x >= 0 && x <= 1)) throw new Error(`${name} needs a number in [0, 1]`);
    return x;
  };
  const choices = ["auto", "libjxl", "debian", "none"];
  const withValue: Record<string, (v: string) => void> = {
    "--data": (v) => (o.data = v),
    "--codecs": (v) => (o.codecs = v.split(",").map((s) => s.trim()).filter(Boolean)),
    "--out": (v) => (o.out = v),
    "--limit": (v) => (o.limit = int("--limit", v, 1)),
    "--jobs": (v) => (o.jobs = int("--jobs", v, 1)),
    "--model": (v) => (o.model = v),
    "--presmoothing": (v) => (o.presmoothing = unit("--presmoothing", v)),
    "--smoothing": (v) => (o.smoothing = unit("--smoothing", v)),
    "--butteraugli": (v) => {
      if (!choices.includes(v)) throw new Error(`--butteraugli takes ${choices.join(" | ")}`);
      o.butteraugli = v as ButteraugliChoice;
    },
    "--sheets": (v) => (o.sheets = int("--sheets", v, 0)),
    "--sheet-stage": (v) => (o.sheetStage = int("--sheet-stage", v, 1)),
    "--sheet-bpp": (v) => {
      o.sheetBpp = Number(v);
      if (!(o.sheetBpp > 0)) throw new Error("--sheet-bpp needs a positive number");
    },
    "--sheet-crop": (v) => (o.sheetCrop = int("--sheet-crop", v, 0)),
  };
  const switches: Record<string, () => void> = {
    "--report-only": () => (o.reportOnly = true),
    "--no-setup": () => (o.noSetup = true),
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i], eq = a.indexOf("=");
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (switches[flag] && eq < 0) {
      switches[flag]();
    } else if (withValue[flag]) {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      withValue[flag](v);
    } else {
      throw new Error(`unknown option ${a}`);
    }
  }
  if (!o.data) throw new Error("--data DIR is required");
  const known = ["tessera", ...ANCHOR_NAMES];
  const bad = o.codecs.filter((c) => !known.includes(c));
  if (bad.length) {
    throw new Error(`unknown codec ${bad.join(", ")}; choose from ${known.join(",")}`);
  }
  return o;
}

const log = (m: string) => Deno.stderr.writeSync(new TextEncoder().encode(m + "\n"));

async function setupTools(): Promise<void> {
  const script = new URL("../../tools/eval_setup.sh", import.meta.url).pathname;
  log(`anchor tools missing: running ${script}`);
  const r = await new Deno.Command("bash", { args: [script], stdout: "inherit", stderr: "inherit" })
    .output();
  if (!r.success) log("eval_setup.sh failed; the anchors whose tools are missing are skipped");
  resetToolCache();
}

/** Builds the codecs asked for; unavailable ones are reported and left out. */
export async function buildCodecs(o: CliOptions): Promise<Codec[]> {
  const codecs: Codec[] = [];
  if (o.codecs.includes("tessera")) {
    try {
      codecs.push(
        await loadTessera(o.model, undefined, {
          presmoothing: o.presmoothing,
          smoothing: o.smoothing,
        }),
      );
    } catch (e) {
      log(`tessera: skipped — ${(e as Error).message}`);
    }
  }
  let anchors = await anchorCodecs(o.codecs);
  const needBa = o.butteraugli !== "none" && !hasTool("butteraugli_main") &&
    !hasTool("butteraugli");
  if ((anchors.missing.length || needBa) && !o.noSetup && !o.reportOnly) {
    await setupTools();
    anchors = await anchorCodecs(o.codecs);
  }
  for (const m of anchors.missing) {
    log(`${m.name}: skipped — ${m.tools.join(", ")} not found (Debian package ${m.pkg})`);
  }
  codecs.push(...anchors.codecs);
  return codecs;
}

/** Runs the evaluation for a parsed command line and writes the report. */
export async function run(o: CliOptions, command: string): Promise<void> {
  await Deno.mkdir(o.out, { recursive: true });
  const results = `${o.out}/results.jsonl`;
  const codecs = await buildCodecs(o);
  const ba = findButteraugli(o.butteraugli);
  if (!ba && o.butteraugli !== "none") log("butteraugli: no tool found; metric skipped");
  if (!o.reportOnly) {
    if (codecs.length === 0) throw new Error("no codec is available");
    const images = await listImages(o.data, o.limit);
    if (images.length === 0) throw new Error(`no PNG/JPEG/PNM images in ${o.data}`);
    log(
      `evaluating ${images.length} images × ${
        codecs.map((c) => `${c.name}(${c.points.length})`).join(" ")
      }` +
        ` → ${results}`,
    );
    const s = await evaluate({
      data: o.data,
      images,
      codecs,
      results,
      butteraugli: ba,
      jobs: o.jobs,
      log,
    });
    log(`done: ${s.measured} measured, ${s.skipped} already done, ${s.failed} failed`);
  }
  let records = latestRecords(await readRecords(results));
  if (o.limit !== undefined) {
    const keep = new Set(await listImages(o.data, o.limit));
    records = records.filter((r) => keep.has(r.image));
  }
  const files = await writeReport({
    out: o.out,
    records,
    codecs,
    data: o.data,
    command,
    butteraugli: ba?.settings ?? null,
    sheets: o.sheets,
    sheetStage: o.sheetStage,
    sheetBpp: o.sheetBpp,
    sheetCrop: o.sheetCrop,
  });
  // Keep the report in the repository's Markdown style (best effort: deno fmt may exclude it).
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", files.report], stderr: "null" })
    .output().catch(() => {});
  log(
    `report: ${files.report} (${files.plots.length} plots, ${files.sheets.length} contact sheets)`,
  );
}

if (import.meta.main) {
  let opts: CliOptions;
  try {
    opts = parseArgs(Deno.args);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  await run(opts, `deno run -A bench/eval/main.ts ${Deno.args.join(" ")}`);
}
