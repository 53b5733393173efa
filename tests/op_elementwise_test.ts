import { activation, binary, gate } from "../src/ops/elementwise.ts";
import { ShapeError } from "../src/errors.ts";
import { GraphBuilder } from "../src/graph/graph.ts";
import type { Activation } from "../src/ops/epilogue.ts";
import { assertClose, assertThrows } from "./assert.ts";
import { checkCase, gpu, GPU_TEST } from "./harness.ts";

const f32 = (...shape: number[]) => ({ shape, dtype: "f32" as const });
const tol = { atol: 1e-6, rtol: 1e-5 };

Deno.test({
  name: "binary: add/sub/mul with broadcast match the reference",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    let seed = 1;
    const shapes: [number[], number[]][] = [
      [[1], [1]],
      [[3, 17], [3, 17]],
      [[2, 5, 7, 65], [65]],
      [[1, 9, 9, 12], [9, 12]],
    ];
    for (const op of ["add", "sub", "mul"] as const) {
      for (const [a, b] of shapes) {
        await checkCase(ctx, {
          name: `${op} ${a} ${b}`,
          op: binary,
          attrs: { op },
          inputs: [f32(...a), f32(...b)],
          tol,
        }, seed++);
      }
    }
    await checkCase(ctx, {
      name: "add+relu",
      op: binary,
      attrs: { op: "add", act: "relu" },
      inputs: [f32(4, 33), f32(33)],
      tol,
    }, seed++);
  },
});

Deno.test({
  name: "binary: a tensor larger than 65535 workgroups folds its dispatch",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    // 2^24 + 5 elements → 65537 workgroups of 256: needs the y fold.
    await checkCase(ctx, {
      name: "big add",
      op: binary,
      attrs: { op: "add" },
      inputs: [f32((1 << 24) + 5), f32(1)],
      tol,
    }, 9);
  },
});

Deno.test({
  name: "activation and gate match the reference",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    let seed = 20;
    const acts: Activation[] = ["relu", "leaky_relu", "silu", "gelu", "sigmoid", "tanh"];
    for (const act of acts) {
      await checkCase(ctx, {
        name: `activation ${act}`,
        op: activation,
        attrs: { act, alpha: 0.1 },
        inputs: [f32(3, 67)],
        range: [-20, 20],
        tol,
      }, seed++);
    }
    await checkCase(ctx, {
      name: "gate relu",
      op: gate,
      attrs: {},
      inputs: [f32(2, 3, 5, 34)],
      tol,
    }, seed++);
    await checkCase(ctx, {
      name: "gate silu",
      op: gate,
      attrs: { act: "silu" },
      inputs: [f32(7, 6)],
      tol,
    }, seed++);
  },
});

Deno.test("activation reference: known values", () => {
  const x = new Float32Array([-2, 0, 3]);
  const spec = [f32(3)];
  assertClose(activation.cpu([x], spec, { act: "relu" })[0], [0, 0, 3]);
  assertClose(activation.cpu([x], spec, { act: "sigmoid" })[0], [0.11920292, 0.5, 0.95257413]);
  assertClose(activation.cpu([x], spec, { act: "gelu" })[0], [-0.04540231, 0, 2.99636], {
    atol: 1e-5,
  });
  assertClose(gate.cpu([new Float32Array([-1, 2, 5, 3])], [f32(1, 4)], {})[0], [0, 6]);
});

Deno.test("elementwise: bad shapes fail at build time naming the op", () => {
  const g = new GraphBuilder();
  const a = g.input("a", [2, 3, 4]);
  const b = g.input("b", [3]);
  assertThrows(() => g.op(binary, [a, b], { op: "add" }, "res"), ShapeError, 'binary "res"');
  const odd = g.input("odd", [2, 5]);
  assertThrows(() => g.op(gate, [odd], {}, "ffn.gate"), ShapeError, "must be even");
});
