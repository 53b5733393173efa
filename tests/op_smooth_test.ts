import { smooth } from "../src/ops/smooth.ts";
import { ShapeError } from "../src/errors.ts";
import type { TensorSpec } from "../src/graph/tensor.ts";
import { assertClose, assertEquals, assertThrows } from "./assert.ts";
import { checkCase, gpu, GPU_TEST } from "./harness.ts";

const f32 = (...shape: number[]): TensorSpec => ({ shape, dtype: "f32" });

Deno.test("smooth: hand-computed impulse, edges, constants and strength 0", () => {
  // A unit impulse in the middle of a 5×5 single-channel image spreads into the [1 2 1]²/16
  // kernel: 4/16 at the centre, 2/16 beside it, 1/16 on the diagonals.
  const x = new Float32Array(25);
  x[12] = 1;
  const [full] = smooth.cpu([x], [f32(1, 5, 5, 1)], { strength: 1 });
  const want = [0, 0, 0, 0, 0, 0, 1, 2, 1, 0, 0, 2, 4, 2, 0, 0, 1, 2, 1, 0, 0, 0, 0, 0, 0].map(
    (v) => v / 16,
  );
  assertClose(full, want, { atol: 1e-7, rtol: 0 });
  // Half strength: halfway between the impulse and its blur.
  const [half] = smooth.cpu([x], [f32(1, 5, 5, 1)], { strength: 0.5 });
  assertClose(half, want.map((v, i) => (x[i] + v) / 2), { atol: 1e-7, rtol: 0 });
  // A corner impulse: replicated edges fold the outside taps back onto the border, so the
  // corner keeps (2+1)·(2+1)/16 = 9/16 and nothing is lost from the image.
  const c = new Float32Array(9);
  c[0] = 1;
  const [corner] = smooth.cpu([c], [f32(1, 3, 3, 1)], { strength: 1 });
  assertClose(corner, [9, 3, 0, 3, 1, 0, 0, 0, 0].map((v) => v / 16), { atol: 1e-7, rtol: 0 });
  // Constant images (per channel) are left as they are; strength 0 is the identity.
  const flat = Float32Array.from({ length: 4 * 3 * 3 }, (_, i) => [0.25, -1, 3][i % 3]);
  assertEquals(
    Array.from(smooth.cpu([flat], [f32(1, 4, 3, 3)], { strength: 1 })[0]),
    Array.from(flat),
  );
  const r = Float32Array.from({ length: 2 * 3 * 4 * 2 }, (_, i) => Math.sin(i));
  assertEquals(smooth.cpu([r], [f32(2, 3, 4, 2)], { strength: 0 })[0], r);
});

Deno.test("smooth: images in a batch do not blur into each other", () => {
  // Two 2×2 images, the first all 0 and the second all 1: each stays constant.
  const x = new Float32Array([0, 0, 0, 0, 1, 1, 1, 1]);
  assertEquals(Array.from(smooth.cpu([x], [f32(2, 2, 2, 1)], { strength: 1 })[0]), Array.from(x));
});

Deno.test("smooth: shape rule refuses non-NHWC, non-f32 and strengths outside [0, 1]", () => {
  assertThrows(() => smooth.infer([f32(4, 4, 3)], { strength: 0.5 }, "s"), ShapeError, "NHWC");
  assertThrows(
    () => smooth.infer([{ shape: [1, 4, 4, 3], dtype: "i32" }], { strength: 0.5 }, "s"),
    ShapeError,
    "f32",
  );
  for (const strength of [-0.1, 1.5, NaN]) {
    assertThrows(() => smooth.infer([f32(1, 4, 4, 3)], { strength }, "s"), ShapeError, "strength");
  }
  assertEquals(smooth.infer([f32(2, 5, 7, 3)], { strength: 1 }, "s")[0].shape, [2, 5, 7, 3]);
});

Deno.test({
  name: "smooth: WebGPU matches CPU",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    let seed = 40;
    const cases: [number[], number][] = [
      [[1, 1, 1, 1], 1],
      [[1, 1, 7, 3], 0.5],
      [[1, 6, 1, 3], 1],
      [[2, 9, 13, 3], 0.5],
      [[1, 33, 17, 5], 0.25],
      [[1, 64, 48, 3], 0],
    ];
    for (const [shape, strength] of cases) {
      await checkCase(ctx, {
        name: `smooth ${shape} strength ${strength}`,
        op: smooth,
        attrs: { strength },
        inputs: [f32(...shape)],
        tol: { atol: 1e-6 },
      }, seed++);
    }
  },
});
