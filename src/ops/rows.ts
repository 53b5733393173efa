/**
 * Shared launch planning for the last-axis row kernels (softmax, layer_norm, reduce): each row
 * of `C` elements is owned by `S` invocations of a 64-invocation workgroup (see
 * `shaders/rows.wgsl`).
 * @module
 */
import rowsWgsl from "../../shaders/rows.wgsl" with { type: "text" };
import { type DeviceCaps, fold1d } from "./op.ts";

/** Invocations per workgroup of every row kernel (`WG` in rows.wgsl). */
export const ROW_WG = 64;

/** How a row kernel is launched. */
export interface RowLaunch {
  /** Invocations per row (the `S` override): a power of two ≤ {@link ROW_WG}. */
  readonly s: number;
  /** Workgroup grid, folded to respect the per-dimension limit. */
  readonly workgroups: [number, number, number];
}

function pow2ceil(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

/**
 * Chooses invocations per row. GPUs get about 8 elements per lane so the lanes of a row load
 * neighbouring addresses. Software adapters run a workgroup's invocations as SIMD lanes of one
 * CPU thread, where the barriers of a cooperative reduction cost more than they save; a thread
 * per row wins there unless there are too few rows to fill the SIMD lanes and cores.
 */
export function rowLaunch(rows: number, c: number, caps: DeviceCaps): RowLaunch {
  const s = caps.software
    ? (rows >= 64 || c < 256 ? 1 : ROW_WG)
    : Math.min(ROW_WG, pow2ceil(Math.ceil(c / 8)));
  return { s, workgroups: fold1d(Math.ceil(rows / (ROW_WG / s)), caps) };
}

/** Prepends the row-reduction helpers to a row kernel's WGSL. */
export function withRows(kernel: string): string {
  return `${rowsWgsl}\n${kernel}`;
}
