// Long run of the coding mutation fuzzer (tests/coding_support.ts).
// Run: deno run -A bench/fuzz_coding.ts [cases=100000] [seed=1]
// Exits non-zero when a case throws anything but a TesseraError or decodes to wrong content.

import { fuzz } from "../tests/coding_support.ts";

const cases = Number(Deno.args[0] ?? 100_000);
const seed = Number(Deno.args[1] ?? 1);
const t0 = performance.now();
const stats = fuzz(seed, cases);
const seconds = (performance.now() - t0) / 1000;
console.log(`cases ${stats.cases}, seed ${seed}, ${seconds.toFixed(1)} s`);
console.log(`decoded (strict pass): ${stats.decoded}`);
console.log(`typed errors (strict and best-effort passes): ${JSON.stringify(stats.typedErrors)}`);
console.log(`slowest case: ${stats.maxCaseMs.toFixed(1)} ms`);
console.log(`failures: ${stats.failures.length}`);
for (const f of stats.failures.slice(0, 10)) console.log(f);
if (stats.failures.length > 0) Deno.exit(1);
