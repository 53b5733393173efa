/**
 * Reduction over the last axis: sum, mean or max. The reduced axis is kept with size 1
 * (`[..., C]` → `[..., 1]`), so an NHWC activation reduces over channels to an NHWC map with one
 * channel that still broadcasts against the input in channels-last elementwise ops.
 * @module
 */
import { numel } from "../graph/tensor.ts";
import reduceWgsl from "../../shaders/reduce.wgsl" with { type: "text" };
import { check, desc, expectInputs, type OpDef, uniforms } from "./op.ts";
import { rowLaunch, withRows } from "./rows.ts";

/** Attributes of {@link reduce}. */
export interface ReduceAttrs {
  /** How the last axis is combined. */
  readonly op: "sum" | "mean" | "max";
}

const OP_CODE = { sum: 0, mean: 1, max: 2 } as const;
const KERNEL = withRows(reduceWgsl);

/** `y[..., 0] = op(x[..., :])`: output shape `[..., 1]`. */
export const reduce: OpDef<ReduceAttrs> = {
  type: "reduce",
  infer(inputs, attrs, name) {
    const [x] = expectInputs("reduce", name, inputs, 1);
    check(x.dtype === "f32", "reduce", name, `input must be f32, got ${desc(x)}`);
    check(attrs.op in OP_CODE, "reduce", name, `op must be sum, mean or max, got "${attrs.op}"`);
    return [{ shape: [...x.shape.slice(0, -1), 1], dtype: "f32" }];
  },
  cpu(inputs, specs, attrs) {
    const x = inputs[0];
    const c = specs[0].shape[specs[0].shape.length - 1];
    const y = new Float32Array(x.length / c);
    for (let r = 0; r < y.length; r++) {
      let acc = attrs.op === "max" ? -Infinity : 0;
      for (let i = r * c; i < (r + 1) * c; i++) {
        acc = attrs.op === "max" ? Math.max(acc, x[i]) : acc + x[i];
      }
      y[r] = attrs.op === "mean" ? acc / c : acc;
    }
    return [y];
  },
  gpu(inputs, _outputs, attrs, caps) {
    const c = inputs[0].shape[inputs[0].shape.length - 1];
    const rows = numel(inputs[0].shape) / c;
    const { s, workgroups } = rowLaunch(rows, c, caps);
    return {
      launches: [{
        label: "reduce",
        code: KERNEL,
        constants: { S: s, OP: OP_CODE[attrs.op] },
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
    return numel(inputs[0].shape);
  },
};
