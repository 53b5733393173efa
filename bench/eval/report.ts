/**
 * The report: `report.md` with tables (per-point means, lowest rates, quality at matched
 * rates, BD-rates, timing, failures), RD plots as SVG, and contact sheets (PNG) that put the
 * original next to each codec at the rate nearest a target.
 * @module
 */
import { encodePng, type RgbImage } from "../../src/io/image.ts";
import {
  type Aggregate,
  aggregate,
  bdRates,
  type CodecSummary,
  type ImagePair,
  metricAtRate,
  type MetricInfo,
  METRICS,
  perImageComparison,
} from "./aggregate.ts";
import type { Codec, OkRecord, ResultRecord } from "./codec.ts";
import { loadImage } from "./runner.ts";
import { lineChart, PALETTE } from "./svg.ts";

/** Settings of {@link writeReport}. */
export interface ReportOptions {
  /** Output folder (holds results.jsonl; report files are written next to it). */
  out: string;
  /** Latest record per (image, codec, point). */
  records: readonly ResultRecord[];
  /** The codecs of the run, in report order (their points order the tables). */
  codecs: readonly Codec[];
  /** Image folder, for contact sheets. */
  data: string;
  /** The command that produced the results. */
  command: string;
  /** Butteraugli tool description, or null when not measured. */
  butteraugli: string | null;
  /** Contact sheets to draw (default 3). */
  sheets?: number;
  /** Tessera stage whose rate the sheets match (default 2). */
  sheetStage?: number;
  /** Target bpp of the sheets when there is no Tessera result (default 0.25). */
  sheetBpp?: number;
  /** Side of the centre crop of each tile, 0 for whole images (default 256). */
  sheetCrop?: number;
  /** Rates at which the quality table interpolates (default 0.1, 0.2, 0.5, 1). */
  matchedRates?: readonly number[];
}

/** What {@link writeReport} wrote. */
export interface ReportFiles {
  /** Path of report.md. */
  report: string;
  /** Paths of the SVG plots. */
  plots: string[];
  /** Paths of the contact sheets. */
  sheets: string[];
}

const isTessera = (name: string) => name.startsWith("tessera");

function num(v: number | undefined, digits: number): string {
  if (v === undefined || Number.isNaN(v)) return "–";
  if (v === Infinity) return "∞";
  return v.toFixed(digits);
}

const DIGITS: Record<MetricInfo["key"], number> = {
  psnr: 2,
  msssim: 4,
  butteraugli: 3,
  butteraugli3: 3,
};

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n") + "\n";
}

/** Fixed colours, so that every report draws a codec alike. */
const COLORS: Record<string, string> = {
  jpeg: "#d62728",
  webp: "#1f77b4",
  avif: "#2ca02c",
  jxl: "#ff7f0e",
  tessera: "#111111",
};

function codecColor(name: string): string | undefined {
  return COLORS[name] ?? (isTessera(name) ? "#9467bd" : undefined);
}

/** MS-SSIM in dB, as RD plots usually show it. */
function msssimDb(v: number): number {
  return v >= 1 ? Infinity : -10 * Math.log10(1 - v);
}

function plots(agg: Aggregate, out: string, butteraugli: boolean): Promise<string[]> {
  const colors = new Map(
    agg.codecs.map((c, i) => [c.codec, codecColor(c.codec) ?? PALETTE[i % PALETTE.length]]),
  );
  const files: Promise<string>[] = [];
  for (const m of METRICS) {
    if (!butteraugli && m.key.startsWith("butteraugli")) continue;
    const series = agg.codecs.map((c) => ({
      name: c.codec,
      color: colors.get(c.codec),
      points: c.points.filter((p) => p.metrics[m.key] !== undefined).map((p) => ({
        x: p.bpp,
        y: m.key === "msssim" ? msssimDb(p.metrics[m.key]!) : p.metrics[m.key]!,
      })),
    })).filter((s) => s.points.length > 0);
    if (series.length === 0) continue;
    const label = m.key === "msssim" ? "MS-SSIM RGB (dB) = −10·log10(1 − MS-SSIM)" : m.label;
    const svg = lineChart({
      title: `${label}${
        m.lowerIsBetter ? " (lower is better)" : ""
      }, mean over ${agg.images.length} images`,
      xLabel: "bits per pixel (log scale)",
      yLabel: label,
      series,
    });
    const path = `${out}/rd_${m.key}.svg`;
    files.push(Deno.writeTextFile(path, svg).then(() => path));
  }
  return Promise.all(files);
}

/** The centred `side`×`side` crop of an image (the whole image when it is not larger). */
export function crop(img: RgbImage, side: number): RgbImage {
  if (side <= 0 || (img.width <= side && img.height <= side)) return img;
  const w = Math.min(side, img.width), h = Math.min(side, img.height);
  const x0 = (img.width - w) >> 1, y0 = (img.height - h) >> 1;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const s = ((y0 + y) * img.width + x0) * 3;
    data.set(img.data.subarray(s, s + w * 3), y * w * 3);
  }
  return { width: w, height: h, data };
}

/** Tiles images left to right with white gaps. */
export function hstack(tiles: readonly RgbImage[], gap = 6): RgbImage {
  const width = tiles.reduce((s, t) => s + t.width, 0) + gap * (tiles.length - 1);
  const height = Math.max(...tiles.map((t) => t.height));
  const data = new Uint8Array(width * height * 3).fill(255);
  let x0 = 0;
  for (const t of tiles) {
    for (let y = 0; y < t.height; y++) {
      data.set(t.data.subarray(y * t.width * 3, (y + 1) * t.width * 3), (y * width + x0) * 3);
    }
    x0 += t.width + gap;
  }
  return { width, height, data };
}

/** The record of `codec` on `image` whose bpp is nearest `bpp` in log ratio. */
export function nearestRecord(
  records: readonly ResultRecord[],
  image: string,
  codec: string,
  bpp: number,
): OkRecord | undefined {
  let best: OkRecord | undefined, dist = Infinity;
  for (const r of records) {
    if (!r.ok || r.image !== image || r.codec !== codec) continue;
    const d = Math.abs(Math.log(r.bpp / bpp));
    if (d < dist) [best, dist] = [r, d];
  }
  return best;
}

async function contactSheets(
  opts: ReportOptions,
  agg: Aggregate,
): Promise<{ files: string[]; md: string }> {
  const count = opts.sheets ?? 3;
  if (count <= 0 || agg.images.length === 0) return { files: [], md: "" };
  const stage = opts.sheetStage ?? 2;
  const tessera = agg.codecs.find((c) => isTessera(c.codec))?.codec;
  const order = agg.codecs.map((c) => c.codec).filter((c) => c !== tessera);
  const files: string[] = [];
  let md = "## Contact sheets\n\n";
  md += tessera
    ? `Each sheet: original, ${tessera} at stage ${stage}, then each anchor at the point whose ` +
      `bpp is nearest to ${tessera}'s on that image.`
    : `Each sheet: original, then each codec at the point whose bpp is nearest to ` +
      `${opts.sheetBpp ?? 0.25} bpp on that image (no Tessera results in this run).`;
  const side = opts.sheetCrop ?? 256;
  md += side > 0 ? ` Tiles are the central ${side}×${side} crop, at 1:1.\n\n` : "\n\n";
  for (const image of agg.images.slice(0, count)) {
    try {
      const ref = await loadImage(`${opts.data}/${image}`);
      const tRec = tessera
        ? opts.records.find((r): r is OkRecord =>
          r.ok && r.image === image && r.codec === tessera && r.point === `s${stage}`
        )
        : undefined;
      const target = tRec?.bpp ?? opts.sheetBpp ?? 0.25;
      const picks = [
        ...(tRec ? [tRec] : []),
        ...order.map((c) => nearestRecord(opts.records, image, c, target)).filter((r) => r),
      ] as OkRecord[];
      const tiles = [crop(ref, side)];
      const rows: string[][] = [["original", "–", "–", "–", "–", "–"]];
      for (const r of picks) {
        const codec = opts.codecs.find((c) => c.name === r.codec);
        if (!codec) continue;
        tiles.push(crop(await codec.decode(await codec.encode(ref, r.point)), side));
        rows.push([
          r.codec,
          r.point,
          num(r.bpp, 3),
          num(r.psnr, 2),
          num(r.msssim, 4),
          num(r.butteraugli, 3),
        ]);
      }
      const stem = image.replace(/\.[^.]+$/, "");
      const path = `${opts.out}/sheet_${stem}.png`;
      await Deno.writeFile(path, encodePng(hstack(tiles)));
      files.push(path);
      md += `### ${image} (target ${num(target, 3)} bpp)\n\n![${stem}](sheet_${stem}.png)\n\n`;
      md += table(["tile (left to right)", "point", "bpp", "PSNR", "MS-SSIM", "Butteraugli"], rows);
      md += "\n";
    } catch (e) {
      md += `### ${image}\n\nContact sheet failed: ${(e as Error).message}\n\n`;
    }
  }
  return { files, md };
}

function bdSection(agg: Aggregate): string {
  const names = agg.codecs.map((c) => c.codec);
  const tests = names.filter(isTessera), anchors = names.filter((n) => !isTessera(n));
  let md = "## BD-rate\n\n" +
    "Bjøntegaard-delta rate (PCHIP on log10 rate over the overlapping quality range of the " +
    "mean curves; negative = fewer bits for the same quality). Butteraugli is a distortion: " +
    "its BD-rate compares rates at equal distance.\n\n";
  const matrix = (rows: string[], cols: string[], title: string): string => {
    const bd = bdRates(agg, rows, cols);
    let s = `${title}\n\n`;
    for (const m of METRICS) {
      const entries = bd.filter((b) => b.metric === m.key);
      if (entries.every((e) => Number.isNaN(e.value))) continue;
      s += `**${m.label}**\n\n` + table(
        ["test \\ anchor", ...cols],
        rows.map((r) => [
          r,
          ...cols.map((c) => {
            const e = entries.find((b) => b.test === r && b.anchor === c);
            return e && !Number.isNaN(e.value) ? `${num(e.value, 1)}%` : "–";
          }),
        ]),
      ) + "\n";
    }
    return s;
  };
  if (tests.length) md += matrix(tests, anchors, "### Tessera against the anchors");
  else md += "No Tessera results in this run: only the anchors are compared.\n\n";
  if (anchors.length > 1) {
    md += matrix(anchors, anchors, "### Anchors against each other (row codec vs column codec)");
  }
  return md;
}

function pointTables(agg: Aggregate, butteraugli: boolean): string {
  let md = "## Mean per operating point\n\n";
  for (const c of agg.codecs) {
    const head = ["point", "n", "bpp", "PSNR (dB)", "MS-SSIM"];
    if (butteraugli) head.push("Butteraugli max", "Butteraugli 3-norm");
    head.push("encode ms", "decode ms");
    const rows = c.points.map((p) => {
      const r = [
        p.point,
        String(p.n),
        num(p.bpp, 4),
        num(p.metrics.psnr, 2),
        num(p.metrics.msssim, 4),
      ];
      if (butteraugli) r.push(num(p.metrics.butteraugli, 3), num(p.metrics.butteraugli3, 3));
      r.push(num(p.encodeMs, 0), num(p.decodeMs, 0));
      return r;
    });
    md += `### ${c.codec}\n\n` + table(head, rows) + "\n";
  }
  return md;
}

function matchedTable(agg: Aggregate, fixed: readonly number[], butteraugli: boolean): string {
  // The shipping bar compares at a Tessera model's highest rate, which need not be a round one
  // (rounded down so that it stays on the curve).
  const tops = agg.codecs.filter((c) => isTessera(c.codec) && c.points.length)
    .map((c) => Math.floor(Math.max(...c.points.map((p) => p.bpp)) * 1e4) / 1e4);
  const rates = [...new Set([...fixed, ...tops])].sort((a, b) => a - b);
  let md = "## Quality at matched rates\n\n" +
    "Mean curves interpolated linearly in log-rate; – where a codec's curve does not reach the " +
    "rate." +
    (tops.length
      ? ` Also at the highest rate of each Tessera model (${tops.join(", ")} bpp).`
      : "") +
    "\n\n";
  for (const m of METRICS) {
    if (!butteraugli && m.key.startsWith("butteraugli")) continue;
    md += `**${m.label}**\n\n` + table(
      ["codec", ...rates.map((r) => `${r} bpp`)],
      agg.codecs.map((c) => [
        c.codec,
        ...rates.map((r) => num(metricAtRate(c, m.key, r), DIGITS[m.key])),
      ]),
    ) + "\n";
  }
  return md;
}

function perImageSection(
  agg: Aggregate,
  records: readonly ResultRecord[],
  butteraugli: boolean,
): string {
  const tests = agg.codecs.filter((c) => isTessera(c.codec) && c.points.length);
  const anchors = agg.codecs.filter((c) => !isTessera(c.codec)).map((c) => c.codec);
  if (tests.length === 0 || anchors.length === 0) return "";
  const inSet = new Set(agg.images);
  const mine = records.filter((r) => inSet.has(r.image));
  let md = "## Per image at the highest Tessera point\n\n" +
    "Each image on its own: the anchor's RD curve on that image, interpolated linearly in " +
    "log-rate to the rate Tessera reached on it (images where the anchor's curve does not reach " +
    "that rate are left out). Ratio = Tessera / anchor; for Butteraugli below 1 is better.\n\n";
  for (const t of tests) {
    const top = t.points[t.points.length - 1];
    md += `### ${t.codec}, point ${top.point} (mean ${num(top.bpp, 4)} bpp)\n\n`;
    for (const m of METRICS) {
      if (!butteraugli && m.key.startsWith("butteraugli")) continue;
      const rows: string[][] = [];
      const worst: string[] = [];
      for (const a of anchors) {
        const c = perImageComparison(mine, t.codec, top.point, a, m);
        if (c.pairs.length === 0) continue;
        const mean = (f: (p: ImagePair) => number) =>
          c.pairs.reduce((s, p) => s + f(p), 0) / c.pairs.length;
        rows.push([
          a,
          `${c.pairs.length} (${c.outside} out of range)`,
          `${c.better} (${num((100 * c.better) / c.pairs.length, 0)}%)`,
          num(c.medianRatio, 3),
          num(mean((p) => p.test), DIGITS[m.key]),
          num(mean((p) => p.anchor), DIGITS[m.key]),
        ]);
        if (m.lowerIsBetter) {
          const w = [...c.pairs].sort((x, y) => y.test / y.anchor - x.test / x.anchor).slice(0, 3);
          worst.push(
            `${a}: ` +
              w.map((p) => `${p.image} ${num(p.test, 2)} vs ${num(p.anchor, 2)}`).join(", "),
          );
        }
      }
      if (rows.length === 0) continue;
      md += `**${m.label}**\n\n` + table(
        ["anchor", "images", "Tessera better on", "median ratio", "Tessera mean", "anchor mean"],
        rows,
      ) + "\n";
      if (worst.length) md += `Largest ratios — ${worst.join("; ")}.\n\n`;
    }
  }
  return md;
}

function lowestTable(agg: Aggregate): string {
  return "## Lowest rate reached\n\n" + table(
    ["codec", "lowest mean bpp (point)", "lowest bpp of any image", "points"],
    agg.codecs.map((c) => [
      c.codec,
      `${num(c.lowestMeanBpp, 4)} (${c.points[0].point})`,
      num(c.lowestImageBpp, 4),
      String(c.points.length),
    ]),
  ) + "\n";
}

function timingTable(agg: Aggregate): string {
  return "## Timing\n\n" +
    "Mean wall time per image and point on this machine in this run. Anchor times include " +
    "starting the tool and temp-file I/O.\n\n" + table(
      ["codec", "encode ms", "decode ms", "encode MP/s", "decode MP/s"],
      agg.codecs.map((c) => [
        c.codec,
        num(c.encodeMs, 1),
        num(c.decodeMs, 1),
        num(c.encodeMpps, 2),
        num(c.decodeMpps, 2),
      ]),
    ) + "\n";
}

function failureSection(records: readonly ResultRecord[]): string {
  const failed = records.filter((r) => !r.ok);
  if (failed.length === 0) return "## Failures\n\nNone.\n";
  const rows = failed.slice(0, 30).map((r) => [
    r.image,
    r.codec,
    r.point,
    r.ok ? "" : r.stage,
    r.ok ? "" : r.error.replace(/\|/g, "/").slice(0, 120),
  ]);
  return `## Failures\n\n${failed.length} failed points (first 30):\n\n` +
    table(["image", "codec", "point", "stage", "error"], rows);
}

/** Aggregates the records and writes report.md, the SVG plots and the contact sheets. */
export async function writeReport(opts: ReportOptions): Promise<ReportFiles> {
  const points = new Map(opts.codecs.map((c) => [c.name, c.points]));
  for (const r of opts.records) {
    if (r.codec !== "*" && !points.has(r.codec)) points.set(r.codec, []);
  }
  for (const [name, ps] of points) {
    if (ps.length === 0) {
      const seen = [...new Set(opts.records.filter((r) => r.codec === name).map((r) => r.point))];
      points.set(name, seen);
    }
  }
  const agg = aggregate(opts.records, points);
  const hasBa = opts.butteraugli !== null &&
    opts.records.some((r) => r.ok && r.butteraugli !== undefined);
  const svgs = await plots(agg, opts.out, hasBa);
  const sheets = await contactSheets(opts, agg);
  const settings = opts.codecs.map((c) => [c.name, c.settings ?? ""]);
  let md = "# Tessera evaluation report\n\n";
  md += `Command: \`${opts.command}\`\n\n`;
  md += `Generated ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ` +
    `${navigator.hardwareConcurrency} CPU threads (${Deno.build.os}-${Deno.build.arch}, Deno ` +
    `${Deno.version.deno}). Means over ${agg.images.length} images measured by every codec at ` +
    `every point` +
    (agg.incomplete.length ? ` (${agg.incomplete.length} incomplete left out)` : "") +
    ".\n\n";
  md += "Metrics: PSNR over RGB (8-bit), MS-SSIM on RGB in [0, 255] averaged over channels " +
    "(docs/eval.md), Butteraugli: " + (opts.butteraugli ?? "not measured") +
    ". bpp = file bytes·8 " +
    "/ pixels, container included.\n\n";
  md += table(["codec", "settings"], settings) + "\n";
  md += lowestTable(agg);
  md += "## RD plots\n\n" +
    svgs.map((p) => `![${p.split("/").pop()}](${p.split("/").pop()})`).join("\n\n") + "\n\n";
  md += matchedTable(agg, opts.matchedRates ?? [0.1, 0.2, 0.5, 1], hasBa);
  md += bdSection(agg);
  md += perImageSection(agg, opts.records, hasBa);
  md += pointTables(agg, hasBa);
  md += timingTable(agg);
  md += sheets.md;
  md += failureSection(opts.records);
  const report = `${opts.out}/report.md`;
  await Deno.writeTextFile(report, md);
  return { report, plots: svgs, sheets: sheets.files };
}

/** Re-exported for callers that only want the numbers. */
export type { Aggregate, CodecSummary };
