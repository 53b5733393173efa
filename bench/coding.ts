// Throughput and compression of src/coding. Run: deno run -A bench/coding.ts [--quick]
// Prints a Markdown table for bench/RESULTS.md ("## Coding"). Each case runs in its own
// process, so one case's JIT feedback cannot slow another down.

import {
  BitReader,
  BitWriter,
  crc32,
  FrequencyTable,
  logScales,
  ParametricFamily,
  PROB_SCALE,
  RansDecoder,
  RansEncoder,
} from "../src/coding/mod.ts";
import process from "node:process";
import { rng } from "../tests/assert.ts";

const quick = Deno.args.includes("--quick");
const only = Deno.args.find((a) => a.startsWith("--case="))?.slice(7);
const N = quick ? 500_000 : 4_000_000;
const REPS = quick ? 3 : 7;
const r = rng(1);

interface Timing {
  wall: number;
  cpu: number;
}

/**
 * Best wall and CPU time (ms) of `REPS` runs; the first run also warms the JIT. CPU time is
 * what the process actually got: on a shared machine it is the fairer measure of the code.
 */
function best(fn: () => void): Timing {
  const t: Timing = { wall: Infinity, cpu: Infinity };
  for (let i = 0; i < REPS; i++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    fn();
    const wall = performance.now() - t0, c = process.cpuUsage(c0);
    t.wall = Math.min(t.wall, wall);
    t.cpu = Math.min(t.cpu, (c.user + c.system) / 1000);
  }
  return t;
}

/** "wall (cpu)" throughput in M items/s. */
const mps = (count: number, t: Timing) =>
  `${(count / t.wall / 1000).toFixed(1)} (${(count / t.cpu / 1000).toFixed(1)})`;

/** Tables shaped like a learned model's: two-sided geometric around a random centre. */
function modelTable(n: number): FrequencyTable {
  const w = new Float64Array(n);
  const centre = r() * n, decay = 1 - 1 / (2 + r() * n / 6);
  for (let i = 0; i < n; i++) {
    let p = 1;
    for (let d = Math.abs(i - Math.floor(centre)); d > 0; d--) p *= decay;
    w[i] = p;
  }
  return FrequencyTable.fromProbabilities(w);
}

type Row = string[];

function benchTables(n: number, count: number): Row {
  const tables = Array.from({ length: count }, () => modelTable(n));
  const which = Uint8Array.from({ length: N }, () => Math.floor(r() * count));
  const syms = new Uint16Array(N);
  let ideal = 0;
  for (let i = 0; i < N; i++) {
    const t = tables[which[i]], slot = Math.floor(r() * PROB_SCALE);
    let s = 0;
    while (t.cdf[s + 1] <= slot) s++;
    syms[i] = s;
    ideal += t.cost(s);
  }
  const enc = new RansEncoder(N);
  let bytes = new Uint8Array(0);
  const encMs = best(() => {
    for (let i = 0; i < N; i++) enc.encode(syms[i], tables[which[i]]);
    bytes = enc.finish();
  });
  const out = new Uint16Array(N);
  const decMs = best(() => {
    const dec = new RansDecoder(bytes);
    for (let i = 0; i < N; i++) out[i] = dec.decode(tables[which[i]]);
    dec.finish();
  });
  for (let i = 0; i < N; i++) if (out[i] !== syms[i]) throw new Error(`mismatch at ${i}`);
  const overhead = ((bytes.length * 8 - ideal) / ideal * 100).toFixed(4);
  return [
    `rANS, ${n}-symbol alphabet, ${count} tables chosen per symbol`,
    mps(N, encMs),
    mps(N, decMs),
    `${(ideal / N).toFixed(3)} bits/sym ideal, +${overhead}%`,
  ];
}

function benchRansBits(bits: number): Row {
  const vals = Uint32Array.from({ length: N }, () => Math.floor(r() * 2 ** bits));
  const enc = new RansEncoder(N);
  let bytes = new Uint8Array(0);
  const encMs = best(() => {
    for (let i = 0; i < N; i++) enc.encodeBits(vals[i], bits);
    bytes = enc.finish();
  });
  const out = new Uint32Array(N);
  const decMs = best(() => {
    const dec = new RansDecoder(bytes);
    for (let i = 0; i < N; i++) out[i] = dec.decodeBits(bits);
    dec.finish();
  });
  if (out.some((v, i) => v !== vals[i])) throw new Error("bypass mismatch");
  const over = bytes.length - N * bits / 8;
  return [`rANS bypass, ${bits}-bit fields`, mps(N, encMs), mps(N, decMs), `+${over} bytes`];
}

function benchBitPacking(bits: number): Row {
  const vals = Uint32Array.from({ length: N }, () => Math.floor(r() * 2 ** bits));
  const out = new Uint32Array(N);
  let packed = new Uint8Array(0);
  const wMs = best(() => {
    const w = new BitWriter(N * bits / 8);
    for (let i = 0; i < N; i++) w.writeBits(vals[i], bits);
    packed = w.finish();
  });
  const rMs = best(() => {
    const br = new BitReader(packed);
    for (let i = 0; i < N; i++) out[i] = br.readBits(bits);
    br.finish();
  });
  if (out.some((v, i) => v !== vals[i])) throw new Error("bit-packing mismatch");
  return [
    `BitWriter/BitReader, ${bits}-bit fields`,
    mps(N, wMs),
    mps(N, rMs),
    `+${packed.length - N * bits / 8} bytes`,
  ];
}

function benchGaussian(): Row {
  const fam = new ParametricFamily({
    kind: "gaussian",
    scales: logScales(0.11, 256, 64),
    meanLevels: 4,
  });
  const sc = Uint8Array.from({ length: N }, () => Math.floor(r() ** 2 * 40));
  const mi = Uint8Array.from({ length: N }, () => Math.floor(r() * 4));
  const vals = Int32Array.from(
    { length: N },
    (_, i) => Math.round((r() + r() + r() - 1.5) * 2 * fam.scales[sc[i]] + mi[i] / 4),
  );
  let ideal = 0;
  for (let i = 0; i < N; i++) ideal += fam.cost(vals[i], sc[i], mi[i]);
  const enc = new RansEncoder(N);
  let bytes = new Uint8Array(0);
  const encMs = best(() => {
    for (let i = 0; i < N; i++) fam.encode(enc, vals[i], sc[i], mi[i]);
    bytes = enc.finish();
  });
  const out = new Int32Array(N);
  const decMs = best(() => {
    const dec = new RansDecoder(bytes);
    for (let i = 0; i < N; i++) out[i] = fam.decode(dec, sc[i], mi[i]);
    dec.finish();
  });
  if (out.some((v, i) => v !== vals[i])) throw new Error("gaussian mismatch");
  const overhead = ((bytes.length * 8 - ideal) / ideal * 100).toFixed(4);
  return [
    "Gaussian family (64 scales × 4 means), per symbol",
    mps(N, encMs),
    mps(N, decMs),
    `${(ideal / N).toFixed(3)} bits/value ideal, +${overhead}%`,
  ];
}

function benchCrc(): Row {
  const data = Uint8Array.from({ length: 1 << 24 }, () => Math.floor(r() * 256));
  return ["CRC-32, MB/s", "", mps(data.length, best(() => crc32(data))), ""];
}

const CASES: Record<string, () => Row> = {
  rans256: () => benchTables(256, 64),
  rans1024: () => benchTables(1024, 64),
  ransBits: () => benchRansBits(10),
  bitPacking: () => benchBitPacking(10),
  gaussian: benchGaussian,
  crc: benchCrc,
};

if (only) {
  console.log(JSON.stringify(CASES[only]()));
} else {
  console.log(
    `${N.toLocaleString("en")} symbols per run, best of ${REPS}; M symbols/s by wall clock ` +
      "(and per CPU-second the process got).\n",
  );
  console.log("| stream | encode | decode | size |");
  console.log("|---|---:|---:|---|");
  for (const name of Object.keys(CASES)) {
    const args = ["run", "-A", new URL(import.meta.url).pathname, `--case=${name}`];
    if (quick) args.push("--quick");
    const { stdout, success } = await new Deno.Command(Deno.execPath(), { args }).output();
    if (!success) throw new Error(`case ${name} failed`);
    const row: Row = JSON.parse(new TextDecoder().decode(stdout));
    console.log(`| ${row.join(" | ")} |`);
  }
}
