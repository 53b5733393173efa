import { F32_MAX, gather, vqBeamSelect, vqResidual, vqSearch } from "../src/ops/vq.ts";
import { ShapeError } from "../src/errors.ts";
import { cpuBackend } from "../src/graph/cpu_backend.ts";
import type { GpuContext } from "../src/graph/device.ts";
import { GraphBuilder } from "../src/graph/graph.ts";
import type { TensorSpec } from "../src/graph/tensor.ts";
import { webgpuBackend } from "../src/graph/webgpu_backend.ts";
import { assert, assertEquals, assertThrows, rng } from "./assert.ts";
import { checkCase, gpu, GPU_TEST, kernelPlans, randomData, runOp } from "./harness.ts";

const f32 = (...shape: number[]): TensorSpec => ({ shape, dtype: "f32" });
const i32 = (...shape: number[]): TensorSpec => ({ shape, dtype: "i32" });

/**
 * Runs vq_search on WebGPU and checks it against the float64 reference: indices must agree
 * wherever the reference gap exceeds what f32 rounding of ‖c‖² − 2x·c can reach, and gaps
 * must agree to that rounding. Returns how many near-ties were exempted.
 */
async function checkSearch(
  ctx: GpuContext,
  x: Float32Array,
  cb: Float32Array,
  xShape: number[],
  k: number,
  what: string,
): Promise<number> {
  const d = xShape[xShape.length - 1];
  const specs = [f32(...xShape), f32(k, d)];
  const [wantIdx, wantGap] = vqSearch.cpu([x, cb], specs, {});
  const [gotIdx, gotGap] = await runOp(ctx, vqSearch, {}, [
    { spec: specs[0], data: x },
    { spec: specs[1], data: cb },
  ]);
  let cmax = 0;
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let e = 0; e < d; e++) s += cb[c * d + e] ** 2;
    cmax = Math.max(cmax, s);
  }
  let nearTies = 0;
  for (let i = 0; i < wantIdx.length; i++) {
    let xx = 0;
    for (let e = 0; e < d; e++) xx += x[i * d + e] ** 2;
    // The f32 distances err by roughly √D·2⁻²⁴·(‖x‖² + ‖c‖²) (rounding errors of a length-D
    // sum add up like a random walk): ~1e-4 measured at D = 256, 14× below this threshold.
    const tau = 8 * Math.sqrt(d) * 2 ** -24 * (xx + cmax);
    if (wantGap[i] <= tau) {
      nearTies++;
      continue;
    }
    if (gotIdx[i] !== wantIdx[i]) {
      throw new Error(
        `${what}: row ${i} got index ${gotIdx[i]}, want ${wantIdx[i]} (gap ${wantGap[i]})`,
      );
    }
    const err = Math.abs(gotGap[i] - wantGap[i]);
    if (!(err <= 2 * tau + 1e-6 * wantGap[i])) {
      throw new Error(`${what}: row ${i} gap ${gotGap[i]}, want ${wantGap[i]} (tol ${tau})`);
    }
  }
  return nearTies;
}

const searchShapes: [number[], number][] = [
  // [x shape ([..., D]), K]
  [[1, 4], 1],
  [[3, 4], 17],
  [[17, 12], 3],
  [[65, 16], 65],
  [[1, 5, 7, 8], 33],
  [[130, 33], 100], // D not a multiple of 4: x is padded in scratch
  [[5, 7], 1], // one code: gap is f32 max
  [[200, 64], 1024],
  // D = 509 is padded, and the software kernel splits 4200 codes over two launches (llvmpipe's
  // loop limit), carrying the running best between them.
  [[9, 509], 4200],
];

Deno.test({
  name: "vq_search: both kernels match the float64 reference over awkward shapes",
  ...GPU_TEST,
  async fn() {
    let seed = 1;
    for (const [label, ctx] of await kernelPlans()) {
      let nearTies = 0;
      for (const [xs, k] of searchShapes) {
        const rand = rng(seed++);
        const d = xs[xs.length - 1];
        const x = randomData(f32(...xs), rand) as Float32Array;
        const cb = randomData(f32(k, d), rand) as Float32Array;
        nearTies += await checkSearch(ctx, x, cb, xs, k, `${label} x${xs} K=${k}`);
      }
      console.log(`${label}: ${nearTies} near-ties exempted`);
    }
  },
});

Deno.test({
  name: "vq_search: gap is f32 max with a single code",
  ...GPU_TEST,
  async fn() {
    for (const [, ctx] of await kernelPlans()) {
      const x = new Float32Array([1, 2, 3, -4, 0.5, 0.25]);
      const cb = new Float32Array([0, 1, 0]);
      const [idx, gap] = await runOp(ctx, vqSearch, {}, [
        { spec: f32(2, 3), data: x },
        { spec: f32(1, 3), data: cb },
      ]);
      assertEquals(Array.from(idx), [0, 0]);
      assertEquals(Array.from(gap), [F32_MAX, F32_MAX]);
    }
  },
});

Deno.test({
  name: "vq_search: exact ties go to the lowest index, across thread and block boundaries",
  ...GPU_TEST,
  async fn() {
    // Small integers make ‖c‖² − 2x·c exact in f32, so duplicated codes tie exactly on the GPU.
    const k0 = 37, d = 8, m = 150;
    const rand = rng(5);
    const base = randomData(i32(k0, d), rand, -3, 4);
    // Codes k and k + 37 and k + 74 are identical: twins straddle every thread's code chunk
    // (GPU kernel) and every 32-code block (software kernel).
    const cb = new Float32Array(3 * k0 * d);
    for (let i = 0; i < cb.length; i++) cb[i] = base[i % (k0 * d)];
    const x = new Float32Array(m * d);
    for (let i = 0; i < m; i++) {
      // Half the rows sit exactly on a code; the rest are random integer points.
      const c = i % k0;
      for (let e = 0; e < d; e++) {
        x[i * d + e] = i % 2 ? base[c * d + e] : Math.floor(rand() * 7) - 3;
      }
    }
    const specs = [f32(m, d), f32(3 * k0, d)];
    const [want, wantGap] = vqSearch.cpu([x, cb], specs, {});
    for (let i = 0; i < m; i++) {
      assert(want[i] < k0, "reference must pick the first of identical codes");
      assertEquals(wantGap[i], 0, "identical codes tie");
    }
    for (const [label, ctx] of await kernelPlans()) {
      const [idx, gap] = await runOp(ctx, vqSearch, {}, [
        { spec: specs[0], data: x },
        { spec: specs[1], data: cb },
      ]);
      assertEquals(Array.from(idx), Array.from(want), label);
      assertEquals(Array.from(gap), Array.from(wantGap), label);
    }
  },
});

Deno.test({
  name: "vq_search: 1024 vectors × 1024 codes × 256 dims on random data has no near-ties",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const rand = rng(42);
    const x = randomData(f32(1024, 256), rand) as Float32Array;
    const cb = randomData(f32(1024, 256), rand) as Float32Array;
    const nearTies = await checkSearch(ctx, x, cb, [1024, 256], 1024, "ProGIC-sized");
    console.log(`ProGIC-sized search: ${nearTies} near-ties`);
    assertEquals(nearTies, 0);
  },
});

Deno.test({
  name: "gather: exact, with out-of-range indices clamped",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    let seed = 20;
    for (
      const [idxShape, k, d] of [[[1], 1, 1], [[3, 5], 4, 3], [[2, 17, 3], 17, 65], [[65], 9, 17]]
    ) {
      const rand = rng(seed++);
      const ids = randomData(i32(...idxShape as number[]), rand, -3, (k as number) + 3);
      await checkCase(ctx, {
        name: `gather idx${idxShape} K=${k} D=${d}`,
        op: gather,
        attrs: {},
        inputs: [f32(k as number, d as number), i32(...idxShape as number[])],
        data: [undefined, ids],
        tol: "exact",
      }, seed++);
    }
    // Any dtype is copied bit-exactly.
    await checkCase(ctx, {
      name: "gather i32 codebook",
      op: gather,
      attrs: {},
      inputs: [i32(6, 5), i32(4, 3)],
      range: [[-1000, 1000], [-2, 8]],
      tol: "exact",
    }, 30);
  },
});

Deno.test("gather: CPU reference clamps indices", () => {
  const cb = new Float32Array([10, 11, 20, 21, 30, 31]);
  const [out] = gather.cpu([cb, new Int32Array([-5, 0, 2, 3, 99])], [f32(3, 2), i32(5)], {});
  assertEquals(Array.from(out), [10, 11, 10, 11, 30, 31, 30, 31, 30, 31]);
});

Deno.test({
  name: "vq_residual: exact against the reference",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    let seed = 40;
    for (const [lead, k, d] of [[[1], 1, 1], [[3, 5], 4, 3], [[1, 3, 17], 17, 65]] as const) {
      const rand = rng(seed++);
      await checkCase(ctx, {
        name: `vq_residual ${lead} K=${k} D=${d}`,
        op: vqResidual,
        attrs: {},
        inputs: [f32(...lead, d), f32(k, d), i32(...lead)],
        data: [undefined, undefined, randomData(i32(...lead), rand, -2, k + 2)],
        tol: "exact",
      }, seed++);
    }
  },
});

Deno.test({
  name: "vq: a 4-stage residual VQ graph matches the CPU backend",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const stages = 4, k = 64, d = 32;
    const rand = rng(77);
    const books = Array.from(
      { length: stages },
      (_, s) => randomData(f32(k, d), rand, -1 / (s + 1), 1 / (s + 1)) as Float32Array,
    );
    const g = new GraphBuilder();
    const y = g.input("y", [1, 9, 7, d]);
    let r = y;
    const cbs = books.map((b, s) => g.constant(`cb${s}`, b, [k, d]));
    cbs.forEach((cb, s) => {
      const [idx] = g.op(vqSearch, [r, cb], {}, `search${s}`);
      g.output(`idx${s}`, idx);
      r = g.op1(vqResidual, [r, cb, idx], {}, `residual${s}`);
      if (s === 0) g.output("q0", g.op1(gather, [cb, idx], {}, "gather0"));
    });
    g.output("r", r);
    const graph = g.build();
    const feed = { y: randomData(f32(1, 9, 7, d), rand) };
    const gpuExe = await webgpuBackend(ctx).compile(graph);
    const cpuExe = await cpuBackend().compile(graph);
    try {
      const got = await gpuExe.run(feed);
      const want = await cpuExe.run(feed);
      for (let s = 0; s < stages; s++) {
        assertEquals(Array.from(got[`idx${s}`]), Array.from(want[`idx${s}`]), `stage ${s}`);
      }
      assertEquals(Array.from(got.q0), Array.from(want.q0));
      assertEquals(Array.from(got.r), Array.from(want.r));
    } finally {
      gpuExe.dispose();
      cpuExe.dispose();
    }
  },
});

Deno.test("vq: bad shapes fail at build time naming the op", () => {
  const g = new GraphBuilder();
  const x = g.input("x", [4, 8]);
  const cb = g.input("cb", [16, 7]);
  assertThrows(() => g.op(vqSearch, [x, cb], {}, "vq"), ShapeError, 'vq_search "vq"');
  const flat = g.input("flat", [8]);
  const cb8 = g.input("cb8", [16, 8]);
  assertThrows(() => g.op(vqSearch, [flat, cb8], {}, "vq1"), ShapeError, "rank ≥ 2");
  const icb = g.input("icb", [16, 8], "i32");
  assertThrows(() => g.op(vqSearch, [x, icb], {}, "vq2"), ShapeError, "codebook must be f32");
  const fidx = g.input("fidx", [4]);
  assertThrows(() => g.op(gather, [cb8, fidx], {}, "g"), ShapeError, 'gather "g": indices');
  const idx3 = g.input("idx3", [3], "i32");
  assertThrows(
    () => g.op(vqResidual, [x, cb8, idx3], {}, "res"),
    ShapeError,
    'vq_residual "res": indices must have shape [4]',
  );
  assertThrows(() => g.op(gather, [cb8], {}, "g2"), ShapeError, "expects 2 inputs");
});

/** dots = r · cbᵀ and ‖c‖² for a beam-select case, in f32 as a matmul would give them. */
function beamInputs(r: Float32Array, cb: Float32Array, rows: number, k: number, d: number) {
  const dots = new Float32Array(rows * k), norms = new Float32Array(k);
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let e = 0; e < d; e++) s += cb[c * d + e] ** 2;
    norms[c] = s;
    for (let i = 0; i < rows; i++) {
      let t = 0;
      for (let e = 0; e < d; e++) t += r[i * d + e] * cb[c * d + e];
      dots[i * k + c] = t;
    }
  }
  return { dots, norms };
}

Deno.test({
  name: "vq_beam_select: matches the float64 reference, near-ties exempted and counted",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    let seed = 90, exempt = 0, compared = 0;
    // [P, BI, D, K, beams]: one beam in, many out (a first stage); more candidates than the
    // 128 threads; BI·K = beams; a grid of positions; ProGIC-sized stages.
    const cases = [[1, 1, 4, 5, 3], [7, 3, 8, 100, 8], [3, 2, 5, 4, 8], [33, 4, 16, 300, 4], [
      40,
      4,
      256,
      1024,
      4,
    ], [20, 1, 256, 1024, 8]];
    for (const [p, bi, d, k, bo] of cases) {
      const rand = rng(seed++);
      const r = randomData(f32(p, bi, d), rand) as Float32Array;
      const cb = randomData(f32(k, d), rand) as Float32Array;
      const { dots, norms } = beamInputs(r, cb, p * bi, k, d);
      const specs = [f32(p, bi, d), f32(p, bi, k), f32(k)];
      const attrs = { beams: bo };
      const [wantRows, wantCodes] = vqBeamSelect.cpu([r, dots, norms], specs, attrs);
      const [gotRows, gotCodes] = await runOp(ctx, vqBeamSelect, attrs, [
        { spec: specs[0], data: r },
        { spec: specs[1], data: dots },
        { spec: specs[2], data: norms },
      ]);
      const dist = (row: number, code: number) => {
        let s = 0;
        for (let e = 0; e < d; e++) s += r[row * d + e] ** 2;
        return s - 2 * dots[row * k + code] + norms[code];
      };
      for (let pos = 0; pos < p; pos++) {
        const rr = pos * bi;
        let xx = 0;
        for (let e = 0; e < bi * d; e++) xx = Math.max(xx, r[rr * d + e] ** 2);
        // f32 rounding of ‖r‖² + ‖c‖² − 2·dot, as in the vq_search test
        const tau = 8 * Math.sqrt(d) * 2 ** -24 * (d * xx + Math.max(...norms)) + 1e-6;
        const want: number[] = [];
        for (let j = 0; j < bo; j++) {
          const i = pos * bo + j;
          want.push(dist(wantRows[i], wantCodes[i]));
          const got = dist(gotRows[i], gotCodes[i]);
          assert(gotRows[i] >= rr && gotRows[i] < rr + bi, `case ${p},${bi}: row out of range`);
          assert(
            Math.abs(got - want[j]) <= 2 * tau,
            `P${p} BI${bi} K${k}: position ${pos} beam ${j}: distance ${got}, want ${want[j]}`,
          );
        }
        // the kept list is unambiguous when its distances and the first one left out are all
        // more than rounding apart
        const all: number[] = [];
        for (let b = 0; b < bi; b++) for (let c = 0; c < k; c++) all.push(dist(rr + b, c));
        all.sort((a, b) => a - b);
        const cut = bo < all.length ? all[bo] : Infinity;
        const clear = want.every((v, j) => j === 0 || v - want[j - 1] > tau) &&
          cut - want[bo - 1] > tau;
        const same = [...Array(bo).keys()].every((j) =>
          gotRows[pos * bo + j] === wantRows[pos * bo + j] &&
          gotCodes[pos * bo + j] === wantCodes[pos * bo + j]
        );
        if (!clear) exempt++;
        else {
          compared++;
          assert(same, `P${p} BI${bi} K${k}: position ${pos}: candidates differ with clear gaps`);
        }
      }
    }
    console.log(`vq_beam_select: ${compared} positions equal, ${exempt} near-ties exempted`);
    assert(compared > 5 * exempt, "too few clear cases to mean anything");
  },
});

Deno.test({
  name: "vq_beam_select: exact ties keep the lower beam, then the lower code",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    // Small integers make every distance exact in f32. Two identical beams and codes repeated
    // at k, k + 50, k + 100 (across the threads' strided scans) tie in groups of six.
    const p = 9, bi = 2, d = 6, k0 = 50, k = 3 * k0, bo = 8;
    const rand = rng(7);
    const base = randomData(i32(k0, d), rand, -2, 3);
    const cb = new Float32Array(k * d);
    for (let i = 0; i < cb.length; i++) cb[i] = base[i % (k0 * d)];
    const r = new Float32Array(p * bi * d);
    for (let pos = 0; pos < p; pos++) {
      for (let e = 0; e < d; e++) {
        const v = pos % 3 === 0 ? base[pos * d + e] : Math.floor(rand() * 5) - 2;
        r[(pos * bi) * d + e] = r[(pos * bi + 1) * d + e] = v;
      }
    }
    const { dots, norms } = beamInputs(r, cb, p * bi, k, d);
    const specs = [f32(p, bi, d), f32(p, bi, k), f32(k)];
    const [wantRows, wantCodes] = vqBeamSelect.cpu([r, dots, norms], specs, { beams: bo });
    // The best group of six is (beam 0, beam 1) × (k, k + 50, k + 100), in candidate order.
    const firstK = wantCodes[0];
    assertEquals(
      Array.from(wantCodes.slice(0, 6)),
      [firstK, firstK + k0, firstK + 2 * k0, firstK, firstK + k0, firstK + 2 * k0],
    );
    assertEquals(Array.from(wantRows.slice(0, 6)), [0, 0, 0, 1, 1, 1]);
    const [gotRows, gotCodes] = await runOp(ctx, vqBeamSelect, { beams: bo }, [
      { spec: specs[0], data: r },
      { spec: specs[1], data: dots },
      { spec: specs[2], data: norms },
    ]);
    assertEquals(Array.from(gotRows), Array.from(wantRows));
    assertEquals(Array.from(gotCodes), Array.from(wantCodes));
  },
});

Deno.test("vq_beam_select: bad shapes and beam counts fail at build time", () => {
  const g = new GraphBuilder();
  const r = g.input("r", [5, 2, 8]);
  const dots = g.input("dots", [5, 2, 16]);
  const norms = g.input("norms", [16]);
  assertThrows(
    () => g.op(vqBeamSelect, [r, dots, norms], { beams: 9 }, "b9"),
    ShapeError,
    "beams must be an integer in 1…8",
  );
  assertThrows(
    () => g.op(vqBeamSelect, [r, dots, g.input("n15", [15])], { beams: 2 }, "n"),
    ShapeError,
    "norms must be f32 [16]",
  );
  assertThrows(
    () => g.op(vqBeamSelect, [r, g.input("d3", [5, 3, 16]), norms], { beams: 2 }, "d"),
    ShapeError,
    "dots must be f32 [5, 2, K]",
  );
  const small = g.input("small", [5, 1, 8]);
  assertThrows(
    () =>
      g.op(vqBeamSelect, [small, g.input("ds", [5, 1, 3]), g.input("ns", [3])], { beams: 4 }, "s"),
    ShapeError,
    "1…3",
  );
});

Deno.test({
  name: "vq_beam_select: NaN inputs still give valid rows and codes",
  ...GPU_TEST,
  async fn() {
    const ctx = (await gpu())!;
    const p = 3, bi = 2, d = 4, k = 6, bo = 3;
    const r = randomData(f32(p, bi, d), rng(3)) as Float32Array;
    const cb = randomData(f32(k, d), rng(4)) as Float32Array;
    const { dots, norms } = beamInputs(r, cb, p * bi, k, d);
    dots.fill(NaN, bi * k, 2 * bi * k); // position 1: every distance is NaN
    const specs = [f32(p, bi, d), f32(p, bi, k), f32(k)];
    const want = vqBeamSelect.cpu([r, dots, norms], specs, { beams: bo });
    const got = await runOp(ctx, vqBeamSelect, { beams: bo }, [
      { spec: specs[0], data: r },
      { spec: specs[1], data: dots },
      { spec: specs[2], data: norms },
    ]);
    for (const [rows, codes] of [want, got]) {
      assertEquals(Array.from(rows.slice(bo, 2 * bo)), [bi, bi, bi]);
      assertEquals(Array.from(codes.slice(bo, 2 * bo)), [0, 0, 0]);
    }
    assertEquals(Array.from(got[0]), Array.from(want[0]));
    assertEquals(Array.from(got[1]), Array.from(want[1]));
  },
});
