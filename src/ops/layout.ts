/**
 * Data-movement ops on NHWC tensors: pixel shuffle / unshuffle (PyTorch channel order) and
 * reshape (a view: no kernel, the output aliases the input's buffer).
 * @module
 */
import type { HostArray } from "../graph/tensor.ts";
import { numel } from "../graph/tensor.ts";
import shuffleWgsl from "../../shaders/pixel_shuffle.wgsl" with { type: "text" };
import { check, desc, fold1d, type OpDef, uniforms } from "./op.ts";

/** Attributes of {@link pixelShuffle} and {@link pixelUnshuffle}. */
export interface ShuffleAttrs {
  /** Upscale (shuffle) or downscale (unshuffle) factor. */
  readonly r: number;
}

function shuffleOp(unshuffle: boolean): OpDef<ShuffleAttrs> {
  const type = unshuffle ? "pixel_unshuffle" : "pixel_shuffle";
  // Maps (element of the high-resolution tensor) ↔ (element of the low-resolution tensor).
  const hi2lo = (
    n: number,
    y: number,
    x: number,
    c: number,
    h: number,
    w: number,
    cl: number,
    r: number,
  ) =>
    ((n * h + Math.floor(y / r)) * w + Math.floor(x / r)) * cl + c * r * r + (y % r) * r + (x % r);
  return {
    type,
    infer(inputs, attrs, name) {
      check(inputs.length === 1, type, name, `expects 1 input, got ${inputs.length}`);
      const [x] = inputs;
      const r = attrs.r;
      check(Number.isInteger(r) && r >= 1, type, name, `r must be a positive integer, got ${r}`);
      check(x.shape.length === 4, type, name, `input must be NHWC, got ${desc(x)}`);
      const [n, h, w, c] = x.shape;
      if (unshuffle) {
        check(
          h % r === 0 && w % r === 0,
          type,
          name,
          `H and W of ${desc(x)} must be multiples of ${r}`,
        );
        return [{ shape: [n, h / r, w / r, c * r * r], dtype: x.dtype }];
      }
      check(c % (r * r) === 0, type, name, `channels of ${desc(x)} must be a multiple of ${r * r}`);
      return [{ shape: [n, h * r, w * r, c / (r * r)], dtype: x.dtype }];
    },
    cpu(inputs, specs, attrs) {
      const x = inputs[0];
      const r = attrs.r;
      const [n, h0, w0, c0] = specs[0].shape;
      const [h, w, c] = unshuffle ? [h0 / r, w0 / r, c0] : [h0, w0, c0 / (r * r)];
      const y = new (x.constructor as new (n: number) => HostArray)(x.length);
      for (let b = 0; b < n; b++) {
        for (let yy = 0; yy < h * r; yy++) {
          for (let xx = 0; xx < w * r; xx++) {
            for (let ch = 0; ch < c; ch++) {
              const hi = ((b * h * r + yy) * w * r + xx) * c + ch;
              const lo = hi2lo(b, yy, xx, ch, h, w, c * r * r, r);
              if (unshuffle) y[lo] = x[hi];
              else y[hi] = x[lo];
            }
          }
        }
      }
      return [y];
    },
    gpu(inputs, _outputs, attrs, caps) {
      const [n, h0, w0, c0] = inputs[0].shape;
      const r = attrs.r;
      const [h, w, c] = unshuffle ? [h0 / r, w0 / r, c0] : [h0, w0, c0 / (r * r)];
      const count = numel(inputs[0].shape);
      const workgroups = fold1d(Math.ceil(count / 256), caps);
      void n;
      return {
        launches: [{
          label: type,
          code: shuffleWgsl,
          constants: { UNSHUFFLE: unshuffle ? 1 : 0 },
          bindings: [
            { slot: 0, access: "read", ref: { input: 0 } },
            { slot: 2, access: "write", ref: { output: 0 } },
            {
              slot: 15,
              access: "uniform",
              ref: { uniform: uniforms([count, h, w, c, r, workgroups[0] * 256]) },
            },
          ],
          workgroups,
        }],
      };
    },
  };
}

/** `[N, H, W, C·r²] → [N, H·r, W·r, C]` (depth to space, PyTorch order). */
export const pixelShuffle: OpDef<ShuffleAttrs> = shuffleOp(false);

/** `[N, H·r, W·r, C] → [N, H, W, C·r²]` (space to depth, PyTorch order). */
export const pixelUnshuffle: OpDef<ShuffleAttrs> = shuffleOp(true);

/** Attributes of {@link reshape}. */
export interface ReshapeAttrs {
  /** New shape; one entry may be −1 (inferred). */
  readonly shape: readonly number[];
}

/** A view with a new shape and the same elements in the same order. No kernel runs. */
export const reshape: OpDef<ReshapeAttrs> = {
  type: "reshape",
  alias: true,
  infer(inputs, attrs, name) {
    check(inputs.length === 1, "reshape", name, `expects 1 input, got ${inputs.length}`);
    const total = numel(inputs[0].shape);
    const free = attrs.shape.filter((d) => d === -1).length;
    check(
      free <= 1 && attrs.shape.every((d) => d === -1 || (Number.isInteger(d) && d >= 1)),
      "reshape",
      name,
      `shape [${attrs.shape}] may hold positive integers and at most one −1`,
    );
    const known = attrs.shape.reduce((a, d) => (d === -1 ? a : a * d), 1);
    const shape = attrs.shape.map((d) => (d === -1 ? total / known : d));
    check(
      numel(shape) === total && shape.every(Number.isInteger),
      "reshape",
      name,
      `cannot view ${desc(inputs[0])} as [${attrs.shape}]`,
    );
    return [{ shape, dtype: inputs[0].dtype }];
  },
  cpu: (inputs) => [inputs[0]],
  gpu: () => ({ launches: [] }),
};
