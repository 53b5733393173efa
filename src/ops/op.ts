/**
 * The op contract: every op is a shape rule, a pure-TypeScript CPU reference and a WebGPU
 * kernel description. Ops know nothing of buffers or devices; backends turn a
 * {@link KernelLaunch} into pipelines, bind groups and dispatches.
 * @module
 */
import { ShapeError } from "../errors.ts";
import { fmtShape, type HostArray, type TensorSpec } from "../graph/tensor.ts";

/** What a kernel binds at one `@binding(n)` slot of group 0. */
export type BindingRef =
  | { readonly input: number }
  | { readonly output: number }
  | { readonly scratch: number }
  /** A 16-byte placeholder for optional read-only bindings the shader does not use. */
  | { readonly dummy: true }
  | { readonly uniform: ArrayBuffer };

/** One storage or uniform binding of a kernel. */
export interface Binding {
  /** `@binding(n)` slot in `@group(0)`. */
  readonly slot: number;
  /** `read` = `var<storage, read>`, `write` = `var<storage, read_write>`, `uniform`. */
  readonly access: "read" | "write" | "uniform";
  /** What is bound there. */
  readonly ref: BindingRef;
}

/** A compute dispatch an op asks the backend to record. */
export interface KernelLaunch {
  /** Full WGSL source. */
  readonly code: string;
  /** Short label (for caches, errors and profiles), e.g. `"matmul"`. */
  readonly label: string;
  /** Values for the shader's `override` constants. */
  readonly constants?: Readonly<Record<string, number>>;
  /** Bindings in any order. */
  readonly bindings: readonly Binding[];
  /** Workgroup counts; each must be ≤ the device's `maxComputeWorkgroupsPerDimension`. */
  readonly workgroups: readonly [number, number, number];
}

/** The device facts kernel selection may depend on. */
export interface DeviceCaps {
  /** `maxComputeWorkgroupsPerDimension`. */
  readonly maxWorkgroupsPerDim: number;
  /** `maxComputeInvocationsPerWorkgroup`. */
  readonly maxInvocations: number;
  /** `maxComputeWorkgroupStorageSize` in bytes. */
  readonly maxWorkgroupStorage: number;
  /** True for software adapters (llvmpipe, SwiftShader), where register blocking beats tiling. */
  readonly software: boolean;
}

/** Caps that every WebGPU device guarantees (the spec's defaults). */
export const DEFAULT_CAPS: DeviceCaps = {
  maxWorkgroupsPerDim: 65535,
  maxInvocations: 256,
  maxWorkgroupStorage: 16384,
  software: false,
};

/** The GPU side of one op instance. */
export interface GpuPlan {
  /** Sizes in bytes of temporary buffers live only during this op. */
  readonly scratch?: readonly number[];
  /** Dispatches in order. */
  readonly launches: readonly KernelLaunch[];
}

/** An operation type: one shape rule, one CPU reference, one GPU kernel family. */
export interface OpDef<A> {
  /** Op type name, e.g. `"conv2d"`. */
  readonly type: string;
  /**
   * Output specs from input specs; throws {@link ShapeError} naming the op on bad input.
   * @param name the op instance's name, for error messages
   */
  infer(inputs: readonly TensorSpec[], attrs: A, name: string): TensorSpec[];
  /** Pure-TypeScript reference: plain loops, exact, slow. */
  cpu(inputs: readonly HostArray[], specs: readonly TensorSpec[], attrs: A): HostArray[];
  /** WebGPU kernels computing the same outputs. */
  gpu(
    inputs: readonly TensorSpec[],
    outputs: readonly TensorSpec[],
    attrs: A,
    caps: DeviceCaps,
  ): GpuPlan;
  /** Floating-point operations one run performs (for GFLOP/s in benchmarks). */
  flops?(inputs: readonly TensorSpec[], attrs: A): number;
  /** If set, output 0 aliases input 0's storage (reshape): no kernel runs. */
  readonly alias?: boolean;
}

/** Throws a {@link ShapeError} of the form `op "name": message` unless `cond` holds. */
export function check(cond: boolean, type: string, name: string, message: string): asserts cond {
  if (!cond) throw new ShapeError(`${type} "${name}": ${message}`);
}

/** Checks the input count, then returns the specs for destructuring. */
export function expectInputs(
  type: string,
  name: string,
  inputs: readonly TensorSpec[],
  min: number,
  max = min,
): readonly TensorSpec[] {
  check(
    inputs.length >= min && inputs.length <= max,
    type,
    name,
    `expects ${min === max ? min : `${min}–${max}`} inputs, got ${inputs.length}`,
  );
  return inputs;
}

/** Describes a spec for messages: `f32[1×64×64×3]`. */
export function desc(s: TensorSpec): string {
  return `${s.dtype}${fmtShape(s.shape)}`;
}

/** Packs 32-bit unsigned integers (and floats, given as `{f: x}`) into a uniform buffer. */
export function uniforms(values: readonly (number | { f: number })[]): ArrayBuffer {
  // Uniform structs round up to 16 bytes.
  const n = Math.max(4, Math.ceil(values.length / 4) * 4);
  const buf = new ArrayBuffer(n * 4);
  const u = new Uint32Array(buf), f = new Float32Array(buf);
  values.forEach((v, i) => {
    if (typeof v === "number") u[i] = v >>> 0;
    else f[i] = v.f;
  });
  return buf;
}

/** Splits a 1-D workgroup count over x and y so neither exceeds the per-dimension limit. */
export function fold1d(groups: number, caps: DeviceCaps): [number, number, number] {
  if (groups <= caps.maxWorkgroupsPerDim) return [Math.max(1, groups), 1, 1];
  const y = Math.ceil(groups / caps.maxWorkgroupsPerDim);
  return [Math.ceil(groups / y), y, 1];
}

/** Ceiling division. */
export function cdiv(a: number, b: number): number {
  return Math.ceil(a / b);
}
