/**
 * Butteraugli through a command-line tool: libjxl's `butteraugli_main` (Debian
 * `libjxl-devtools`; max-norm and 3-norm) when present, else the 2017 Google `butteraugli`
 * (Debian `butteraugli`; max-norm only, PNG/JPEG input). The two versions give different
 * numbers: results record which one ran.
 * @module
 */
import { encodePng, type RgbImage } from "../../src/io/image.ts";
import { hasTool, runTool, withTempDir } from "./exec.ts";
import { encodePpm } from "./pnm.ts";

/** Butteraugli distances of one image pair (lower is better). */
export interface ButteraugliScore {
  /** The max-norm distance, the tool's headline number. */
  max: number;
  /** The 3-norm, when the tool reports it. */
  pnorm3?: number;
}

/** A Butteraugli tool ready to run. */
export interface Butteraugli {
  /** Executable name. */
  readonly tool: string;
  /** One line on the tool for the report. */
  readonly settings: string;
  /** Distance between a reference and a distorted image of the same size. */
  measure(ref: RgbImage, dist: RgbImage): Promise<ButteraugliScore>;
}

/** Which tool to use: the best available, one in particular, or none. */
export type ButteraugliChoice = "auto" | "libjxl" | "debian" | "none";

/** Parses the output of either tool. */
export function parseButteraugli(stdout: string): ButteraugliScore {
  const lines = stdout.trim().split("\n").map((l) => l.trim());
  const max = Number(lines[0]);
  if (!Number.isFinite(max)) {
    throw new Error(`unexpected butteraugli output: ${stdout.slice(0, 80)}`);
  }
  const p = lines.find((l) => l.startsWith("3-norm:"));
  const pnorm3 = p ? Number(p.slice(7)) : undefined;
  return pnorm3 !== undefined && Number.isFinite(pnorm3) ? { max, pnorm3 } : { max };
}

/** A Butteraugli tool that reads two files of type `format` and prints its distances. */
function cliButteraugli(
  tool: string,
  settings: string,
  format: "ppm" | "png",
  extra: string[],
): Butteraugli {
  const write = format === "ppm" ? encodePpm : encodePng;
  return {
    tool,
    settings,
    measure: (ref, dist) =>
      withTempDir(async (dir) => {
        const a = `${dir}/ref.${format}`, b = `${dir}/dist.${format}`;
        await Deno.writeFile(a, write(ref));
        await Deno.writeFile(b, write(dist));
        return parseButteraugli((await runTool(tool, [a, b, ...extra])).stdout);
      }),
  };
}

/** The chosen Butteraugli tool, or null when it (or, for `auto`, every one) is missing. */
export function findButteraugli(choice: ButteraugliChoice = "auto"): Butteraugli | null {
  if (choice === "none") return null;
  if (choice !== "debian" && hasTool("butteraugli_main")) {
    const settings = "libjxl butteraugli_main --pnorm 3 (Debian libjxl-devtools; 80 nits)";
    return cliButteraugli("butteraugli_main", settings, "ppm", ["--pnorm", "3"]);
  }
  if (choice !== "libjxl" && hasTool("butteraugli")) {
    const settings = "butteraugli 0~20170116 (Debian butteraugli; max-norm only)";
    return cliButteraugli("butteraugli", settings, "png", []);
  }
  return null;
}
