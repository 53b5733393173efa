// Speed and size of ProGIC's index coding, static tables (parameters versions 2-4) against the
// adaptive model (version 5), on the shipped progic-t tables.
// Run: deno run -A bench/progic/index_coding.ts [--quick]
// Prints a Markdown table for bench/RESULTS.md ("Index coding: static and adaptive").
import {
  decodeStageIndices,
  encodeStageIndices,
  type IndexCoding,
  stageCodeBits,
} from "../../src/models/progic/entropy.ts";
import { fixture } from "../../tests/progic_fixture.ts";

const quick = Deno.args.includes("--quick");
const { weights, g } = await fixture("progic-t");
const entropy = weights.entropy!;
// The golden file's 5 stages of beam-search indices of a BSDS500 crop (tests/golden), tiled
// into a 768×512 image's 48×32 grid: real codes, real neighbours and stage-to-stage contexts.
const golden = g("beam_indices");
const [N, gh, gw] = golden.shape;
const H = 32, W = 48;
const stages = Array.from({ length: N }, (_, s) =>
  Int32Array.from({ length: H * W }, (_, p) => {
    const y = Math.floor(p / W) % gh, x = (p % W) % gw;
    return golden.data[s * gh * gw + y * gw + x];
  }));
const images = quick ? 20 : 200;
const reps = quick ? 3 : 7;

function best(fn: () => void): number {
  let t = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t = Math.min(t, performance.now() - t0);
  }
  return t;
}

console.log(
  `${images} images of ${W * 16}×${H * 16} (${N} stages of ${H}×${W} codes), best of ${reps}; ` +
    "ms per image.\n",
);
console.log("| coding | encode ms | decode ms | bits per image (ideal) |");
console.log("|---|---:|---:|---:|");
for (const coding of ["static", "adaptive"] as IndexCoding[]) {
  let coded: Uint8Array[] = [];
  const enc = best(() => {
    for (let i = 0; i < images; i++) {
      coded = stages.map((idx, s) => encodeStageIndices(idx, W, entropy[s], stages[s - 1], coding));
    }
  });
  const dec = best(() => {
    for (let i = 0; i < images; i++) {
      coded.forEach((b, s) =>
        decodeStageIndices(b, H * W, W, entropy[s], "stage", stages[s - 1], coding)
      );
    }
  });
  coded.forEach((b, s) => {
    const back = decodeStageIndices(b, H * W, W, entropy[s], "stage", stages[s - 1], coding);
    if (back.some((v, p) => v !== stages[s][p])) {
      throw new Error(`${coding} stage ${s + 1} differs`);
    }
  });
  const bits = stages.reduce(
    (a, idx, s) => a + stageCodeBits(idx, W, entropy[s], stages[s - 1], coding),
    0,
  );
  console.log(
    `| ${coding} | ${(enc / images).toFixed(2)} | ${(dec / images).toFixed(2)} | ${
      bits.toFixed(0)
    } |`,
  );
}
