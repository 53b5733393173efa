// CPU cost of the encoder's rate-aware path choice (src/models/progic/choice.ts) for a 768×512
// image: the latent error of each of the search's 8 complete paths, then the raster walk that
// prices their bits, on the shipped progic-t tables.
// Run: deno run -A bench/progic/choice.ts
// Prints a Markdown table for bench/RESULTS.md ("Rate-aware path choice").
import { choosePaths, DEFAULT_RATE_WEIGHT, pathErrors } from "../../src/models/progic/choice.ts";
import { fixture } from "../../tests/progic_fixture.ts";

// The golden file's 8 paths and latent of a BSDS500 crop (tests/golden), tiled into a 768×512
// image's 48×32 grid: real codes, errors and neighbours.
const { weights, g } = await fixture("progic-t");
const paths = g("beam_paths"), latent = g("latent");
const [B, S, gh, gw] = paths.shape;
const d = weights.config.c2, H = 32, W = 48;
const source = (p: number) => (Math.floor(p / W) % gh) * gw + (p % W) % gw;
const codes = Array.from(
  { length: B },
  (_, b) =>
    Array.from(
      { length: S },
      (_, s) =>
        Int32Array.from({ length: H * W }, (_, p) => paths.data[(b * S + s) * gh * gw + source(p)]),
    ),
);
const y = new Float32Array(H * W * d);
for (let p = 0; p < H * W; p++) {
  for (let e = 0; e < d; e++) y[p * d + e] = latent.data[source(p) * d + e];
}
const runs: { errors: number; choice: number }[] = [];
for (let r = 0; r < 7; r++) {
  const t0 = performance.now();
  const errors = pathErrors(codes, y, weights.codebooks, d);
  const t1 = performance.now();
  choosePaths({ codes, errors }, W, weights.entropy!, DEFAULT_RATE_WEIGHT);
  runs.push({ errors: t1 - t0, choice: performance.now() - t1 });
}
runs.sort((a, b) => a.errors + a.choice - b.errors - b.choice);
console.log("| 768×512, 8 paths | path errors ms | choice ms | total ms |");
console.log("| --- | ---: | ---: | ---: |");
const best = runs[0];
console.log(
  `| best of 7 | ${best.errors.toFixed(1)} | ${best.choice.toFixed(1)} | ${
    (best.errors + best.choice).toFixed(1)
  } |`,
);
