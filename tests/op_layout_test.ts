import { pixelShuffle, pixelUnshuffle, reshape } from "../src/ops/layout.ts";
import { conv2d } from "../src/ops/conv2d.ts";
import { ShapeError } from "../src/errors.ts";
import { GraphBuilder } from "../src/graph/graph.ts";
import { cpuBackend } from "../src/graph/cpu_backend.ts";
import { webgpuBackend } from "../src/graph/webgpu_backend.ts";
import { assertEquals, assertThrows, rng } from "./assert.ts";
import { checkCase, compare, gpu, GPU_TEST, randomData } from "./harness.ts";

const f32 = (...shape: number[]) => ({ shape, dtype: "f32" as const });

Deno.test("pixel_unshuffle: PyTorch channel order on a hand-computed example", () => {
  // 1×2×2×2 (NHWC) input, r = 2. Channel c of pixel (y, x) holds 100·c + 10·y + x.
  const x = new Float32Array(8);
  for (let y = 0; y < 2; y++) {
    for (let xx = 0; xx < 2; xx++) {
      for (let c = 0; c < 2; c++) x[(y * 2 + xx) * 2 + c] = 100 * c + 10 * y + xx;
    }
  }
  const [y] = pixelUnshuffle.cpu([x], [f32(1, 2, 2, 2)], { r: 2 });
  // torch.pixel_unshuffle: out channel c·4 + i·2 + j = in[c, i, j]
  assertEquals(Array.from(y), [0, 1, 10, 11, 100, 101, 110, 111]);
  const [back] = pixelShuffle.cpu([y], [f32(1, 1, 1, 8)], { r: 2 });
  assertEquals(Array.from(back), Array.from(x));
});

Deno.test({
  name: "pixel shuffle / unshuffle: WebGPU equals the reference exactly",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    let seed = 1;
    for (
      const [shape, r] of [[[1, 3, 5, 4 * 3], 2], [[2, 2, 1, 64 * 3], 8], [
        [1, 17, 3, 9],
        3,
      ]] as const
    ) {
      await checkCase(ctx, {
        name: `shuffle ${shape} r${r}`,
        op: pixelShuffle,
        attrs: { r },
        inputs: [f32(...shape)],
        tol: "exact",
      }, seed++);
    }
    for (
      const [shape, r] of [[[1, 16, 24, 3], 8], [[2, 6, 4, 5], 2], [[1, 65, 65, 1], 5]] as const
    ) {
      await checkCase(ctx, {
        name: `unshuffle ${shape} r${r}`,
        op: pixelUnshuffle,
        attrs: { r },
        inputs: [f32(...shape)],
        tol: "exact",
      }, seed++);
    }
  },
});

Deno.test({
  name: "reshape aliases its input and the planner keeps it alive",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const g = new GraphBuilder();
    const x = g.input("x", [1, 4, 4, 8]);
    const w = g.constant("w", randomData(f32(1, 1, 8, 8), rng(2)) as Float32Array, [1, 1, 8, 8]);
    const a = g.op1(conv2d, [x, w], {}, "a");
    const flat = g.op1(reshape, [a], { shape: [-1, 8] }, "flat");
    const c = g.op1(conv2d, [g.op1(reshape, [flat], { shape: [1, 4, 4, 8] }, "back"), w, a], {
      epilogue: { residual: true },
    }, "c");
    g.output("flat", flat);
    g.output("c", c);
    const graph = g.build();
    const input = randomData(f32(1, 4, 4, 8), rng(3));
    const want = await (await cpuBackend().compile(graph)).run({ x: input });
    const got = await (await webgpuBackend(ctx).compile(graph)).run({ x: input });
    assertEquals(got.flat.length, 128);
    compare(got.flat, want.flat, { atol: 1e-5, rtol: 1e-5 }, "flat");
    compare(got.c, want.c, { atol: 1e-5, rtol: 1e-5 }, "c");
  },
});

Deno.test("layout ops: bad shapes fail at build time naming the op", () => {
  const g = new GraphBuilder();
  const x = g.input("x", [1, 6, 6, 5]);
  assertThrows(() => g.op(pixelUnshuffle, [x], { r: 4 }, "u"), ShapeError, 'pixel_unshuffle "u"');
  assertThrows(() => g.op(pixelShuffle, [x], { r: 2 }, "s"), ShapeError, "multiple of 4");
  assertThrows(() => g.op(reshape, [x], { shape: [7, -1] }, "r"), ShapeError, "cannot view");
});
