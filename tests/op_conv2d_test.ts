import { conv2d, type Conv2dAttrs, weightsFromTorch } from "../src/ops/conv2d.ts";
import { ShapeError } from "../src/errors.ts";
import { GraphBuilder } from "../src/graph/graph.ts";
import { assertEquals, assertThrows } from "./assert.ts";
import { checkCase, gpu, GPU_TEST, kernelPlans } from "./harness.ts";

const f32 = (...shape: number[]) => ({ shape, dtype: "f32" as const });

interface Case {
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  attrs: Conv2dAttrs;
}

// Covers the kernels: pointwise (GEMM), depthwise (hardware and software plans) and the general
// direct conv.
const cases: Case[] = [
  { x: [1, 8, 8, 16], k: [1, 1], cout: 8, attrs: {} }, // pointwise → GEMM
  { x: [2, 5, 7, 12], k: [1, 1], cout: 20, attrs: { epilogue: { bias: true, act: "relu" } } },
  { x: [1, 9, 11, 8], k: [3, 3], cout: 8, attrs: { padding: 1, groups: 8 } }, // depthwise
  { x: [1, 17, 5, 4], k: [3, 3], cout: 4, attrs: { padding: 1, groups: 4, stride: 2 } },
  { x: [1, 6, 9, 8], k: [5, 5], cout: 8, attrs: { padding: 2, groups: 8 } },
  { x: [1, 13, 13, 16], k: [7, 7], cout: 16, attrs: { padding: 3, groups: 16 } },
  { x: [1, 5, 6, 3], k: [3, 3], cout: 3, attrs: { padding: 1, groups: 3 } }, // odd C → general
  { x: [1, 10, 9, 12], k: [3, 3], cout: 16, attrs: { padding: 1 } },
  { x: [1, 16, 17, 12], k: [3, 3], cout: 8, attrs: { padding: 1, stride: 2 } }, // ProGIC g_a
  { x: [1, 9, 8, 3], k: [3, 3], cout: 5, attrs: { padding: 1 } }, // COB = 1
  { x: [1, 8, 8, 8], k: [3, 3], cout: 12, attrs: { padding: [0, 0, 1, 1], stride: 2 } },
  { x: [2, 7, 6, 8], k: [3, 3], cout: 6, attrs: { padding: 1, groups: 2 } }, // coutG 3
  { x: [1, 1, 1, 4], k: [3, 3], cout: 4, attrs: { padding: 1 } },
  { x: [1, 65, 3, 4], k: [3, 1], cout: 8, attrs: { padding: [1, 0] } },
  { x: [1, 5, 9, 8], k: [3, 3], cout: 16, attrs: { padding: 1, groups: 2 } }, // grouped, COV 2
  { x: [1, 6, 5, 8], k: [3, 3], cout: 8, attrs: { padding: 1, groups: 2 } }, // grouped, COV 1
  { x: [2, 9, 19, 8], k: [3, 3], cout: 8, attrs: { padding: 1, groups: 8 } }, // dw, odd rows
  { x: [1, 11, 13, 8], k: [5, 5], cout: 8, attrs: { padding: 2, groups: 8, stride: 2 } },
  { x: [1, 15, 30, 4], k: [7, 7], cout: 4, attrs: { padding: 3, groups: 4, stride: 2 } },
  { x: [1, 3, 4, 4], k: [3, 3], cout: 4, attrs: { padding: 0, groups: 4 } }, // Ho = 1
  { x: [1, 37, 70, 8], k: [3, 3], cout: 8, attrs: { padding: 1, groups: 8 } }, // dw, 90 tiles
  { x: [2, 6, 10, 12], k: [3, 3], cout: 12, attrs: { padding: [0, 0, 1, 1], groups: 12 } },
];

Deno.test({
  name: "conv2d: WebGPU matches CPU reference (pointwise, depthwise, general; both plans)",
  ...GPU_TEST,
  async fn() {
    let seed = 1;
    for (const [plan, ctx] of await kernelPlans()) {
      for (const c of cases) {
        const groups = c.attrs.groups ?? 1;
        const extra = c.attrs.epilogue?.bias ? [f32(c.cout)] : [];
        await checkCase(ctx, {
          name: `conv2d (${plan}) ${JSON.stringify(c)}`,
          op: conv2d,
          attrs: c.attrs,
          inputs: [f32(...c.x), f32(c.k[0], c.k[1], c.x[3] / groups, c.cout), ...extra],
          tol: { atol: 1e-5, rtol: 1e-4 },
        }, seed++);
      }
    }
  },
});

Deno.test({
  name: "conv2d: fused epilogues on depthwise and general kernels",
  ...GPU_TEST,
  async fn() {
    for (const [plan, ctx] of await kernelPlans()) {
      await checkCase(ctx, {
        name: `depthwise + bias + residual (${plan})`,
        op: conv2d,
        attrs: { padding: 1, groups: 8, epilogue: { bias: true, residual: true } },
        inputs: [f32(1, 6, 7, 8), f32(3, 3, 1, 8), f32(8), f32(1, 6, 7, 8)],
        tol: { atol: 1e-5, rtol: 1e-4 },
      }, 50);
    }
    const ctx = (await gpu())!;
    await checkCase(ctx, {
      name: "general + relu + affine + mul",
      op: conv2d,
      attrs: {
        padding: 1,
        stride: 2,
        epilogue: { bias: true, act: "relu", affine: true, mul: true },
      },
      inputs: [f32(1, 7, 7, 4), f32(3, 3, 4, 8), f32(8), f32(8), f32(8), f32(1, 4, 4, 8)],
      tol: { atol: 1e-5, rtol: 1e-4 },
    }, 51);
  },
});

Deno.test("conv2d: CPU reference matches a hand-computed convolution", () => {
  // 1×3×3×1 input 1..9, 3×3 kernel of ones with padding 1: each output sums its neighbourhood.
  const x = Float32Array.from({ length: 9 }, (_, i) => i + 1);
  const w = new Float32Array(9).fill(1);
  const [y] = conv2d.cpu([x, w], [f32(1, 3, 3, 1), f32(3, 3, 1, 1)], { padding: 1 });
  assertEquals(Array.from(y), [12, 21, 16, 27, 45, 33, 24, 39, 28]);
});

Deno.test("conv2d: torch weight layout converts to [KH, KW, Cin, Cout]", () => {
  // torch [Cout=2, Cin=1, 1, 2]: w[o][0][0][x] = 10·o + x
  const w = weightsFromTorch(new Float32Array([0, 1, 10, 11]), [2, 1, 1, 2]);
  assertEquals(Array.from(w), [0, 10, 1, 11]);
});

Deno.test("conv2d: bad shapes fail at build time naming the op", () => {
  const g = new GraphBuilder();
  const x = g.input("x", [1, 8, 8, 6]);
  const w = g.input("w", [3, 3, 4, 8]);
  assertThrows(
    () => g.op(conv2d, [x, w], { padding: 1 }, "enc.down"),
    ShapeError,
    'conv2d "enc.down"',
  );
  const w2 = g.input("w2", [3, 3, 3, 8]);
  assertThrows(() => g.op(conv2d, [x, w2], { groups: 4 }, "c"), ShapeError, "groups 4");
  const w3 = g.input("w3", [9, 9, 6, 8]);
  assertThrows(() => g.op(conv2d, [x, w3], {}, "big"), ShapeError, "does not fit");
});
