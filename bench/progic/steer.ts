// Encode time of the refinement's visibility steering (docs/progic.md, "Refinement"): the default
// encode with and without it, alternating in one process on the default adapter, and the
// visibility model (src/metrics/visibility.ts) alone on the same image pair.
// Run: deno run -A bench/progic/steer.ts [image.jpg] [runs]
// Prints a Markdown table for bench/RESULTS.md ("Encode time of steering").
import { loadModel } from "../../src/api.ts";
import { blockVisibility } from "../../src/metrics/visibility.ts";
import { median } from "../engine/data.ts";
import { loadImage } from "../eval/runner.ts";

const file = Deno.args[0] ?? "../shared/data/bsds500/test/100007.jpg";
const runs = Number(Deno.args[1] ?? 5);
const img = await loadImage(file);
const model = await loadModel();
const codec = model.codec;

await codec.encode(img); // compiles every graph both variants use
await codec.encode(img, { steer: false });
const on: number[] = [], off: number[] = [], vis: number[] = [];
let sizes = [0, 0], unsteered: Uint8Array = new Uint8Array();
for (let r = 0; r < runs; r++) {
  let t = performance.now();
  const a = await codec.encode(img);
  on.push(performance.now() - t);
  t = performance.now();
  const b = await codec.encode(img, { steer: false });
  off.push(performance.now() - t);
  sizes = [a.bytes.length, b.bytes.length];
  unsteered = b.bytes;
}
const decoded = await codec.decode(unsteered);
for (let r = 0; r < runs; r++) {
  const t = performance.now();
  blockVisibility(img, decoded.image);
  vis.push(performance.now() - t);
}
console.log(
  `${file} (${img.width}×${img.height}), model ${model.name}, median of ${runs} runs, ms:\n`,
);
console.log(
  "| encode (default stream) | steered | unsteered | difference | visibility model alone |",
);
console.log("| --- | ---: | ---: | ---: | ---: |");
console.log(
  `| ${sizes[0]} / ${sizes[1]} bytes | ${median(on).toFixed(0)} | ${median(off).toFixed(0)} | ${
    (median(on) - median(off)).toFixed(0)
  } | ${median(vis).toFixed(0)} |`,
);
