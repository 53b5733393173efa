// The browser demo (web/) and the engine in a real headless Chromium, driven from this Deno test
// by puppeteer-core (npm, run under Deno) against the system's chromium with WebGPU on
// (`--enable-unsafe-webgpu`: Chromium's SwiftShader adapter, ~0.3 GFLOP/s, hence tiny images).
// The page is the built demo served on 127.0.0.1; every check waits on the page's own state
// (`body[data-state]`), never on --dump-dom.
//
// Skips, saying why, where no Chromium is installed (`apt-get install chromium`; CHROMIUM=path
// picks another) or it cannot start. TESSERA_SCREENSHOT=path also encodes a photo
// (TESSERA_SCREENSHOT_IMAGE, default the test image) with the shipped model in the demo and saves
// a screenshot there: that is how web/screenshot.png is made.
import type { Browser, ElementHandle, Page } from "npm:puppeteer-core@24.43.1";
import { loadModel } from "../src/api.ts";
import type { Backend } from "../src/graph/backend.ts";
import { cpuBackend } from "../src/graph/cpu_backend.ts";
import { decodeImage, encodePng, type RgbImage } from "../src/io/image.ts";
import { toPaddedTensor } from "../src/io/resample.ts";
import { readProgic } from "../src/models/progic/bitstream.ts";
import { encoderGraph } from "../src/models/progic/network.ts";
import { build } from "../web/build.ts";
import { serveStatic, type StaticServer } from "../web/serve.ts";
import type { SelfTestReport } from "../web/selftest.ts";
import { assert, assertEquals } from "./assert.ts";
import { HAS_GPU } from "./harness.ts";

const ROOT = new URL("../", import.meta.url);
const MODEL = "progic-test";
/** Decoded pixels of one stream, page (SwiftShader) vs CLI (llvmpipe or CPU): float rounding. */
const PIXEL_TOL = 2;
/** Index flips allowed between the page's and Deno's streams (each at a near-tie of the reference). */
const MAX_NEAR_TIES = 2;
/** A near-tie: best and second-best codes closer than this in the float64 CPU reference. */
const NEAR_TIE_GAP = 1e-3;
const WAIT = { timeout: 240_000 };

/** Flags for a headless Chromium on a machine without network (no background connections). */
const FLAGS = [
  "--no-sandbox",
  "--disable-dev-shm-usage",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--disable-default-apps",
  "--disable-extensions",
];

function findChromium(): string | null {
  const env = Deno.env.get("CHROMIUM");
  const candidates = env ? [env] : [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
  ];
  for (const p of candidates) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not there */ }
  }
  return null;
}

const tmp = await Deno.makeTempDir({ prefix: "tessera-browser-" });
const chromium = findChromium();

async function launch(webgpu: boolean): Promise<Browser> {
  const { default: puppeteer } = await import("npm:puppeteer-core@24.43.1");
  return await puppeteer.launch({
    executablePath: chromium!,
    headless: true,
    userDataDir: await Deno.makeTempDir({ dir: tmp, prefix: "profile-" }),
    args: [...FLAGS, ...(webgpu ? ["--enable-unsafe-webgpu"] : [])],
    timeout: 60_000,
  });
}

let skip = "";
let browser: Browser | null = null;
if (!chromium) {
  skip = Deno.env.get("CHROMIUM")
    ? `CHROMIUM=${Deno.env.get("CHROMIUM")} is not a file`
    : "no Chromium found at /usr/bin/chromium, /usr/bin/chromium-browser or " +
      "/usr/bin/google-chrome; install it with `apt-get install chromium`";
} else {
  try {
    browser = await launch(true);
  } catch (e) {
    skip = `Chromium at ${chromium} could not be started: ${(e as Error).message.split("\n")[0]}`;
  }
}
if (skip) {
  console.warn(`browser tests SKIPPED: ${skip}`);
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
globalThis.addEventListener("unload", () => browser?.process()?.kill("SIGKILL"));

// ---------------------------------------------------------------------------------------------
// Helpers

/** Runs the real CLI (`deno run -A mod.ts …`); on machines without an adapter with --cpu. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const cpu = HAS_GPU || args[0] === "info" ? [] : ["--cpu"];
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "mod.ts", ...args, ...cpu],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

async function cliOk(...args: string[]): Promise<string> {
  const r = await cli(...args);
  assertEquals(r.code, 0, `tessera ${args.join(" ")}: ${r.err}`);
  return r.out;
}

/** A 64×48 test picture: two gradients and a disc. */
function testImage(): RgbImage {
  const width = 64, height = 48, data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const disc = (x - 32) ** 2 + (y - 24) ** 2 < 200;
      data.set([x * 4, y * 5, disc ? 220 : 40], (y * width + x) * 3);
    }
  }
  return { width, height, data };
}

/** Waits until the page has finished its current action; returns the state. */
async function settled(page: Page, states = ["done", "error"]): Promise<string> {
  await page.waitForFunction(
    (s: string[]) => s.includes(document.body.dataset.state ?? ""),
    WAIT,
    states,
  );
  return await page.evaluate(() => document.body.dataset.state ?? "");
}

/** The bytes behind a download link of the page. */
async function linkBytes(page: Page, id: string): Promise<Uint8Array> {
  const bytes = await page.evaluate(async (id: string) => {
    const href = (document.getElementById(id) as HTMLAnchorElement).href;
    return Array.from(new Uint8Array(await (await fetch(href)).arrayBuffer()));
  }, id);
  return Uint8Array.from(bytes);
}

const text = (page: Page, sel: string) => page.$eval(sel, (e) => e.textContent ?? "");

async function openDemo(url: string): Promise<Page> {
  const page = await browser!.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e}`));
  await page.setViewport({ width: 1280, height: 1000 });
  await page.goto(url);
  const state = await settled(page, ["ready", "error", "no-webgpu"]);
  assertEquals(state, "ready", `demo did not start: ${await text(page, "#error")}`);
  await page.select("#model", MODEL);
  return page;
}

/** Uploads a file to one of the page's inputs and waits for the action it starts. */
async function upload(page: Page, input: string, path: string, until: string[]): Promise<string> {
  await page.evaluate(() => (document.body.dataset.state = "busy"));
  const el = await page.$(input) as ElementHandle<HTMLInputElement> | null;
  assert(el, `the page has no ${input}`);
  await el.uploadFile(path);
  return await settled(page, until);
}

/** Largest per-sample difference and the share of differing samples. */
function pixelDiff(a: RgbImage, b: RgbImage, what: string): { max: number; share: number } {
  assertEquals([a.width, a.height], [b.width, b.height], `${what}: size`);
  let max = 0, n = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    max = Math.max(max, d);
    if (d) n++;
  }
  return { max, share: n / a.data.length };
}

/**
 * Compares two streams of the same image: equal bytes, or indices equal except where the float64
 * CPU reference itself has a near-tie (later stages at a flipped position follow the flip).
 * Returns the number of near-tie flips.
 */
async function compareStreams(got: Uint8Array, want: Uint8Array, img: RgbImage): Promise<number> {
  if (got.length === want.length && got.every((b, i) => b === want[i])) return 0;
  const m = await loadModel({ name: MODEL, backend: "cpu" });
  const spec = {
    id: m.codec.modelId,
    weightsHash: m.codec.hash,
    codes: m.config.codes,
    stages: m.config.stages,
    entropy: m.codec.weights.entropy,
  };
  const a = readProgic(got, spec), b = readProgic(want, spec);
  assertEquals(a.indices.length, b.indices.length, "stages");
  const t = toPaddedTensor(img, 16);
  const backend: Backend = cpuBackend();
  const exe = await backend.compile(
    encoderGraph(m.codec.weights, t.height, t.width, { debug: true }),
  );
  const ref = await exe.run({ image: t.data });
  exe.dispose();
  const flipped = new Set<number>();
  let ties = 0;
  a.indices.forEach((idx, s) => {
    const gap = ref[`gap${s}`];
    for (let i = 0; i < idx.length; i++) {
      if (idx[i] === b.indices[s][i] || flipped.has(i)) continue;
      assert(
        gap[i] < NEAR_TIE_GAP,
        `stage ${s + 1} position ${i}: page index ${idx[i]}, Deno ${b.indices[s][i]}, ` +
          `reference gap ${gap[i]} (not a near-tie)`,
      );
      flipped.add(i);
      ties++;
    }
  });
  return ties;
}

// ---------------------------------------------------------------------------------------------

Deno.test({
  name: "browser: demo and engine in headless Chromium (WebGPU on SwiftShader)",
  ignore: !browser,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const t0 = performance.now();
    const lap = (what: string) =>
      console.log(`  ${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    console.log(`  ${await browser!.version()}, profile and files in ${tmp}`);
    const dist = new URL(`file://${tmp}/dist/`);
    const built = await build({ outDir: dist });
    let server: StaticServer | null = serveStatic({ root: dist, port: 0 });
    const url = server.url;
    lap("built and serving");

    const img = testImage();
    const pngPath = `${tmp}/in.png`;
    await Deno.writeFile(pngPath, encodePng(img));
    let page: Page | null = null;

    try {
      await t.step(
        "op subset (matmul+epilogues, conv2d, gate, shuffles, VQ, attention) matches the CPU references",
        async () => {
          const p = await browser!.newPage();
          await p.goto(`${url}selftest.html`);
          assertEquals(await settled(p), "done", await text(p, "#summary"));
          const report = await p.evaluate(() =>
            (globalThis as unknown as { selftest: SelfTestReport }).selftest
          );
          const failed = report.results.filter((r) => !r.ok);
          assertEquals(failed.map((r) => `${r.name}: ${r.error}`), [], "self-test failures");
          assert(report.results.length >= 15, `only ${report.results.length} cases ran`);
          console.log(`  ${await text(p, "#summary")}`);
          await p.close();
          lap("op subset");
        },
      );

      let pageTsr: Uint8Array = new Uint8Array();
      await t.step(
        "a 64×48 image encodes in the page; the stream matches the CLI's; the CLI decodes it",
        async () => {
          page = await openDemo(url);
          assertEquals(await upload(page, "#image-file", pngPath, ["ready", "error"]), "ready");
          await page.click("#encode");
          assertEquals(await settled(page), "done", await text(page, "#error"));
          lap("page encode + progressive decode");
          pageTsr = await linkBytes(page, "download-tsr");
          const pagePng = decodeImage(await linkBytes(page, "download-png"));
          await Deno.writeFile(`${tmp}/page.tsr`, pageTsr);

          await cliOk("encode", pngPath, "-o", `${tmp}/deno.tsr`, "--model", MODEL);
          const denoTsr = await Deno.readFile(`${tmp}/deno.tsr`);
          const ties = await compareStreams(pageTsr, denoTsr, img);
          assert(ties <= MAX_NEAR_TIES, `${ties} near-tie index flips`);
          console.log(
            ties
              ? `  page stream differs from Deno's at ${ties} near-tie(s) (allowed ${MAX_NEAR_TIES})`
              : `  page stream == Deno CLI stream (${pageTsr.length} bytes)`,
          );

          await cliOk("decode", `${tmp}/page.tsr`, "-o", `${tmp}/page-by-cli.png`);
          const cliPng = decodeImage(await Deno.readFile(`${tmp}/page-by-cli.png`));
          const d = pixelDiff(pagePng as RgbImage, cliPng as RgbImage, "page vs CLI decode");
          assert(d.max <= PIXEL_TOL, `page and CLI decodes differ by ${d.max} > ${PIXEL_TOL}`);
          console.log(
            `  page vs CLI decode of the page's stream: max |Δ| ${d.max}, ` +
              `${(d.share * 100).toFixed(2)} % of samples differ`,
          );
          lap("CLI encode/decode + comparison");
        },
      );

      await t.step(
        "the demo after a decode shows size, bpp, adapter, stages and the decoded image",
        async () => {
          const p = page!;
          const dom = await p.evaluate(() => {
            const q = (id: string) => document.getElementById(id)!;
            const img = q("decoded") as HTMLImageElement;
            return {
              size: q("stat-size").textContent,
              bpp: q("stat-bpp").textContent,
              adapter: q("stat-adapter").textContent,
              header: q("adapter").textContent,
              decoded: [img.naturalWidth, img.naturalHeight, img.complete],
              stages: q("progressive").querySelectorAll("li canvas").length,
              tsr: (q("download-tsr") as HTMLAnchorElement).href.startsWith("blob:"),
              png: (q("download-png") as HTMLAnchorElement).href.startsWith("blob:"),
              error: q("error").hidden,
            };
          });
          assert(dom.size?.includes(`${pageTsr.length} bytes`), `size: ${dom.size}`);
          const bpp = (pageTsr.length * 8 / (img.width * img.height)).toFixed(4);
          assertEquals(dom.bpp, `${bpp} bpp`);
          assert(/swiftshader/i.test(dom.adapter ?? ""), `adapter: ${dom.adapter}`);
          assert(dom.header?.startsWith("WebGPU adapter:"), `header: ${dom.header}`);
          assertEquals(dom.decoded, [img.width, img.height, true], "decoded <img>");
          assertEquals(dom.stages, 5, "progressive stages shown");
          assert(dom.tsr && dom.png && dom.error, JSON.stringify(dom));
          const shot = `${tmp}/demo.png`;
          await p.screenshot({ path: shot, fullPage: true });
          const bytes = await Deno.readFile(shot);
          const s = decodeImage(bytes);
          const colours = new Set<number>();
          for (let i = 0; i < s.width * s.height; i++) {
            const o = i * (s.channels ?? 3);
            colours.add((s.data[o] << 16) | (s.data[o + 1] << 8) | s.data[o + 2]);
          }
          assert(s.width === 1280 && s.height >= 900, `screenshot ${s.width}×${s.height}`);
          assert(
            bytes.length > 50_000 && colours.size > 500,
            `screenshot looks empty (${colours.size} colours)`,
          );
          console.log(`  screenshot ${shot} (${bytes.length} bytes, ${colours.size} colours)`);
        },
      );

      const keep = Deno.env.get("TESSERA_SCREENSHOT");
      if (keep) {
        // The README's picture: a photo (TESSERA_SCREENSHOT_IMAGE) through the shipped model.
        await t.step(`demo screenshot with the shipped model → ${keep}`, async () => {
          const p = await openDemo(url);
          await p.select("#model", Deno.env.get("TESSERA_SCREENSHOT_MODEL") ?? "progic-t");
          const photo = Deno.env.get("TESSERA_SCREENSHOT_IMAGE") ?? pngPath;
          assertEquals(await upload(p, "#image-file", photo, ["ready", "error"]), "ready");
          await p.click("#encode");
          assertEquals(await settled(p), "done", await text(p, "#error"));
          await p.screenshot({ path: keep, fullPage: true });
          await p.close();
        });
      }

      await t.step("a stream encoded by the Deno CLI decodes in the page", async () => {
        const p = page!;
        await cliOk("encode", pngPath, "-o", `${tmp}/cli3.tsr`, "--model", MODEL, "--stages", "3");
        await cliOk("decode", `${tmp}/cli3.tsr`, "-o", `${tmp}/cli3.png`);
        assertEquals(await upload(p, "#tsr-file", `${tmp}/cli3.tsr`, ["done", "error"]), "done");
        const pagePng = decodeImage(await linkBytes(p, "download-png"));
        const cliPng = decodeImage(await Deno.readFile(`${tmp}/cli3.png`));
        const d = pixelDiff(pagePng as RgbImage, cliPng as RgbImage, "CLI stream decoded");
        assert(d.max <= PIXEL_TOL, `page and CLI decodes differ by ${d.max} > ${PIXEL_TOL}`);
        assertEquals(await p.$$eval("#progressive li", (l) => l.length), 3);
        assertEquals(await text(p, "#stat-stages"), "3 of 3");
        lap("CLI stream decoded in the page");
      });

      await t.step("corrupt and foreign files show the CLI's error message", async () => {
        const p = page!;
        const good = await Deno.readFile(`${tmp}/cli3.tsr`);
        const corrupt = good.slice();
        corrupt[corrupt.length - 3] ^= 0x5a; // inside the last stage: its checksum fails
        await Deno.writeFile(`${tmp}/corrupt.tsr`, corrupt);
        await Deno.copyFile(pngPath, `${tmp}/foreign.tsr`);
        for (const [file, code] of [["foreign.tsr", "BITSTREAM"], ["corrupt.tsr", "CHECKSUM"]]) {
          const r = await cli("decode", `${tmp}/${file}`, "-o", `${tmp}/${file}.png`);
          assertEquals(r.code, 65, `CLI exit code for ${file}`);
          // Only the CLI's own line: the runtime may print warnings of its own on stderr first
          // (Deno does when XDG_RUNTIME_DIR is unset).
          const line = r.err.split("\n").find((l) => l.startsWith("tessera: "));
          assert(line !== undefined, `no "tessera: " line in the CLI's stderr: ${r.err}`);
          const want = line.slice("tessera: ".length).trim();
          assertEquals(await upload(p, "#tsr-file", `${tmp}/${file}`, ["done", "error"]), "error");
          assertEquals(await text(p, "#error"), want, file);
          assertEquals(await p.$eval("#error", (e) => (e as HTMLElement).dataset.code), code);
          console.log(`  ${file}: "${want}"`);
        }
      });

      await t.step("without a WebGPU adapter the page says so and what to do", async () => {
        const plain = await launch(false);
        try {
          const p = await plain.newPage();
          await p.goto(url);
          assertEquals(await settled(p, ["ready", "no-webgpu", "error"]), "no-webgpu");
          const notice = await p.$eval("#no-webgpu", (e) => ({
            hidden: (e as HTMLElement).hidden,
            text: e.textContent ?? "",
          }));
          assert(!notice.hidden, "the no-WebGPU notice is hidden");
          for (const s of ["Chrome or Edge 113", "--enable-unsafe-webgpu", "adapter"]) {
            assert(notice.text.includes(s), `notice lacks "${s}": ${notice.text}`);
          }
          assert(await p.$eval("#encode", (b) => (b as HTMLButtonElement).disabled));
        } finally {
          await plain.close();
        }
      });

      await t.step(
        "once loaded, the page works offline (service worker + cached weights)",
        async () => {
          await server!.shutdown();
          server = null;
          const p = await browser!.newPage();
          await p.goto(url); // served by the service worker from its cache
          assertEquals(await settled(p, ["ready", "error", "no-webgpu"]), "ready");
          await p.select("#model", MODEL);
          assertEquals(await upload(p, "#tsr-file", `${tmp}/cli3.tsr`, ["done", "error"]), "done");
          assertEquals(
            await p.$eval("#weights-status", (e) => (e as HTMLElement).dataset.source),
            "cache",
          );
          assertEquals(await p.$$eval("#progressive li", (l) => l.length), 3);
          lap("offline decode");
        },
      );
    } finally {
      await server?.shutdown();
      await browser!.close();
      browser = null;
      console.log(
        `  models offered: ${
          built.models.map((m) => m.name + (m.url ? "" : " (missing)")).join(", ")
        }`,
      );
      lap("total");
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
