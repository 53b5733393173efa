/**
 * Vector-quantisation ops for residual-VQ codecs: nearest-codebook search, a beam-search step,
 * codebook gather and the fused residual update `r − codebook[idx]`. Vectors lie along the
 * innermost axis (`[..., D]`, channels-last), so M vectors of length D are simply `numel / D`
 * rows.
 *
 * Indices are i32. Wherever an op reads the codebook at an index, out-of-range indices are
 * clamped to [0, K − 1] on the GPU and in the CPU reference alike, so a corrupt bitstream can
 * never read outside the codebook buffer.
 * @module
 */
import type { GpuPlan, KernelLaunch } from "./op.ts";
import { launch1d } from "./launch1d.ts";
import { cdiv, check, desc, expectInputs, fold1d, type OpDef, uniforms } from "./op.ts";
import { allocHost, dtypeOf, numel, type TensorSpec } from "../graph/tensor.ts";
import vqPrepWgsl from "../../shaders/vq_prep.wgsl" with { type: "text" };
import vqSearchWgsl from "../../shaders/vq_search.wgsl" with { type: "text" };
import vqSearchSwWgsl from "../../shaders/vq_search_sw.wgsl" with { type: "text" };
import padLastWgsl from "../../shaders/pad_last.wgsl" with { type: "text" };
import gatherWgsl from "../../shaders/gather.wgsl" with { type: "text" };
import vqResidualWgsl from "../../shaders/vq_residual.wgsl" with { type: "text" };
import vqBeamSelectWgsl from "../../shaders/vq_beam_select.wgsl" with { type: "text" };

/** Largest finite f32: the `gap` {@link vqSearch} reports when the codebook has one code. */
export const F32_MAX: number = 3.4028234663852886e38;

/** Attributes of {@link vqSearch}, {@link gather} and {@link vqResidual}: they take none. */
export type NoAttrs = Record<string, never>;

function checkCodebook(type: string, name: string, cb: TensorSpec, f32: boolean): void {
  check(
    cb.shape.length === 2 && (!f32 || cb.dtype === "f32"),
    type,
    name,
    `codebook must be ${f32 ? "f32" : ""}[K, D], got ${desc(cb)}`,
  );
}

function checkIndices(type: string, name: string, idx: TensorSpec): void {
  check(idx.dtype === "i32", type, name, `indices must be i32, got ${desc(idx)}`);
}

/** The codebook row read for index `i`: clamped to [0, K − 1], exactly as the kernels do. */
export function clampIndex(i: number, k: number): number {
  return i < 0 ? 0 : i >= k ? k - 1 : i;
}

// Rows per workgroup of the two search kernels, and the code block each scans at a time.
const GPU_ROWS = 64; // vq_search.wgsl: 16×8 threads, 8 rows each
const GPU_CODES = 4;
const SW_ROWS = 128; // vq_search_sw.wgsl: 8 threads × 16 rows
const SW_CODES = 32;
const SW_MAX_STEPS = 16384; // a quarter of llvmpipe's loop limit, see below

/**
 * Nearest-codebook search. Inputs: x `[..., D]` (M vectors), codebook `[K, D]`. Outputs:
 * indices i32 `[...]` = argmin_k ‖x − c_k‖² with the lowest index winning exact ties, and
 * gap f32 `[...]` = second-best minus best distance ({@link F32_MAX} when K = 1), which tells
 * near-ties apart.
 *
 * The GPU computes distances as ‖c_k‖² − 2·x·c_k in f32 (‖x‖² is the same for every code):
 * a GEMM with an argmin epilogue, after a first launch that transposes the codebook and
 * computes ‖c_k‖² into scratch. Where two codes lie within f32 rounding of each other it may
 * therefore pick either. The CPU reference computes the exact Σ(x − c)² in float64, so tests
 * compare indices wherever the reference gap is clearly above rounding.
 *
 * Software adapters (`caps.software`) get a kernel with much larger register blocks
 * (`shaders/vq_search_sw.wgsl`, ~3–4× faster there), split over several launches when the
 * codebook is large enough to reach llvmpipe's 65535-iteration loop limit.
 */
export const vqSearch: OpDef<NoAttrs> = {
  type: "vq_search",
  infer(inputs, _attrs, name) {
    const [x, cb] = expectInputs("vq_search", name, inputs, 2);
    check(
      x.dtype === "f32" && x.shape.length >= 2,
      "vq_search",
      name,
      `x must be f32 of rank ≥ 2 ([..., D]), got ${desc(x)}`,
    );
    checkCodebook("vq_search", name, cb, true);
    check(
      x.shape[x.shape.length - 1] === cb.shape[1],
      "vq_search",
      name,
      `vector length differs: x ${desc(x)}, codebook ${desc(cb)}`,
    );
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
  gpu(inputs, _outputs, _attrs, caps): GpuPlan {
    const [x, cb] = inputs;
    const [k, d] = cb.shape;
    const m = numel(x.shape) / d;
    const d4 = cdiv(d, 4) * 4;
    const block = caps.software ? SW_CODES : GPU_CODES;
    const kp = cdiv(k, block) * block;
    const scratch = [(d4 + 1) * kp * 4];
    const launches: KernelLaunch[] = [{
      label: "vq_prep",
      code: vqPrepWgsl,
      bindings: [
        { slot: 0, access: "read", ref: { input: 1 } },
        { slot: 1, access: "write", ref: { scratch: 0 } },
        { slot: 15, access: "uniform", ref: { uniform: uniforms([k, d, d4, kp]) } },
      ],
      workgroups: fold1d(cdiv(kp, 64), caps),
    }];
    // The search kernels read x as whole vec4: pad rows whose length is not a multiple of 4.
    let xRef: { input: number } | { scratch: number } = { input: 0 };
    if (d4 !== d) {
      scratch.push(m * d4 * 4);
      xRef = { scratch: 1 };
      launches.push(launch1d("pad_last", padLastWgsl, m * d4, [
        { slot: 0, access: "read", ref: { input: 0 } },
        { slot: 1, access: "write", ref: xRef },
        { slot: 15, access: "uniform", ref: { uniform: uniforms([m * d4, d, d4]) } },
      ], caps));
    }
    const results = [
      { slot: 0, access: "read", ref: xRef },
      { slot: 1, access: "read", ref: { scratch: 0 } },
      { slot: 2, access: "write", ref: { output: 0 } },
      { slot: 3, access: "write", ref: { output: 1 } },
    ] as const;
    const dv = d4 / 4, kq = kp / 4;
    if (!caps.software) {
      launches.push({
        label: "vq_search",
        code: vqSearchWgsl,
        bindings: [
          ...results,
          { slot: 15, access: "uniform", ref: { uniform: uniforms([m, dv, kq]) } },
        ],
        workgroups: fold1d(cdiv(m, GPU_ROWS), caps),
      });
      return { scratch, launches };
    }
    // llvmpipe ends any loop after 65535 iterations per invocation (nested loops counted
    // together), so each launch scans at most SW_MAX_STEPS steps of four dimensions.
    const blocks = kp / SW_CODES;
    const perLaunch = Math.max(1, Math.floor(SW_MAX_STEPS / dv));
    const parts = cdiv(blocks, perLaunch);
    const state = scratch.length;
    scratch.push(parts > 1 ? m * 8 : 16);
    for (let i = 0; i < parts; i++) {
      const j0 = i * perLaunch * (SW_CODES / 4);
      const j1 = Math.min(blocks, (i + 1) * perLaunch) * (SW_CODES / 4);
      const params = [m, dv, kq, j0, j1, i === 0 ? 1 : 0, i === parts - 1 ? 1 : 0];
      launches.push({
        label: "vq_search_sw",
        code: vqSearchSwWgsl,
        bindings: [
          ...results,
          { slot: 4, access: "write", ref: { scratch: state } },
          { slot: 15, access: "uniform", ref: { uniform: uniforms(params) } },
        ],
        workgroups: fold1d(cdiv(m, SW_ROWS), caps),
      });
    }
    return { scratch, launches };
  },
  flops(inputs) {
    const [k, d] = inputs[1].shape;
    return 2 * (numel(inputs[0].shape) / d) * k * d;
  },
};

/**
 * Codebook lookup: codebook `[K, D]` and indices i32 `[...]` → `[..., D]`, row
 * `clamp(idx, 0, K − 1)` of the codebook for each index. Copies raw words, so the codebook may
 * have any dtype and values come out bit-exact.
 */
export const gather: OpDef<NoAttrs> = {
  type: "gather",
  infer(inputs, _attrs, name) {
    const [cb, idx] = expectInputs("gather", name, inputs, 2);
    checkCodebook("gather", name, cb, false);
    checkIndices("gather", name, idx);
    return [{ shape: [...idx.shape, cb.shape[1]], dtype: cb.dtype }];
  },
  cpu(inputs, specs) {
    const [cb, idx] = inputs;
    const [k, d] = specs[0].shape;
    const out = allocHost({ shape: [idx.length * d], dtype: dtypeOf(cb) });
    for (let i = 0; i < idx.length; i++) {
      const row = clampIndex(idx[i], k);
      for (let e = 0; e < d; e++) out[i * d + e] = cb[row * d + e];
    }
    return [out];
  },
  gpu(inputs, outputs, _attrs, caps): GpuPlan {
    const [k, d] = inputs[0].shape;
    const total = numel(outputs[0].shape);
    return {
      launches: [launch1d("gather", gatherWgsl, total, [
        { slot: 0, access: "read", ref: { input: 0 } },
        { slot: 1, access: "read", ref: { input: 1 } },
        { slot: 2, access: "write", ref: { output: 0 } },
        { slot: 15, access: "uniform", ref: { uniform: uniforms([total, d, k]) } },
      ], caps)],
    };
  },
};

/**
 * One residual-VQ stage's update, fused: inputs r `[..., D]`, codebook `[K, D]`, indices i32
 * `[...]` → `r − codebook[clamp(idx, 0, K − 1)]`, shaped like r. Saves the gather's temporary
 * and a dispatch per stage over `gather` followed by a subtraction.
 */
export const vqResidual: OpDef<NoAttrs> = {
  type: "vq_residual",
  infer(inputs, _attrs, name) {
    const [r, cb, idx] = expectInputs("vq_residual", name, inputs, 3);
    check(
      r.dtype === "f32" && r.shape.length >= 2,
      "vq_residual",
      name,
      `r must be f32 of rank ≥ 2 ([..., D]), got ${desc(r)}`,
    );
    checkCodebook("vq_residual", name, cb, true);
    checkIndices("vq_residual", name, idx);
    check(
      r.shape[r.shape.length - 1] === cb.shape[1],
      "vq_residual",
      name,
      `vector length differs: r ${desc(r)}, codebook ${desc(cb)}`,
    );
    const lead = r.shape.slice(0, -1);
    check(
      idx.shape.length === lead.length && idx.shape.every((v, i) => v === lead[i]),
      "vq_residual",
      name,
      `indices must have shape [${lead.join("×")}] (r without its last axis), got ${desc(idx)}`,
    );
    return [{ shape: r.shape, dtype: "f32" }];
  },
  cpu(inputs, specs) {
    const [r, cb, idx] = inputs as [Float32Array, Float32Array, Int32Array];
    const [k, d] = specs[1].shape;
    const out = new Float32Array(r.length);
    for (let i = 0; i < idx.length; i++) {
      const row = clampIndex(idx[i], k);
      for (let e = 0; e < d; e++) out[i * d + e] = r[i * d + e] - cb[row * d + e];
    }
    return [out];
  },
  gpu(inputs, _outputs, _attrs, caps): GpuPlan {
    const [k, d] = inputs[1].shape;
    const total = numel(inputs[0].shape);
    return {
      launches: [launch1d("vq_residual", vqResidualWgsl, total, [
        { slot: 0, access: "read", ref: { input: 0 } },
        { slot: 1, access: "read", ref: { input: 1 } },
        { slot: 2, access: "read", ref: { input: 2 } },
        { slot: 3, access: "write", ref: { output: 0 } },
        { slot: 15, access: "uniform", ref: { uniform: uniforms([total, d, k]) } },
      ], caps)],
    };
  },
  flops(inputs) {
    return numel(inputs[0].shape);
  },
};

/** Most beams {@link vqBeamSelect} keeps (its kernel's fixed list length). */
export const VQ_MAX_BEAMS = 8;

/** Attributes of {@link vqBeamSelect}. */
export interface VqBeamAttrs {
  /** Beams kept for the next stage, 1…{@link VQ_MAX_BEAMS}. */
  readonly beams: number;
}

/**
 * One stage of a residual-VQ beam search. Inputs: r `[P, BI, D]` (BI ≤ {@link VQ_MAX_BEAMS}
 * beams' residuals at each of P positions), dots `[P, BI, K]` = r · codebookᵀ (a {@link matmul}) and the codebook's
 * squared norms `[K]`. Of the BI·K candidates (beam b, code k) at each position it keeps the
 * `beams` with the smallest ‖r_b − c_k‖² = ‖r_b‖² − 2·dots + ‖c_k‖², in ascending order, the
 * lower candidate number b·K + k first on exact ties. Outputs i32 `[P, beams]`: rows (the
 * parent's row p·BI + b of r as `[P·BI, D]`) and codes (k).
 *
 * The GPU works in f32, so where two candidates lie within f32 rounding of each other it may
 * keep either; the CPU reference evaluates the same formula in float64 from the same (f32)
 * inputs. Should no candidate compare below f32 max (NaN or infinite inputs), a kept slot holds
 * the position's first row and code 0 on both, so the outputs stay valid indices.
 */
export const vqBeamSelect: OpDef<VqBeamAttrs> = {
  type: "vq_beam_select",
  infer(inputs, attrs, name) {
    const t = "vq_beam_select";
    const [r, dots, norms] = expectInputs(t, name, inputs, 3);
    check(
      r.dtype === "f32" && r.shape.length === 3,
      t,
      name,
      `r must be f32 [P, BI, D], got ${desc(r)}`,
    );
    const [p, bi] = r.shape;
    check(bi <= VQ_MAX_BEAMS, t, name, `r holds ${bi} beams per position, at most ${VQ_MAX_BEAMS}`);
    check(
      dots.dtype === "f32" && dots.shape.length === 3 && dots.shape[0] === p &&
        dots.shape[1] === bi,
      t,
      name,
      `dots must be f32 [${p}, ${bi}, K], got ${desc(dots)}`,
    );
    const k = dots.shape[2];
    check(
      norms.dtype === "f32" && norms.shape.length === 1 && norms.shape[0] === k,
      t,
      name,
      `codebook norms must be f32 [${k}], got ${desc(norms)}`,
    );
    const b = attrs.beams;
    check(
      Number.isInteger(b) && b >= 1 && b <= VQ_MAX_BEAMS && b <= bi * k,
      t,
      name,
      `beams must be an integer in 1…${Math.min(VQ_MAX_BEAMS, bi * k)}, got ${b}`,
    );
    return [{ shape: [p, b], dtype: "i32" }, { shape: [p, b], dtype: "i32" }];
  },
  cpu(inputs, specs, attrs) {
    const [r, dots, norms] = inputs as Float32Array[];
    const [p, bi, d] = specs[0].shape;
    const k = specs[2].shape[0];
    const bo = attrs.beams;
    const rows = new Int32Array(p * bo), codes = new Int32Array(p * bo);
    const rn = new Float64Array(bi);
    for (let pos = 0; pos < p; pos++) {
      for (let b = 0; b < bi; b++) {
        let s = 0;
        for (let e = 0; e < d; e++) s += r[((pos * bi + b) * d) + e] ** 2;
        rn[b] = s;
      }
      // sorted (distance, candidate) pairs; candidates come in increasing order, so a strict <
      // keeps the lower candidate first on ties
      const bd = new Float64Array(bo).fill(Infinity), bc = new Int32Array(bo).fill(-1);
      for (let c = 0; c < bi * k; c++) {
        const b = Math.floor(c / k), code = c - b * k;
        const dist = rn[b] - 2 * dots[(pos * bi + b) * k + code] + norms[code];
        if (!(dist < bd[bo - 1])) continue;
        let j = bo - 1;
        for (; j > 0 && dist < bd[j - 1]; j--) {
          bd[j] = bd[j - 1];
          bc[j] = bc[j - 1];
        }
        bd[j] = dist;
        bc[j] = c;
      }
      for (let j = 0; j < bo; j++) {
        const c = Math.max(0, bc[j]), b = Math.floor(c / k);
        rows[pos * bo + j] = pos * bi + b;
        codes[pos * bo + j] = c - b * k;
      }
    }
    return [rows, codes];
  },
  gpu(inputs, _outputs, attrs, caps): GpuPlan {
    const [p, bi, d] = inputs[0].shape;
    const k = inputs[2].shape[0];
    return {
      launches: [{
        label: "vq_beam_select",
        code: vqBeamSelectWgsl,
        bindings: [
          { slot: 0, access: "read", ref: { input: 0 } },
          { slot: 1, access: "read", ref: { input: 1 } },
          { slot: 2, access: "read", ref: { input: 2 } },
          { slot: 3, access: "write", ref: { output: 0 } },
          { slot: 4, access: "write", ref: { output: 1 } },
          { slot: 15, access: "uniform", ref: { uniform: uniforms([p, bi, attrs.beams, k, d]) } },
        ],
        workgroups: fold1d(p, caps),
      }],
    };
  },
  flops(inputs) {
    return 3 * numel(inputs[1].shape);
  },
};
