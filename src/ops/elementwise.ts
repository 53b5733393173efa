/**
 * Elementwise ops: binary arithmetic with trailing broadcast, standalone activations and the
 * gated linear unit of the DepthConv FFN. All are memory-bound one-element-per-thread kernels;
 * prefer fusing into a GEMM/conv epilogue where the graph allows.
 * @module
 */
import type { TensorSpec } from "../graph/tensor.ts";
import { numel } from "../graph/tensor.ts";
import activationWgsl from "../../shaders/activation.wgsl" with { type: "text" };
import binaryWgsl from "../../shaders/binary.wgsl" with { type: "text" };
import gateWgsl from "../../shaders/gate.wgsl" with { type: "text" };
import { activate, type Activation, activationConstants, withActivation } from "./epilogue.ts";
import { type Binding, check, desc, type GpuPlan, type OpDef, uniforms } from "./op.ts";
import { launch1d } from "./launch1d.ts";

/** The bindings of the elementwise kernels: x at slot 0, y at 2, `extra`, Params at 15. */
function ioBindings(params: readonly number[], extra: readonly Binding[] = []): Binding[] {
  return [
    { slot: 0, access: "read", ref: { input: 0 } },
    { slot: 2, access: "write", ref: { output: 0 } },
    ...extra,
    { slot: 15, access: "uniform", ref: { uniform: uniforms(params) } },
  ];
}

/** Attributes of {@link binary}. */
export interface BinaryAttrs {
  /** Arithmetic operation. */
  readonly op: "add" | "sub" | "mul";
  /** Activation applied to the result (default none). */
  readonly act?: Activation;
  /** Slope for `leaky_relu`. */
  readonly alpha?: number;
}

const OP_CODE = { add: 0, sub: 1, mul: 2 } as const;
const BINARY = withActivation(binaryWgsl);

/** `act(a ∘ b)` where b's shape is a suffix of a's (e.g. `[C]` broadcasts over NHWC). */
export const binary: OpDef<BinaryAttrs> = {
  type: "binary",
  infer(inputs, attrs, name) {
    check(inputs.length === 2, "binary", name, `expects 2 inputs, got ${inputs.length}`);
    const [a, b] = inputs;
    check(a.dtype === "f32" && b.dtype === "f32", "binary", name, "inputs must be f32");
    check(attrs.op in OP_CODE, "binary", name, `unknown op "${attrs.op}"`);
    // Leading 1s of b broadcast too, so [1] or [1, C] work like scalars / [C].
    const bs = b.shape.slice(b.shape.findIndex((d) => d !== 1) >>> 0);
    const suffix = a.shape.slice(a.shape.length - bs.length);
    check(
      numel(b.shape) === 1 || (bs.length <= a.shape.length && suffix.every((d, i) => d === bs[i])),
      "binary",
      name,
      `cannot broadcast ${desc(b)} onto ${desc(a)} (b's shape must be a suffix of a's)`,
    );
    return [{ shape: [...a.shape], dtype: "f32" }];
  },
  cpu(inputs, _specs, attrs) {
    const [a, b] = inputs as Float32Array[];
    const y = new Float32Array(a.length);
    const act = attrs.act ?? "none";
    for (let i = 0; i < a.length; i++) {
      const bv = b[i % b.length];
      const v = attrs.op === "add" ? a[i] + bv : attrs.op === "sub" ? a[i] - bv : a[i] * bv;
      y[i] = activate(act, Math.fround(v), attrs.alpha);
    }
    return [y];
  },
  gpu(inputs, _outputs, attrs, caps): GpuPlan {
    const count = numel(inputs[0].shape);
    return {
      launches: [launch1d(
        "binary",
        BINARY,
        count,
        ioBindings([count, numel(inputs[1].shape)], [
          { slot: 1, access: "read", ref: { input: 1 } },
        ]),
        caps,
        { ...activationConstants(attrs.act, attrs.alpha), OP: OP_CODE[attrs.op] },
      )],
    };
  },
  flops: (inputs) => numel(inputs[0].shape),
};

/** Attributes of {@link activation}. */
export interface ActivationAttrs {
  /** The function. */
  readonly act: Activation;
  /** Slope for `leaky_relu`. */
  readonly alpha?: number;
}

const ACTIVATION = withActivation(activationWgsl);

function unaryF32(type: string, inputs: readonly TensorSpec[], name: string): TensorSpec {
  check(inputs.length === 1, type, name, `expects 1 input, got ${inputs.length}`);
  check(inputs[0].dtype === "f32", type, name, `input must be f32, got ${desc(inputs[0])}`);
  return inputs[0];
}

/** `act(x)` elementwise. */
export const activation: OpDef<ActivationAttrs> = {
  type: "activation",
  infer(inputs, _attrs, name) {
    const x = unaryF32("activation", inputs, name);
    return [{ shape: [...x.shape], dtype: "f32" }];
  },
  cpu(inputs, _specs, attrs) {
    const x = inputs[0] as Float32Array;
    return [x.map((v) => activate(attrs.act, v, attrs.alpha))];
  },
  gpu(inputs, _outputs, attrs, caps): GpuPlan {
    const count = numel(inputs[0].shape);
    return {
      launches: [launch1d(
        "activation",
        ACTIVATION,
        count,
        ioBindings([count]),
        caps,
        activationConstants(attrs.act, attrs.alpha),
      )],
    };
  },
  flops: (inputs) => numel(inputs[0].shape),
};

/** Attributes of {@link gate}. */
export interface GateAttrs {
  /** Activation of the first half (default relu, as in ProGIC's FFN). */
  readonly act?: Activation;
}

const GATE = withActivation(gateWgsl);

/** `[..., 2C] → [..., C]`: `act(first half) · second half`. */
export const gate: OpDef<GateAttrs> = {
  type: "gate",
  infer(inputs, _attrs, name) {
    const x = unaryF32("gate", inputs, name);
    const c2 = x.shape[x.shape.length - 1];
    check(c2 % 2 === 0, "gate", name, `last dimension must be even, got ${desc(x)}`);
    return [{ shape: [...x.shape.slice(0, -1), c2 / 2], dtype: "f32" }];
  },
  cpu(inputs, specs, attrs) {
    const x = inputs[0] as Float32Array;
    const c = specs[0].shape[specs[0].shape.length - 1] / 2;
    const y = new Float32Array(x.length / 2);
    const act = attrs.act ?? "relu";
    for (let r = 0; r < y.length / c; r++) {
      for (let i = 0; i < c; i++) {
        y[r * c + i] = activate(act, x[2 * r * c + i]) * x[2 * r * c + c + i];
      }
    }
    return [y];
  },
  gpu(inputs, _outputs, attrs, caps): GpuPlan {
    const count = numel(inputs[0].shape) / 2;
    const c = inputs[0].shape[inputs[0].shape.length - 1] / 2;
    return {
      launches: [launch1d(
        "gate",
        GATE,
        count,
        ioBindings([count, c]),
        caps,
        activationConstants(attrs.act ?? "relu"),
      )],
    };
  },
  flops: (inputs) => numel(inputs[0].shape),
};
