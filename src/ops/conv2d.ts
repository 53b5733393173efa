/**
 * 2-D convolution on NHWC data with a fused epilogue. One op, three kernels chosen from the
 * shapes: 1×1 stride-1 unpadded convolutions run as a GEMM (`[N·H·W, Cin] · [Cin, Cout]`),
 * depthwise convolutions with C a multiple of 4 run a vec4 sliding-window kernel, and everything
 * else a register-blocked direct convolution.
 *
 * Weights are `[KH, KW, Cin/groups, Cout]` (output channels innermost, so one thread loads the
 * weights of 4 output channels as one vector); PyTorch's `[Cout, Cin/groups, KH, KW]` converts
 * with {@link weightsFromTorch}.
 * @module
 */
import type { HostArray, TensorSpec } from "../graph/tensor.ts";
import conv2dWgsl from "../../shaders/conv2d.wgsl" with { type: "text" };
import conv2dScalarWgsl from "../../shaders/conv2d_scalar.wgsl" with { type: "text" };
import depthwiseWgsl from "../../shaders/depthwise_conv2d.wgsl" with { type: "text" };
import depthwiseSwWgsl from "../../shaders/depthwise_conv2d_sw.wgsl" with { type: "text" };
import {
  applyEpilogueCpu,
  checkEpilogue,
  type Epilogue,
  epilogueArity,
  epilogueGpu,
  withEpilogue,
} from "./epilogue.ts";
import { matmul } from "./matmul.ts";
import { cdiv, check, desc, type GpuPlan, type OpDef, uniforms } from "./op.ts";

/** Attributes of {@link conv2d}. */
export interface Conv2dAttrs {
  /** Stride, or `[vertical, horizontal]` (default 1). */
  readonly stride?: number | readonly [number, number];
  /** Zero padding: all sides, `[vertical, horizontal]`, or `[top, left, bottom, right]`. */
  readonly padding?: number | readonly [number, number] | readonly [number, number, number, number];
  /** Channel groups (default 1; `groups = Cin = Cout` is depthwise). */
  readonly groups?: number;
  /** Fused epilogue; its extra inputs follow X and W. */
  readonly epilogue?: Epilogue;
}

interface Geometry {
  n: number;
  h: number;
  w: number;
  cin: number;
  kh: number;
  kw: number;
  cout: number;
  groups: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  ho: number;
  wo: number;
}

function pads(p: Conv2dAttrs["padding"]): [number, number, number, number] {
  if (p === undefined) return [0, 0, 0, 0];
  if (typeof p === "number") return [p, p, p, p];
  if (p.length === 2) return [p[0], p[1], p[0], p[1]];
  return [p[0], p[1], p[2], p[3]];
}

function geometry(x: TensorSpec, wt: TensorSpec, a: Conv2dAttrs): Geometry {
  const [n, h, w, cin] = x.shape;
  const [kh, kw, , cout] = wt.shape;
  const [sh, sw] = typeof a.stride === "object" ? a.stride : [a.stride ?? 1, a.stride ?? 1];
  const [pt, pl, pb, pr] = pads(a.padding);
  return {
    n,
    h,
    w,
    cin,
    kh,
    kw,
    cout,
    groups: a.groups ?? 1,
    sh,
    sw,
    pt,
    pl,
    ho: Math.floor((h + pt + pb - kh) / sh) + 1,
    wo: Math.floor((w + pl + pr - kw) / sw) + 1,
  };
}

const CONV = withEpilogue(conv2dWgsl);
const CONV_SCALAR = withEpilogue(conv2dScalarWgsl);
const DEPTHWISE = withEpilogue(depthwiseWgsl);
const DEPTHWISE_SW = withEpilogue(depthwiseSwWgsl);
// depthwise_conv2d.wgsl: TP output columns per thread, input window of at most SPAN columns.
// TP = 8 measured fastest on llvmpipe (4: 1.45× slower, 16 or two rows per thread: slower).
const DW_TP = 8, DW_SPAN = 24;
/**
 * Output pixels per lane of depthwise_conv2d_sw.wgsl (3×3 stride 1 only, one channel quad per
 * workgroup), which tools/gen_depthwise_sw.ts writes from these numbers. On lavapipe (64×64×256)
 * 4 × 8 takes ~9.5 ms against 19 ms for the hardware kernel (2 × 8: 13.5 ms; 8 × 8: 8.2 ms, but
 * then most lanes idle on the small latent grids of the codecs).
 */
export const DEPTHWISE_SW_TILE = { rows: 4, cols: 8 } as const;

/** Convolution `Y = X ⊛ W` then the epilogue. Inputs: X [N,H,W,Cin], W, then epilogue tensors. */
export const conv2d: OpDef<Conv2dAttrs> = {
  type: "conv2d",
  infer(inputs, attrs, name) {
    check(inputs.length >= 2, "conv2d", name, "expects inputs X and W");
    const [x, wt] = inputs;
    check(x.shape.length === 4, "conv2d", name, `X must be NHWC, got ${desc(x)}`);
    check(
      wt.shape.length === 4,
      "conv2d",
      name,
      `W must be [KH,KW,Cin/groups,Cout], got ${desc(wt)}`,
    );
    check(x.dtype === "f32" && wt.dtype === "f32", "conv2d", name, "X and W must be f32");
    const g = geometry(x, wt, attrs);
    check(
      Number.isInteger(g.groups) && g.groups >= 1 && g.cin % g.groups === 0 &&
        g.cout % g.groups === 0,
      "conv2d",
      name,
      `groups ${g.groups} must divide Cin ${g.cin} and Cout ${g.cout}`,
    );
    check(
      wt.shape[2] === g.cin / g.groups,
      "conv2d",
      name,
      `W ${desc(wt)} needs Cin/groups = ${g.cin / g.groups} in dimension 2 (X is ${desc(x)})`,
    );
    check(
      [g.sh, g.sw, g.pt, g.pl].every((v) => Number.isInteger(v) && v >= 0) && g.sh > 0 && g.sw > 0,
      "conv2d",
      name,
      "stride must be ≥ 1 and padding ≥ 0",
    );
    check(
      g.ho >= 1 && g.wo >= 1,
      "conv2d",
      name,
      `kernel ${g.kh}×${g.kw} does not fit input ${desc(x)} with this padding`,
    );
    const out: TensorSpec = { shape: [g.n, g.ho, g.wo, g.cout], dtype: "f32" };
    checkEpilogue("conv2d", name, inputs, 2, attrs.epilogue ?? {}, out);
    return [out];
  },
  cpu(inputs, specs, attrs) {
    const [x, wt] = inputs as Float32Array[];
    const g = geometry(specs[0], specs[1], attrs);
    const cinG = g.cin / g.groups, coutG = g.cout / g.groups;
    const out = new Float32Array(g.n * g.ho * g.wo * g.cout);
    for (let n = 0; n < g.n; n++) {
      for (let oh = 0; oh < g.ho; oh++) {
        for (let ow = 0; ow < g.wo; ow++) {
          const o = ((n * g.ho + oh) * g.wo + ow) * g.cout;
          for (let co = 0; co < g.cout; co++) {
            const ci0 = Math.floor(co / coutG) * cinG;
            let acc = 0;
            for (let kh = 0; kh < g.kh; kh++) {
              const ih = oh * g.sh + kh - g.pt;
              if (ih < 0 || ih >= g.h) continue;
              for (let kw = 0; kw < g.kw; kw++) {
                const iw = ow * g.sw + kw - g.pl;
                if (iw < 0 || iw >= g.w) continue;
                const xi = ((n * g.h + ih) * g.w + iw) * g.cin + ci0;
                const wi = (kh * g.kw + kw) * cinG * g.cout + co;
                for (let ci = 0; ci < cinG; ci++) acc += x[xi + ci] * wt[wi + ci * g.cout];
              }
            }
            out[o + co] = acc;
          }
        }
      }
    }
    return [applyEpilogueCpu(out, g.cout, inputs as HostArray[], 2, attrs.epilogue)];
  },
  gpu(inputs, outputs, attrs, caps): GpuPlan {
    const g = geometry(inputs[0], inputs[1], attrs);
    const pointwise = g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.groups === 1 &&
      g.pt === 0 && g.pl === 0 && g.ho === g.h && g.wo === g.w;
    if (pointwise) {
      // [N,H,W,Cin]·[1,1,Cin,Cout] has exactly the memory layout of [N·H·W, Cin]·[Cin, Cout].
      const flat = [{ shape: [g.n * g.h * g.w, g.cin], dtype: "f32" as const }, {
        shape: [g.cin, g.cout],
        dtype: "f32" as const,
      }, ...inputs.slice(2)];
      return matmul.gpu(flat, outputs, { epilogue: attrs.epilogue }, caps);
    }
    const ep = epilogueGpu(attrs.epilogue, 2);
    const launch = (
      label: string,
      code: string,
      constants: Record<string, number>,
      params: number[],
      workgroups: [number, number, number],
    ): GpuPlan => ({
      launches: [{
        label,
        code,
        constants: { ...ep.constants, ...constants },
        bindings: [
          { slot: 0, access: "read", ref: { input: 0 } },
          { slot: 1, access: "read", ref: { input: 1 } },
          { slot: 2, access: "write", ref: { output: 0 } },
          ...ep.bindings,
          { slot: 15, access: "uniform", ref: { uniform: uniforms(params) } },
        ],
        workgroups,
      }],
    });
    const geo = { KH: g.kh, KW: g.kw, SH: g.sh, SW: g.sw };
    const depthwise = g.groups === g.cin && g.cin === g.cout && g.cin % 4 === 0 &&
      (DW_TP - 1) * g.sw + g.kw <= DW_SPAN;
    if (depthwise) {
      const params = [g.n, g.h, g.w, g.cin, g.ho, g.wo, g.pt, g.pl];
      if (caps.software && g.kh === 3 && g.kw === 3 && g.sh === 1 && g.sw === 1) {
        const { rows, cols } = DEPTHWISE_SW_TILE;
        const tiles = cdiv(g.ho, rows) * cdiv(g.wo, cols);
        return launch("depthwise_conv2d_sw", DEPTHWISE_SW, {}, params, [
          cdiv(tiles, 64),
          g.cin / 4,
          g.n,
        ]);
      }
      return launch("depthwise_conv2d", DEPTHWISE, geo, params, [
        cdiv(g.cin / 4, 64),
        cdiv(g.wo, DW_TP),
        g.n * g.ho,
      ]);
    }
    const cinG = g.cin / g.groups, coutG = g.cout / g.groups;
    const params = [g.n, g.h, g.w, g.cin, g.ho, g.wo, g.cout, g.groups, g.pt, g.pl, cinG, coutG];
    if (cinG % 4 === 0 && coutG % 4 === 0) {
      // Implicit GEMM over vec4s of input and output channels; 8 output channels per thread
      // when a group's channels allow it.
      const cov = coutG % 8 === 0 ? 2 : 1;
      return launch("conv2d", CONV, { ...geo, COV: cov }, params, [
        cdiv(g.cout / 4 / cov, 64),
        cdiv(g.wo, 4),
        g.n * g.ho,
      ]);
    }
    const cob = coutG % 4 === 0 ? 4 : 1;
    return launch("conv2d_scalar", CONV_SCALAR, { ...geo, COB: cob }, params, [
      cdiv(g.cout / cob, 64),
      cdiv(g.wo, 4),
      g.n * g.ho,
    ]);
  },
  flops(inputs, attrs) {
    const g = geometry(inputs[0], inputs[1], attrs);
    const outs = g.n * g.ho * g.wo * g.cout;
    return 2 * outs * g.kh * g.kw * (g.cin / g.groups) + epilogueArity(attrs.epilogue) * outs;
  },
};

/** Converts PyTorch conv weights `[Cout, Cin/groups, KH, KW]` to Tessera's `[KH, KW, Cin/groups, Cout]`. */
export function weightsFromTorch(w: Float32Array, shape: readonly number[]): Float32Array {
  const [cout, cin, kh, kw] = shape;
  const out = new Float32Array(w.length);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          out[((y * kw + x) * cin + i) * cout + o] = w[((o * cin + i) * kh + y) * kw + x];
        }
      }
    }
  }
  return out;
}
