// Attention and window partition/reverse: WebGPU against the CPU references. Attention cases
// run under both kernel plans whatever the adapter: "sw" (scores scratch, softmax, P·V) and
// "hw" (the flash kernel with K/V tiles in workgroup memory).
import { ShapeError } from "../src/errors.ts";
import { cpuBackend } from "../src/graph/cpu_backend.ts";
import type { GpuContext } from "../src/graph/device.ts";
import { GraphBuilder } from "../src/graph/graph.ts";
import { webgpuBackend } from "../src/graph/webgpu_backend.ts";
import { attention } from "../src/ops/attention.ts";
import { windowPartition, windowReverse } from "../src/ops/window.ts";
import { assertEquals, assertThrows, rng } from "./assert.ts";
import { checkCase, compare, gpu, GPU_TEST, randomData } from "./harness.ts";

const f32 = (...shape: number[]) => ({ shape, dtype: "f32" as const });

async function contexts(): Promise<[string, GpuContext][]> {
  const ctx = (await gpu())!;
  return [
    ["sw", { ...ctx, caps: { ...ctx.caps, software: true } }],
    ["hw", { ...ctx, caps: { ...ctx.caps, software: false } }],
  ];
}

// [B, T, H, D]
const selfCases: [number, number, number, number][] = [
  [2, 1, 2, 8],
  [3, 3, 1, 16],
  [2, 17, 2, 32],
  [1, 65, 1, 64],
  [4, 64, 4, 32], // 8×8 windows
  [1, 1024, 2, 16], // one 32×32 map
  [2, 17, 3, 6], // D % 4 != 0: scalar kernel
  [1, 40, 1, 128], // largest head
];

Deno.test({
  name: "attention: matches the reference over awkward sequence lengths and head sizes",
  ...GPU_TEST,
  async fn() {
    let seed = 1;
    for (const [b, t, h, d] of selfCases) {
      for (const [kind, ctx] of await contexts()) {
        await checkCase(ctx, {
          name: `attention B=${b} T=${t} H=${h} D=${d} (${kind})`,
          op: attention,
          attrs: { heads: h },
          inputs: [f32(b, t, h * d), f32(b, t, h * d), f32(b, t, h * d)],
          tol: { atol: 2e-5, rtol: 1e-4 },
        }, seed);
      }
      seed++;
    }
  },
});

Deno.test({
  name: "attention: cross-attention, token axes of any rank, explicit scale, large logits",
  ...GPU_TEST,
  async fn() {
    for (const [kind, ctx] of await contexts()) {
      await checkCase(ctx, {
        name: `cross Tq=5 (as 1×5) Tk=70 (${kind})`,
        op: attention,
        attrs: { heads: 2, scale: 0.3 },
        inputs: [f32(2, 1, 5, 32), f32(2, 70, 32), f32(2, 70, 32)],
        tol: { atol: 2e-5, rtol: 1e-4 },
      }, 50);
      await checkCase(ctx, {
        name: `NHWC map 1×8×9×24, 3 heads of 8 (${kind})`,
        op: attention,
        attrs: { heads: 3 },
        inputs: [f32(1, 8, 9, 24), f32(1, 8, 9, 24), f32(1, 8, 9, 24)],
        tol: { atol: 2e-5, rtol: 1e-4 },
      }, 51);
      // Logits up to ~800: the running max must be rescaled correctly across key tiles.
      await checkCase(ctx, {
        name: `large logits (${kind})`,
        op: attention,
        attrs: { heads: 1 },
        inputs: [f32(2, 100, 64), f32(2, 100, 64), f32(2, 100, 64)],
        range: [[-10, 10], [-10, 10], [-1, 1]],
        tol: { atol: 5e-4, rtol: 1e-3 },
      }, 52);
    }
  },
});

Deno.test({
  name: "attention: the software plan splits batch·heads whose scores exceed its scratch budget",
  ...GPU_TEST,
  async fn() {
    // 17 sequences of 1024 tokens: 17 × 4 MiB of scores, over the 64 MiB budget → 2 chunks.
    const [, sw] = (await contexts())[0];
    await checkCase(sw, {
      name: "chunked scores",
      op: attention,
      attrs: { heads: 1 },
      inputs: [f32(17, 1024, 4), f32(17, 1024, 4), f32(17, 1024, 4)],
      tol: { atol: 2e-5, rtol: 1e-4 },
    }, 60);
  },
});

Deno.test({
  name: "window_partition / window_reverse: exact permutations, vec4 and scalar channels",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    let seed = 70;
    const cases: [number[], number][] = [
      [[2, 16, 24, 8], 8],
      [[1, 6, 9, 3], 3],
      [[3, 4, 4, 5], 1],
      [[1, 5, 5, 4], 5],
    ];
    for (const [[n, hh, w, c], ws] of cases) {
      await checkCase(ctx, {
        name: `window_partition ${[n, hh, w, c]} ws=${ws}`,
        op: windowPartition,
        attrs: { ws },
        inputs: [f32(n, hh, w, c)],
        tol: "exact",
      }, seed++);
      await checkCase(ctx, {
        name: `window_reverse ${[n, hh, w, c]} ws=${ws}`,
        op: windowReverse,
        attrs: { ws, height: hh, width: w },
        inputs: [f32(n * (hh / ws) * (w / ws), ws * ws, c)],
        tol: "exact",
      }, seed++);
    }
  },
});

Deno.test("window_partition: the reference layout is window-major, raster within a window", () => {
  // 1×4×4×1 image holding its own flat index; 2×2 windows.
  const x = Float32Array.from({ length: 16 }, (_, i) => i);
  const [y] = windowPartition.cpu([x], [f32(1, 4, 4, 1)], { ws: 2 });
  assertEquals(Array.from(y), [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
  const [back] = windowReverse.cpu([y], [f32(4, 4, 1)], { ws: 2, height: 4, width: 4 });
  assertEquals(Array.from(back), Array.from(x));
});

Deno.test({
  name: "window attention block: partition → attention → reverse matches the CPU backend",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const g = new GraphBuilder();
    const x = g.input("x", [1, 16, 24, 32]);
    const win = g.op1(windowPartition, [x], { ws: 8 });
    const att = g.op1(attention, [win, win, win], { heads: 4 });
    g.output("y", g.op1(windowReverse, [att], { ws: 8, height: 16, width: 24 }));
    const graph = g.build();
    const data = randomData(f32(1, 16, 24, 32), rng(9));
    const [gpuExe, cpuExe] = await Promise.all([
      webgpuBackend(ctx).compile(graph),
      cpuBackend().compile(graph),
    ]);
    try {
      const got = (await gpuExe.run({ x: data })).y;
      const want = (await cpuExe.run({ x: data })).y;
      compare(got, want, { atol: 2e-5, rtol: 1e-4 }, "window attention block");
    } finally {
      gpuExe.dispose();
      cpuExe.dispose();
    }
  },
});

Deno.test("attention and windows: bad shapes fail at build time naming the op", () => {
  const g = new GraphBuilder();
  const q = g.input("q", [2, 16, 24]);
  const k = g.input("k", [2, 9, 24]);
  const v = g.input("v", [2, 8, 24]);
  const k3 = g.input("k3", [3, 16, 24]);
  const flat = g.input("flat", [16, 24]);
  const wide = g.input("wide", [1, 4, 256]);
  assertThrows(
    () => g.op(attention, [q, q, q], { heads: 5 }, "att"),
    ShapeError,
    'attention "att"',
  );
  assertThrows(
    () => g.op(attention, [q, k, v], { heads: 2 }, "att2"),
    ShapeError,
    "k and v must have the same shape",
  );
  assertThrows(() => g.op(attention, [q, k3, k3], { heads: 2 }, "att3"), ShapeError, "batch");
  assertThrows(
    () => g.op(attention, [flat, flat, flat], { heads: 1 }, "att4"),
    ShapeError,
    "q must",
  );
  assertThrows(() => g.op(attention, [q, q], { heads: 1 }, "att5"), ShapeError, "expects q, k, v");
  assertThrows(
    () => g.op(attention, [wide, wide, wide], { heads: 1 }, "att6"),
    ShapeError,
    "head dimension 256 exceeds 128",
  );
  const img = g.input("img", [1, 12, 20, 8]);
  assertThrows(
    () => g.op(windowPartition, [img], { ws: 8 }, "wp"),
    ShapeError,
    'window_partition "wp": H×W 12×20 must be multiples of the window size 8',
  );
  assertThrows(() => g.op(windowPartition, [q], { ws: 2 }, "wp2"), ShapeError, "[N, H, W, C]");
  const wins = g.input("wins", [5, 16, 8]);
  assertThrows(
    () => g.op(windowReverse, [wins], { ws: 4, height: 8, width: 8 }, "wr"),
    ShapeError,
    'window_reverse "wr": input f32[5×16×8] is not a whole number',
  );
  assertThrows(
    () => g.op(windowReverse, [wins], { ws: 4, height: 8, width: 6 }, "wr2"),
    ShapeError,
    "must be multiples of the window size 4",
  );
});
