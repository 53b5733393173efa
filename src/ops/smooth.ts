/**
 * A light blur blended into an image: the ProGIC decoder's optional post-filter. Butteraugli
 * scores the network's high-frequency detail at edges worse than a slightly softer image, so a
 * partial [1 2 1]² blur trades a little PSNR for fewer visible artifacts (measured in
 * train/README.md).
 * @module
 */
import { numel } from "../graph/tensor.ts";
import smoothWgsl from "../../shaders/smooth.wgsl" with { type: "text" };
import { check, desc, expectInputs, type GpuPlan, type OpDef, uniforms } from "./op.ts";
import { launch1d } from "./launch1d.ts";

/** Attributes of {@link smooth}. */
export interface SmoothAttrs {
  /** Blend weight of the blurred image in [0, 1]: 0 is the identity, 1 the full blur. */
  readonly strength: number;
}

/**
 * `x + strength · (B x − x)` on f32 `[N, H, W, C]`, where B is the separable
 * `[1 2 1] ⊗ [1 2 1] / 16` blur with replicated edges, per channel and per image.
 */
export const smooth: OpDef<SmoothAttrs> = {
  type: "smooth",
  infer(inputs, { strength }, name) {
    const [x] = expectInputs("smooth", name, inputs, 1);
    check(
      x.shape.length === 4 && x.dtype === "f32",
      "smooth",
      name,
      `input must be f32 NHWC, got ${desc(x)}`,
    );
    check(
      Number.isFinite(strength) && strength >= 0 && strength <= 1,
      "smooth",
      name,
      `strength must be in [0, 1], got ${strength}`,
    );
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu(inputs, specs, { strength }) {
    const x = inputs[0] as Float32Array;
    const [n, h, w, c] = specs[0].shape;
    const y = new Float32Array(x.length);
    const k = [1, 2, 1];
    const at = (b: number, yy: number, xx: number, ch: number) =>
      x[
        ((b * h + Math.min(Math.max(yy, 0), h - 1)) * w + Math.min(Math.max(xx, 0), w - 1)) * c +
        ch
      ];
    for (let b = 0; b < n; b++) {
      for (let yy = 0; yy < h; yy++) {
        for (let xx = 0; xx < w; xx++) {
          for (let ch = 0; ch < c; ch++) {
            let acc = 0;
            for (let i = 0; i < 3; i++) {
              let row = 0;
              for (let j = 0; j < 3; j++) row += k[j] * at(b, yy + i - 1, xx + j - 1, ch);
              acc += k[i] * row;
            }
            const e = ((b * h + yy) * w + xx) * c + ch;
            y[e] = x[e] + strength * (acc / 16 - x[e]);
          }
        }
      }
    }
    return [y];
  },
  gpu(inputs, _outputs, { strength }, caps): GpuPlan {
    const [, h, w, c] = inputs[0].shape;
    const total = numel(inputs[0].shape);
    return {
      launches: [
        launch1d("smooth", smoothWgsl, total, [
          { slot: 0, access: "read", ref: { input: 0 } },
          { slot: 1, access: "write", ref: { output: 0 } },
          {
            slot: 15,
            access: "uniform",
            ref: { uniform: uniforms([total, h, w, c, { f: strength }]) },
          },
        ], caps),
      ],
    };
  },
  flops(inputs) {
    return 20 * numel(inputs[0].shape);
  },
};
