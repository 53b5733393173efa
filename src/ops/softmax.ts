/**
 * Softmax over the last axis of a tensor of any rank, numerically stable (the row maximum is
 * subtracted before exponentiating).
 * @module
 */
import type { TensorSpec } from "../graph/tensor.ts";
import { numel } from "../graph/tensor.ts";
import softmaxWgsl from "../../shaders/softmax.wgsl" with { type: "text" };
import { check, desc, expectInputs, type OpDef, uniforms } from "./op.ts";
import { rowLaunch, withRows } from "./rows.ts";

/** Attributes of {@link softmax}: none; the axis is always the last one. */
export type SoftmaxAttrs = Record<string, never>;

const KERNEL = withRows(softmaxWgsl);

/** `y[..., i] = exp(x[..., i] - max) / Σ_j exp(x[..., j] - max)`; output shaped like x. */
export const softmax: OpDef<SoftmaxAttrs> = {
  type: "softmax",
  infer(inputs, _attrs, name) {
    const [x] = expectInputs("softmax", name, inputs, 1);
    check(x.dtype === "f32", "softmax", name, `input must be f32, got ${desc(x)}`);
    return [{ shape: [...x.shape], dtype: "f32" }];
  },
  cpu(inputs, specs) {
    const x = inputs[0];
    const c = lastDim(specs[0]);
    const y = new Float32Array(x.length);
    for (let base = 0; base < x.length; base += c) {
      let m = -Infinity;
      for (let i = 0; i < c; i++) m = Math.max(m, x[base + i]);
      let sum = 0;
      for (let i = 0; i < c; i++) sum += Math.exp(x[base + i] - m);
      for (let i = 0; i < c; i++) y[base + i] = Math.exp(x[base + i] - m) / sum;
    }
    return [y];
  },
  gpu(inputs, _outputs, _attrs, caps) {
    const c = lastDim(inputs[0]);
    const rows = numel(inputs[0].shape) / c;
    const { s, workgroups } = rowLaunch(rows, c, caps);
    return {
      launches: [{
        label: "softmax",
        code: KERNEL,
        constants: { S: s },
        bindings: [
          { slot: 0, access: "read", ref: { input: 0 } },
          { slot: 2, access: "write", ref: { output: 0 } },
          { slot: 15, access: "uniform", ref: { uniform: uniforms([rows, c]) } },
        ],
        workgroups,
      }],
    };
  },
  flops(inputs) {
    // max, subtract, exp, sum, and a multiply per element; exp counted as one.
    return 5 * numel(inputs[0].shape);
  },
};

function lastDim(s: TensorSpec): number {
  return s.shape[s.shape.length - 1];
}
