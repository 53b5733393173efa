/**
 * Builds the browser demo into `web/dist/`: bundles the page scripts from the same `src/` modules
 * the CLI uses (`deno bundle --platform browser`; WGSL shaders come along as text imports),
 * copies the static files, links the weights that exist into `dist/weights/` and writes
 * `models.json`, the list of models the page offers and whether their weights are present.
 *
 * `deno run -A web/build.ts [--minify]`; `deno task web` builds and serves.
 * @module
 */
import { DEFAULT_MODEL } from "../src/api.ts";

const WEB = new URL("./", import.meta.url);
const ROOT = new URL("../", WEB);

/** Page scripts bundled to `<name>.js`. */
export const ENTRIES = ["app.ts", "selftest.ts", "sw.ts"] as const;
/** Files copied as they are. */
export const STATIC = ["index.html", "selftest.html", "style.css", "icon.svg"] as const;

/** One entry of `models.json`. */
export interface ModelEntry {
  /** Model name, e.g. `"progic-test"`. */
  readonly name: string;
  /** Weights path relative to the page, or null when the weights were missing at build time. */
  readonly url: string | null;
  /** Weights size in bytes (0 when missing). */
  readonly bytes: number;
  /** SHA-256 of the weights file, hex (empty when missing); versions the page's cache. */
  readonly sha256: string;
  /** True for the model the page selects first when its weights exist. */
  readonly default: boolean;
}

/** Options of {@link build}. */
export interface BuildOptions {
  /** Output folder (default `web/dist/`). */
  readonly outDir?: string | URL;
  /** Minify the bundles. */
  readonly minify?: boolean;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** What {@link build} produced. */
export interface BuildResult {
  /** The output folder. */
  readonly outDir: URL;
  /** The models the page offers. */
  readonly models: readonly ModelEntry[];
  /** Wall time of the build, ms. */
  readonly ms: number;
}

/** Builds the demo; throws with deno bundle's output when bundling fails. */
export async function build(options: BuildOptions = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const out = toDirUrl(options.outDir ?? new URL("dist/", WEB));
  const log = options.log ?? (() => {});
  await Deno.remove(out, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  await Deno.mkdir(new URL("weights/", out), { recursive: true });

  const args = ["bundle", "--quiet", "--platform", "browser", "--format", "esm"];
  if (options.minify) args.push("--minify");
  args.push("--outdir", path(out), ...ENTRIES.map((e) => path(new URL(e, WEB))));
  const res = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: path(ROOT),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!res.success) {
    const dec = new TextDecoder();
    throw new Error(
      `deno bundle failed (exit ${res.code}):\n${dec.decode(res.stdout)}${dec.decode(res.stderr)}`,
    );
  }
  for (const e of ENTRIES) {
    const js = new URL(e.replace(/\.ts$/, ".js"), out);
    const text = await Deno.readTextFile(js);
    const deno = /\bDeno\.[a-z]\w*/.exec(text);
    if (deno) {
      throw new Error(`${e}: the bundle uses a Deno API (${deno[0]}); pages get web APIs only`);
    }
  }
  for (const f of STATIC) await Deno.copyFile(new URL(f, WEB), new URL(f, out));

  const models = await linkWeights(new URL("weights/", out));
  await Deno.writeTextFile(new URL("models.json", out), JSON.stringify(models, null, 2) + "\n");
  for (const m of models) {
    log(m.url ? `model ${m.name}: ${m.bytes} bytes` : `model ${m.name}: weights missing`);
  }
  return { outDir: out, models, ms: performance.now() - t0 };
}

/** Links (or copies) every `weights/*.safetensors` into the output; lists them with the default. */
async function linkWeights(dest: URL): Promise<ModelEntry[]> {
  const src = new URL("weights/", ROOT);
  const names: string[] = [];
  for await (const e of Deno.readDir(src)) {
    const m = /^([a-z0-9-]+)\.safetensors$/.exec(e.name);
    if (e.isFile && m) names.push(m[1]);
  }
  names.sort();
  const models: ModelEntry[] = [];
  for (const name of names) {
    const file = `${name}.safetensors`;
    try {
      await Deno.link(path(new URL(file, src)), path(new URL(file, dest)));
    } catch {
      await Deno.copyFile(new URL(file, src), new URL(file, dest));
    }
    const bytes = await Deno.readFile(new URL(file, src));
    models.push({
      name,
      url: `weights/${file}`,
      bytes: bytes.length,
      sha256: await sha256(bytes),
      default: name === DEFAULT_MODEL,
    });
  }
  if (!names.includes(DEFAULT_MODEL)) {
    models.unshift({ name: DEFAULT_MODEL, url: null, bytes: 0, sha256: "", default: true });
  }
  return models;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A file URL as a path. */
function path(u: URL): string {
  return decodeURIComponent(u.pathname);
}

function toDirUrl(p: string | URL): URL {
  const u = typeof p === "string" ? new URL(p, `file://${Deno.cwd()}/`) : p;
  return u.href.endsWith("/") ? u : new URL(u.href + "/");
}

if (import.meta.main) {
  const r = await build({ minify: Deno.args.includes("--minify"), log: console.log });
  console.log(`built ${path(r.outDir)} in ${(r.ms / 1000).toFixed(1)} s`);
}
