// Softmax, layer_norm, group_norm and reduce: WebGPU against the CPU references, each case run
// twice, once with the kernel choices for this adapter and once with those for a hardware GPU
// (cooperative rows, chunked group statistics), so both paths are checked on any adapter.
import { ShapeError } from "../src/errors.ts";
import type { GpuContext } from "../src/graph/device.ts";
import { GraphBuilder } from "../src/graph/graph.ts";
import type { Activation } from "../src/ops/epilogue.ts";
import { groupNorm } from "../src/ops/group_norm.ts";
import { layerNorm } from "../src/ops/layer_norm.ts";
import { reduce } from "../src/ops/reduce.ts";
import { softmax } from "../src/ops/softmax.ts";
import { assertClose, assertThrows } from "./assert.ts";
import { checkCase, gpu, GPU_TEST, type OpCase, runOp } from "./harness.ts";

const f32 = (...shape: number[]) => ({ shape, dtype: "f32" as const });

/** The adapter's own context, and one that plans kernels as for a hardware GPU. */
async function contexts(): Promise<[string, GpuContext][]> {
  const ctx = (await gpu())!;
  const hw = { ...ctx, caps: { ...ctx.caps, software: false } };
  const sw = { ...ctx, caps: { ...ctx.caps, software: true } };
  return [["sw", sw], ["hw", hw]];
}

async function checkBoth<A>(c: OpCase<A>, seed: number): Promise<void> {
  for (const [kind, ctx] of await contexts()) {
    await checkCase(ctx, { ...c, name: `${c.name} (${kind})` }, seed);
  }
}

Deno.test({
  name: "softmax: matches the reference over awkward shapes and large logits",
  ...GPU_TEST,
  async fn() {
    let seed = 1;
    const cases: [number[], [number, number]][] = [
      [[1], [-1, 1]],
      [[3], [-5, 5]],
      [[17, 5], [-5, 5]],
      [[2, 3, 65], [-20, 20]],
      [[4, 1000], [-10, 10]], // few long rows: cooperative rows on every adapter
      [[70, 17], [1000, 1010]], // exp(1000) overflows unless the max is subtracted
      [[2, 5, 7, 3], [-3, 3]],
    ];
    for (const [shape, range] of cases) {
      await checkBoth({
        name: `softmax ${shape}`,
        op: softmax,
        attrs: {},
        inputs: [f32(...shape)],
        range,
        tol: { atol: 1e-6, rtol: 1e-4 },
      }, seed++);
    }
  },
});

Deno.test({
  name: "softmax: rows sum to one",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const x = new Float32Array(3 * 129).map((_, i) => Math.sin(i) * 30);
    const [y] = await runOp(ctx, softmax, {}, [{ spec: f32(3, 129), data: x }]);
    const sums = [0, 1, 2].map((r) =>
      Array.from(y.subarray(r * 129, (r + 1) * 129)).reduce((a, b) => a + b)
    );
    assertClose(sums, [1, 1, 1], { atol: 1e-5, rtol: 0 });
  },
});

Deno.test({
  name: "layer_norm: matches the reference, with affine, activations and a large offset",
  ...GPU_TEST,
  async fn() {
    let seed = 100;
    const cases: [number[], boolean, Activation, [number, number]][] = [
      [[1, 1], false, "none", [-1, 1]],
      [[3, 17], true, "none", [-1, 1]],
      [[2, 5, 65], true, "silu", [100, 101]],
      [[4, 1024], true, "gelu", [100, 101]],
      [[2, 3, 4, 32], false, "relu", [-3, 3]],
      [[66, 3], true, "leaky_relu", [-1, 1]],
    ];
    for (const [shape, affine, act, range] of cases) {
      const c = shape[shape.length - 1];
      await checkBoth({
        name: `layer_norm ${shape} affine=${affine} ${act}`,
        op: layerNorm,
        attrs: { affine, act, alpha: 0.2, eps: 1e-5 },
        inputs: affine ? [f32(...shape), f32(c), f32(c)] : [f32(...shape)],
        range: affine ? [range, [0.5, 2], [-1, 1]] : range,
        tol: { atol: 1e-4, rtol: 1e-3 },
      }, seed++);
    }
  },
});

Deno.test({
  name: "group_norm: matches the reference over NHWC shapes, chunked statistics, fused SiLU",
  ...GPU_TEST,
  async fn() {
    let seed = 200;
    const cases: [number[], number, boolean, Activation, [number, number]][] = [
      [[1, 4, 4, 8], 2, false, "none", [-1, 1]],
      [[2, 3, 5, 12], 3, true, "silu", [-2, 2]],
      [[1, 17, 3, 6], 6, true, "none", [100, 101]], // one channel per group
      [[1, 33, 65, 8], 1, true, "silu", [100, 101]], // several chunks on GPUs
      [[2, 1, 1, 4], 2, false, "none", [-1, 1]],
      [[1, 64, 65, 32], 2, true, "silu", [100, 101]], // several chunks everywhere
      [[3, 9, 6], 3, false, "tanh", [-1, 1]], // rank 3: [N, L, C]
    ];
    for (const [shape, groups, affine, act, range] of cases) {
      const c = shape[shape.length - 1];
      await checkBoth({
        name: `group_norm ${shape} G=${groups} affine=${affine} ${act}`,
        op: groupNorm,
        attrs: { groups, affine, act, eps: 1e-6 },
        inputs: affine ? [f32(...shape), f32(c), f32(c)] : [f32(...shape)],
        range: affine ? [range, [0.5, 2], [-1, 1]] : range,
        tol: { atol: 1e-4, rtol: 1e-3 },
      }, seed++);
    }
  },
});

Deno.test({
  name: "group_norm: chunks with different means merge exactly (a ramp over the image)",
  ...GPU_TEST,
  async fn() {
    // Chunks are runs of pixels, so a vertical ramp gives each chunk its own mean; the merge
    // must add the spread of chunk means to the variance (Chan's cross term).
    const shape = [1, 80, 64, 16];
    const x = new Float32Array(80 * 64 * 16).map((_, i) => 50 + Math.floor(i / 1024) + Math.sin(i));
    await checkBoth({
      name: "group_norm ramp",
      op: groupNorm,
      attrs: { groups: 4 },
      inputs: [f32(...shape)],
      data: [x],
      tol: { atol: 1e-4, rtol: 1e-3 },
    }, 1);
  },
});

Deno.test({
  name: "reduce: sum, mean and max over the last axis",
  ...GPU_TEST,
  async fn() {
    let seed = 300;
    const shapes = [[1], [3, 17], [2, 65, 5], [2, 3000], [130, 1]];
    for (const op of ["sum", "mean", "max"] as const) {
      for (const shape of shapes) {
        await checkBoth({
          name: `reduce ${op} ${shape}`,
          op: reduce,
          attrs: { op },
          inputs: [f32(...shape)],
          range: [-3, 1],
          tol: { atol: 1e-4, rtol: 1e-4 },
        }, seed++);
      }
    }
  },
});

Deno.test("norms: bad shapes and attributes fail at build time naming the op", () => {
  const g = new GraphBuilder();
  const x = g.input("x", [2, 4, 4, 6]);
  const c5 = g.input("c5", [5]);
  const c6 = g.input("c6", [6]);
  const ints = g.input("ints", [3, 4], "i32");
  assertThrows(() => g.op(softmax, [ints], {}, "sm"), ShapeError, 'softmax "sm"');
  assertThrows(() => g.op(softmax, [x, x], {}, "sm2"), ShapeError, 'softmax "sm2"');
  assertThrows(
    () => g.op(layerNorm, [x, c5, c6], { affine: true }, "ln"),
    ShapeError,
    'layer_norm "ln": gamma must be f32[6]',
  );
  assertThrows(() => g.op(layerNorm, [x], { affine: true }, "ln2"), ShapeError, 'layer_norm "ln2"');
  assertThrows(
    () => g.op(groupNorm, [x], { groups: 4 }, "gn"),
    ShapeError,
    'group_norm "gn": groups must be a positive divisor',
  );
  assertThrows(
    () => g.op(groupNorm, [x, c6, c5], { groups: 3, affine: true }, "gn2"),
    ShapeError,
    "beta must be f32[6]",
  );
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => g.op(reduce, [x], { op: "min" as any }, "red"),
    ShapeError,
    'reduce "red": op must be sum, mean or max',
  );
});

Deno.test("reduce keeps the reduced axis with size 1", () => {
  const g = new GraphBuilder();
  const y = g.op1(reduce, [g.input("x", [2, 3, 5])], { op: "mean" });
  assertClose(y.spec.shape, [2, 3, 1]);
});
