/**
 * The fused epilogue of GEMM-like ops: `y = act(acc + bias) · scale + shift; y ·= mul; y += res`.
 * Fusing saves a full read and write of the activation per step, which is most of the cost of
 * these memory-bound steps. Extra tensors follow an op's main inputs in the order
 * bias, scale, shift, mul, residual (each only when enabled).
 * @module
 */
import type { HostArray, TensorSpec } from "../graph/tensor.ts";
import { numel } from "../graph/tensor.ts";
import activateWgsl from "../../shaders/activate.wgsl" with { type: "text" };
import epilogueWgsl from "../../shaders/epilogue.wgsl" with { type: "text" };
import { type Binding, check, desc } from "./op.ts";

/** Activation functions available in epilogues and as standalone ops. */
export type Activation = "none" | "relu" | "leaky_relu" | "silu" | "gelu" | "sigmoid" | "tanh";

const ACT_CODE: Record<Activation, number> = {
  none: 0,
  relu: 1,
  leaky_relu: 2,
  silu: 3,
  gelu: 4,
  sigmoid: 5,
  tanh: 6,
};

/** Which epilogue steps an op applies. */
export interface Epilogue {
  /** Add a per-channel bias `[C]`. */
  readonly bias?: boolean;
  /** Activation after the bias. */
  readonly act?: Activation;
  /** Slope of `leaky_relu` for negative inputs (default 0.01). */
  readonly alpha?: number;
  /** Then multiply by a per-channel scale `[C]` and add a per-channel shift `[C]`. */
  readonly affine?: boolean;
  /** Then multiply elementwise by a tensor shaped like the output. */
  readonly mul?: boolean;
  /** Then add a tensor shaped like the output (residual connection). */
  readonly residual?: boolean;
}

/** Number of extra inputs an epilogue takes. */
export function epilogueArity(ep: Epilogue = {}): number {
  return (ep.bias ? 1 : 0) + (ep.affine ? 2 : 0) + (ep.mul ? 1 : 0) + (ep.residual ? 1 : 0);
}

interface Slots {
  bias?: number;
  scale?: number;
  shift?: number;
  mul?: number;
  res?: number;
}

function slotsOf(ep: Epilogue, first: number): Slots {
  let i = first;
  const s: Slots = {};
  if (ep.bias) s.bias = i++;
  if (ep.affine) {
    s.scale = i++;
    s.shift = i++;
  }
  if (ep.mul) s.mul = i++;
  if (ep.residual) s.res = i++;
  return s;
}

/** Checks the epilogue's extra inputs (starting at index `first`) against the output spec. */
export function checkEpilogue(
  type: string,
  name: string,
  inputs: readonly TensorSpec[],
  first: number,
  ep: Epilogue,
  out: TensorSpec,
): void {
  check(
    inputs.length === first + epilogueArity(ep),
    type,
    name,
    `expects ${first + epilogueArity(ep)} inputs with this epilogue, got ${inputs.length}`,
  );
  const c = out.shape[out.shape.length - 1];
  const s = slotsOf(ep, first);
  for (const k of ["bias", "scale", "shift"] as const) {
    const i = s[k];
    if (i === undefined) continue;
    check(
      numel(inputs[i].shape) === c && inputs[i].dtype === "f32",
      type,
      name,
      `${k} must be f32[${c}], got ${desc(inputs[i])}`,
    );
  }
  for (const k of ["mul", "res"] as const) {
    const i = s[k];
    if (i === undefined) continue;
    check(
      numel(inputs[i].shape) === numel(out.shape) && inputs[i].dtype === "f32",
      type,
      name,
      `${k === "res" ? "residual" : k} must have the output's ${numel(out.shape)} elements, ` +
        `got ${desc(inputs[i])}`,
    );
  }
}

/** The reference activation, with exactly the formulas of the WGSL epilogue. */
export function activate(act: Activation, x: number, alpha = 0.01): number {
  switch (act) {
    case "relu":
      return x > 0 ? x : 0;
    case "leaky_relu":
      return x >= 0 ? x : alpha * x;
    case "silu":
      return x / (1 + Math.exp(-x));
    case "gelu": {
      const t = Math.max(-15, Math.min(15, 0.7978845608028654 * (x + 0.044715 * x * x * x)));
      return 0.5 * x * (1 + Math.tanh(t));
    }
    case "sigmoid":
      return 1 / (1 + Math.exp(-x));
    case "tanh":
      return Math.tanh(Math.max(-15, Math.min(15, x)));
    default:
      return x;
  }
}

/** Applies the epilogue in place on CPU; `c` is the channel count (innermost dimension). */
export function applyEpilogueCpu(
  out: Float32Array,
  c: number,
  inputs: readonly HostArray[],
  first: number,
  ep: Epilogue = {},
): Float32Array {
  const s = slotsOf(ep, first);
  const bias = s.bias !== undefined ? inputs[s.bias] : undefined;
  const scale = s.scale !== undefined ? inputs[s.scale] : undefined;
  const shift = s.shift !== undefined ? inputs[s.shift] : undefined;
  const mul = s.mul !== undefined ? inputs[s.mul] : undefined;
  const res = s.res !== undefined ? inputs[s.res] : undefined;
  const act = ep.act ?? "none";
  for (let i = 0; i < out.length; i++) {
    const ch = i % c;
    let y = out[i];
    if (bias) y += bias[ch];
    y = activate(act, y, ep.alpha);
    if (scale && shift) y = y * scale[ch] + shift[ch];
    if (mul) y *= mul[i];
    if (res) y += res[i];
    out[i] = y;
  }
  return out;
}

/** Bindings 10–14 and override constants for a kernel that includes the WGSL epilogue. */
export function epilogueGpu(
  ep: Epilogue = {},
  first: number,
): { bindings: Binding[]; constants: Record<string, number> } {
  const s = slotsOf(ep, first);
  const bind = (slot: number, i: number | undefined): Binding => ({
    slot,
    access: "read",
    ref: i === undefined ? { dummy: true } : { input: i },
  });
  return {
    bindings: [
      bind(10, s.bias),
      bind(11, s.scale),
      bind(12, s.shift),
      bind(13, s.mul),
      bind(14, s.res),
    ],
    constants: {
      ...activationConstants(ep.act, ep.alpha),
      HAS_BIAS: ep.bias ? 1 : 0,
      HAS_AFFINE: ep.affine ? 1 : 0,
      HAS_MUL: ep.mul ? 1 : 0,
      HAS_RES: ep.residual ? 1 : 0,
    },
  };
}

/** Prepends the epilogue functions (and `activate`) to a kernel's WGSL. */
export function withEpilogue(kernel: string): string {
  return `${activateWgsl}\n${epilogueWgsl}\n${kernel}`;
}

/** Prepends `activate(x)` to a kernel's WGSL. */
export function withActivation(kernel: string): string {
  return `${activateWgsl}\n${kernel}`;
}

/** Override constants selecting an activation in `activate.wgsl`. */
export function activationConstants(
  act: Activation = "none",
  alpha = 0.01,
): Record<string, number> {
  return { ACT: ACT_CODE[act], ACT_ALPHA: alpha };
}
