// The CLI end to end, in process: real files in a temp dir, exit codes and messages.
import { EXIT, main } from "../cli.ts";
import { decodeImage, encodePng } from "../src/io/image.ts";
import { assert, assertEquals } from "./assert.ts";
import { HAS_GPU, synthetic } from "./harness.ts";

const OPTS = { sanitizeOps: false, sanitizeResources: false };
// The tiny parity model keeps these tests fast; --cpu where no adapter exists.
const MODEL = ["--model", "progic-test", ...(HAS_GPU ? [] : ["--cpu"])];

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await main(args, (s) => (out += s + "\n"), (s) => (err += s + "\n"));
  return { code, out, err };
}

/** Asserts a run's exit code and, when given, a phrase of its error output. */
function assertExit(r: { code: number; err: string }, code: number, phrase?: string): void {
  assertEquals(r.code, code, r.err);
  if (phrase !== undefined) assert(r.err.includes(phrase), r.err);
}

function gradient(w: number, h: number): Uint8Array {
  const d = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) d.set([(i % w) * 4, Math.floor(i / w) * 5, 128], i * 3);
  return encodePng({ width: w, height: h, data: d });
}

Deno.test({
  name: "cli: encode, info, decode a PNG; never overwrite without --force",
  ...OPTS,
  async fn() {
    const dir = await Deno.makeTempDir();
    const png = `${dir}/in.png`, tsr = `${dir}/out.tsr`, dec = `${dir}/dec.png`;
    await Deno.writeFile(png, gradient(50, 37));
    const e = await run("encode", png, "-o", tsr, "--stages", "2", ...MODEL);
    assertExit(e, EXIT.ok);
    assert(e.out.includes("2 stage(s)"), e.out);
    const i = await run("info", tsr);
    assert(i.out.includes("50×37") && i.out.includes("2 of 2 present"), i.out);
    // progic-test ships no entropy tables: both stages are fixed-length fields.
    assert(/segments +\d+ \(fixed\), \d+ \(fixed\) bytes/.test(i.out), i.out);
    const d = await run("decode", tsr, "-o", dec, ...(HAS_GPU ? [] : ["--cpu"]));
    assertExit(d, EXIT.ok);
    const img = decodeImage(await Deno.readFile(dec));
    assertEquals([img.width, img.height], [50, 37]);
    // --smoothing reaches the decoder: the unfiltered image differs from the default's
    const raw = await run(
      "decode",
      tsr,
      "-o",
      `${dir}/raw.png`,
      "--smoothing",
      "0",
      ...(HAS_GPU ? [] : ["--cpu"]),
    );
    assertExit(raw, EXIT.ok);
    const unfiltered = decodeImage(await Deno.readFile(`${dir}/raw.png`));
    assert(unfiltered.data.some((v, i) => v !== img.data[i]), "--smoothing 0 changed nothing");
    const before = await Deno.readFile(tsr);
    const again = await run("encode", png, "-o", tsr, "--stages", "1", ...MODEL);
    assertEquals(again.code, EXIT.cantCreate);
    assert(again.err.includes("--force"), again.err);
    assertEquals(await Deno.readFile(tsr), before, "the existing file must be untouched");
    const forced = await run("encode", png, "-o", tsr, "--stages", "1", "--force", ...MODEL);
    assertExit(forced, EXIT.ok);
    assert((await Deno.readFile(tsr)).length < before.length);
    // --beams reaches the encoder: a greedy 2-stage stream differs from the default beam search's
    const greedy = await run(
      "encode",
      png,
      "-o",
      `${dir}/g.tsr`,
      "--stages",
      "2",
      "--beams",
      "1",
      ...MODEL,
    );
    assertExit(greedy, EXIT.ok);
    const g = await Deno.readFile(`${dir}/g.tsr`);
    assertEquals(g.length, before.length);
    assert(g.some((v, i) => v !== before[i]), "--beams 1 wrote the same stream as the default");
    assertEquals(
      [...Deno.readDirSync(dir)].filter((f) => f.name.includes(".tmp-")),
      [],
      "temp files left",
    );
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "cli: grid fit, --pad and --presmoothing reach the encoder; info shows the coded size",
  ...OPTS,
  async fn() {
    const dir = await Deno.makeTempDir();
    // 65 is one pixel past 64 (fitted); 50 is 2 past 48 but under 64·2 (padded).
    await Deno.writeFile(`${dir}/in.png`, gradient(65, 50));
    const enc = (name: string, ...extra: string[]) =>
      run("encode", `${dir}/in.png`, "-o", `${dir}/${name}`, "--stages", "1", ...extra, ...MODEL);
    const fit = await enc("fit.tsr");
    assertExit(fit, EXIT.ok);
    assert(fit.out.includes("coded at 64×50"), fit.out);
    const info = await run("info", `${dir}/fit.tsr`);
    assert(info.out.includes("65×50, coded at 64×50"), info.out);
    const pad = await enc("pad.tsr", "--pad");
    assertExit(pad, EXIT.ok);
    assert(!pad.out.includes("coded at"), pad.out);
    const fitted = await Deno.readFile(`${dir}/fit.tsr`);
    // One stage of 10-bit indices: a 4×4 grid fitted, 5×4 padded.
    assertEquals((await Deno.readFile(`${dir}/pad.tsr`)).length - fitted.length, 25 - 20);
    const sharp = await enc("sharp.tsr", "--presmoothing", "0");
    assertExit(sharp, EXIT.ok);
    const s = await Deno.readFile(`${dir}/sharp.tsr`);
    assert(s.some((v, i) => v !== fitted[i]), "--presmoothing 0 wrote the default's stream");
    const bad = await enc("bad.tsr", "--presmoothing", "2");
    assertExit(bad, EXIT.usage, "--presmoothing");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "cli: a byte budget is met by downscaling, and decoding restores the size",
  ...OPTS,
  async fn() {
    const dir = await Deno.makeTempDir();
    await Deno.writeFile(`${dir}/in.png`, gradient(160, 96));
    const e = await run(
      "encode",
      `${dir}/in.png`,
      "-o",
      `${dir}/s.tsr`,
      "--max-bytes",
      "90",
      ...MODEL,
    );
    assertExit(e, EXIT.ok);
    // One stage at full size takes ~106 bytes (75 of fixed-length indices before coding).
    const size = (await Deno.stat(`${dir}/s.tsr`)).size;
    assert(size <= 90, `${size} bytes`);
    assert(e.out.includes("coded at"), e.out);
    await run("decode", `${dir}/s.tsr`, "-o", `${dir}/s.png`, ...(HAS_GPU ? [] : ["--cpu"]));
    const img = decodeImage(await Deno.readFile(`${dir}/s.png`));
    assertEquals([img.width, img.height], [160, 96]);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "cli: the default model refines after stage 5; --refine sets or turns it off",
  ...OPTS,
  async fn() {
    const dir = await Deno.makeTempDir();
    const cpu = HAS_GPU ? [] : ["--cpu"];
    // Smooth enough that the entropy-coded stages leave room for refinement codes.
    await Deno.writeFile(`${dir}/in.png`, encodePng(synthetic(160, 128, () => 60)));
    const enc = (name: string, ...extra: string[]) =>
      run("encode", `${dir}/in.png`, "-o", `${dir}/${name}`, ...extra, ...cpu);
    const auto = await enc("auto.tsr");
    assertExit(auto, EXIT.ok);
    assert(/5 stage\(s\) \+ \d+ refinement codes/.test(auto.out), auto.out);
    const info = await run("info", `${dir}/auto.tsr`);
    assert(info.out.includes("refinement   present"), info.out);
    assert(/\d+ \(refinement\) bytes/.test(info.out), info.out);
    const dec = await run("decode", `${dir}/auto.tsr`, "-o", `${dir}/auto.png`, ...cpu);
    assertExit(dec, EXIT.ok);
    assert(/5 of 5 stage\(s\) \+ \d+ refinement codes/.test(dec.out), dec.out);
    const off = await enc("off.tsr", "--refine", "0");
    assertExit(off, EXIT.ok);
    assert(!off.out.includes("refinement"), off.out);
    assert(!(await run("info", `${dir}/off.tsr`)).out.includes("refinement"));
    // 80 latent positions, one code each.
    const one = await enc("one.tsr", "--refine", "1");
    assert(one.out.includes("+ 80 refinement codes"), one.out);
    const deep = await enc("deep.tsr", "--refine", "9");
    assertExit(deep, EXIT.usage, "refine must be");
    const word = await enc("word.tsr", "--refine", "lots");
    assertExit(word, EXIT.usage);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "cli: bad input gives clear messages and exit codes",
  ...OPTS,
  async fn() {
    const dir = await Deno.makeTempDir();
    assertEquals(
      (await run("encode", `${dir}/missing.png`, "-o", `${dir}/x.tsr`)).code,
      EXIT.noInput,
    );
    await Deno.writeTextFile(`${dir}/notes.txt`, "not an image");
    const bad = await run("encode", `${dir}/notes.txt`, "-o", `${dir}/x.tsr`, ...MODEL);
    assertEquals(bad.code, EXIT.data);
    assert(bad.err.includes("PNG or JPEG"), bad.err);
    const garbage = await run("decode", `${dir}/notes.txt`, "-o", `${dir}/x.png`);
    assertEquals(garbage.code, EXIT.data);
    assertEquals((await run("frobnicate")).code, EXIT.usage);
    assertEquals((await run("encode", "a.png")).code, EXIT.usage);
    assertEquals(
      (await run("encode", `${dir}/notes.txt`, "-o", "x", "--stages", "0")).code,
      EXIT.usage,
    );
    assertEquals(
      (await run("encode", `${dir}/notes.txt`, "-o", "x", "--stages", "2", "--bpp", "0.1")).code,
      EXIT.usage,
    );
    await Deno.writeFile(`${dir}/in.png`, gradient(8, 8));
    const wide = await run(
      "encode",
      `${dir}/in.png`,
      "-o",
      `${dir}/w.tsr`,
      "--beams",
      "9",
      ...MODEL,
    );
    assertExit(wide, EXIT.usage, '--beams needs an integer in 1…8, got "9"');
    const none = await run(
      "encode",
      `${dir}/in.png`,
      "-o",
      `${dir}/w.tsr`,
      "--beams",
      "0",
      ...MODEL,
    );
    assertExit(none, EXIT.usage);
    const strong = await run(
      "decode",
      `${dir}/notes.txt`,
      "-o",
      `${dir}/x.png`,
      "--smoothing",
      "2",
    );
    assertExit(strong, EXIT.usage, '--smoothing needs a number in 0…1, got "2"');
    const noModel = await run(
      "encode",
      `${dir}/in.png`,
      "-o",
      `${dir}/x.tsr`,
      "--model",
      "nonexistent",
    );
    assertExit(noModel, EXIT.unavailable);
    assert(
      noModel.err.includes("shipped models: ") && noModel.err.includes("progic-t"),
      noModel.err,
    );
    // Output paths are refused before any work: a folder, a missing folder, an existing file.
    const toFolder = await run("encode", `${dir}/in.png`, "-o", dir, ...MODEL);
    assertExit(toFolder, EXIT.cantCreate, "is a folder");
    const nowhere = await run("encode", `${dir}/in.png`, "-o", `${dir}/no/x.tsr`, ...MODEL);
    assertExit(nowhere, EXIT.cantCreate, `folder ${dir}/no does not exist`);
    // The existing output is refused even though the input is missing: no work was started.
    const early = await run("decode", `${dir}/missing.tsr`, "-o", `${dir}/in.png`);
    assertExit(early, EXIT.cantCreate);
    // A mistaken option is reported as such even when the output is taken too.
    const both = await run("encode", `${dir}/in.png`, "-o", `${dir}/in.png`, "--beams", "9");
    assertExit(both, EXIT.usage, "--beams");
    const bothDecode = await run("decode", `${dir}/x.tsr`, "-o", `${dir}/in.png`, "--stages", "0");
    assertExit(bothDecode, EXIT.usage, "--stages");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "cli: '-' reads standard input and writes standard output (statistics to stderr)",
  ...OPTS,
  async fn() {
    const pipe = async (args: string[], input: Uint8Array) => {
      const p = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("../mod.ts", import.meta.url).pathname, ...args],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = p.stdin.getWriter();
      await w.write(input);
      await w.close();
      const r = await p.output();
      return { code: r.code, out: r.stdout, err: new TextDecoder().decode(r.stderr) };
    };
    const png = gradient(40, 24);
    const enc = await pipe(["encode", "-", "-o", "-", "--stages", "2", ...MODEL], png);
    assertExit(enc, EXIT.ok, "(standard output):");
    assert(enc.err.includes("2 stage(s)"), enc.err);
    assertEquals(String.fromCharCode(...enc.out.subarray(0, 3)), "TSR");
    // The same stream as through files.
    const dir = await Deno.makeTempDir();
    await Deno.writeFile(`${dir}/in.png`, png);
    const file = await run(
      "encode",
      `${dir}/in.png`,
      "-o",
      `${dir}/f.tsr`,
      "--stages",
      "2",
      ...MODEL,
    );
    assertExit(file, EXIT.ok);
    assertEquals(enc.out, await Deno.readFile(`${dir}/f.tsr`));
    const dec = await pipe(["decode", "-", "-o", "-", ...(HAS_GPU ? [] : ["--cpu"])], enc.out);
    assertExit(dec, EXIT.ok);
    const img = decodeImage(dec.out);
    assertEquals([img.width, img.height], [40, 24]);
    const empty = await pipe(["info", "-"], new Uint8Array(0));
    assertExit(empty, EXIT.noInput);
    await Deno.remove(dir, { recursive: true });
  },
});
