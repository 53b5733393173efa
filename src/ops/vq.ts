/**
 * Vector-quantisation ops for residual-VQ codecs: nearest-codebook search, codebook gather and
 * the fused residual update `r − codebook[idx]`. Vectors are the innermost axis (`[..., D]`).
 * @module
 */
import type { HostArray, TensorSpec } from "../graph/tensor.ts";
import { numel } from "../graph/tensor.ts";
import vqPrepWgsl from "../../shaders/vq_prep.wgsl" with { type: "text" };
import vqSearchWgsl from "../../shaders/vq_search.wgsl" with { type: "text" };
import gatherWgsl from "../../shaders/gather.wgsl" with { type: "text" };
import vqResidualWgsl from "../../shaders/vq_residual.wgsl" with { type: "text" };
import {
  type Binding,
  cdiv,
  check,
  desc,
  type DeviceCaps,
  expectInputs,
  fold1d,
  type GpuPlan,
  type OpDef,
  uniforms,
} from "./op.ts";

/** Largest finite f32: the `gap` of {@link vqSearch} when the codebook has a single code. */
export const F32_MAX: number = 3.4028234663852886e38;

/** Attributes of {@link vqSearch} (none). */
export type VqSearchAttrs = Record<string, never>;

/** Attributes of {@link gather} and {@link vqResidual} (none). */
export type GatherAttrs = Record<string, never>;

function checkCodebook(type: string, name: string, cb: TensorSpec): void {
  check(
    cb.dtype === "f32" && cb.shape.length === 2,
    type,
    name,
    `codebook must be f32[K, D], got ${desc(cb)}`,
  );
}

function checkIndices(type: string, name: string, idx: TensorSpec): void {
  check(idx.dtype === "i32", type, name, `indices must be i32, got ${desc(idx)}`);
}

/** Codebook row for an index: out-of-range indices clamp to [0, K − 1] on CPU and GPU alike. */
function clampIndex(i: number, k: number): number {
  return i < 0 ? 0 : i >= k ? k - 1 : i;
}

const ROWS_PER_GROUP = 64; // vq_search.wgsl: 8 rows per thread × 8 thread rows

/**
 * Nearest-codebook search. Inputs: x `[..., D]` (M vectors), codebook `[K, D]`. Outputs:
 * indices i32 `[...]` = argmin_k ‖x − c_k‖² (lowest index on exact ties), and gap f32 `[...]`
 * = second-best minus best distance ({@link F32_MAX} when K = 1), which tells near-ties apart.
 *
 * The GPU computes distances as ‖c_k‖² − 2·x·c_k in f32 (a GEMM with an argmin epilogue), so
 * where two codes are within f32 rounding of each other it may pick either; the CPU reference
 * computes the exact Σ(x − c)² in float64, so tests compare indices wherever the gap is
 * clearly above rounding.
 */
export const vqSearch: OpDef<VqSearchAttrs> = {
  type: "vq_search",
  infer(inputs, _attrs, name) {
    const [x, cb] = expectInputs("vq_search", name, inputs, 2);
    check(
      x.dtype === "f32" && x.shape.length >= 2,
      "vq_search",
      name,
      `x must be f32 of rank ≥ 2 ([..., D]), got ${desc(x)}`,
    );
    checkCodebook("vq_search", name, cb);
    check(
      x.shape[x.shape.length - 1] === cb.shape[1],
      "vq_search",
      name,
      `vector length differs: x ${desc(x)}, codebook ${desc(cb)}`,
    );
    check(cb.shape[0] <= 2 ** 24, "vq_search", name, `at most 2^24 codes, got ${cb.shape[0]}`);
    const lead = x.shape.slice(0, -1);
    return [{ shape: lead, dtype: "i32" }, { shape: lead, dtype: "f32" }];
  },
  cpu(inputs, specs) {
    const [x, cb] = inputs as Float32Array[];
    const [k, d] = specs[1].shape;
    const m = numel(specs[0].shape) / d;
    const idx = new Int32Array(m);
    const gap = new Float32Array(m);
    for (let i = 0; i < m; i++) {
      let best = Infinity, second = Infinity, bi = 0;
      for (let c = 0; c < k; c++) {
        let s = 0;
        for (let e = 0; e < d; e++) {
          const t = x[i * d + e] - cb[c * d + e];
          s += t * t;
        }
        if (s < best) {
          second = best;
          best = s;
          bi = c;
        } else if (s < second) second = s;
      }
      idx[i] = bi;
      gap[i] = k === 1 ? F32_MAX : second - best;
    }
    return [idx, gap];
  },
  gpu(inputs, _outputs, _attrs, caps) {
    const [x, cb] = inputs;
    const [k, d] = cb.shape;
    const m = numel(x.shape) / d;
    const d4 = cdiv(d, 4) * 4;
    const kq = cdiv(k, 4);
    const k4 = kq * 4;
    return {
      scratch: [(d4 + 1) * k4 * 4],
      launches: [
        {
          label: "vq_prep",
          code: vqPrepWgsl,
          bindings: [
            { slot: 0, access: "read", ref: { input: 1 } },
            { slot: 1, access: "write", ref: { scratch: 0 } },
            { slot: 15, access: "uniform", ref: { uniform: uniforms([k, d, d4, k4]) } },
          ],
          workgroups: fold1d(cdiv(k4, 64), caps),
        },
        {
          label: "vq_search",
          code: vqSearchWgsl,
          bindings: [
            { slot: 0, access: "read", ref: { input: 0 } },
            { slot: 1, access: "read", ref: { scratch: 0 } },
            { slot: 2, access: "write", ref: { output: 0 } },
            { slot: 3, access: "write", ref: { output: 1 } },
            { slot: 15, access: "uniform", ref: { uniform: uniforms([m, d / 4, kq]) } },
          ],
          workgroups: fold1d(cdiv(m, ROWS_PER_GROUP), caps),
        },
      ],
    };
  },
  flops(inputs) {
    const [k, d] = inputs[1].shape;
    return 2 * (numel(inputs[0].shape) / d) * k * d;
  },
};

function rowLookupLaunch(
  label: string,
  code: string,
  count: number,
  d: number,
  k: number,
  bindings: Binding[],
  caps: DeviceCaps,
): GpuPlan {
  const workgroups = fold1d(cdiv(count, 256), caps);
  return {
    launches: [{
      label,
      code,
      bindings: [
        ...bindings,
        { slot: 2, access: "write", ref: { output: 0 } },
        {
          slot: 15,
          access: "uniform",
          ref: { uniform: uniforms([count, d, k, workgroups[0] * 256]) },
        },
      ],
      workgroups,
    }],
  };
}

/**
 * Codebook lookup. Inputs: codebook `[K, D]`, indices i32 `[...]`. Output `[..., D]`.
 * Out-of-range indices clamp to [0, K − 1].
 */
export const gather: OpDef<GatherAttrs> = {
  type: "gather",
  infer(inputs, _attrs, name) {
    const [cb, idx] = expectInputs("gather", name, inputs, 2);
    checkCodebook("gather", name, cb);
    checkIndices("gather", name, idx);
    return [{ shape: [...idx.shape, cb.shape[1]], dtype: "f32" }];
  },
  cpu(inputs, specs) {
    const [cb, idx] = inputs as [Float32Array, Int32Array];
    const [k, d] = specs[0].shape;
    const y = new Float32Array(idx.length * d);
    for (let m = 0; m < idx.length; m++) {
      const row = clampIndex(idx[m], k) * d;
      y.set(cb.subarray(row, row + d), m * d);
    }
    return [y];
  },
  gpu(inputs, _outputs, _attrs, caps) {
    const [k, d] = inputs[0].shape;
    return rowLookupLaunch("gather", gatherWgsl, numel(inputs[1].shape) * d, d, k, [
      { slot: 0, access: "read", ref: { input: 0 } },
      { slot: 1, access: "read", ref: { input: 1 } },
    ], caps);
  },
};

/**
 * The residual update of residual VQ, `r − codebook[idx]`. Inputs: r `[..., D]`, codebook
 * `[K, D]`, indices i32 `[...]` (one per vector of r). Output shaped like r.
 */
export const vqResidual: OpDef<GatherAttrs> = {
  type: "vq_residual",
  infer(inputs, _attrs, name) {
    const [r, cb, idx] = expectInputs("vq_residual", name, inputs, 3);
    checkCodebook("vq_residual", name, cb);
    checkIndices("vq_residual", name, idx);
    const d = cb.shape[1];
    check(
      r.dtype === "f32" && r.shape[r.shape.length - 1] === d && numel(r.shape) === numel(idx.shape) * d,
      "vq_residual",
      name,
      `r ${desc(r)} must hold one ${d}-vector per index of ${desc(idx)}`,
    );
    return [{ shape: [...r.shape], dtype: "f32" }];
  },
  cpu(inputs, specs) {
    const [r, cb, idx] = inputs as [Float32Array, Float32Array, Int32Array];
    const [k, d] = specs[1].shape;
    const y = new Float32Array(r.length);
    for (let m = 0; m < idx.length; m++) {
      const row = clampIndex(idx[m], k) * d;
      for (let j = 0; j < d; j++) y[m * d + j] = r[m * d + j] - cb[row + j];
    }
    return [y];
  },
  gpu(inputs, _outputs, _attrs, caps) {
    const [k, d] = inputs[1].shape;
    return rowLookupLaunch("vq_residual", vqResidualWgsl, numel(inputs[0].shape), d, k, [
      { slot: 0, access: "read", ref: { input: 0 } },
      { slot: 1, access: "read", ref: { input: 1 } },
      { slot: 3, access: "read", ref: { input: 2 } },
    ], caps);
  },
};
