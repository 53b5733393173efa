/**
 * The one-thread-per-element launch shared by the memory-bound kernels (elementwise, layout
 * and VQ gathers). The kernel gets `flat_index()` from shaders/flat_index.wgsl prepended, so
 * the index arithmetic of the folded dispatch lives in one place on each side.
 * @module
 */
import flatIndexWgsl from "../../shaders/flat_index.wgsl" with { type: "text" };
import { type Binding, cdiv, type DeviceCaps, fold1d, type KernelLaunch } from "./op.ts";

/** Threads per workgroup; `WG1D` in flat_index.wgsl. */
export const WG1D = 256;

/**
 * A launch of `total` threads in workgroups of {@link WG1D}, folded over two dimensions when
 * the count exceeds the per-dimension limit. The kernel declares
 * `@workgroup_size(WG1D)` and reads its element index as `flat_index(gid, nwg)`; threads with
 * index ≥ `total` must return (the folded grid may overshoot).
 */
export function launch1d(
  label: string,
  code: string,
  total: number,
  bindings: readonly Binding[],
  caps: DeviceCaps,
  constants?: Readonly<Record<string, number>>,
): KernelLaunch {
  return {
    label,
    code: `${flatIndexWgsl}\n${code}`,
    bindings,
    constants,
    workgroups: fold1d(cdiv(total, WG1D), caps),
  };
}
