import { matmul } from "../src/ops/matmul.ts";
import type { Epilogue } from "../src/ops/epilogue.ts";
import { ShapeError } from "../src/errors.ts";
import { GraphBuilder } from "../src/graph/graph.ts";
import { assertThrows } from "./assert.ts";
import { checkCase, gpu, GPU_TEST, kernelPlans } from "./harness.ts";

const f32 = (...shape: number[]) => ({ shape, dtype: "f32" as const });

const shapes: [number, number, number][] = [
  [1, 4, 4],
  [3, 8, 4],
  [17, 12, 20],
  [65, 64, 36],
  [130, 96, 128],
  [5, 3, 7], // scalar path: K and N not multiples of 4
  [33, 17, 1],
  [64, 1, 5],
];

Deno.test({
  name: "matmul: WebGPU matches CPU reference over awkward shapes (both kernel plans)",
  ...GPU_TEST,
  async fn() {
    let seed = 1;
    for (const [plan, ctx] of await kernelPlans()) {
      for (const [m, k, n] of [...shapes, [129, 20, 72] as [number, number, number]]) {
        await checkCase(ctx, {
          name: `matmul ${plan} ${m}x${k}x${n}`,
          op: matmul,
          attrs: {},
          inputs: [f32(m, k), f32(k, n)],
          tol: { atol: 1e-5, rtol: 1e-4 },
        }, seed++);
      }
    }
  },
});

Deno.test({
  name: "matmul: batched and rank-4 activations",
  ...GPU_TEST,
  async fn() {
    for (const [plan, ctx] of await kernelPlans()) {
      await checkCase(ctx, {
        name: `batched (${plan})`,
        op: matmul,
        attrs: {},
        inputs: [f32(3, 17, 8), f32(3, 8, 12)],
        tol: { atol: 1e-5, rtol: 1e-4 },
      }, 7);
      await checkCase(ctx, {
        name: `pointwise conv as GEMM (${plan})`,
        op: matmul,
        attrs: {},
        inputs: [f32(1, 5, 7, 16), f32(16, 24)],
        tol: { atol: 1e-5, rtol: 1e-4 },
      }, 8);
    }
  },
});

const epilogues: Epilogue[] = [
  { bias: true },
  { bias: true, act: "relu" },
  { act: "leaky_relu", alpha: 0.2 },
  { bias: true, act: "silu", residual: true },
  { act: "gelu", affine: true },
  { bias: true, act: "sigmoid", mul: true, residual: true },
  { act: "tanh", bias: true, affine: true, mul: true, residual: true },
];

Deno.test({
  name: "matmul: fused epilogues match the reference",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    let seed = 100;
    for (const [m, k, n] of [[19, 12, 8], [9, 5, 3]] as const) {
      for (const ep of epilogues) {
        const extra = [];
        if (ep.bias) extra.push(f32(n));
        if (ep.affine) extra.push(f32(n), f32(n));
        if (ep.mul) extra.push(f32(m, n));
        if (ep.residual) extra.push(f32(m, n));
        await checkCase(ctx, {
          name: `matmul ${m}x${k}x${n} ${JSON.stringify(ep)}`,
          op: matmul,
          attrs: { epilogue: ep },
          inputs: [f32(m, k), f32(k, n), ...extra],
          range: [-2, 2],
          tol: { atol: 1e-5, rtol: 1e-4 },
        }, seed++);
      }
    }
  },
});

Deno.test("matmul: bad shapes fail at build time naming the op", () => {
  const g = new GraphBuilder();
  const a = g.input("a", [4, 8]);
  const b = g.input("b", [7, 3]);
  assertThrows(() => g.op(matmul, [a, b], {}, "proj"), ShapeError, 'matmul "proj"');
  const bias = g.input("bias", [5]);
  const b2 = g.input("b2", [8, 3]);
  assertThrows(
    () => g.op(matmul, [a, b2, bias], { epilogue: { bias: true } }, "proj2"),
    ShapeError,
    "bias must be f32[3]",
  );
});
