/**
 * The evaluation loop: every image × codec × operating point is encoded, decoded and measured,
 * and each result is appended to `results.jsonl` as soon as it exists. Points already measured
 * successfully are skipped, so an interrupted run resumes; a failure is recorded for its image
 * and point and the run goes on.
 * @module
 */
import { decodeImage, type RgbImage, toRgb } from "../../src/io/image.ts";
import { msSsim, psnr } from "../../src/metrics/mod.ts";
import type { Butteraugli } from "./butteraugli.ts";
import { type Codec, type FailedStage, type OkRecord, recordKey } from "./codec.ts";
import { decodePnm } from "./pnm.ts";
import { latestRecords, readRecords, RecordWriter } from "./results.ts";

/** Image file extensions the harness reads. */
export const IMAGE_EXTENSIONS: readonly string[] = ["png", "jpg", "jpeg", "ppm", "pgm"];

/** The image files of a folder (not recursive), sorted by name, at most `limit` of them. */
export async function listImages(dir: string, limit?: number): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const ext = e.name.split(".").pop()?.toLowerCase() ?? "";
    if (e.isFile && IMAGE_EXTENSIONS.includes(ext)) names.push(e.name);
  }
  names.sort();
  return limit !== undefined ? names.slice(0, limit) : names;
}

/** Reads an image file (PNG, JPEG or binary PNM) as RGB; gray is replicated. */
export async function loadImage(path: string): Promise<RgbImage> {
  const bytes = await Deno.readFile(path);
  if (bytes[0] === 0x50 && (bytes[1] === 0x35 || bytes[1] === 0x36)) return decodePnm(bytes);
  return toRgb(decodeImage(bytes));
}

/** Progress and failure messages. */
export type Logger = (message: string) => void;

/** Settings of {@link evaluate}. */
export interface EvaluateOptions {
  /** Folder of the images. */
  data: string;
  /** Image file names to evaluate (from {@link listImages}). */
  images: readonly string[];
  /** Codecs to run. */
  codecs: readonly Codec[];
  /** Path of the JSON-lines results file (appended to). */
  results: string;
  /** Butteraugli tool, or null to skip that metric. */
  butteraugli: Butteraugli | null;
  /** Images evaluated concurrently (default 1). */
  jobs?: number;
  /** Where progress goes (default: stderr). */
  log?: Logger;
}

/** Counts of one {@link evaluate} run. */
export interface EvaluateSummary {
  /** Points measured in this run. */
  measured: number;
  /** Points skipped because a previous run measured them. */
  skipped: number;
  /** Failures recorded in this run (load failures count once per image). */
  failed: number;
}

function message(e: unknown): string {
  return e instanceof Error ? `${e.name === "Error" ? "" : e.name + ": "}${e.message}` : String(e);
}

function stderrLogger(): Logger {
  const enc = new TextEncoder();
  return (m) => Deno.stderr.writeSync(enc.encode(m + "\n"));
}

/** Encodes, decodes and measures one point; throws with the failing stage attached. */
async function measure(
  image: string,
  ref: RgbImage,
  codec: Codec,
  point: string,
  butteraugli: Butteraugli | null,
): Promise<OkRecord> {
  let stage: FailedStage = "encode";
  try {
    let t = performance.now();
    const bytes = await codec.encode(ref, point);
    const encodeMs = performance.now() - t;
    if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
      throw new Error("encoder gave no bytes");
    }
    stage = "decode";
    t = performance.now();
    const out = await codec.decode(bytes);
    const decodeMs = performance.now() - t;
    if (out.width !== ref.width || out.height !== ref.height) {
      throw new Error(`decoded ${out.width}×${out.height}, expected ${ref.width}×${ref.height}`);
    }
    if (out.data.length !== ref.data.length) {
      throw new Error(`decoded ${out.data.length} samples, expected ${ref.data.length} (RGB)`);
    }
    stage = "metrics";
    const px = ref.width * ref.height;
    const rec: OkRecord = {
      image,
      codec: codec.name,
      point,
      ok: true,
      width: ref.width,
      height: ref.height,
      bytes: bytes.length,
      bpp: (bytes.length * 8) / px,
      psnr: psnr(ref, out),
      msssim: msSsim(ref, out),
      encodeMs: Math.round(encodeMs * 10) / 10,
      decodeMs: Math.round(decodeMs * 10) / 10,
    };
    if (butteraugli) {
      try {
        const b = await butteraugli.measure(ref, out);
        rec.butteraugli = b.max;
        if (b.pnorm3 !== undefined) rec.butteraugli3 = b.pnorm3;
      } catch (e) {
        rec.butteraugliError = message(e).slice(0, 300);
      }
    }
    return rec;
  } catch (e) {
    throw Object.assign(new Error(message(e)), { stage });
  }
}

/**
 * Runs every missing (image, codec, point) and appends the records to `opts.results`.
 * Failures are logged and recorded per image and point; they never stop the run.
 */
export async function evaluate(opts: EvaluateOptions): Promise<EvaluateSummary> {
  const log = opts.log ?? stderrLogger();
  const done = new Set(
    latestRecords(await readRecords(opts.results)).filter((r) => r.ok).map(recordKey),
  );
  const writer = await RecordWriter.open(opts.results);
  const summary: EvaluateSummary = { measured: 0, skipped: 0, failed: 0 };
  const total = opts.images.length;
  const started = performance.now();
  let finished = 0, worked = 0, next = 0;

  const one = async (image: string): Promise<void> => {
    const todo = opts.codecs.flatMap((c) =>
      c.points.filter((p) => !done.has(recordKey({ image, codec: c.name, point: p }))).map((
        p,
      ) => [c, p] as const)
    );
    const all = opts.codecs.reduce((s, c) => s + c.points.length, 0);
    summary.skipped += all - todo.length;
    if (todo.length === 0) return;
    let ref: RgbImage;
    try {
      ref = await loadImage(`${opts.data}/${image}`);
    } catch (e) {
      summary.failed++;
      log(`  ${image}: cannot load: ${message(e)}`);
      await writer.append({
        image,
        codec: "*",
        point: "*",
        ok: false,
        stage: "load",
        error: message(e),
      });
      return;
    }
    for (const [codec, point] of todo) {
      try {
        await writer.append(await measure(image, ref, codec, point, opts.butteraugli));
        summary.measured++;
      } catch (e) {
        summary.failed++;
        const stage = (e as { stage?: FailedStage }).stage ?? "encode";
        log(`  ${image}: ${codec.name} ${point}: ${stage} failed: ${message(e)}`);
        await writer.append({
          image,
          codec: codec.name,
          point,
          ok: false,
          stage,
          error: message(e),
        });
      }
    }
  };

  const worker = async (): Promise<void> => {
    while (next < total) {
      const image = opts.images[next++];
      const t = performance.now();
      const before = summary.measured + summary.failed;
      await one(image);
      finished++;
      if (summary.measured + summary.failed > before) worked++;
      // ETA from the images that needed work (resumed ones take no time).
      const elapsed = (performance.now() - started) / 1000;
      const eta = worked ? (elapsed / worked) * (total - finished) : 0;
      log(
        `[${finished}/${total}] ${image} ${((performance.now() - t) / 1000).toFixed(1)} s` +
          ` · elapsed ${elapsed.toFixed(0)} s · eta ${eta.toFixed(0)} s` +
          ` · measured ${summary.measured}, skipped ${summary.skipped}, failed ${summary.failed}`,
      );
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.jobs ?? 1) }, worker));
  } finally {
    await writer.close();
  }
  return summary;
}
