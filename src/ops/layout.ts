/**
 * Data-movement ops on channels-last tensors: pixel shuffle / unshuffle (PyTorch channel
 * order), nearest upsampling, concatenation and slicing along the channel (last) axis, and
 * reshape. Every kernel moves raw 32-bit words, so these ops accept any dtype and are exact.
 * @module
 */
import { allocHost, dtypeOf, fmtShape, type HostArray, numel } from "../graph/tensor.ts";
import type { TensorSpec } from "../graph/tensor.ts";
import type { Binding, DeviceCaps, GpuPlan } from "./op.ts";
import { check, desc, expectInputs, type OpDef, uniforms } from "./op.ts";
import { launch1d } from "./launch1d.ts";
import pixelShuffleWgsl from "../../shaders/pixel_shuffle.wgsl" with { type: "text" };
import upsampleWgsl from "../../shaders/upsample_nearest.wgsl" with { type: "text" };
import channelCopyWgsl from "../../shaders/channel_copy.wgsl" with { type: "text" };

function copyBindings(input: number, params: readonly number[]): Binding[] {
  return [
    { slot: 0, access: "read", ref: { input } },
    { slot: 1, access: "write", ref: { output: 0 } },
    { slot: 15, access: "uniform", ref: { uniform: uniforms(params) } },
  ];
}

function checkFactor(type: string, name: string, what: string, v: number): void {
  check(Number.isInteger(v) && v >= 1, type, name, `${what} must be an integer ≥ 1, got ${v}`);
}

/** Attributes of {@link pixelShuffle} and {@link pixelUnshuffle}. */
export interface ShuffleAttrs {
  /** Upscale (shuffle) or downscale (unshuffle) factor, an integer ≥ 1. */
  readonly r: number;
}

/** Copies between the small [N, H, W, C·r²] and large [N, H·r, W·r, C] layouts (CPU). */
function shuffleCpu(src: HostArray, large: readonly number[], r: number, unshuffle: boolean) {
  const [n, hr, wr, c] = large;
  const h = hr / r, w = wr / r, cs = c * r * r;
  const out = allocHost({ shape: [src.length], dtype: dtypeOf(src) });
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < hr; y++) {
      for (let x = 0; x < wr; x++) {
        for (let ch = 0; ch < c; ch++) {
          const li = ((b * hr + y) * wr + x) * c + ch;
          const si = ((b * h + Math.floor(y / r)) * w + Math.floor(x / r)) * cs +
            ch * r * r + (y % r) * r + (x % r);
          if (unshuffle) out[si] = src[li];
          else out[li] = src[si];
        }
      }
    }
  }
  return out;
}

function shuffleGpu(large: readonly number[], r: number, unshuffle: boolean, caps: DeviceCaps) {
  const total = numel(large);
  const [, , wr, c] = large;
  return {
    launches: [
      launch1d(
        unshuffle ? "pixel_unshuffle" : "pixel_shuffle",
        pixelShuffleWgsl,
        total,
        copyBindings(0, [total, c, wr, r]),
        caps,
        { UNSHUFFLE: unshuffle ? 1 : 0 },
      ),
    ],
  };
}

/**
 * Depth-to-space: `[N, H, W, C·r²]` → `[N, H·r, W·r, C]`, where input channel `c·r² + i·r + j`
 * becomes sub-pixel (i, j) of output channel c, exactly as PyTorch's `pixel_shuffle`.
 */
export const pixelShuffle: OpDef<ShuffleAttrs> = {
  type: "pixel_shuffle",
  infer(inputs, { r }, name) {
    const [x] = expectInputs("pixel_shuffle", name, inputs, 1);
    checkFactor("pixel_shuffle", name, "r", r);
    check(x.shape.length === 4, "pixel_shuffle", name, `input must be NHWC, got ${desc(x)}`);
    const [n, h, w, c] = x.shape;
    check(
      c % (r * r) === 0,
      "pixel_shuffle",
      name,
      `channels ${c} are not a multiple of r² = ${r * r} (input ${desc(x)})`,
    );
    return [{ shape: [n, h * r, w * r, c / (r * r)], dtype: x.dtype }];
  },
  cpu(inputs, specs, { r }) {
    const [n, h, w, c] = specs[0].shape;
    return [shuffleCpu(inputs[0], [n, h * r, w * r, c / (r * r)], r, false)];
  },
  gpu(_inputs, outputs, { r }, caps): GpuPlan {
    return shuffleGpu(outputs[0].shape, r, false, caps);
  },
};

/**
 * Space-to-depth: `[N, H·r, W·r, C]` → `[N, H, W, C·r²]`, sub-pixel (i, j) of channel c going
 * to output channel `c·r² + i·r + j`, exactly as PyTorch's `pixel_unshuffle`.
 */
export const pixelUnshuffle: OpDef<ShuffleAttrs> = {
  type: "pixel_unshuffle",
  infer(inputs, { r }, name) {
    const [x] = expectInputs("pixel_unshuffle", name, inputs, 1);
    checkFactor("pixel_unshuffle", name, "r", r);
    check(x.shape.length === 4, "pixel_unshuffle", name, `input must be NHWC, got ${desc(x)}`);
    const [n, h, w, c] = x.shape;
    check(
      h % r === 0 && w % r === 0,
      "pixel_unshuffle",
      name,
      `height and width must be multiples of r = ${r}, got ${desc(x)}`,
    );
    return [{ shape: [n, h / r, w / r, c * r * r], dtype: x.dtype }];
  },
  cpu(inputs, specs, { r }) {
    return [shuffleCpu(inputs[0], specs[0].shape, r, true)];
  },
  gpu(inputs, _outputs, { r }, caps): GpuPlan {
    return shuffleGpu(inputs[0].shape, r, true, caps);
  },
};

/** Attributes of {@link upsampleNearest}. */
export interface UpsampleAttrs {
  /** Integer scale factor ≥ 1 for both height and width. */
  readonly scale: number;
}

/** Nearest-neighbour upsampling of NHWC: `[N, H, W, C]` → `[N, H·s, W·s, C]`. */
export const upsampleNearest: OpDef<UpsampleAttrs> = {
  type: "upsample_nearest",
  infer(inputs, { scale }, name) {
    const [x] = expectInputs("upsample_nearest", name, inputs, 1);
    checkFactor("upsample_nearest", name, "scale", scale);
    check(x.shape.length === 4, "upsample_nearest", name, `input must be NHWC, got ${desc(x)}`);
    const [n, h, w, c] = x.shape;
    return [{ shape: [n, h * scale, w * scale, c], dtype: x.dtype }];
  },
  cpu(inputs, specs, { scale: s }) {
    const [n, h, w, c] = specs[0].shape;
    const src = inputs[0];
    const out = allocHost({ shape: [src.length * s * s], dtype: dtypeOf(src) });
    let o = 0;
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < h * s; y++) {
        for (let x = 0; x < w * s; x++) {
          const si = ((b * h + Math.floor(y / s)) * w + Math.floor(x / s)) * c;
          for (let ch = 0; ch < c; ch++) out[o++] = src[si + ch];
        }
      }
    }
    return [out];
  },
  gpu(_inputs, outputs, { scale }, caps): GpuPlan {
    const total = numel(outputs[0].shape);
    const [, , ws, c] = outputs[0].shape;
    return {
      launches: [
        launch1d(
          "upsample_nearest",
          upsampleWgsl,
          total,
          copyBindings(0, [total, c, ws, scale]),
          caps,
        ),
      ],
    };
  },
};

/** Attributes of {@link concat} (none: it always joins along the last axis). */
export type ConcatAttrs = Record<string, never>;

/**
 * Concatenation along the last (channel) axis of two or more tensors whose other dimensions
 * and dtype agree. One copy launch per input, all sharing a pipeline.
 */
export const concat: OpDef<ConcatAttrs> = {
  type: "concat",
  infer(inputs, _attrs, name) {
    check(inputs.length >= 2, "concat", name, `expects at least 2 inputs, got ${inputs.length}`);
    const [first] = inputs;
    const lead = first.shape.slice(0, -1);
    let channels = 0;
    inputs.forEach((x, i) => {
      check(
        x.dtype === first.dtype && x.shape.length === first.shape.length &&
          x.shape.slice(0, -1).every((v, k) => v === lead[k]),
        "concat",
        name,
        `input ${i} ${desc(x)} does not match input 0 ${desc(first)} outside the last axis ` +
          `(or in dtype)`,
      );
      channels += x.shape[x.shape.length - 1];
    });
    return [{ shape: [...lead, channels], dtype: first.dtype }];
  },
  cpu(inputs, specs) {
    const widths = specs.map((s) => s.shape[s.shape.length - 1]);
    const cd = widths.reduce((a, b) => a + b, 0);
    const rows = inputs[0].length / widths[0];
    const out = allocHost({ shape: [rows * cd], dtype: dtypeOf(inputs[0]) });
    let off = 0;
    inputs.forEach((src, i) => {
      const cs = widths[i];
      for (let row = 0; row < rows; row++) {
        for (let c = 0; c < cs; c++) out[row * cd + off + c] = src[row * cs + c];
      }
      off += cs;
    });
    return [out];
  },
  gpu(inputs, outputs, _attrs, caps): GpuPlan {
    const out = outputs[0].shape;
    const cd = out[out.length - 1];
    const rows = numel(out) / cd;
    let off = 0;
    const launches = inputs.map((x, i) => {
      const cs = x.shape[x.shape.length - 1];
      const l = launch1d(
        "concat",
        channelCopyWgsl,
        rows * cs,
        copyBindings(i, [rows * cs, cs, cs, 0, cd, off]),
        caps,
      );
      off += cs;
      return l;
    });
    return { launches };
  },
};

/** Attributes of {@link slice}. */
export interface SliceAttrs {
  /** First channel taken. */
  readonly start: number;
  /** Number of channels taken (≥ 1). */
  readonly size: number;
}

/** Channels `start … start + size − 1` of the last axis: `[..., C]` → `[..., size]`. */
export const slice: OpDef<SliceAttrs> = {
  type: "slice",
  infer(inputs, { start, size }, name) {
    const [x] = expectInputs("slice", name, inputs, 1);
    const c = x.shape[x.shape.length - 1];
    check(
      Number.isInteger(start) && Number.isInteger(size) && start >= 0 && size >= 1 &&
        start + size <= c,
      "slice",
      name,
      `channels [${start}, ${start + size}) are not inside the ${c} channels of ${desc(x)}`,
    );
    return [{ shape: [...x.shape.slice(0, -1), size], dtype: x.dtype }];
  },
  cpu(inputs, specs, { start, size }) {
    const shape = specs[0].shape;
    const cs = shape[shape.length - 1];
    const rows = numel(shape) / cs;
    const src = inputs[0];
    const out = allocHost({ shape: [rows * size], dtype: dtypeOf(src) });
    for (let row = 0; row < rows; row++) {
      for (let c = 0; c < size; c++) out[row * size + c] = src[row * cs + start + c];
    }
    return [out];
  },
  gpu(inputs, _outputs, { start, size }, caps): GpuPlan {
    const shape = inputs[0].shape;
    const cs = shape[shape.length - 1];
    const rows = numel(shape) / cs;
    return {
      launches: [
        launch1d(
          "slice",
          channelCopyWgsl,
          rows * size,
          copyBindings(0, [rows * size, size, cs, start, size, 0]),
          caps,
        ),
      ],
    };
  },
};

/** Attributes of {@link reshape}. */
export interface ReshapeAttrs {
  /** The new shape; at most one entry may be −1, inferred from the element count. */
  readonly shape: readonly number[];
}

/** The concrete shape a reshape produces, or a message saying why it cannot. */
function resolveShape(from: TensorSpec, to: readonly number[]): number[] | string {
  const free = to.filter((d) => d === -1).length;
  if (free > 1) return `at most one −1 allowed, got ${fmtShape(to)}`;
  if (to.some((d) => d !== -1 && !(Number.isInteger(d) && d >= 1))) {
    return `dimensions must be integers ≥ 1 (or one −1), got ${fmtShape(to)}`;
  }
  const n = numel(from.shape);
  const known = numel(to.filter((d) => d !== -1));
  const shape = to.map((d) => (d === -1 ? n / known : d));
  if (numel(shape) !== n || shape.some((d) => !Number.isInteger(d))) {
    return `cannot reshape ${desc(from)} (${n} elements) to ${fmtShape(to)}`;
  }
  return shape;
}

/**
 * Reinterprets a tensor with a new shape of the same element count (row-major order is
 * unchanged). No kernel runs: the output shares the input's storage (`alias`).
 */
export const reshape: OpDef<ReshapeAttrs> = {
  type: "reshape",
  alias: true,
  infer(inputs, { shape }, name) {
    const [x] = expectInputs("reshape", name, inputs, 1);
    const r = resolveShape(x, shape);
    check(typeof r !== "string", "reshape", name, r as string);
    return [{ shape: r, dtype: x.dtype }];
  },
  cpu(inputs) {
    return [inputs[0]];
  },
  gpu(): GpuPlan {
    return { launches: [] };
  },
};
