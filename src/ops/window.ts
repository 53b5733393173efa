/**
 * Window partition and reverse for windowed (Swin-style) attention over NHWC data:
 * `[N, H, W, C]` ↔ `[N·(H/ws)·(W/ws), ws·ws, C]`. Windows are ordered image, window row, window
 * column; tokens within a window in raster order. Both are pure permutations.
 * @module
 */
import type { HostArray, TensorSpec } from "../graph/tensor.ts";
import { numel } from "../graph/tensor.ts";
import windowWgsl from "../../shaders/window.wgsl" with { type: "text" };
import {
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

/** Attributes of {@link windowPartition}. */
export interface WindowPartitionAttrs {
  /** Window side in pixels; must divide H and W. */
  readonly ws: number;
}

/** Attributes of {@link windowReverse}. */
export interface WindowReverseAttrs {
  /** Window side in pixels; must divide `height` and `width`. */
  readonly ws: number;
  /** Height H of the image the windows tile. */
  readonly height: number;
  /** Width W of the image the windows tile. */
  readonly width: number;
}

const KERNEL_VEC4 = `alias Elem = vec4<f32>;\n${windowWgsl}`;
const KERNEL_SCALAR = `alias Elem = f32;\n${windowWgsl}`;
const WG = 256;

function checkWs(type: string, name: string, ws: number, h: number, w: number, what: string): void {
  check(Number.isInteger(ws) && ws >= 1, type, name, `ws must be a positive integer, got ${ws}`);
  check(
    h % ws === 0 && w % ws === 0,
    type,
    name,
    `${what} ${h}×${w} must be multiples of the window size ${ws}`,
  );
}

/** The permutation shared by both directions: `windows[i] = image[imageIndex(i)]`. */
function permuteCpu(
  x: HostArray,
  n: number,
  h: number,
  w: number,
  c: number,
  ws: number,
  reverse: boolean,
): Float32Array {
  const y = new Float32Array(x.length);
  let i = 0;
  for (let b = 0; b < n; b++) {
    for (let wy = 0; wy < h / ws; wy++) {
      for (let wx = 0; wx < w / ws; wx++) {
        for (let ty = 0; ty < ws; ty++) {
          for (let tx = 0; tx < ws; tx++) {
            const img = ((b * h + wy * ws + ty) * w + wx * ws + tx) * c;
            for (let k = 0; k < c; k++, i++) {
              if (reverse) y[img + k] = x[i];
              else y[i] = x[img + k];
            }
          }
        }
      }
    }
  }
  return y;
}

function permuteGpu(
  image: TensorSpec,
  ws: number,
  reverse: boolean,
  caps: DeviceCaps,
): GpuPlan {
  const [, h, w, c] = image.shape;
  const u = c % 4 === 0 ? 4 : 1;
  const total = numel(image.shape) / u;
  return {
    launches: [{
      label: reverse ? "window_reverse" : "window_partition",
      code: u === 4 ? KERNEL_VEC4 : KERNEL_SCALAR,
      constants: { REVERSE: reverse ? 1 : 0 },
      bindings: [
        { slot: 0, access: "read", ref: { input: 0 } },
        { slot: 2, access: "write", ref: { output: 0 } },
        { slot: 15, access: "uniform", ref: { uniform: uniforms([total, c / u, h, w, ws]) } },
      ],
      workgroups: fold1d(cdiv(total, WG), caps),
    }],
  };
}

/** `[N, H, W, C]` → `[N·(H/ws)·(W/ws), ws·ws, C]`. */
export const windowPartition: OpDef<WindowPartitionAttrs> = {
  type: "window_partition",
  infer(inputs, attrs, name) {
    const [x] = expectInputs("window_partition", name, inputs, 1);
    check(
      x.shape.length === 4 && x.dtype === "f32",
      "window_partition",
      name,
      `input must be f32 [N, H, W, C], got ${desc(x)}`,
    );
    const [n, h, w, c] = x.shape;
    checkWs("window_partition", name, attrs.ws, h, w, "H×W");
    return [{ shape: [n * (h / attrs.ws) * (w / attrs.ws), attrs.ws * attrs.ws, c], dtype: "f32" }];
  },
  cpu(inputs, specs, attrs) {
    const [n, h, w, c] = specs[0].shape;
    return [permuteCpu(inputs[0], n, h, w, c, attrs.ws, false)];
  },
  gpu(inputs, _outputs, attrs, caps) {
    return permuteGpu(inputs[0], attrs.ws, false, caps);
  },
};

/** `[N·(H/ws)·(W/ws), ws·ws, C]` → `[N, H, W, C]`, the inverse of {@link windowPartition}. */
export const windowReverse: OpDef<WindowReverseAttrs> = {
  type: "window_reverse",
  infer(inputs, attrs, name) {
    const [x] = expectInputs("window_reverse", name, inputs, 1);
    const { ws, height: h, width: w } = attrs;
    check(
      x.shape.length === 3 && x.dtype === "f32",
      "window_reverse",
      name,
      `input must be f32 [windows, ws·ws, C], got ${desc(x)}`,
    );
    checkWs("window_reverse", name, ws, h, w, "height×width");
    const perImage = (h / ws) * (w / ws);
    check(
      x.shape[1] === ws * ws && x.shape[0] % perImage === 0,
      "window_reverse",
      name,
      `input ${desc(x)} is not a whole number of ${h}×${w} images of ${perImage} windows of ` +
        `${ws * ws} tokens`,
    );
    return [{ shape: [x.shape[0] / perImage, h, w, x.shape[2]], dtype: "f32" }];
  },
  cpu(inputs, specs, attrs) {
    const { ws, height: h, width: w } = attrs;
    const c = specs[0].shape[2];
    const n = specs[0].shape[0] / ((h / ws) * (w / ws));
    return [permuteCpu(inputs[0], n, h, w, c, ws, true)];
  },
  gpu(_inputs, outputs, attrs, caps) {
    return permuteGpu(outputs[0], attrs.ws, true, caps);
  },
};
