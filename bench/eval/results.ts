/**
 * `results.jsonl`: one JSON record per line, appended as each measurement finishes, read back
 * to resume a run and to build the report. Non-finite numbers (PSNR ∞ of a lossless point) are
 * written as the strings "Infinity", "-Infinity" and "NaN" and turned back into numbers on read.
 * @module
 */
import { recordKey, type ResultRecord } from "./codec.ts";

const NUMERIC = new Set(["psnr", "msssim", "butteraugli", "butteraugli3", "bpp"]);

/** Serialises one record as a JSON line (with the trailing newline). */
export function recordLine(r: ResultRecord): string {
  return JSON.stringify(
    r,
    (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v),
  ) +
    "\n";
}

/** Parses one line; null for a blank or malformed line (e.g. cut short by a crash). */
export function parseRecordLine(line: string): ResultRecord | null {
  if (!line.trim()) return null;
  try {
    const r = JSON.parse(line, (k, v) => (NUMERIC.has(k) && typeof v === "string" ? Number(v) : v));
    if (
      typeof r?.image !== "string" || typeof r?.codec !== "string" || typeof r?.ok !== "boolean"
    ) {
      return null;
    }
    return r as ResultRecord;
  } catch {
    return null;
  }
}

/** Every record of a results file, in file order; an absent file gives none. */
export async function readRecords(path: string): Promise<ResultRecord[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return text.split("\n").map(parseRecordLine).filter((r): r is ResultRecord => r !== null);
}

/** The last record of every (image, codec, point): later lines supersede earlier ones. */
export function latestRecords(records: readonly ResultRecord[]): ResultRecord[] {
  const m = new Map<string, ResultRecord>();
  for (const r of records) {
    const k = recordKey(r);
    m.delete(k);
    m.set(k, r);
  }
  return [...m.values()];
}

/** Appends records to a results file, one line each; safe across concurrent callers. */
export class RecordWriter {
  #file: Deno.FsFile;
  #queue: Promise<void> = Promise.resolve();

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** Opens `path` for appending, first ending a line that a crash left unterminated. */
  static async open(path: string): Promise<RecordWriter> {
    let needsNewline = false;
    try {
      const text = await Deno.readTextFile(path);
      needsNewline = text.length > 0 && !text.endsWith("\n");
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const file = await Deno.open(path, { append: true, create: true });
    const w = new RecordWriter(file);
    if (needsNewline) await w.#write("\n");
    return w;
  }

  #write(text: string): Promise<void> {
    const bytes = new TextEncoder().encode(text);
    this.#queue = this.#queue.then(async () => {
      let off = 0;
      while (off < bytes.length) off += await this.#file.write(bytes.subarray(off));
    });
    return this.#queue;
  }

  /** Appends one record and waits until it is written. */
  append(r: ResultRecord): Promise<void> {
    return this.#write(recordLine(r));
  }

  /** Waits for pending writes and closes the file. */
  async close(): Promise<void> {
    await this.#queue;
    this.#file.close();
  }
}
