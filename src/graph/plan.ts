/**
 * Memory planning by liveness: intermediates whose lifetimes do not overlap share a buffer.
 *
 * Greedy by size over shared objects (TFLite's scheme): tensors are placed largest first into
 * the first existing buffer that is big enough and free for the tensor's whole lifetime, else a
 * new buffer. Each shared object is a separate GPU buffer rather than an offset in one arena,
 * because WebGPU forbids binding one buffer both read-only and writable in a dispatch.
 * @module
 */
import type { Graph } from "./graph.ts";
import { byteSize } from "./tensor.ts";

/** Where every tensor of a graph lives. */
export interface MemoryPlan {
  /** For each value id, the value that owns its storage (itself unless aliased by a reshape). */
  readonly root: readonly number[];
  /** For each root produced by a node, its shared-object slot. */
  readonly slotOf: ReadonlyMap<number, number>;
  /** For each node, the slots of its scratch buffers. */
  readonly scratchSlots: readonly (readonly number[])[];
  /** Size in bytes of each shared object. */
  readonly slotBytes: readonly number[];
  /** Sum of the shared objects: the intermediate memory the plan allocates. */
  readonly intermediateBytes: number;
  /** Largest single intermediate tensor, for comparison with the plan. */
  readonly largestBytes: number;
}

interface Item {
  key: number; // root id, or -(1 + scratch index) for scratch
  bytes: number;
  from: number;
  to: number;
}

/**
 * Plans the intermediates of a graph.
 * @param scratch per node, the scratch sizes its GPU kernels need
 */
export function planMemory(graph: Graph, scratch: readonly (readonly number[])[] = []): MemoryPlan {
  const root = graph.values.map((v) => v.id);
  graph.nodes.forEach((n) => {
    if (n.op.alias) root[n.outputs[0]] = root[n.inputs[0]];
  });
  const from = new Map<number, number>();
  const to = new Map<number, number>();
  graph.nodes.forEach((n, i) => {
    for (const id of n.outputs) {
      const r = root[id];
      if (graph.values[r].kind === "node" && !from.has(r)) from.set(r, i);
    }
    for (const id of n.inputs) to.set(root[id], Math.max(to.get(root[id]) ?? i, i));
  });
  for (const id of graph.outputs.values()) to.set(root[id], graph.nodes.length);

  const items: Item[] = [];
  for (const [r, f] of from) {
    items.push({ key: r, bytes: byteSize(graph.values[r].spec), from: f, to: to.get(r) ?? f });
  }
  const scratchKeys: { node: number; index: number }[] = [];
  scratch.forEach((sizes, node) =>
    sizes.forEach((bytes, index) => {
      items.push({ key: -1 - scratchKeys.length, bytes, from: node, to: node });
      scratchKeys.push({ node, index });
    })
  );
  items.sort((a, b) => b.bytes - a.bytes || a.from - b.from);

  const slotBytes: number[] = [];
  const slotUse: { from: number; to: number }[][] = [];
  const slotOf = new Map<number, number>();
  const scratchSlots: number[][] = graph.nodes.map(() => []);
  for (const it of items) {
    let slot = slotUse.findIndex((uses, s) =>
      slotBytes[s] >= it.bytes && uses.every((u) => u.to < it.from || u.from > it.to)
    );
    if (slot < 0) {
      slot = slotBytes.length;
      slotBytes.push(it.bytes);
      slotUse.push([]);
    }
    slotUse[slot].push({ from: it.from, to: it.to });
    if (it.key >= 0) slotOf.set(it.key, slot);
    else {
      const s = scratchKeys[-1 - it.key];
      scratchSlots[s.node][s.index] = slot;
    }
  }
  return {
    root,
    slotOf,
    scratchSlots,
    slotBytes,
    intermediateBytes: slotBytes.reduce((a, b) => a + b, 0),
    largestBytes: items.reduce((m, it) => Math.max(m, it.bytes), 0),
  };
}
