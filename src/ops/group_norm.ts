/**
 * Group normalisation over NHWC data (`[N, ...spatial, C]`, usually `[N, H, W, C]`): channels
 * are split into `groups` groups of C/G, and each (image, group) is normalised by the mean and
 * variance of all its pixels and channels. An optional per-channel affine transform and a fused
 * activation follow (the GroupNorm → SiLU of GLC/VQGAN blocks is one op).
 * @module
 */
import { numel } from "../graph/tensor.ts";
import statsWgsl from "../../shaders/group_norm_stats.wgsl" with { type: "text" };
import applyWgsl from "../../shaders/group_norm.wgsl" with { type: "text" };
import { type Activation, activationConstants, withActivation } from "./epilogue.ts";
import { checkNormInputs, NORM_EPS, normalizeCpu } from "./layer_norm.ts";
import {
  type Binding,
  cdiv,
  check,
  desc,
  fold1d,
  type GpuPlan,
  type OpDef,
  uniforms,
} from "./op.ts";
import { ROW_WG, withRows } from "./rows.ts";

/** Attributes of {@link groupNorm}. */
export interface GroupNormAttrs {
  /** Number of channel groups G; must divide C. */
  readonly groups: number;
  /** Added to the variance before the square root (default 1e-5). */
  readonly eps?: number;
  /** Scale by `gamma[C]` and add `beta[C]` (inputs 1 and 2) after normalising. */
  readonly affine?: boolean;
  /** Activation applied last (default none). */
  readonly act?: Activation;
  /** Slope of `leaky_relu` for negative inputs (default 0.01). */
  readonly alpha?: number;
}

const STATS = withRows(statsWgsl);
const APPLY = withActivation(applyWgsl);
const APPLY_WG = 256;

interface Dims {
  n: number;
  hw: number;
  c: number;
  cg: number;
}

function dims(shape: readonly number[], groups: number): Dims {
  const n = shape[0], c = shape[shape.length - 1];
  return { n, c, hw: numel(shape) / (n * c), cg: c / groups };
}

/** `y = act((x - mean[n, g]) / √(var[n, g] + eps) · gamma[c] + beta[c])`. */
export const groupNorm: OpDef<GroupNormAttrs> = {
  type: "group_norm",
  infer(inputs, attrs, name) {
    const x = checkNormInputs("group_norm", name, inputs, attrs.affine ?? false);
    check(
      x.shape.length >= 2,
      "group_norm",
      name,
      `input must be [N, ..., C] (NHWC), got ${desc(x)}`,
    );
    const c = x.shape[x.shape.length - 1];
    const g = attrs.groups;
    check(
      Number.isInteger(g) && g >= 1 && c % g === 0,
      "group_norm",
      name,
      `groups must be a positive divisor of the ${c} channels of ${desc(x)}, got ${g}`,
    );
    return [{ shape: [...x.shape], dtype: "f32" }];
  },
  cpu(inputs, specs, attrs) {
    const x = inputs[0];
    const { n, hw, c, cg } = dims(specs[0].shape, attrs.groups);
    const y = new Float32Array(x.length);
    const idx = new Array<number>(hw * cg);
    for (let img = 0; img < n; img++) {
      for (let g = 0; g < attrs.groups; g++) {
        for (let px = 0; px < hw; px++) {
          for (let k = 0; k < cg; k++) idx[px * cg + k] = (img * hw + px) * c + g * cg + k;
        }
        normalizeCpu(
          x,
          y,
          idx,
          (i) => i % c,
          attrs.eps ?? NORM_EPS,
          attrs.affine ? inputs[1] : undefined,
          attrs.affine ? inputs[2] : undefined,
          attrs.act ?? "none",
          attrs.alpha,
        );
      }
    }
    return [y];
  },
  gpu(inputs, _outputs, attrs, caps): GpuPlan {
    const g = attrs.groups;
    const { n, hw, c, cg } = dims(inputs[0].shape, g);
    const groups = n * g;
    // Elements one stats workgroup reduces. GPUs want many workgroups; a software adapter has
    // a few cores, so larger chunks only save launch and merge work there.
    const target = caps.software ? 1 << 16 : 4096;
    const pix = Math.max(1, Math.min(hw, Math.floor(target / cg)));
    const chunks = cdiv(hw, pix);
    const total = numel(inputs[0].shape);
    const affine = attrs.affine ?? false;
    const statsUniform = uniforms([hw, c, cg, g, chunks, pix, groups, {
      f: attrs.eps ?? NORM_EPS,
    }]);
    const statsBindings: Binding[] = [
      { slot: 0, access: "read", ref: { input: 0 } },
      { slot: 5, access: "write", ref: { scratch: 0 } },
      { slot: 6, access: "write", ref: { scratch: 1 } },
      { slot: 15, access: "uniform", ref: { uniform: statsUniform } },
    ];
    return {
      scratch: [groups * chunks * 8, groups * 8],
      launches: [
        {
          label: "group_norm_stats",
          code: STATS,
          constants: { STAGE: 0, S: ROW_WG },
          bindings: statsBindings,
          workgroups: fold1d(groups * chunks, caps),
        },
        {
          label: "group_norm_merge",
          code: STATS,
          constants: { STAGE: 1, S: ROW_WG },
          bindings: statsBindings,
          workgroups: fold1d(cdiv(groups, ROW_WG), caps),
        },
        {
          label: "group_norm",
          code: APPLY,
          constants: { AFFINE: affine ? 1 : 0, ...activationConstants(attrs.act, attrs.alpha) },
          bindings: [
            { slot: 0, access: "read", ref: { input: 0 } },
            { slot: 2, access: "write", ref: { output: 0 } },
            { slot: 3, access: "read", ref: affine ? { input: 1 } : { dummy: true } },
            { slot: 4, access: "read", ref: affine ? { input: 2 } : { dummy: true } },
            { slot: 6, access: "read", ref: { scratch: 1 } },
            { slot: 15, access: "uniform", ref: { uniform: uniforms([total, c, cg, g, hw * c]) } },
          ],
          workgroups: fold1d(cdiv(total, APPLY_WG), caps),
        },
      ],
    };
  },
  flops(inputs, attrs) {
    return (attrs.affine ? 9 : 7) * numel(inputs[0].shape);
  },
};
