/**
 * Layer normalisation over the last axis, with an optional per-channel affine transform and an
 * optional fused activation.
 * @module
 */
import type { HostArray, TensorSpec } from "../graph/tensor.ts";
import { numel } from "../graph/tensor.ts";
import layerNormWgsl from "../../shaders/layer_norm.wgsl" with { type: "text" };
import { activate, type Activation, activationConstants, withActivation } from "./epilogue.ts";
import { check, desc, type OpDef, uniforms } from "./op.ts";
import { rowLaunch, withRows } from "./rows.ts";

/** Attributes of {@link layerNorm}. */
export interface LayerNormAttrs {
  /** Added to the variance before the square root (default 1e-5). */
  readonly eps?: number;
  /** Scale by `gamma[C]` and add `beta[C]` (inputs 1 and 2) after normalising. */
  readonly affine?: boolean;
  /** Activation applied last (default none). */
  readonly act?: Activation;
  /** Slope of `leaky_relu` for negative inputs (default 0.01). */
  readonly alpha?: number;
}

/** Default epsilon of the normalisation ops (PyTorch's). */
export const NORM_EPS = 1e-5;

const KERNEL = withActivation(withRows(layerNormWgsl));

/**
 * Checks the input count and the `[C]` gamma/beta inputs shared by the normalisation ops.
 * @internal
 */
export function checkNormInputs(
  type: string,
  name: string,
  inputs: readonly TensorSpec[],
  affine: boolean,
): TensorSpec {
  const want = affine ? 3 : 1;
  check(
    inputs.length === want,
    type,
    name,
    `expects ${want} input${affine ? "s (x, gamma, beta)" : ""}, got ${inputs.length}`,
  );
  const x = inputs[0];
  check(x.dtype === "f32", type, name, `input must be f32, got ${desc(x)}`);
  const c = x.shape[x.shape.length - 1];
  const params = affine ? ([[1, "gamma"], [2, "beta"]] as const) : [];
  for (const [i, what] of params) {
    check(
      inputs[i].dtype === "f32" && numel(inputs[i].shape) === c,
      type,
      name,
      `${what} must be f32[${c}] (one per channel of ${desc(x)}), got ${desc(inputs[i])}`,
    );
  }
  return x;
}

/**
 * The reference normalisation of one group: the elements of `x` at the flat indices `index`
 * share a two-pass mean and variance (f64), and `act((x - mean) · rstd · gamma[c] + beta[c])`
 * goes to the same positions of `y`; `channel(i)` is the channel of flat index `i`.
 * @internal
 */
export function normalizeCpu(
  x: HostArray,
  y: Float32Array,
  index: readonly number[],
  channel: (i: number) => number,
  eps: number,
  gamma: HostArray | undefined,
  beta: HostArray | undefined,
  act: Activation,
  alpha: number | undefined,
): void {
  let sum = 0;
  for (const i of index) sum += x[i];
  const mean = sum / index.length;
  let sq = 0;
  for (const i of index) sq += (x[i] - mean) ** 2;
  const rstd = 1 / Math.sqrt(sq / index.length + eps);
  for (const i of index) {
    let v = (x[i] - mean) * rstd;
    if (gamma && beta) v = v * gamma[channel(i)] + beta[channel(i)];
    y[i] = activate(act, v, alpha);
  }
}

/** `y = act((x - mean) / √(var + eps) · gamma + beta)` per row of the last axis. */
export const layerNorm: OpDef<LayerNormAttrs> = {
  type: "layer_norm",
  infer(inputs, attrs, name) {
    const x = checkNormInputs("layer_norm", name, inputs, attrs.affine ?? false);
    return [{ shape: [...x.shape], dtype: "f32" }];
  },
  cpu(inputs, specs, attrs) {
    const x = inputs[0];
    const c = specs[0].shape[specs[0].shape.length - 1];
    const y = new Float32Array(x.length);
    const idx = new Array<number>(c);
    for (let base = 0; base < x.length; base += c) {
      for (let i = 0; i < c; i++) idx[i] = base + i;
      normalizeCpu(
        x,
        y,
        idx,
        (i) => i - base,
        attrs.eps ?? NORM_EPS,
        attrs.affine ? inputs[1] : undefined,
        attrs.affine ? inputs[2] : undefined,
        attrs.act ?? "none",
        attrs.alpha,
      );
    }
    return [y];
  },
  gpu(inputs, _outputs, attrs, caps) {
    const c = inputs[0].shape[inputs[0].shape.length - 1];
    const rows = numel(inputs[0].shape) / c;
    const { s, workgroups } = rowLaunch(rows, c, caps);
    const affine = attrs.affine ?? false;
    return {
      launches: [{
        label: "layer_norm",
        code: KERNEL,
        constants: { S: s, AFFINE: affine ? 1 : 0, ...activationConstants(attrs.act, attrs.alpha) },
        bindings: [
          { slot: 0, access: "read", ref: { input: 0 } },
          { slot: 2, access: "write", ref: { output: 0 } },
          { slot: 3, access: "read", ref: affine ? { input: 1 } : { dummy: true } },
          { slot: 4, access: "read", ref: affine ? { input: 2 } : { dummy: true } },
          {
            slot: 15,
            access: "uniform",
            ref: { uniform: uniforms([rows, c, { f: attrs.eps ?? NORM_EPS }]) },
          },
        ],
        workgroups,
      }],
    };
  },
  flops(inputs, attrs) {
    return (attrs.affine ? 9 : 7) * numel(inputs[0].shape);
  },
};
