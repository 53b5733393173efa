/**
 * Multi-head scaled dot-product attention over token-major tensors, for windowed attention
 * (after `window_partition`: `[windows, ws·ws, C]`) and for whole sequences (an NHWC
 * `[1, 32, 32, C]` map is 1024 tokens).
 *
 * Inputs `q [B, ...Tq, H·D]`, `k [B, ...Tk, H·D]`, `v` shaped like `k`: every axis between the
 * first and the last is a token axis (flattened, row-major). Output is shaped like `q`; head `h`
 * uses channels `h·D .. h·D + D - 1`. No mask.
 *
 * Two kernel plans compute the same result. GPUs run one flash-style pass (online softmax, K/V
 * tiles in 8 KiB of workgroup memory whatever the length). Software adapters run three
 * register-blocked passes through a score scratch buffer, which compile quickly and run about
 * 2.5× faster there (the flash kernel's per-query loads are emulated gathers on a CPU).
 * @module
 */
import type { TensorSpec } from "../graph/tensor.ts";
import { numel } from "../graph/tensor.ts";
import attentionWgsl from "../../shaders/attention.wgsl" with { type: "text" };
import qkWgsl from "../../shaders/attention_qk.wgsl" with { type: "text" };
import pvWgsl from "../../shaders/attention_pv.wgsl" with { type: "text" };
import softmaxWgsl from "../../shaders/softmax.wgsl" with { type: "text" };
import {
  cdiv,
  check,
  desc,
  type DeviceCaps,
  fold1d,
  type GpuPlan,
  type KernelLaunch,
  type OpDef,
  uniforms,
} from "./op.ts";
import { rowLaunch, withRows } from "./rows.ts";

/** Attributes of {@link attention}. */
export interface AttentionAttrs {
  /** Number of heads H; must divide the channel count. */
  readonly heads: number;
  /** Multiplies the logits `q·k` (default `1/√D`). */
  readonly scale?: number;
}

/** Largest head dimension the kernel holds in registers. */
export const MAX_HEAD_DIM = 128;

// Kernels come in two element types: vec4 when D % 4 == 0, else f32. The prefix declares it.
const PREFIX = {
  4: "alias Elem = vec4<f32>;\nconst EW: u32 = 4u;\nconst KV_TILE: u32 = 256u;\n" +
    "fn edot(a: Elem, b: Elem) -> f32 { return dot(a, b); }\n",
  1: "alias Elem = f32;\nconst EW: u32 = 1u;\nconst KV_TILE: u32 = 1024u;\n" +
    "fn edot(a: Elem, b: Elem) -> f32 { return a * b; }\n",
} as const;
const FLASH = { 4: PREFIX[4] + attentionWgsl, 1: PREFIX[1] + attentionWgsl } as const;
const QK = { 4: PREFIX[4] + qkWgsl, 1: PREFIX[1] + qkWgsl } as const;
const PV = { 4: PREFIX[4] + pvWgsl, 1: PREFIX[1] + pvWgsl } as const;
const SOFTMAX = withRows(softmaxWgsl);
// Elems per staged K or V tile of the flash kernel (KV_TILE in the prefix: 4 KiB each).
const KV_TILE = { 4: 256, 1: 1024 } as const;
const MAX_BK = 32;
// Register blocks and workgroup size of attention_qk/pv.wgsl.
const RQ = 8, RK = 4, WG = 64;
/** Bytes of score scratch the software path may use; more batch·heads run in chunks. */
const SCORE_BYTES = 64 << 20;

interface Dims {
  b: number;
  tq: number;
  tk: number;
  h: number;
  d: number;
}

function dims(q: TensorSpec, k: TensorSpec, heads: number): Dims {
  const c = q.shape[q.shape.length - 1];
  const b = q.shape[0];
  return { b, tq: numel(q.shape) / (b * c), tk: numel(k.shape) / (b * c), h: heads, d: c / heads };
}

/** `out[b, i, h] = Σ_j softmax_j(q[b, i, h]·k[b, j, h]·scale) · v[b, j, h]` per head. */
export const attention: OpDef<AttentionAttrs> = {
  type: "attention",
  infer(inputs, attrs, name) {
    check(inputs.length === 3, "attention", name, `expects q, k, v, got ${inputs.length} inputs`);
    const [q, k, v] = inputs;
    for (const [s, what] of [[q, "q"], [k, "k"], [v, "v"]] as const) {
      check(
        s.dtype === "f32" && s.shape.length >= 3,
        "attention",
        name,
        `${what} must be f32 [B, tokens..., H·D], got ${desc(s)}`,
      );
    }
    check(
      k.shape.length === v.shape.length && k.shape.every((d, i) => d === v.shape[i]),
      "attention",
      name,
      `k and v must have the same shape, got k ${desc(k)}, v ${desc(v)}`,
    );
    const c = q.shape[q.shape.length - 1];
    check(
      k.shape[0] === q.shape[0] && k.shape[k.shape.length - 1] === c,
      "attention",
      name,
      `k must match q's batch and channels, got q ${desc(q)}, k ${desc(k)}`,
    );
    const h = attrs.heads;
    check(
      Number.isInteger(h) && h >= 1 && c % h === 0,
      "attention",
      name,
      `heads must be a positive divisor of the ${c} channels, got ${h}`,
    );
    check(
      c / h <= MAX_HEAD_DIM,
      "attention",
      name,
      `head dimension ${c / h} exceeds ${MAX_HEAD_DIM}; use more heads`,
    );
    check(
      attrs.scale === undefined || Number.isFinite(attrs.scale),
      "attention",
      name,
      `scale must be a finite number, got ${attrs.scale}`,
    );
    return [{ shape: [...q.shape], dtype: "f32" }];
  },
  cpu(inputs, specs, attrs) {
    const [q, k, v] = inputs;
    const { b, tq, tk, h, d } = dims(specs[0], specs[1], attrs.heads);
    const scale = attrs.scale ?? 1 / Math.sqrt(d);
    const c = h * d;
    const out = new Float32Array(q.length);
    const s = new Float64Array(tk);
    const acc = new Float64Array(d);
    for (let bi = 0; bi < b; bi++) {
      for (let hi = 0; hi < h; hi++) {
        const kv = bi * tk * c + hi * d;
        for (let i = 0; i < tq; i++) {
          const qo = (bi * tq + i) * c + hi * d;
          let m = -Infinity;
          for (let j = 0; j < tk; j++) {
            let dot = 0;
            for (let e = 0; e < d; e++) dot += q[qo + e] * k[kv + j * c + e];
            s[j] = dot * scale;
            m = Math.max(m, s[j]);
          }
          let sum = 0;
          acc.fill(0);
          for (let j = 0; j < tk; j++) {
            const p = Math.exp(s[j] - m);
            sum += p;
            for (let e = 0; e < d; e++) acc[e] += p * v[kv + j * c + e];
          }
          for (let e = 0; e < d; e++) out[qo + e] = acc[e] / sum;
        }
      }
    }
    return [out];
  },
  gpu(inputs, _outputs, attrs, caps) {
    const dm = dims(inputs[0], inputs[1], attrs.heads);
    const scale = attrs.scale ?? 1 / Math.sqrt(dm.d);
    const perHead = dm.tq * dm.tk * 4;
    return caps.software && perHead <= SCORE_BYTES
      ? gemmPlan(dm, scale, caps)
      : flashPlan(dm, scale, caps);
  },
  flops(inputs, attrs) {
    const { b, tq, tk, h, d } = dims(inputs[0], inputs[1], attrs.heads);
    return b * h * tq * tk * (4 * d + 3);
  },
};

/** The flash kernel: one pass, K/V tiles in workgroup memory; for GPUs. */
function flashPlan({ b, tq, tk, h, d }: Dims, scale: number, caps: DeviceCaps): GpuPlan {
  const ew = d % 4 === 0 ? 4 : 1;
  const de = d / ew;
  // Small sequences (a few tokens per window) would leave most of a 64-query workgroup idle.
  const bq = Math.min(64, Math.max(16, 2 ** Math.ceil(Math.log2(tq))));
  const bk = Math.min(MAX_BK, Math.floor(KV_TILE[ew] / de));
  const qBlocks = cdiv(tq, bq);
  const work = b * h * qBlocks;
  return {
    launches: [{
      label: "attention",
      code: FLASH[ew],
      constants: { DE: de, BQ: bq, BK: bk },
      bindings: [
        { slot: 0, access: "read", ref: { input: 0 } },
        { slot: 1, access: "read", ref: { input: 1 } },
        { slot: 2, access: "write", ref: { output: 0 } },
        { slot: 3, access: "read", ref: { input: 2 } },
        {
          slot: 15,
          access: "uniform",
          ref: { uniform: uniforms([tq, tk, h, h * de, qBlocks, work, { f: scale }]) },
        },
      ],
      workgroups: fold1d(work, caps),
    }],
  };
}

/**
 * Software adapters: scores into scratch (a register-blocked GEMM), an in-place row softmax,
 * then P·V (another GEMM), per chunk of batch·heads whose scores fit {@link SCORE_BYTES}.
 * Small fixed loop bodies compile in well under a second for every head size, and register
 * blocking amortises the emulated gathers that dominate on these adapters.
 */
function gemmPlan({ b, tq, tk, h, d }: Dims, scale: number, caps: DeviceCaps): GpuPlan {
  const ew = d % 4 === 0 ? 4 : 1;
  const de = d / ew;
  const bh = b * h;
  const chunk = Math.min(bh, Math.floor(SCORE_BYTES / (tq * tk * 4)));
  const qBlocks = cdiv(tq, RQ), kBlocks = cdiv(tk, RK);
  const launches: KernelLaunch[] = [];
  for (let bh0 = 0; bh0 < bh; bh0 += chunk) {
    const n = Math.min(chunk, bh - bh0);
    const common = [tq, tk, h, h * de, de, bh0, n, qBlocks];
    const rows = rowLaunch(n * tq, tk, caps);
    launches.push(
      {
        label: "attention_qk",
        code: QK[ew],
        bindings: [
          { slot: 0, access: "read", ref: { input: 0 } },
          { slot: 1, access: "read", ref: { input: 1 } },
          { slot: 5, access: "write", ref: { scratch: 0 } },
          {
            slot: 15,
            access: "uniform",
            ref: { uniform: uniforms([...common, kBlocks, { f: scale }]) },
          },
        ],
        workgroups: fold1d(cdiv(n * qBlocks * kBlocks, WG), caps),
      },
      {
        label: "attention_softmax",
        code: SOFTMAX,
        constants: { S: rows.s, IN_PLACE: 1 },
        bindings: [
          { slot: 0, access: "read", ref: { dummy: true } },
          { slot: 2, access: "write", ref: { scratch: 0 } },
          { slot: 15, access: "uniform", ref: { uniform: uniforms([n * tq, tk]) } },
        ],
        workgroups: rows.workgroups,
      },
      {
        label: "attention_pv",
        code: PV[ew],
        bindings: [
          { slot: 2, access: "write", ref: { output: 0 } },
          { slot: 3, access: "read", ref: { input: 2 } },
          { slot: 5, access: "read", ref: { scratch: 0 } },
          { slot: 15, access: "uniform", ref: { uniform: uniforms(common) } },
        ],
        workgroups: fold1d(cdiv(n * qBlocks * de, WG), caps),
      },
    );
  }
  return { scratch: [chunk * tq * tk * 4], launches };
}
