/**
 * Tessera's engine: a tensor graph that runs hand-written WGSL kernels on any WebGPU adapter,
 * with a pure-TypeScript CPU reference backend. The codecs are built from this; so can you.
 *
 * @example
 * ```ts
 * import { acquireGpu, GraphBuilder, matmul, webgpuBackend } from "@tessera/tessera/engine";
 *
 * const g = new GraphBuilder();
 * const x = g.input("x", [4, 8]);
 * const w = g.constant("w", new Float32Array(8 * 16).fill(0.1), [8, 16]);
 * g.output("y", g.op1(matmul, [x, w], { epilogue: { act: "relu" } }));
 * const exe = await webgpuBackend(await acquireGpu()).compile(g.build());
 * const { y } = await exe.run({ x: new Float32Array(32).fill(1) });
 * ```
 * @module
 */
export type { Backend, DispatchTime, Executable, ExecutableStats } from "./graph/backend.ts";
export { cpuBackend } from "./graph/cpu_backend.ts";
export { TesseraError, type TesseraErrorCode } from "./errors.ts";
export {
  acquireGpu,
  type AcquireOptions,
  type AdapterReport,
  type GpuContext,
} from "./graph/device.ts";
export { type Graph, GraphBuilder, type Node, type Value, type ValueKind } from "./graph/graph.ts";
export { type MemoryPlan, planMemory } from "./graph/plan.ts";
export type { DType, HostArray, TensorSpec } from "./graph/tensor.ts";
export { webgpuBackend } from "./graph/webgpu_backend.ts";
export type { Binding, BindingRef, DeviceCaps, GpuPlan, KernelLaunch, OpDef } from "./ops/op.ts";
export type { Activation, Epilogue } from "./ops/epilogue.ts";
export { matmul, type MatmulAttrs } from "./ops/matmul.ts";
export { conv2d, type Conv2dAttrs, weightsFromTorch } from "./ops/conv2d.ts";
export {
  activation,
  type ActivationAttrs,
  binary,
  type BinaryAttrs,
  gate,
  type GateAttrs,
} from "./ops/elementwise.ts";
export { attention, type AttentionAttrs } from "./ops/attention.ts";
export { softmax, type SoftmaxAttrs } from "./ops/softmax.ts";
export { layerNorm, type LayerNormAttrs } from "./ops/layer_norm.ts";
export { groupNorm, type GroupNormAttrs } from "./ops/group_norm.ts";
export { reduce, type ReduceAttrs } from "./ops/reduce.ts";
export {
  windowPartition,
  type WindowPartitionAttrs,
  windowReverse,
  type WindowReverseAttrs,
} from "./ops/window.ts";
export { type NoAttrs, vqSearch } from "./ops/vq.ts";
