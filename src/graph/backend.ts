/**
 * The backend interface: a backend compiles a {@link Graph} into an {@link Executable} that
 * runs it many times. WebGPU is the main backend; the CPU references form a second, exact one.
 * @module
 */
import { GraphError } from "../errors.ts";
import type { Graph } from "./graph.ts";
import { dtypeOf, fmtShape, type HostArray, numel } from "./tensor.ts";

/** What a compiled graph allocates and does per run. */
export interface ExecutableStats {
  /** Backend name. */
  readonly backend: string;
  /** Ops in the graph. */
  readonly nodes: number;
  /** GPU dispatches per run (0 on the CPU backend). */
  readonly dispatches: number;
  /** Bytes of constant data (weights). */
  readonly weightBytes: number;
  /** Bytes of the shared intermediate buffers after liveness planning. */
  readonly intermediateBytes: number;
  /** Bytes of the largest single intermediate tensor. */
  readonly largestIntermediateBytes: number;
  /** Bytes of graph inputs and outputs (including readback staging on GPU). */
  readonly ioBytes: number;
  /** Total bytes this executable holds on the device, weights included. */
  readonly peakBytes: number;
}

/** The GPU time of one dispatch of a profiled run. */
export interface DispatchTime {
  /** Name of the graph node that launched it. */
  readonly node: string;
  /** Its op type, e.g. `"conv2d"`. */
  readonly op: string;
  /** The kernel's label, e.g. `"matmul"`. */
  readonly kernel: string;
  /** Workgroup counts. */
  readonly workgroups: readonly [number, number, number];
  /** GPU nanoseconds between the start and the end of its compute pass. */
  readonly ns: number;
}

/** A compiled graph. Runs are serialized; reuse it for every run of the same shapes. */
export interface Executable {
  /** Runs the graph; inputs and outputs are keyed by the names given at build time. */
  run(inputs: Readonly<Record<string, HostArray>>): Promise<Record<string, HostArray>>;
  /** Allocation and dispatch statistics. */
  readonly stats: ExecutableStats;
  /** Frees what the executable owns (weights shared with other graphs stay). */
  dispose(): void;
  /**
   * Runs the graph once with every dispatch in its own timestamped compute pass and returns
   * their GPU times (WebGPU backend on adapters with `timestamp-query`; slower than `run`).
   */
  profile?(inputs: Readonly<Record<string, HostArray>>): Promise<DispatchTime[]>;
}

/** Something that compiles graphs. */
export interface Backend {
  /** `"webgpu"` or `"cpu"`. */
  readonly name: string;
  /** Plans memory, prepares kernels and uploads weights. */
  compile(graph: Graph): Promise<Executable>;
}

/** Checks that run() got exactly the graph's inputs with the right dtype and size. */
export function validateInputs(graph: Graph, inputs: Readonly<Record<string, HostArray>>): void {
  for (const name of Object.keys(inputs)) {
    if (!graph.inputs.has(name)) {
      throw new GraphError(
        `unknown input "${name}" (graph inputs: ${[...graph.inputs.keys()].join(", ")})`,
      );
    }
  }
  for (const [name, id] of graph.inputs) {
    const a = inputs[name];
    const spec = graph.values[id].spec;
    if (!a) throw new GraphError(`missing input "${name}"`);
    if (dtypeOf(a) !== spec.dtype || a.length !== numel(spec.shape)) {
      throw new GraphError(
        `input "${name}" must be ${spec.dtype}${fmtShape(spec.shape)} (${numel(spec.shape)} ` +
          `elements), got ${dtypeOf(a)} with ${a.length} elements`,
      );
    }
  }
}

/** Serializes async calls: each waits for the previous to settle. */
export function serialize<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  let tail: Promise<unknown> = Promise.resolve();
  return (...args: A) => {
    const result = tail.then(() => fn(...args));
    tail = result.catch(() => {});
    return result;
  };
}
