import { DeviceLimitError, GraphError, ShapeError } from "../src/errors.ts";
import { cpuBackend } from "../src/graph/cpu_backend.ts";
import { GraphBuilder, type Value } from "../src/graph/graph.ts";
import { planMemory } from "../src/graph/plan.ts";
import { webgpuBackend } from "../src/graph/webgpu_backend.ts";
import { conv2d } from "../src/ops/conv2d.ts";
import { binary, gate } from "../src/ops/elementwise.ts";
import { matmul } from "../src/ops/matmul.ts";
import { assert, assertEquals, assertRejects, assertThrows, rng } from "./assert.ts";
import { compare, gpu, GPU_TEST, randomData } from "./harness.ts";

const f32 = (...shape: number[]) => ({ shape, dtype: "f32" as const });

/** A chain of residual blocks whose first activation stays live to the end (a long skip). */
function residualChain(seed: number, blocks = 6) {
  const rand = rng(seed);
  const g = new GraphBuilder();
  const x = g.input("x", [1, 6, 5, 8]);
  const skip = g.op1(
    conv2d,
    [x, g.constant("w0", randomData(f32(1, 1, 8, 8), rand) as Float32Array, [1, 1, 8, 8])],
    {},
    "stem",
  );
  let h: Value = skip;
  for (let i = 0; i < blocks; i++) {
    const w1 = g.constant(`w1.${i}`, randomData(f32(3, 3, 1, 8), rand, -0.4, 0.4), [3, 3, 1, 8]);
    const w2 = g.constant(`w2.${i}`, randomData(f32(8, 16), rand, -0.6, 0.6), [8, 16]);
    const w3 = g.constant(`w3.${i}`, randomData(f32(8, 8), rand, -0.3, 0.3), [8, 8]);
    const d = g.op1(conv2d, [h, w1], { padding: 1, groups: 8 }, `dw${i}`);
    const u = g.op1(matmul, [d, w2], {}, `pw${i}`);
    const gt = g.op1(gate, [u], {}, `gate${i}`);
    h = g.op1(matmul, [gt, w3, h], { epilogue: { residual: true } }, `out${i}`);
  }
  g.output("y", g.op1(binary, [h, skip], { op: "add" }, "long_skip"));
  g.output("skip", skip);
  return g.build();
}

Deno.test("plan: liveness lets a long chain reuse a few buffers", () => {
  const graph = residualChain(1, 10);
  const plan = planMemory(graph);
  let total = 0;
  for (const v of graph.values) {
    if (v.kind === "node") total += v.spec.shape.reduce((a, b) => a * b) * 4;
  }
  assert(plan.slotBytes.length <= 6, `expected ≤ 6 shared buffers, got ${plan.slotBytes.length}`);
  assert(plan.intermediateBytes < total / 4, `${plan.intermediateBytes} vs ${total}`);
});

Deno.test({
  name: "graph: a profiled run times every dispatch and leaves the executable usable",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const graph = residualChain(4, 3);
    const x = randomData(f32(1, 6, 5, 8), rng(5));
    const exe = await webgpuBackend(ctx).compile(graph);
    if (!ctx.device.features.has("timestamp-query")) {
      await assertRejects(() => exe.profile!({ x }), GraphError, "timestamp-query");
      return;
    }
    const times = await exe.profile!({ x });
    assertEquals(times.length, exe.stats.dispatches);
    assertEquals(times.map((t) => t.node), graph.nodes.map((n) => n.name));
    assertEquals(times.map((t) => t.op), graph.nodes.map((n) => n.op.type));
    assert(times.every((t) => t.kernel.length > 0 && Number.isFinite(t.ns) && t.ns >= 0));
    assert(times.some((t) => t.ns > 0), "no dispatch took any time");
    const want = await (await cpuBackend().compile(graph)).run({ x });
    compare((await exe.run({ x })).y, want.y, { atol: 1e-4, rtol: 1e-4 }, "y after profile");
    await assertRejects(() => exe.profile!({ nope: x }), GraphError, "unknown input");
    exe.dispose();
  },
});

Deno.test({
  name: "graph: WebGPU run equals the CPU backend; reuse never corrupts live tensors",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const graph = residualChain(2);
    const x = randomData(f32(1, 6, 5, 8), rng(3));
    const want = await (await cpuBackend().compile(graph)).run({ x });
    const exe = await webgpuBackend(ctx).compile(graph);
    const a = await exe.run({ x });
    compare(a.y, want.y, { atol: 1e-4, rtol: 1e-4 }, "y");
    compare(a.skip, want.skip, { atol: 1e-5, rtol: 1e-5 }, "skip");
    const b = await exe.run({ x });
    assertEquals(new Uint8Array(b.y.buffer), new Uint8Array(a.y.buffer), "two runs differ");
    assert(exe.stats.dispatches === graph.nodes.length);
    assert(exe.stats.intermediateBytes < exe.stats.largestIntermediateBytes * 8);
    exe.dispose();
    await assertRejects(() => exe.run({ x }), GraphError, "after dispose");
  },
});

Deno.test({
  name: "graph: two graphs share a device and weights; concurrent runs serialize",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const w = randomData(f32(4, 4), rng(5)) as Float32Array;
    const build = (scale: number) => {
      const g = new GraphBuilder();
      const x = g.input("x", [3, 4]);
      const y = g.op1(matmul, [x, g.constant("w", w, [4, 4])], {}, "mm");
      g.output(
        "y",
        g.op1(binary, [y, g.constant("s", new Float32Array([scale]), [1])], { op: "mul" }),
      );
      return g.build();
    };
    const [e1, e2] = await Promise.all([
      webgpuBackend(ctx).compile(build(1)),
      webgpuBackend(ctx).compile(build(2)),
    ]);
    const x = randomData(f32(3, 4), rng(6));
    const [r1, r2, r1b] = await Promise.all([e1.run({ x }), e2.run({ x }), e1.run({ x })]);
    compare(r2.y, (r1.y as Float32Array).map((v) => v * 2), { atol: 1e-6, rtol: 1e-6 }, "2×");
    assertEquals(r1b.y, r1.y);
    e1.dispose();
    // e2's weights are shared with e1, so disposing e1 must not break e2.
    compare((await e2.run({ x })).y, r2.y, "exact", "after dispose of the other graph");
    e2.dispose();
  },
});

Deno.test({
  name: "graph: bad inputs and limits give typed errors",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const g = new GraphBuilder();
    const x = g.input("x", [2, 4]);
    g.output("y", g.op1(binary, [x, x], { op: "add" }));
    const exe = await webgpuBackend(ctx).compile(g.build());
    await assertRejects(() => exe.run({}), GraphError, 'missing input "x"');
    await assertRejects(() => exe.run({ x: new Float32Array(3) }), GraphError, "f32[2×4]");
    await assertRejects(() => exe.run({ x: new Int32Array(8) }), GraphError, "got i32");
    await assertRejects(
      () => exe.run({ x: new Float32Array(8), z: new Float32Array(1) }),
      GraphError,
      "unknown input",
    );
    exe.dispose();

    const big = new GraphBuilder();
    const h = big.input("h", [1, 4096, 4096, 4]); // 256 MiB, above a 128 MiB binding limit
    big.output("y", big.op1(binary, [h, h], { op: "add" }));
    if (ctx.device.limits.maxStorageBufferBindingSize < 256 * 2 ** 20) {
      await assertRejects(
        () => webgpuBackend(ctx).compile(big.build()),
        DeviceLimitError,
        "maxStorageBufferBindingSize",
      );
    }
  },
});

Deno.test("graph: build-time errors name the op and the problem", () => {
  const g = new GraphBuilder();
  const x = g.input("x", [1, 4, 4, 8]);
  assertThrows(() => g.input("x", [1]), GraphError, "declared twice");
  assertThrows(() => g.input("bad", [0, 3]), ShapeError, "invalid shape");
  assertThrows(() => g.constant("c", new Float32Array(3), [2, 2]), ShapeError, "do not fill");
  const other = new GraphBuilder().input("x", [1, 4, 4, 8]);
  assertThrows(() => g.op(binary, [x, other], { op: "add" }, "mix"), GraphError, "another graph");
  g.op(binary, [x, x], { op: "add" }, "a");
  assertThrows(() => g.op(binary, [x, x], { op: "add" }, "a"), GraphError, "used twice");
  assertThrows(() => g.build(), GraphError, "no outputs");
});

Deno.test("cpu backend: runs without any adapter and validates inputs", async () => {
  const g = new GraphBuilder();
  const x = g.input("x", [2, 2]);
  g.output("y", g.op1(matmul, [x, g.constant("w", new Float32Array([1, 2, 3, 4]), [2, 2])], {}));
  const exe = await cpuBackend().compile(g.build());
  const { y } = await exe.run({ x: new Float32Array([1, 0, 0, 1]) });
  assertEquals(Array.from(y), [1, 2, 3, 4]);
  await assertRejects(() => exe.run({ x: new Float32Array(3) }), GraphError);
});

Deno.test({
  name: "graph: an op whose scratch exceeds the binding limit is refused with DeviceLimitError",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const max = ctx.device.limits.maxStorageBufferBindingSize;
    // A pass-through op that asks for more scratch than one binding may hold.
    const greedy: typeof binary = {
      ...binary,
      type: "greedy",
      gpu: (i, o, a, c) => ({ ...binary.gpu(i, o, a, c), scratch: [max + 4] }),
    };
    const g = new GraphBuilder();
    const x = g.input("x", [4]);
    g.output("y", g.op1(greedy, [x, x], { op: "add" }, "hungry"));
    await assertRejects(
      () => webgpuBackend(ctx).compile(g.build()),
      DeviceLimitError,
      'scratch of greedy "hungry"',
    );
  },
});
