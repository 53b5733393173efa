// The op test harness: runs one op through the WebGPU backend and through its CPU reference on
// seeded random inputs and compares them with a per-op tolerance (like ggml's test-backend-ops).
import { WebGpuUnavailableError } from "../src/errors.ts";
import { cpuBackend } from "../src/graph/cpu_backend.ts";
import { acquireGpu, type GpuContext } from "../src/graph/device.ts";
import { GraphBuilder } from "../src/graph/graph.ts";
import { type HostArray, numel, type TensorSpec } from "../src/graph/tensor.ts";
import { webgpuBackend } from "../src/graph/webgpu_backend.ts";
import type { OpDef } from "../src/ops/op.ts";
import { AssertionError, rng } from "./assert.ts";

let gpuPromise: Promise<GpuContext | null> | undefined;

/** The shared WebGPU context, or null when this machine has no adapter (GPU tests skip). */
export function gpu(): Promise<GpuContext | null> {
  gpuPromise ??= acquireGpu().catch((e) => {
    if (e instanceof WebGpuUnavailableError) {
      console.warn(`WebGPU tests skipped: ${e.message}`);
      return null;
    }
    throw e;
  });
  return gpuPromise;
}

/** True when an adapter exists; decided once, before tests register. */
export const HAS_GPU: boolean = (await gpu()) !== null;

/** Options for GPU tests: skip without an adapter; WebGPU keeps async ops/resources alive. */
export const GPU_TEST = { ignore: !HAS_GPU, sanitizeOps: false, sanitizeResources: false };

/**
 * The shared context twice, as ops plan kernels for a software adapter and for a GPU
 * (`caps.software` forced each way), so both kernels run on whatever adapter this is.
 */
export async function kernelPlans(): Promise<[string, GpuContext][]> {
  const ctx = (await gpu())!;
  return [true, false].map((software) => [
    software ? "software kernel" : "GPU kernel",
    { ...ctx, caps: { ...ctx.caps, software } },
  ]);
}

/** Random data for a spec: floats uniform in [lo, hi), ints in [lo, hi). */
export function randomData(spec: TensorSpec, rand: () => number, lo = -1, hi = 1): HostArray {
  const n = numel(spec.shape);
  if (spec.dtype === "f32") {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rand();
    return a;
  }
  const a = spec.dtype === "i32" ? new Int32Array(n) : new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.floor(lo + (hi - lo) * rand());
  return a;
}

/** How close GPU results must be to the reference. */
export type Tolerance = "exact" | { atol?: number; rtol?: number; nmse?: number };

export interface CaseResult {
  nmse: number;
  maxAbs: number;
}

/** Builds a one-op graph, runs it on a backend and returns its outputs. */
export async function runOp<A>(
  backend: "cpu" | GpuContext,
  op: OpDef<A>,
  attrs: A,
  inputs: readonly { spec: TensorSpec; data: HostArray }[],
): Promise<HostArray[]> {
  const g = new GraphBuilder();
  const vals = inputs.map((x, i) => g.input(`x${i}`, x.spec.shape, x.spec.dtype));
  const outs = g.op(op, vals, attrs, "op");
  outs.forEach((v, i) => g.output(`y${i}`, v));
  const exe = await (backend === "cpu" ? cpuBackend() : webgpuBackend(backend)).compile(g.build());
  try {
    const feed: Record<string, HostArray> = {};
    inputs.forEach((x, i) => (feed[`x${i}`] = x.data));
    const res = await exe.run(feed);
    return outs.map((_, i) => res[`y${i}`]);
  } finally {
    exe.dispose();
  }
}

/** Compares two arrays; throws an AssertionError describing the worst element on failure. */
export function compare(
  got: HostArray,
  want: HostArray,
  tol: Tolerance,
  what: string,
): CaseResult {
  if (got.length !== want.length) {
    throw new AssertionError(`${what}: length ${got.length} != ${want.length}`);
  }
  let err2 = 0, ref2 = 0, maxAbs = 0, worst = -1, worstExcess = 0;
  const atol = tol === "exact" ? 0 : tol.atol ?? 1e-4;
  const rtol = tol === "exact" ? 0 : tol.rtol ?? 1e-3;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    err2 += d * d;
    ref2 += want[i] * want[i];
    maxAbs = Math.max(maxAbs, d);
    const excess = Number.isNaN(d) ? Infinity : d - (atol + rtol * Math.abs(want[i]));
    if (excess > 0 && excess > worstExcess) {
      worst = i;
      worstExcess = excess;
    }
  }
  const nmse = err2 / Math.max(ref2, 1e-30);
  if (worst >= 0) {
    throw new AssertionError(
      `${what}: [${worst}] got ${got[worst]}, want ${want[worst]} (atol ${atol}, rtol ${rtol}; ` +
        `nmse ${nmse.toExponential(2)})`,
    );
  }
  if (tol !== "exact" && tol.nmse !== undefined && !(nmse <= tol.nmse)) {
    throw new AssertionError(`${what}: nmse ${nmse.toExponential(2)} > ${tol.nmse}`);
  }
  return { nmse, maxAbs };
}

/** One harness case: an op, its attributes and input specs. */
export interface OpCase<A> {
  name: string;
  op: OpDef<A>;
  attrs: A;
  inputs: TensorSpec[];
  tol: Tolerance;
  /** Input value range (default [-1, 1)); per input when an array. */
  range?: [number, number] | [number, number][];
  /** Supply specific data for some inputs (e.g. indices). */
  data?: (HostArray | undefined)[];
}

/** Runs a case on WebGPU and on the CPU reference and compares every output. */
export async function checkCase<A>(ctx: GpuContext, c: OpCase<A>, seed: number): Promise<void> {
  const rand = rng(seed);
  const inputs = c.inputs.map((spec, i) => {
    const r = Array.isArray(c.range?.[0]) ? (c.range as [number, number][])[i] : c.range as
      | [number, number]
      | undefined;
    return { spec, data: c.data?.[i] ?? randomData(spec, rand, r?.[0] ?? -1, r?.[1] ?? 1) };
  });
  const want = c.op.cpu(inputs.map((x) => x.data), c.inputs, c.attrs);
  const got = await runOp(ctx, c.op, c.attrs, inputs);
  want.forEach((w, i) => compare(got[i], w, c.tol, `${c.name} output ${i}`));
}

/**
 * A smooth synthetic RGB image (sine and cosine ramps in red and green); `blue` gives the third
 * channel, by default a fine multiplicative texture.
 */
export function synthetic(
  width: number,
  height: number,
  blue: (x: number, y: number) => number = (x, y) => (x * y) % 256,
): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = 128 + 100 * Math.sin(x / 17);
      data[o + 1] = 128 + 100 * Math.cos(y / 11);
      data[o + 2] = blue(x, y);
    }
  }
  return { width, height, data };
}
