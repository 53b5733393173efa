/**
 * The `tessera` command line: `encode`, `decode` and `info`. Run through mod.ts
 * (`deno run -A mod.ts encode in.png -o out.tsr`). Exit codes follow sysexits(3).
 * @module
 */
import { decode, encode, inspect, loadModel, type Model, weightsUrl } from "./src/api.ts";
import { TesseraError, WeightsError } from "./src/errors.ts";
import { decodeImage, encodePng } from "./src/io/image.ts";
import { VQ_MAX_BEAMS } from "./src/ops/vq.ts";
import denoJson from "./deno.json" with { type: "json" };

/** Exit codes (sysexits). */
export const EXIT = {
  ok: 0,
  usage: 64,
  data: 65,
  noInput: 66,
  unavailable: 69,
  software: 70,
  cantCreate: 73,
} as const;

const USAGE = `tessera ${denoJson.version} — generative image compression on WebGPU

Usage:
  tessera encode <image.png|jpg> -o <out.tsr> [--stages K | --bpp X | --max-bytes N]
                 [--beams B] [--rate-weight L] [--refine R] [--no-steer] [--presmoothing S]
                 [--pad]
                 [--model NAME] [--background white|black|RRGGBB] [--force] [--cpu]
  tessera decode <in.tsr> -o <out.png> [--stages K] [--smoothing S] [--best-effort] [--force]
                 [--cpu]
  tessera info <in.tsr>

  A path "-" is standard input (the image or stream) or standard output (-o -).

  --stages K      progressive stages to write / decode (1…5; each adds ≤ 0.039 bpp)
  --bpp X         the most stages whose rate stays within X bits per pixel
  --max-bytes N   fit the whole file in N bytes, downscaling when needed
  --beams B       index search width 1…8 (default 8; 1 = greedy, fastest): ~same size,
                  better quality on average at the written stages, slower encoding
  --rate-weight L weight of a bit against the latent's error when choosing among the
                  search's paths (default 0.3; 0: the least error): cheaper indices,
                  whose saved bits the refinement spends
  --refine R      refinement codes after stage 5, where the error is most visible: "auto"
                  (default) fills the room --bpp / --max-bytes leave, or up to stage 5's
                  fixed-length size (0.195 bpp) without them; a number is the mean count per
                  16×16 block (0…8 with both shipped models; 0: none)
  --no-steer      give refinement codes where the latent's error is largest instead of where
                  the decoded image differs most visibly (a fitted Butteraugli model; one
                  decoder run less)
  --presmoothing S  encoder pre-filter strength 0…1 (default 1): a light blur before
                  encoding that lowers Butteraugli for a little PSNR; 0 turns it off
  --pad           pad every side to a multiple of 16 instead of shrinking one that is 1–4
                  pixels past it (481 → 480, enlarged back on decode)
  --smoothing S   decoder post-filter strength 0…1 (default 0.75): a light blur of the
                  decoded image; 0 keeps the network's output as it is
  --model NAME    model to encode with (default progic-t); decode reads it from the file
  --background C  flatten transparent images onto this colour (default: refuse them)
  --best-effort   decode the intact stages of a damaged file
  --force         overwrite an existing output file
  --cpu           run on the CPU reference backend (slow; no WebGPU needed)

Exit codes: 0 ok, 64 usage, 65 bad input data, 66 input missing, 69 WebGPU or weights
unavailable, 73 output exists or cannot be written.`;

class UsageError extends Error {}

interface Args {
  cmd: string;
  input?: string;
  output?: string;
  flags: Map<string, string | true>;
}

const VALUED = new Set([
  "-o",
  "--output",
  "--stages",
  "--bpp",
  "--max-bytes",
  "--beams",
  "--rate-weight",
  "--refine",
  "--presmoothing",
  "--smoothing",
  "--model",
  "--background",
]);
const BOOLEAN = new Set([
  "--force",
  "--cpu",
  "--best-effort",
  "--pad",
  "--no-steer",
  "--help",
  "-h",
  "--version",
  "--quiet",
]);

function parse(argv: readonly string[]): Args {
  const flags = new Map<string, string | true>();
  const pos: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [k, inline] = a.startsWith("--") && a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    if (VALUED.has(k)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${k} needs a value`);
      flags.set(k === "--output" ? "-o" : k, v);
    } else if (BOOLEAN.has(k)) flags.set(k, true);
    else if (a.startsWith("-") && a !== "-") throw new UsageError(`unknown option ${a}`);
    else pos.push(a);
  }
  return { cmd: pos[0] ?? "", input: pos[1], output: flags.get("-o") as string | undefined, flags };
}

function num(flags: Map<string, string | true>, k: string, integer: boolean): number | undefined {
  const v = flags.get(k);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n <= 0) {
    throw new UsageError(`${k} needs a positive ${integer ? "integer" : "number"}, got "${v}"`);
  }
  return n;
}

/** A flag's value in [lo, hi] (an integer when `integer`), or undefined when absent. */
function inRange(
  flags: Map<string, string | true>,
  k: string,
  lo: number,
  hi: number,
  integer: boolean,
): number | undefined {
  const v = flags.get(k);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (
    typeof v !== "string" || v.trim() === "" || !(n >= lo && n <= hi) ||
    (integer && !Number.isInteger(n))
  ) {
    throw new UsageError(
      `${k} needs ${integer ? "an integer" : "a number"} in ${lo}…${hi}, got "${v}"`,
    );
  }
  return n;
}

function colour(v: string | true | undefined): [number, number, number] | undefined {
  if (v === undefined) return undefined;
  if (v === "white") return [255, 255, 255];
  if (v === "black") return [0, 0, 0];
  const m = typeof v === "string" ? /^#?([0-9a-f]{6})$/i.exec(v) : null;
  if (!m) throw new UsageError(`--background needs white, black or RRGGBB, got "${v}"`);
  const n = parseInt(m[1], 16);
  return [n >> 16, (n >> 8) & 255, n & 255];
}

async function readInput(path: string | undefined, what: string): Promise<Uint8Array> {
  if (!path) throw new UsageError(`missing ${what} file`);
  if (path === STDIO) {
    if (Deno.stdin.isTerminal()) throw new UsageError(`${what} "-" reads a pipe, not a terminal`);
    const bytes = new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
    if (bytes.length === 0) throw new CliError(EXIT.noInput, `no ${what} on standard input`);
    return bytes;
  }
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(EXIT.noInput, `${path}: no such file`);
    }
    throw new CliError(EXIT.noInput, `${path}: ${(e as Error).message}`);
  }
}

/** The path that means standard input (as the input) or standard output (as `-o`). */
const STDIO = "-";

class CliError extends Error {
  constructor(readonly exit: number, message: string) {
    super(message);
  }
}

/** What is at a path, or null where nothing can be found. */
function statOrNull(path: string | URL): Promise<Deno.FileInfo | null> {
  return Deno.stat(path).catch(() => null);
}

/** Names of the weights files beside the code (those `--model` can load). */
async function shippedModels(): Promise<string[]> {
  const names: string[] = [];
  const dir = new URL(".", weightsUrl("x"));
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".safetensors")) names.push(e.name.slice(0, -12));
  }
  return names.sort();
}

/** Refuses an output path before any work is done: a folder, a file without --force, or a path in a
 * folder that does not exist. `writeOutput` checks again (atomically) when it writes. */
async function checkOutput(path: string, force: boolean): Promise<void> {
  if (path === STDIO) {
    if (Deno.stdout.isTerminal()) {
      throw new UsageError("-o - writes binary data to a pipe or file, not to a terminal");
    }
    return;
  }
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return; // writeOutput reports it
    const folder = path.replace(/[\\/][^\\/]*$/, "") || "/";
    if (folder !== path && !(await statOrNull(folder))?.isDirectory) {
      throw new CliError(EXIT.cantCreate, `cannot write ${path}: folder ${folder} does not exist`);
    }
    return;
  }
  if (stat.isDirectory) throw new CliError(EXIT.cantCreate, `${path} is a folder, not a file`);
  if (!force) throw new CliError(EXIT.cantCreate, `${path} exists; pass --force to overwrite it`);
}

/** Writes via a temporary file, then links it into place: an existing file is never clobbered unless forced. */
async function writeOutput(
  path: string | undefined,
  data: Uint8Array,
  force: boolean,
): Promise<void> {
  if (!path) throw new UsageError("missing -o <output>");
  if (path === STDIO) {
    const w = Deno.stdout.writable.getWriter();
    await w.write(data);
    w.releaseLock();
    return;
  }
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.writeFile(tmp, data, { createNew: true });
    if (force) await Deno.rename(tmp, path);
    else {
      try {
        await Deno.link(tmp, path);
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) {
          throw new CliError(EXIT.cantCreate, `${path} exists; pass --force to overwrite it`);
        }
        throw e;
      }
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(EXIT.cantCreate, `cannot write ${path}: ${(e as Error).message}`);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

function fmtBytes(n: number): string {
  return n < 10240 ? `${n} B` : `${(n / 1024).toFixed(1)} KiB`;
}

/** Runs the CLI; returns the exit code. Output goes to the given writers (stderr for logs). */
export async function main(
  argv: readonly string[],
  out: (s: string) => void = console.log,
  log: (s: string) => void = console.error,
): Promise<number> {
  const t0 = performance.now();
  try {
    const a = parse(argv);
    if (a.flags.has("--help") || a.flags.has("-h") || a.cmd === "help") {
      out(USAGE);
      return EXIT.ok;
    }
    if (a.flags.has("--version")) {
      out(denoJson.version);
      return EXIT.ok;
    }
    const progress = Deno.stderr.isTerminal() && !a.flags.has("--quiet")
      ? (m: string) => log(`… ${m}`)
      : undefined;
    // With the data on standard output, the statistics go to standard error.
    const stats = a.output === STDIO ? log : out;
    const shownOutput = a.output === STDIO ? "(standard output)" : a.output;
    const backend = a.flags.has("--cpu") ? "cpu" as const : "webgpu" as const;
    const force = a.flags.has("--force");
    switch (a.cmd) {
      case "encode": {
        if (!a.output) throw new UsageError("missing -o <out.tsr>");
        const modes = ["--stages", "--bpp", "--max-bytes"].filter((k) => a.flags.has(k));
        if (modes.length > 1) throw new UsageError(`${modes.join(" and ")} cannot be combined`);
        const options = {
          stages: num(a.flags, "--stages", true),
          bpp: num(a.flags, "--bpp", false),
          maxBytes: num(a.flags, "--max-bytes", true),
          beams: inRange(a.flags, "--beams", 1, VQ_MAX_BEAMS, true),
          rateWeight: inRange(a.flags, "--rate-weight", 0, 100, false),
          refine: a.flags.get("--refine") === "auto"
            ? "auto" as const
            : inRange(a.flags, "--refine", 0, 255, false),
          presmoothing: inRange(a.flags, "--presmoothing", 0, 1, false),
          steer: !a.flags.has("--no-steer"),
          fit: a.flags.has("--pad") ? "pad" as const : "auto" as const,
          background: colour(a.flags.get("--background")),
          onProgress: progress,
        };
        // After the options: a usage mistake is reported as one (64), not as a taken output (73).
        await checkOutput(a.output, force);
        const src = await readInput(a.input, "input image");
        const img = decodeImage(src);
        const model: Model = await loadModel({
          name: a.flags.get("--model") as string | undefined,
          backend,
        }).catch(async (e) => {
          const name = a.flags.get("--model") as string | undefined;
          if (
            !(e instanceof WeightsError) || !name || (await statOrNull(weightsUrl(name)))?.isFile
          ) throw e;
          throw new WeightsError(
            `no model "${name}"; shipped models: ${(await shippedModels()).join(", ")}`,
            { cause: e },
          );
        });
        progress?.(`${model.name} on ${model.adapter?.description ?? "CPU reference backend"}`);
        const r = await encode(img, { ...options, model });
        await writeOutput(a.output, r.bytes, force);
        const scaled = r.codedWidth !== img.width || r.codedHeight !== img.height
          ? `, coded at ${r.codedWidth}×${r.codedHeight}`
          : "";
        stats(
          `${shownOutput}: ${fmtBytes(r.bytes.length)}, ${
            r.bpp.toFixed(4)
          } bpp, ${r.stages} stage(s)${
            r.refinementCodes ? ` + ${r.refinementCodes} refinement codes` : ""
          }${scaled}, ` +
            `${img.width}×${img.height}, model ${r.model}, ${
              ((performance.now() - t0) / 1000).toFixed(2)
            } s`,
        );
        return EXIT.ok;
      }
      case "decode": {
        if (!a.output) throw new UsageError("missing -o <out.png>");
        const stages = num(a.flags, "--stages", true);
        const smoothing = inRange(a.flags, "--smoothing", 0, 1, false);
        await checkOutput(a.output, force);
        const src = await readInput(a.input, "input stream");
        const info = inspect(src);
        const model = await loadModel({ name: info.model, backend });
        progress?.(`${model.name} on ${model.adapter?.description ?? "CPU reference backend"}`);
        const r = await decode(src, {
          model,
          stages,
          smoothing,
          bestEffort: a.flags.has("--best-effort"),
        });
        if (r.warning) log(`warning: ${r.warning}`);
        await writeOutput(a.output, encodePng(r.image), force);
        stats(
          `${shownOutput}: ${r.image.width}×${r.image.height}, ${r.stages} of ${r.stagesWritten} stage(s)${
            r.refinementCodes ? ` + ${r.refinementCodes} refinement codes` : ""
          }, ` +
            `${((performance.now() - t0) / 1000).toFixed(2)} s`,
        );
        return EXIT.ok;
      }
      case "info": {
        const i = inspect(await readInput(a.input, "input stream"));
        out(
          [
            `codec        ${i.codec}`,
            `model        ${i.model} (weights ${i.weightsHash}…)`,
            `size         ${i.width}×${i.height}` +
            (i.codedWidth !== i.width || i.codedHeight !== i.height
              ? `, coded at ${i.codedWidth}×${i.codedHeight}`
              : ""),
            `stages       ${i.stagesPresent} of ${i.stages} present`,
            ...(i.refined
              ? [`refinement   ${i.refinementPresent ? "present" : "written, missing"}`]
              : []),
            `file         ${i.bytes} bytes, ${i.bpp.toFixed(4)} bpp`,
            `segments     ${
              i.segmentBytes.map((n, k) => `${n} (${i.stageCoding[k] ?? "refinement"})`).join(", ")
            } bytes`,
          ].join("\n"),
        );
        return EXIT.ok;
      }
      default:
        throw new UsageError(a.cmd ? `unknown command "${a.cmd}"` : "no command given");
    }
  } catch (e) {
    if (e instanceof UsageError) {
      log(`tessera: ${e.message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    if (e instanceof CliError) {
      log(`tessera: ${e.message}`);
      return e.exit;
    }
    if (e instanceof TesseraError) {
      log(`tessera: ${e.message}`);
      return ["WEBGPU_UNAVAILABLE", "WEIGHTS", "DEVICE_LOST"].includes(e.code)
        ? EXIT.unavailable
        : ["DEVICE_LIMIT"].includes(e.code)
        ? EXIT.software
        : e.code === "INVALID_ARGUMENT" // an option the model cannot honour (e.g. --refine 9)
        ? EXIT.usage
        : EXIT.data;
    }
    log(`tessera: internal error: ${(e as Error)?.stack ?? e}`);
    return EXIT.software;
  }
}
