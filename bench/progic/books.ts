// Cost of the refinement book count: the default encode and decode of one image with the shipped
// weights' refinement books (8) and with only their first 4, alternating in one process on the
// default adapter (train/README.md, "Eight books").
// Run: deno run -A bench/progic/books.ts [image.jpg] [runs]
// Prints a Markdown table for bench/RESULTS.md ("Cost of eight refinement books").
import { loadModel } from "../../src/api.ts";
import { ProgicCodec } from "../../src/models/progic/codec.ts";
import { median } from "../engine/data.ts";
import { loadImage } from "../eval/runner.ts";

const file = Deno.args[0] ?? "../shared/data/bsds500/test/100007.jpg";
const runs = Number(Deno.args[1] ?? 5);
const img = await loadImage(file);
const model = await loadModel();
const books = model.codec.weights.refine?.length ?? 0;
const four = await ProgicCodec.create(
  { ...model.codec.weights, refine: model.codec.weights.refine?.slice(0, 4) },
  model.codec.backend,
);
const arms = [[`${books} books`, model.codec], ["first 4", four]] as const;
const times = arms.map(() => ({ enc: [] as number[], dec: [] as number[], codes: 0, bytes: 0 }));
for (let r = -1; r < runs; r++) { // r = -1 compiles every graph
  for (const [i, [, codec]] of arms.entries()) {
    let t = performance.now();
    const e = await codec.encode(img);
    const enc = performance.now() - t;
    t = performance.now();
    await codec.decode(e.bytes);
    const dec = performance.now() - t;
    if (r < 0) continue;
    Object.assign(times[i], { codes: e.refinementCodes, bytes: e.bytes.length });
    times[i].enc.push(enc);
    times[i].dec.push(dec);
  }
}
console.log(`${file} (${img.width}×${img.height}), model ${model.name}, median of ${runs} runs:\n`);
console.log("| books | bytes | refinement codes | encode ms | decode ms |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const [i, [name]] of arms.entries()) {
  const t = times[i];
  console.log(
    `| ${name} | ${t.bytes} | ${t.codes} | ${median(t.enc).toFixed(0)} | ${
      median(t.dec).toFixed(0)
    } |`,
  );
}
