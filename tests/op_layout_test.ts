import {
  concat,
  pixelShuffle,
  pixelUnshuffle,
  reshape,
  slice,
  upsampleNearest,
} from "../src/ops/layout.ts";
import { matmul } from "../src/ops/matmul.ts";
import { ShapeError } from "../src/errors.ts";
import { cpuBackend } from "../src/graph/cpu_backend.ts";
import { GraphBuilder } from "../src/graph/graph.ts";
import type { TensorSpec } from "../src/graph/tensor.ts";
import { webgpuBackend } from "../src/graph/webgpu_backend.ts";
import { assertEquals, assertThrows, rng } from "./assert.ts";
import { checkCase, gpu, GPU_TEST, randomData, runOp } from "./harness.ts";

const f32 = (...shape: number[]): TensorSpec => ({ shape, dtype: "f32" });
const i32 = (...shape: number[]): TensorSpec => ({ shape, dtype: "i32" });

Deno.test("pixel_unshuffle / pixel_shuffle: PyTorch channel order on hand-computed examples", () => {
  // x[0, y, x, c] = 100c + 10y + x on a 2×2 image with 2 channels. PyTorch's
  // pixel_unshuffle(2) puts sub-pixel (i, j) of channel c at channel c·4 + i·2 + j.
  const x = new Float32Array([0, 100, 1, 101, 10, 110, 11, 111]);
  const [u] = pixelUnshuffle.cpu([x], [f32(1, 2, 2, 2)], { r: 2 });
  assertEquals(Array.from(u), [0, 1, 10, 11, 100, 101, 110, 111]);
  // pixel_shuffle(2) of channels 0…7 at one pixel: output channel c at sub-pixel (i, j) is
  // input channel c·4 + i·2 + j, so pixels (0,0) (0,1) (1,0) (1,1) hold (0,4) (1,5) (2,6) (3,7).
  const s = Float32Array.from({ length: 8 }, (_, i) => i);
  const [y] = pixelShuffle.cpu([s], [f32(1, 1, 1, 8)], { r: 2 });
  assertEquals(Array.from(y), [0, 4, 1, 5, 2, 6, 3, 7]);
  // A 4×4 image, one channel, r = 2: output pixel (h, w) lists its 2×2 block row by row.
  const z = Float32Array.from({ length: 16 }, (_, i) => i);
  const [zu] = pixelUnshuffle.cpu([z], [f32(1, 4, 4, 1)], { r: 2 });
  assertEquals(Array.from(zu), [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
  const [back] = pixelShuffle.cpu([zu], [f32(1, 2, 2, 4)], { r: 2 });
  assertEquals(Array.from(back), Array.from(z));
});

const shuffleCases: [number[], number][] = [
  // [large NHWC shape, r]
  [[1, 1, 1, 1], 1],
  [[1, 2, 2, 3], 2],
  [[2, 3, 6, 1], 3],
  [[1, 17, 17, 5], 1],
  [[2, 6, 3, 17], 3],
  [[1, 16, 24, 3], 8], // ProGIC's unshuffle(8) of an RGB image
  [[1, 4, 2, 65], 2],
];

Deno.test({
  name: "pixel_shuffle / pixel_unshuffle: WebGPU matches CPU exactly",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    let seed = 1;
    for (const [[n, h, w, c], r] of shuffleCases) {
      await checkCase(ctx, {
        name: `pixel_unshuffle ${[n, h, w, c]} r=${r}`,
        op: pixelUnshuffle,
        attrs: { r },
        inputs: [f32(n, h, w, c)],
        tol: "exact",
      }, seed++);
      await checkCase(ctx, {
        name: `pixel_shuffle ${[n, h / r, w / r, c * r * r]} r=${r}`,
        op: pixelShuffle,
        attrs: { r },
        inputs: [f32(n, h / r, w / r, c * r * r)],
        tol: "exact",
      }, seed++);
    }
    await checkCase(ctx, {
      name: "pixel_shuffle i32",
      op: pixelShuffle,
      attrs: { r: 2 },
      inputs: [i32(1, 3, 5, 12)],
      range: [-1e6, 1e6],
      tol: "exact",
    }, seed++);
  },
});

Deno.test({
  name: "pixel_shuffle ∘ pixel_unshuffle is the identity on WebGPU",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const g = new GraphBuilder();
    const x = g.input("x", [2, 24, 16, 3]);
    const u = g.op1(pixelUnshuffle, [x], { r: 8 });
    g.output("y", g.op1(pixelShuffle, [u], { r: 8 }));
    const exe = await webgpuBackend(ctx).compile(g.build());
    try {
      const data = randomData(f32(2, 24, 16, 3), rng(3));
      const { y } = await exe.run({ x: data });
      assertEquals(y, data);
    } finally {
      exe.dispose();
    }
  },
});

Deno.test({
  name: "upsample_nearest: WebGPU matches CPU exactly",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    let seed = 10;
    for (
      const [shape, scale] of [[[1, 1, 1, 1], 1], [[1, 3, 17, 5], 2], [[2, 5, 3, 65], 3]] as const
    ) {
      await checkCase(ctx, {
        name: `upsample ${shape} ×${scale}`,
        op: upsampleNearest,
        attrs: { scale },
        inputs: [f32(...shape)],
        tol: "exact",
      }, seed++);
    }
  },
});

Deno.test("upsample_nearest: CPU known answer", () => {
  const [y] = upsampleNearest.cpu([new Float32Array([1, 2, 3, 4])], [f32(1, 1, 2, 2)], {
    scale: 2,
  });
  assertEquals(Array.from(y), [1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4]);
});

Deno.test({
  name: "concat / slice: WebGPU matches CPU exactly",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    let seed = 20;
    const concatCases: number[][][] = [
      [[1, 1], [1, 1]],
      [[3, 17], [3, 1], [3, 65]],
      [[1, 5, 7, 3], [1, 5, 7, 17], [1, 5, 7, 4], [1, 5, 7, 1]],
      // More inputs than a shader stage has storage bindings: one launch per input.
      Array.from({ length: 10 }, (_, i) => [2, 3, i + 1]),
    ];
    for (const shapes of concatCases) {
      await checkCase(ctx, {
        name: `concat ${shapes.map((s) => s.join("×")).join(" + ")}`,
        op: concat,
        attrs: {},
        inputs: shapes.map((s) => f32(...s)),
        tol: "exact",
      }, seed++);
    }
    await checkCase(ctx, {
      name: "concat i32",
      op: concat,
      attrs: {},
      inputs: [i32(4, 3), i32(4, 5)],
      range: [-1e6, 1e6],
      tol: "exact",
    }, seed++);
    for (
      const [shape, start, size] of [[[1, 1], 0, 1], [[3, 17], 5, 12], [[1, 5, 7, 65], 1, 63], [
        [17, 65],
        64,
        1,
      ]] as const
    ) {
      await checkCase(ctx, {
        name: `slice ${shape} [${start}, +${size})`,
        op: slice,
        attrs: { start, size },
        inputs: [f32(...shape)],
        tol: "exact",
      }, seed++);
    }
  },
});

Deno.test("concat / slice: CPU known answers", () => {
  const a = new Float32Array([1, 2, 3, 4]), b = new Float32Array([5, 6]);
  const [c] = concat.cpu([a, b], [f32(2, 2), f32(2, 1)], {});
  assertEquals(Array.from(c), [1, 2, 5, 3, 4, 6]);
  const [s] = slice.cpu([c], [f32(2, 3)], { start: 1, size: 2 });
  assertEquals(Array.from(s), [2, 5, 4, 6]);
});

Deno.test({
  name: "reshape aliases storage: a graph that reshapes between ops matches the CPU backend",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const rand = rng(7);
    const w = randomData(f32(12, 6), rand) as Float32Array;
    const g = new GraphBuilder();
    const x = g.input("x", [1, 6, 10, 2]);
    // Reshape a graph input, an intermediate, a value two ops read, and a graph output.
    const xr = g.op1(reshape, [x], { shape: [1, 6, -1, 4] }, "x_as_5x4");
    const back = g.op1(reshape, [xr], { shape: [1, 6, 10, 2] });
    const u = g.op1(pixelUnshuffle, [back], { r: 2 }); // [1, 3, 5, 8]
    const flat = g.op1(reshape, [u], { shape: [-1, 8] }, "flat"); // [15, 8]
    const s = g.op1(slice, [flat], { start: 2, size: 4 }); // [15, 4]
    const rows = g.op1(reshape, [s], { shape: [5, 12] });
    g.output("y", g.op1(matmul, [rows, g.constant("w", w, [12, 6])], {}));
    g.output("flat", flat);
    const cat = g.op1(concat, [s, s], {});
    g.output("cat", g.op1(reshape, [cat], { shape: [1, 3, 5, 8] }));
    // The planner must keep `big` alive through its alias: `four` (same size) is produced
    // while `big` is only reachable through `bigView`, which is read afterwards.
    const big = g.op1(upsampleNearest, [x], { scale: 2 }); // [1, 12, 20, 2]
    const bigView = g.op1(reshape, [big], { shape: [1, 6, 10, 8] });
    const four = g.op1(concat, [x, x, x, x], {}); // [1, 6, 10, 8]
    g.output("hazard", g.op1(concat, [bigView, four], {}));
    const graph = g.build();
    const gpuExe = await webgpuBackend(ctx).compile(graph);
    const cpuExe = await cpuBackend().compile(graph);
    try {
      // Reshapes record no dispatch: unshuffle, slice, matmul, upsample, and one launch per
      // concat input (2 + 4 + 2).
      assertEquals(gpuExe.stats.dispatches, 12);
      const feed = { x: randomData(f32(1, 6, 10, 2), rand) };
      const got = await gpuExe.run(feed);
      const want = await cpuExe.run(feed);
      assertEquals(got.flat, want.flat);
      assertEquals(got.cat, want.cat);
      assertEquals(got.hazard, want.hazard);
      const { y: gy } = got, { y: wy } = want;
      for (let i = 0; i < wy.length; i++) {
        if (!(Math.abs(gy[i] - wy[i]) <= 1e-5 + 1e-4 * Math.abs(wy[i]))) {
          throw new Error(`y[${i}] = ${gy[i]}, want ${wy[i]}`);
        }
      }
    } finally {
      gpuExe.dispose();
      cpuExe.dispose();
    }
  },
});

Deno.test({
  name: "reshape: output aliasing a graph input runs with no kernel",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const data = randomData(i32(2, 3, 4), rng(9), -100, 100);
    const [y] = await runOp(ctx, reshape, { shape: [4, -1] }, [{ spec: i32(2, 3, 4), data }]);
    assertEquals(y, data);
  },
});

Deno.test("reshape: CPU reference returns its input unchanged", () => {
  const x = new Float32Array([1, 2, 3, 4, 5, 6]);
  const [y] = reshape.cpu([x], [f32(2, 3)], { shape: [3, 2] });
  assertEquals(y === x, true);
});

Deno.test("layout ops: bad shapes fail at build time naming the op", () => {
  const g = new GraphBuilder();
  const x = g.input("x", [1, 6, 10, 12]);
  assertThrows(
    () => g.op(pixelUnshuffle, [x], { r: 4 }, "down"),
    ShapeError,
    'pixel_unshuffle "down"',
  );
  assertThrows(
    () => g.op(pixelShuffle, [x], { r: 3 }, "up"),
    ShapeError,
    "not a multiple of r² = 9",
  );
  assertThrows(() => g.op(pixelShuffle, [x], { r: 0 }, "up0"), ShapeError, "r must be an integer");
  const flat = g.input("flat", [12]);
  assertThrows(() => g.op(pixelShuffle, [flat], { r: 1 }, "up1"), ShapeError, "must be NHWC");
  assertThrows(
    () => g.op(upsampleNearest, [x], { scale: 1.5 }, "ups"),
    ShapeError,
    'upsample_nearest "ups"',
  );
  const y = g.input("y", [1, 6, 9, 2]);
  assertThrows(() => g.op(concat, [x, y], {}, "cat"), ShapeError, 'concat "cat": input 1');
  assertThrows(() => g.op(concat, [x], {}, "cat1"), ShapeError, "at least 2 inputs");
  const yi = g.input("yi", [1, 6, 10, 2], "i32");
  assertThrows(() => g.op(concat, [x, yi], {}, "cat2"), ShapeError, "dtype");
  assertThrows(() => g.op(slice, [x], { start: 10, size: 3 }, "sl"), ShapeError, 'slice "sl"');
  assertThrows(() => g.op(slice, [x], { start: 0, size: 0 }, "sl0"), ShapeError, "not inside");
  assertThrows(() => g.op(reshape, [x], { shape: [-1, -1] }, "rs"), ShapeError, "at most one −1");
  assertThrows(() => g.op(reshape, [x], { shape: [7, -1] }, "rs2"), ShapeError, 'reshape "rs2"');
  assertThrows(() => g.op(reshape, [x], { shape: [720, 2] }, "rs3"), ShapeError, "cannot reshape");
  assertThrows(() => g.op(reshape, [x], { shape: [0, 720] }, "rs4"), ShapeError, "integers ≥ 1");
});
