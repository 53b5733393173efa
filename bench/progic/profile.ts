/**
 * Where the GPU time of a ProGIC encode and decode goes: the graphs the codec runs for one size,
 * each dispatch in its own timestamped compute pass (`Executable.profile`, needs the adapter's
 * `timestamp-query`), the median over `--runs` profiled runs per dispatch, summed per kernel.
 * Prints a Markdown report (and writes it to `--out`).
 *
 *   deno run -A bench/progic/profile.ts [--model progic-t] [--size 768x512] [--runs 5]
 *     [--out FILE]
 *
 * Separate passes add a little time per dispatch and keep the GPU from overlapping them, so the
 * total is an upper bound of what one pass takes; the shares are what to optimise first.
 * @module
 */
import { loadModel } from "../../src/api.ts";
import { acquireGpu, type DispatchTime } from "../../src/engine.ts";
import { webgpuBackend } from "../../src/graph/webgpu_backend.ts";
import { decoderGraph, encoderGraph } from "../../src/models/progic/network.ts";
import { hashed, median } from "../engine/data.ts";
import { intFlag, parseFlags, strFlag } from "./cli.ts";

const HELP = `usage: deno run -A bench/progic/profile.ts [options]
  --model NAME   shipped model (default progic-t)
  --size WxH     image size, multiples of 16 (default 768x512)
  --runs N       profiled runs per graph (default 5; one unprofiled run first)
  --out FILE     also write the report there`;

const flags = parseFlags(Deno.args, ["model", "size", "runs", "out"], [], HELP);
const modelName = strFlag(flags, "model", "progic-t");
const size = /^(\d+)x(\d+)$/.exec(strFlag(flags, "size", "768x512"));
if (!size || Number(size[1]) % 16 || Number(size[2]) % 16) {
  throw new Error(`--size must be WIDTHxHEIGHT in multiples of 16\n${HELP}`);
}
const [width, height] = [Number(size[1]), Number(size[2])];
const runs = intFlag(flags, "runs", 5, 1);

const ctx = await acquireGpu();
const model = await loadModel({ name: modelName, gpu: ctx });
const { weights } = model.codec;
const stages = weights.config.stages;
const [h, w] = [height / 16, width / 16];
const backend = webgpuBackend(ctx);

const graphs = [
  {
    name: "encoder (greedy, no pre-filter)",
    exe: await backend.compile(encoderGraph(weights, height, width)),
    // the graph takes pixels in [-0.5, 0.5]; the cost does not depend on them
    inputs: { image: hashed("image", height * width * 3, 0.5) },
  },
  {
    name: `decoder (${stages} stages, no post-filter)`,
    exe: await backend.compile(decoderGraph(weights, h, w, stages)),
    inputs: Object.fromEntries(
      Array.from({ length: stages }, (_, s) => [`indices${s}`, indices(h * w, s)]),
    ),
  },
];

const L: string[] = [
  `# GPU time per kernel: ${modelName}, ${width}×${height}`,
  "",
  `- Command: \`${`deno run -A bench/progic/profile.ts ${Deno.args.join(" ")}`.trim()}\``,
  `- Date: ${new Date().toISOString()}; adapter "${ctx.adapter.description}" (vendor ${
    ctx.adapter.vendor || "?"
  }${ctx.adapter.software ? ", software" : ""}); Deno ${Deno.version.deno}`,
  `- Median of ${runs} profiled runs per dispatch (each dispatch in its own timestamped pass), ` +
  "summed per kernel label; wall = one ordinary `run` (upload, one submit, readback), median of " +
  `${runs}.`,
  "",
];
for (const g of graphs) {
  await g.exe.run(g.inputs);
  const wall: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await g.exe.run(g.inputs);
    wall.push(performance.now() - t0);
  }
  const profiles: DispatchTime[][] = [];
  for (let i = 0; i < runs; i++) profiles.push(await g.exe.profile!(g.inputs));
  const per = profiles[0].map((d, i) => ({ ...d, ns: median(profiles.map((p) => p[i].ns)) }));
  const total = per.reduce((a, d) => a + d.ns, 0);
  const byKernel = new Map<string, { n: number; ns: number }>();
  for (const d of per) {
    const k = byKernel.get(d.kernel) ?? { n: 0, ns: 0 };
    k.n++;
    k.ns += d.ns;
    byKernel.set(d.kernel, k);
  }
  L.push(
    `## ${g.name}`,
    "",
    `${per.length} dispatches; GPU ${ms(total)} ms summed over dispatches; wall ${
      ms(median(wall) * 1e6)
    } ms per run.`,
    "",
    "| kernel | dispatches | GPU ms | share |",
    "|---|--:|--:|--:|",
  );
  for (const [k, v] of [...byKernel].sort((a, b) => b[1].ns - a[1].ns)) {
    L.push(`| ${k} | ${v.n} | ${ms(v.ns)} | ${(100 * v.ns / total).toFixed(1)}% |`);
  }
  L.push("", "Slowest dispatches:", "", "| node | op | kernel | workgroups | GPU ms |");
  L.push("|---|---|---|---|--:|");
  for (const d of [...per].sort((a, b) => b.ns - a.ns).slice(0, 12)) {
    L.push(`| ${d.node} | ${d.op} | ${d.kernel} | ${d.workgroups.join("×")} | ${ms(d.ns)} |`);
  }
  L.push("");
  g.exe.dispose();
}
const md = L.join("\n");
console.log(md);
const out = strFlag(flags, "out", "");
if (out) await Deno.writeTextFile(out, md + "\n");

function ms(ns: number): string {
  const v = ns / 1e6;
  return v >= 10 ? v.toFixed(1) : v.toFixed(3);
}

/** Spread indices for stage `s` (the decoder's cost does not depend on which codes). */
function indices(n: number, s: number): Int32Array {
  const K = weights.config.codes;
  return Int32Array.from({ length: n }, (_, i) => (i * 131 + s * 977) % K);
}
