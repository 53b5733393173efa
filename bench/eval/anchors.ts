/**
 * The anchor codecs (JPEG, WebP, AVIF, JPEG XL) through their reference command-line tools and
 * temp files, with quality sweeps reaching from each format's lowest rate to about 2 bpp.
 * @module
 */
import { decodeImage, encodePng, type RgbImage, toRgb } from "../../src/io/image.ts";
import type { Codec } from "./codec.ts";
import { hasTool, runTool, withTempDir } from "./exec.ts";
import { decodePnm, encodePpm } from "./pnm.ts";

/** How one anchor is driven. */
interface AnchorSpec {
  name: string;
  /** Debian package that ships both tools. */
  pkg: string;
  enc: string;
  dec: string;
  /** Input file type the encoder reads. */
  input: "ppm" | "png";
  /** Output file type the decoder writes. */
  output: "ppm" | "png";
  ext: string;
  points: string[];
  encArgs(point: string, src: string, dst: string): string[];
  decArgs(src: string, dst: string): string[];
  /** Command whose output names the version, and the settings in words. */
  version: [string, string[]];
  settings: string;
}

const SPECS: AnchorSpec[] = [
  {
    name: "jpeg",
    pkg: "libjpeg-turbo-progs",
    enc: "cjpeg",
    dec: "djpeg",
    input: "ppm",
    output: "ppm",
    ext: "jpg",
    points: ["1", "3", "5", "8", "12", "18", "25", "35", "50", "70", "85", "95"],
    encArgs: (q, src, dst) => ["-quality", q, "-optimize", "-outfile", dst, src],
    decArgs: (src, dst) => ["-pnm", "-outfile", dst, src],
    version: ["cjpeg", ["-version"]],
    settings:
      "cjpeg -quality Q -optimize (4:2:0, optimised Huffman tables; below q 25 the quantisers exceed 255, as cjpeg allows without -baseline)",
  },
  {
    name: "webp",
    pkg: "webp",
    enc: "cwebp",
    dec: "dwebp",
    input: "ppm",
    output: "ppm",
    ext: "webp",
    points: ["0", "2", "5", "10", "20", "35", "50", "65", "80", "90", "95"],
    encArgs: (q, src, dst) => ["-quiet", "-m", "6", "-q", q, src, "-o", dst],
    decArgs: (src, dst) => ["-quiet", "-ppm", src, "-o", dst],
    version: ["cwebp", ["-version"]],
    settings: "cwebp -m 6 -q Q (lossy VP8, 4:2:0; no -size target)",
  },
  {
    name: "avif",
    pkg: "libavif-bin",
    enc: "avifenc",
    dec: "avifdec",
    input: "png",
    output: "png",
    ext: "avif",
    points: ["63", "61", "58", "56", "53", "48", "43", "38", "33", "28", "23", "18", "13"],
    encArgs: (q, src, dst) => ["-j", "1", "-s", "6", "--min", q, "--max", q, src, dst],
    decArgs: (src, dst) => ["-j", "1", "--png-compress", "0", src, dst],
    version: ["avifenc", ["--version"]],
    settings: "avifenc -s 6 --min Q --max Q (libaom, 4:4:4 from PNG, full range, 8 bit)",
  },
  {
    name: "jxl",
    pkg: "libjxl-tools",
    enc: "cjxl",
    dec: "djxl",
    input: "png",
    output: "ppm",
    ext: "jxl",
    points: [
      "25",
      "21",
      "18",
      "13",
      "9",
      "6.5",
      "4.5",
      "3.2",
      "2.3",
      "1.6",
      "1.1",
      "0.75",
      "0.5",
    ],
    encArgs: (d, src, dst) => [src, dst, "-d", d, "-e", "7"],
    decArgs: (src, dst) => [src, dst],
    version: ["cjxl", ["--version"]],
    settings: "cjxl -d D -e 7 (VarDCT, XYB)",
  },
];

/** Names of the anchors this module provides, in report order. */
export const ANCHOR_NAMES: readonly string[] = SPECS.map((s) => s.name);

/** An anchor whose tools are not installed. */
export interface MissingAnchor {
  /** Anchor name. */
  name: string;
  /** The missing executables. */
  tools: string[];
  /** Debian package that provides them. */
  pkg: string;
}

function readOutput(kind: "ppm" | "png", bytes: Uint8Array): RgbImage {
  return kind === "ppm" ? decodePnm(bytes) : toRgb(decodeImage(bytes));
}

async function toolVersion(spec: AnchorSpec): Promise<string> {
  try {
    const r = await runTool(spec.version[0], spec.version[1]);
    const line = (r.stdout.trim() || r.stderr.trim()).split("\n")[0];
    const aom = /aom \[enc\/dec\]:([^\s,)]+)/.exec(line)?.[1];
    return line.replace(/^Version:\s*/, "").replace(/\s*\(.*$/, "") +
      (aom ? ` (libaom ${aom})` : "");
  } catch (e) {
    return `version unknown (${(e as Error).message.slice(0, 60)})`;
  }
}

function anchorCodec(spec: AnchorSpec, version: string): Codec {
  return {
    name: spec.name,
    points: spec.points,
    settings: `${spec.settings}; ${version}`,
    encode: (rgb, point) =>
      withTempDir(async (dir) => {
        const src = `${dir}/in.${spec.input}`, dst = `${dir}/out.${spec.ext}`;
        await Deno.writeFile(src, spec.input === "ppm" ? encodePpm(rgb) : encodePng(rgb));
        await runTool(spec.enc, spec.encArgs(point, src, dst));
        return await Deno.readFile(dst);
      }),
    decode: (bytes) =>
      withTempDir(async (dir) => {
        const src = `${dir}/in.${spec.ext}`, dst = `${dir}/out.${spec.output}`;
        await Deno.writeFile(src, bytes);
        await runTool(spec.dec, spec.decArgs(src, dst));
        return readOutput(spec.output, await Deno.readFile(dst));
      }),
  };
}

/** The anchors of `names` whose tools are installed, and those whose tools are missing. */
export async function anchorCodecs(
  names: readonly string[],
): Promise<{ codecs: Codec[]; missing: MissingAnchor[] }> {
  const codecs: Codec[] = [], missing: MissingAnchor[] = [];
  for (const spec of SPECS) {
    if (!names.includes(spec.name)) continue;
    const tools = [spec.enc, spec.dec].filter((t) => !hasTool(t));
    if (tools.length) missing.push({ name: spec.name, tools, pkg: spec.pkg });
    else codecs.push(anchorCodec(spec, await toolVersion(spec)));
  }
  return { codecs, missing };
}
