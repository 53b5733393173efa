/**
 * The WebGPU backend. Compiling a graph plans its memory, uploads weights once per device,
 * compiles (or reuses) pipelines, and prepares every bind group, so a run only writes the
 * inputs, records all dispatches into one compute pass and one submit, and reads the outputs
 * back with one wait (each CPU↔GPU sync costs ~10 ms on software adapters).
 * @module
 */
import { DeviceLimitError, GraphError } from "../errors.ts";
import type { Binding, GpuPlan, KernelLaunch } from "../ops/op.ts";
import type { Backend, Executable, ExecutableStats } from "./backend.ts";
import { serialize, validateInputs } from "./backend.ts";
import { checkBufferSize, fmtBytes, type GpuContext } from "./device.ts";
import type { Graph } from "./graph.ts";
import { planMemory } from "./plan.ts";
import { allocHost, byteSize, dtypeOf, type HostArray, viewAs } from "./tensor.ts";

/** Creates the WebGPU backend on an acquired device. */
export function webgpuBackend(ctx: GpuContext): Backend {
  return { name: "webgpu", compile: (graph: Graph) => compileGpu(ctx, graph) };
}

interface Dispatch {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: readonly [number, number, number];
  /** Node name, op type and kernel label, for profiles. */
  node: string;
  op: string;
  kernel: string;
}

/** Timestamp queries one query set holds (WebGPU allows 4096), two per profiled dispatch. */
const MAX_QUERIES = 4096;

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

function roundUp(n: number, m: number): number {
  return Math.max(m, Math.ceil(n / m) * m);
}

async function compileGpu(ctx: GpuContext, graph: Graph): Promise<Executable> {
  if (ctx.lost) throw ctx.lost;
  const { device } = ctx;
  const plans: GpuPlan[] = graph.nodes.map((n) =>
    n.op.alias ? { launches: [] } : n.op.gpu(
      n.inputs.map((id) => graph.values[id].spec),
      n.outputs.map((id) => graph.values[id].spec),
      n.attrs,
      ctx.caps,
    )
  );
  const mem = planMemory(graph, plans.map((p) => p.scratch ?? []));

  for (const v of graph.values) checkBufferSize(ctx, byteSize(v.spec), `tensor "${v.name}"`);
  graph.nodes.forEach((n, i) => {
    for (const bytes of plans[i].scratch ?? []) {
      checkBufferSize(ctx, bytes, `scratch of ${n.op.type} "${n.name}"`);
    }
    for (const l of plans[i].launches) {
      if (l.workgroups.some((w) => w > ctx.caps.maxWorkgroupsPerDim)) {
        throw new DeviceLimitError(
          `${n.op.type} "${n.name}" needs ${l.workgroups.join("×")} workgroups; this adapter ` +
            `allows ${ctx.caps.maxWorkgroupsPerDim} per dimension. Use a smaller image or tiles.`,
        );
      }
    }
  });

  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  const owned: GPUBuffer[] = [];
  const create = (size: number, usage: number, label: string) => {
    const b = device.createBuffer({ size: roundUp(size, 16), usage, label });
    owned.push(b);
    return b;
  };
  const slots = mem.slotBytes.map((b, i) => create(b, STORAGE, `slot${i}`));
  const inputBufs = new Map<number, GPUBuffer>();
  for (const [name, id] of graph.inputs) {
    inputBufs.set(id, create(byteSize(graph.values[id].spec), STORAGE, `in:${name}`));
  }
  let weightBytes = 0;
  for (const v of graph.values) {
    if (v.kind !== "constant") continue;
    weightBytes += byteSize(v.spec);
    if (ctx.constants.has(v.data)) continue;
    const b = device.createBuffer({
      size: roundUp(v.data.byteLength, 16),
      usage: STORAGE,
      mappedAtCreation: true,
      label: `w:${v.name}`,
    });
    viewAs(v.spec.dtype, b.getMappedRange(), 0, v.data.length).set(v.data);
    b.unmap();
    ctx.constants.set(v.data, b);
  }
  const outputs = [...graph.outputs].map(([name, id]) => ({
    name,
    id,
    bytes: byteSize(graph.values[id].spec),
    staging: create(
      byteSize(graph.values[id].spec),
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      `out:${name}`,
    ),
  }));

  const bufferOf = (id: number): GPUBuffer => {
    const r = mem.root[id];
    const v = graph.values[r];
    if (v.kind === "constant") return ctx.constants.get(v.data)!;
    if (v.kind === "input") return inputBufs.get(r)!;
    return slots[mem.slotOf.get(r)!];
  };

  // All uniforms of the graph live in one buffer at aligned offsets.
  const align = device.limits.minUniformBufferOffsetAlignment;
  let uniformBytes = 0;
  const uniformAt = new Map<ArrayBuffer, number>();
  for (const p of plans) {
    for (const l of p.launches) {
      for (const b of l.bindings) {
        if ("uniform" in b.ref) {
          uniformAt.set(b.ref.uniform, uniformBytes);
          uniformBytes += roundUp(b.ref.uniform.byteLength, align);
        }
      }
    }
  }
  const uniformBuf = create(uniformBytes, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, "uni");
  for (const [data, offset] of uniformAt) device.queue.writeBuffer(uniformBuf, offset, data);

  const pending: Promise<Dispatch>[] = [];
  graph.nodes.forEach((n, i) => {
    for (const l of plans[i].launches) {
      const entries = l.bindings.map((b): GPUBindGroupEntry => {
        const ref = b.ref;
        if ("uniform" in ref) {
          return {
            binding: b.slot,
            resource: {
              buffer: uniformBuf,
              offset: uniformAt.get(ref.uniform)!,
              size: ref.uniform.byteLength,
            },
          };
        }
        if ("dummy" in ref) return { binding: b.slot, resource: { buffer: ctx.dummy } };
        if ("scratch" in ref) {
          const slot = mem.scratchSlots[i][ref.scratch];
          const size = plans[i].scratch![ref.scratch];
          return { binding: b.slot, resource: { buffer: slots[slot], offset: 0, size } };
        }
        const id = "input" in ref ? n.inputs[ref.input] : n.outputs[ref.output];
        if (id === undefined) {
          throw new GraphError(`${n.op.type} "${n.name}": kernel binds a missing tensor`);
        }
        return {
          binding: b.slot,
          resource: { buffer: bufferOf(id), offset: 0, size: byteSize(graph.values[id].spec) },
        };
      });
      const layout = layoutFor(ctx, l.bindings);
      pending.push(
        pipelineFor(ctx, l, layout).then((pipeline) => ({
          pipeline,
          bindGroup: device.createBindGroup({ layout, entries, label: n.name }),
          workgroups: l.workgroups,
          node: n.name,
          op: n.op.type,
          kernel: l.label,
        })),
      );
    }
  });
  let dispatches: Dispatch[];
  try {
    dispatches = await Promise.all(pending);
  } catch (e) {
    await device.popErrorScope();
    await device.popErrorScope();
    owned.forEach((b) => b.destroy());
    throw e;
  }
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (validation || oom) {
    owned.forEach((b) => b.destroy());
    const total = mem.intermediateBytes + weightBytes;
    if (oom) {
      throw new DeviceLimitError(
        `out of GPU memory compiling a graph that needs ${fmtBytes(total)}: ${oom.message}`,
      );
    }
    throw new GraphError(`WebGPU rejected the compiled graph: ${validation!.message}`);
  }

  let ioBytes = 0;
  for (const id of graph.inputs.values()) ioBytes += byteSize(graph.values[id].spec);
  for (const o of outputs) ioBytes += roundUp(o.bytes, 16);
  const stats: ExecutableStats = {
    backend: "webgpu",
    nodes: graph.nodes.length,
    dispatches: dispatches.length,
    weightBytes,
    intermediateBytes: mem.intermediateBytes,
    largestIntermediateBytes: mem.largestBytes,
    ioBytes,
    peakBytes: weightBytes + mem.intermediateBytes + ioBytes + uniformBytes,
  };

  let disposed = false;
  const writeInputs = (inputs: Readonly<Record<string, HostArray>>) => {
    if (disposed) throw new GraphError("executable used after dispose()");
    if (ctx.lost) throw ctx.lost;
    validateInputs(graph, inputs);
    for (const [name, id] of graph.inputs) {
      const a = inputs[name];
      device.queue.writeBuffer(
        inputBufs.get(id)!,
        0,
        a.buffer as ArrayBuffer,
        a.byteOffset,
        a.byteLength,
      );
    }
  };
  const record = (pass: GPUComputePassEncoder, d: Dispatch) => {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  };
  const run = serialize(async (inputs: Readonly<Record<string, HostArray>>) => {
    writeInputs(inputs);
    const enc = device.createCommandEncoder();
    if (dispatches.length) {
      const pass = enc.beginComputePass();
      for (const d of dispatches) record(pass, d);
      pass.end();
    }
    for (const o of outputs) enc.copyBufferToBuffer(bufferOf(o.id), 0, o.staging, 0, o.bytes);
    device.queue.submit([enc.finish()]);
    await Promise.all(outputs.map((o) => o.staging.mapAsync(GPUMapMode.READ, 0, o.bytes)));
    if (ctx.lost) throw ctx.lost;
    const result: Record<string, HostArray> = {};
    for (const o of outputs) {
      const out = allocHost(graph.values[o.id].spec);
      out.set(viewAs(dtypeOf(out), o.staging.getMappedRange(0, o.bytes)));
      o.staging.unmap();
      result[o.name] = out;
    }
    return result;
  });

  const profile = serialize(async (inputs: Readonly<Record<string, HostArray>>) => {
    if (!device.features.has("timestamp-query")) {
      throw new GraphError("profiling needs the adapter's timestamp-query feature");
    }
    if (2 * dispatches.length > MAX_QUERIES) {
      throw new GraphError(
        `cannot profile ${dispatches.length} dispatches (at most ${MAX_QUERIES / 2})`,
      );
    }
    writeInputs(inputs);
    const count = Math.max(2, 2 * dispatches.length);
    const querySet = device.createQuerySet({ type: "timestamp", count });
    const resolved = device.createBuffer({
      size: count * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const staging = device.createBuffer({
      size: count * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      const enc = device.createCommandEncoder();
      dispatches.forEach((d, i) => {
        const pass = enc.beginComputePass({
          timestampWrites: {
            querySet,
            beginningOfPassWriteIndex: 2 * i,
            endOfPassWriteIndex: 2 * i + 1,
          },
        });
        record(pass, d);
        pass.end();
      });
      enc.resolveQuerySet(querySet, 0, count, resolved, 0);
      enc.copyBufferToBuffer(resolved, 0, staging, 0, count * 8);
      device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      if (ctx.lost) throw ctx.lost;
      const t = new BigUint64Array(staging.getMappedRange().slice(0));
      staging.unmap();
      return dispatches.map((d, i) => ({
        node: d.node,
        op: d.op,
        kernel: d.kernel,
        workgroups: d.workgroups,
        // The spec lets an implementation return timestamps out of order: count those as 0.
        ns: t[2 * i + 1] > t[2 * i] ? Number(t[2 * i + 1] - t[2 * i]) : 0,
      }));
    } finally {
      querySet.destroy();
      resolved.destroy();
      staging.destroy();
    }
  });

  return {
    stats,
    run,
    profile,
    dispose() {
      if (disposed) return;
      disposed = true;
      owned.forEach((b) => b.destroy());
    },
  };
}

function layoutFor(ctx: GpuContext, bindings: readonly Binding[]): GPUBindGroupLayout {
  const sig = bindings.map((b) => `${b.slot}${b.access[0]}`).sort().join(",");
  let layout = ctx.layouts.get(sig);
  if (!layout) {
    layout = ctx.device.createBindGroupLayout({
      label: sig,
      entries: bindings.map((b) => ({
        binding: b.slot,
        visibility: GPUShaderStage.COMPUTE,
        buffer: {
          type: b.access === "read"
            ? "read-only-storage"
            : b.access === "write"
            ? "storage"
            : "uniform",
        },
      })),
    });
    ctx.layouts.set(sig, layout);
  }
  return layout;
}

function pipelineFor(
  ctx: GpuContext,
  l: KernelLaunch,
  layout: GPUBindGroupLayout,
): Promise<GPUComputePipeline> {
  const key = `${layout.label}|${JSON.stringify(l.constants ?? {})}|${l.code}`;
  let p = ctx.pipelines.get(key);
  if (!p) {
    const module = ctx.device.createShaderModule({ code: l.code, label: l.label });
    p = ctx.device.createComputePipelineAsync({
      label: l.label,
      layout: ctx.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main", constants: l.constants ?? {} },
    }).catch((e) => {
      ctx.pipelines.delete(key);
      throw new GraphError(`kernel "${l.label}" failed to compile: ${e?.message ?? e}`, {
        cause: e,
      });
    });
    ctx.pipelines.set(key, p);
  }
  return p;
}
