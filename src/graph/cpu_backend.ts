/**
 * The CPU backend: runs each op's pure-TypeScript reference in order. Slow and exact; always
 * available, so tests and tools work without an adapter.
 * @module
 */
import { GraphError } from "../errors.ts";
import type { Backend, Executable, ExecutableStats } from "./backend.ts";
import { validateInputs } from "./backend.ts";
import type { Graph } from "./graph.ts";
import { planMemory } from "./plan.ts";
import { byteSize, type HostArray } from "./tensor.ts";

/** Creates the CPU reference backend. */
export function cpuBackend(): Backend {
  return {
    name: "cpu",
    compile: (graph: Graph): Promise<Executable> => Promise.resolve(compileCpu(graph)),
  };
}

function compileCpu(graph: Graph): Executable {
  const plan = planMemory(graph);
  let weightBytes = 0, ioBytes = 0;
  for (const v of graph.values) {
    if (v.kind === "constant") weightBytes += byteSize(v.spec);
    if (v.kind === "input") ioBytes += byteSize(v.spec);
  }
  const stats: ExecutableStats = {
    backend: "cpu",
    nodes: graph.nodes.length,
    dispatches: 0,
    weightBytes,
    intermediateBytes: plan.intermediateBytes,
    largestIntermediateBytes: plan.largestBytes,
    ioBytes,
    peakBytes: weightBytes + plan.intermediateBytes + ioBytes,
  };
  let disposed = false;
  return {
    stats,
    run(inputs) {
      if (disposed) return Promise.reject(new GraphError("executable used after dispose()"));
      try {
        validateInputs(graph, inputs);
        const vals: HostArray[] = [];
        for (const v of graph.values) {
          if (v.kind === "constant") vals[v.id] = v.data;
          if (v.kind === "input") vals[v.id] = inputs[v.name];
        }
        for (const n of graph.nodes) {
          const ins = n.inputs.map((id) => vals[id]);
          const outs = n.op.alias
            ? [ins[0]]
            : n.op.cpu(ins, n.inputs.map((id) => graph.values[id].spec), n.attrs);
          n.outputs.forEach((id, i) => (vals[id] = outs[i]));
        }
        const result: Record<string, HostArray> = {};
        for (const [name, id] of graph.outputs) result[name] = vals[id].slice();
        return Promise.resolve(result);
      } catch (e) {
        return Promise.reject(e);
      }
    },
    dispose() {
      disposed = true;
    },
  };
}
