/**
 * ProGIC quality per progressive stage on bsds500/test through the real TypeScript codec, and a
 * contact sheet (issue 5, "Benchmarks").
 *
 *   deno run -A bench/progic/quality.ts [--model progic-t] [--data DIR] [--limit N]
 *     [--sheet N] [--crop PX] [--out FILE] [--png FILE]
 *
 * Each image is encoded once (all stages); for every stage count k the k-stage stream is
 * written exactly as `encode --stages k` writes it (container included), decoded with
 * `codec.decode`, and measured: bpp from the stream's size, PSNR and MS-SSIM (src/metrics, RGB,
 * 8-bit). The contact sheet shows, for the first N images, the original and stages 1, 3 and 5
 * side by side (centre crops of PX pixels, 0 = whole images).
 * @module
 */
import { loadModel } from "../../src/api.ts";
import { encodePng, type RgbImage } from "../../src/io/image.ts";
import { msSsim, psnr } from "../../src/metrics/mod.ts";
import { crop, hstack } from "../eval/report.ts";
import { listImages, loadImage } from "../eval/runner.ts";
import { intFlag, parseFlags, strFlag } from "./cli.ts";

const HELP = `usage: deno run -A bench/progic/quality.ts [options]
  --model NAME   shipped model (default progic-t)
  --data DIR     test images (default ../shared/data/bsds500/test)
  --limit N      only the first N images by name (default: all)
  --sheet N      images on the contact sheet (default 3; 0 = none)
  --crop PX      centre crop of each sheet tile (default 256; 0 = whole image)
  --out FILE     Markdown table (default bench/progic/quality.md; "-" = stdout only)
  --png FILE     contact sheet (default bench/progic/contact_sheet.png)`;

/** Stages shown on the contact sheet after the original. */
const SHEET_STAGES = [1, 3, 5];

const flags = parseFlags(
  Deno.args,
  ["model", "data", "limit", "sheet", "crop", "out", "png"],
  [],
  HELP,
);
const opts = {
  model: strFlag(flags, "model", "progic-t"),
  data: strFlag(flags, "data"),
  limit: flags.limit === undefined ? undefined : intFlag(flags, "limit", 0, 1),
  sheet: intFlag(flags, "sheet", 3),
  crop: intFlag(flags, "crop", 256),
  out: strFlag(flags, "out", here("./quality.md")),
  png: strFlag(flags, "png", here("./contact_sheet.png")),
};
const log = (s: string) => console.error(s);
const dataDir = opts.data ?? here("../../../shared/data/bsds500/test");
const names = await listImages(dataDir, opts.limit);
if (!names.length) throw new Error(`no images in ${dataDir}`);

const started = performance.now();
const model = await loadModel({ name: opts.model });
const codec = model.codec;
const cfg = codec.config;
const n = cfg.stages;
const sum = Array.from({ length: n }, () => ({ bpp: 0, psnr: 0, msssim: 0 }));
const sheetRows: RgbImage[] = [];
const refined: boolean[] = Array(n).fill(false);

for (const [i, name] of names.entries()) {
  const t0 = performance.now();
  const img = await loadImage(`${dataDir}/${name}`);
  const tiles: RgbImage[] = [img];
  const line: string[] = [];
  for (let k = 1; k <= n; k++) {
    // a k-stage stream as `encode --stages k` writes it (the default search aims at stage k)
    const { bytes } = await codec.encode(img, { stages: k });
    const dec = await codec.decode(bytes);
    if (dec.stages !== k) throw new Error(`${name}: a ${k}-stage stream decoded ${dec.stages}`);
    // at k = N the default stream carries refinement codes after the stages
    if (dec.refinementCodes) refined[k - 1] = true;
    const q = {
      bpp: (bytes.length * 8) / (img.width * img.height),
      psnr: psnr(img, dec.image),
      msssim: msSsim(img, dec.image),
    };
    sum[k - 1].bpp += q.bpp;
    sum[k - 1].psnr += q.psnr;
    sum[k - 1].msssim += q.msssim;
    line.push(`s${k} ${q.bpp.toFixed(3)} bpp ${q.psnr.toFixed(2)} dB ${q.msssim.toFixed(4)}`);
    if (SHEET_STAGES.includes(k)) tiles.push(dec.image);
  }
  if (i < opts.sheet) sheetRows.push(hstack(tiles.map((t) => crop(t, opts.crop))));
  log(
    `[${i + 1}/${names.length}] ${name} (${((performance.now() - t0) / 1e3).toFixed(1)} s): ${
      line.join("; ")
    }`,
  );
}

const md = report();
if (opts.out !== "-") {
  await Deno.writeTextFile(opts.out, md);
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", opts.out] }).output()
    .catch(() => {});
  log(`wrote ${opts.out}`);
}
console.log(md);
if (sheetRows.length) {
  await Deno.writeFile(opts.png, encodePng(vstack(sheetRows)));
  log(`wrote ${opts.png} (${sheetRows.length} images: original | stages ${SHEET_STAGES})`);
}

// ----------------------------------------------------------------

function here(p: string): string {
  return new URL(p, import.meta.url).pathname;
}

/** Rows stacked top to bottom on white, each left-aligned. */
function vstack(rows: readonly RgbImage[], gap = 6): RgbImage {
  const width = Math.max(...rows.map((r) => r.width));
  const height = rows.reduce((s, r) => s + r.height, 0) + gap * (rows.length - 1);
  const data = new Uint8Array(width * height * 3).fill(255);
  let y0 = 0;
  for (const r of rows) {
    for (let y = 0; y < r.height; y++) {
      data.set(r.data.subarray(y * r.width * 3, (y + 1) * r.width * 3), (y0 + y) * width * 3);
    }
    y0 += r.height + gap;
  }
  return { width, height, data };
}

/** One entry of a manifest's quality table (`refined`: stage N with the default refinement). */
interface TwinEntry {
  stage: number;
  refined?: boolean;
  psnr: number;
  ms_ssim: number;
}

/** The manifest's numbers (the PyTorch twin's evaluation at export), when it has them. */
function twinQuality(): { images: number; stages: TwinEntry[] } | null {
  try {
    const m = JSON.parse(Deno.readTextFileSync(here(`../../weights/${opts.model}.json`)));
    return Array.isArray(m.quality?.stages) ? m.quality : null;
  } catch {
    return null;
  }
}

function report(): string {
  const cnt = names.length;
  const twin = twinQuality();
  const a = model.adapter;
  const L = [
    `# ProGIC quality per stage: ${cfg.name} on bsds500/test`,
    "",
    `- Command: \`${`deno run -A bench/progic/quality.ts ${Deno.args.join(" ")}`.trim()}\``,
    `- ${cnt} image(s) from ${dataDir} (first ${cnt} by name); weights sha256 ${
      model.sha256.slice(0, 12)
    }…; adapter "${a?.description ?? "cpu"}"; ${
      ((performance.now() - started) / 1e3).toFixed(0)
    } s in all.`,
    "- Through the TypeScript codec: for each k the k-stage stream exactly as `encode --stages k` " +
    "writes it (the codec's defaults: grid fit, pre-filter, beam search aimed at stage k and its rate-aware path choice), " +
    "decoded by `codec.decode`. bpp = stream bytes (container included) × 8 ÷ pixels; PSNR " +
    "(RGB, 8-bit) and MS-SSIM (RGB mean) from src/metrics; means over the images.",
  ];
  if (twin) {
    L.push(
      `- "twin" columns: the PyTorch twin's evaluation in weights/${opts.model}.json ` +
        `(${twin.images} images, index-only bpp), for comparison.`,
    );
  }
  L.push("");
  L.push(
    `| stage | bpp | PSNR dB | MS-SSIM |${twin ? " twin PSNR | twin MS-SSIM |" : ""}`,
    `|--:|--:|--:|--:|${twin ? "--:|--:|" : ""}`,
  );
  sum.forEach((s, k) => {
    const t = twin?.stages.find((e) => e.stage === k + 1 && !!e.refined === refined[k]);
    L.push(
      `| ${k + 1}${refined[k] ? " + refinement" : ""} | ${(s.bpp / cnt).toFixed(4)} | ${
        (s.psnr / cnt).toFixed(2)
      } | ${(s.msssim / cnt).toFixed(4)} |${
        t ? ` ${t.psnr.toFixed(2)} | ${t.ms_ssim.toFixed(4)} |` : ""
      }`,
    );
  });
  L.push("");
  return L.join("\n");
}
