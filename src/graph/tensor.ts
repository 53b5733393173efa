/**
 * Tensor descriptions shared by the graph, the backends and the ops.
 *
 * Layout: activations are channels-last (NHWC, or `[..., C]` in general). The channel axis is
 * innermost so a GPU thread can load four channels as one `vec4<f32>`, pointwise (1×1)
 * convolutions are plain GEMMs over `[N·H·W, C]` with no transpose, and per-channel epilogues
 * (bias, scale, shift) index with `i % C`.
 * @module
 */

/** Element types a tensor may hold. */
export type DType = "f32" | "i32" | "u32";

/** Host-side storage for tensor data. */
export type HostArray = Float32Array | Int32Array | Uint32Array;

/** Shape and element type of a tensor. */
export interface TensorSpec {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
}

/** Number of elements in a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Bytes a tensor of this spec occupies (every dtype is 4 bytes wide). */
export function byteSize(spec: TensorSpec): number {
  return numel(spec.shape) * 4;
}

/** Allocates a zeroed host array of the spec's dtype and size. */
export function allocHost(spec: TensorSpec): HostArray {
  const n = numel(spec.shape);
  switch (spec.dtype) {
    case "f32":
      return new Float32Array(n);
    case "i32":
      return new Int32Array(n);
    case "u32":
      return new Uint32Array(n);
  }
}

/** The dtype a host array carries. */
export function dtypeOf(a: HostArray): DType {
  if (a instanceof Float32Array) return "f32";
  if (a instanceof Int32Array) return "i32";
  return "u32";
}

/** `[2, 3, 4]` → `"2×3×4"`, for error messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join("×")}]`;
}

/** Wraps an ArrayBuffer view of the given dtype. */
export function viewAs(dtype: DType, buf: ArrayBuffer, offset = 0, length?: number): HostArray {
  switch (dtype) {
    case "f32":
      return new Float32Array(buf, offset, length);
    case "i32":
      return new Int32Array(buf, offset, length);
    case "u32":
      return new Uint32Array(buf, offset, length);
  }
}
