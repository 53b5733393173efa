/// <reference lib="dom" />
/**
 * The demo's WebGPU self-test (`selftest.html`): a representative subset of the op harness run in
 * this browser. The same OpDef objects as the Deno tests run on this page's adapter and are
 * compared with their own CPU references (`op.cpu`) by the harness's `checkCase`, with the Deno
 * suite's tolerances. Kernel plans that depend on the adapter (attention, VQ search) run both
 * ways. Web APIs only.
 *
 * Results: a table in the page, `document.body.dataset.state = "done"` and `globalThis.selftest`.
 * @module
 */
import type { GpuContext } from "../src/graph/device.ts";
import type { TensorSpec } from "../src/graph/tensor.ts";
import { attention } from "../src/ops/attention.ts";
import { conv2d } from "../src/ops/conv2d.ts";
import { gate } from "../src/ops/elementwise.ts";
import { pixelShuffle, pixelUnshuffle } from "../src/ops/layout.ts";
import { matmul } from "../src/ops/matmul.ts";
import type { OpDef } from "../src/ops/op.ts";
import { vqSearch } from "../src/ops/vq.ts";
import { rng } from "../tests/assert.ts";
import { checkCase, gpu, type OpCase, type Tolerance } from "../tests/harness.ts";

/** One case's outcome. */
export interface SelfTestResult {
  readonly name: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
}

/** What the page publishes when done. */
export interface SelfTestReport {
  readonly adapter: string;
  readonly results: readonly SelfTestResult[];
  readonly ms: number;
}

const f32 = (...shape: number[]): TensorSpec => ({ shape, dtype: "f32" });
const TOL: Tolerance = { atol: 1e-5, rtol: 1e-4 };
const ATTN_TOL: Tolerance = { atol: 2e-5, rtol: 1e-4 };

// deno-lint-ignore no-explicit-any
type AnyCase = OpCase<any> & { plan?: "sw" | "hw" };

/** Rows near known codewords (noise 0.05 ≪ code spacing), so the nearest code is unambiguous. */
function vqCase(rows: number, d: number, k: number, seed: number, plan: "sw" | "hw"): AnyCase {
  const rand = rng(seed);
  const cb = Float32Array.from({ length: k * d }, () => rand() * 2 - 1);
  const x = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    const c = Math.floor(rand() * k);
    for (let e = 0; e < d; e++) x[r * d + e] = cb[c * d + e] + 0.05 * (rand() * 2 - 1);
  }
  // Indices exact; the gap (best − second distance) to f32 rounding of sums of 256 terms.
  return op(`vq_search ${rows}×${d}, K=${k} (${plan})`, vqSearch, {}, [f32(rows, d), f32(k, d)], {
    data: [x, cb],
    tol: { atol: 1e-3, rtol: 1e-3 },
    plan,
  });
}

function attnCase(b: number, t: number, h: number, d: number, plan: "sw" | "hw"): AnyCase {
  const s = f32(b, t, h * d);
  return op(`attention B=${b} T=${t} H=${h} D=${d} (${plan})`, attention, { heads: h }, [s, s, s], {
    tol: ATTN_TOL,
    plan,
  });
}

/** A case with the Deno suite's default tolerance unless `more` says otherwise. */
function op<A>(
  name: string,
  def: OpDef<A>,
  attrs: A,
  inputs: TensorSpec[],
  more: Partial<AnyCase> = {},
): AnyCase {
  return { name, op: def, attrs, inputs, tol: TOL, ...more };
}

/** The subset: the ops ProGIC's graphs are made of, on small shapes (software adapters are slow). */
export function cases(): AnyCase[] {
  const wide = { range: [-2, 2] as [number, number] };
  return [
    op("matmul 65×64×36", matmul, {}, [f32(65, 64), f32(64, 36)]),
    op(
      "matmul 19×12×8 + bias, SiLU, residual",
      matmul,
      { epilogue: { bias: true, act: "silu", residual: true } },
      [f32(19, 12), f32(12, 8), f32(8), f32(19, 8)],
      wide,
    ),
    op(
      "matmul 9×5×3 + tanh, bias, affine, mul, residual",
      matmul,
      { epilogue: { act: "tanh", bias: true, affine: true, mul: true, residual: true } },
      [f32(9, 5), f32(5, 3), f32(3), f32(3), f32(3), f32(9, 3), f32(9, 3)],
      wide,
    ),
    op("conv2d 1×1 (GEMM) + bias, ReLU", conv2d, { epilogue: { bias: true, act: "relu" } }, [
      f32(2, 5, 7, 12),
      f32(1, 1, 12, 20),
      f32(20),
    ]),
    op("conv2d depthwise 3×3", conv2d, { padding: 1, groups: 8 }, [
      f32(1, 9, 11, 8),
      f32(3, 3, 1, 8),
    ]),
    op(
      "conv2d depthwise 7×7 + bias, residual",
      conv2d,
      { padding: 3, groups: 16, epilogue: { bias: true, residual: true } },
      [f32(1, 13, 13, 16), f32(7, 7, 1, 16), f32(16), f32(1, 13, 13, 16)],
    ),
    op("conv2d general 3×3, 12→16", conv2d, { padding: 1 }, [
      f32(1, 10, 9, 12),
      f32(3, 3, 12, 16),
    ]),
    op("conv2d general 3×3 stride 2, 12→8", conv2d, { padding: 1, stride: 2 }, [
      f32(1, 16, 17, 12),
      f32(3, 3, 12, 8),
    ]),
    op("gate ReLU", gate, {}, [f32(2, 3, 5, 34)]),
    op("gate SiLU", gate, { act: "silu" }, [f32(7, 6)]),
    op("pixel_shuffle r=2", pixelShuffle, { r: 2 }, [f32(1, 4, 6, 16)], { tol: "exact" }),
    op("pixel_unshuffle r=8", pixelUnshuffle, { r: 8 }, [f32(1, 16, 32, 3)], { tol: "exact" }),
    vqCase(65, 16, 65, 7, "sw"),
    vqCase(65, 16, 65, 7, "hw"),
    vqCase(12, 256, 1024, 8, "sw"), // ProGIC's shape on a 64×48 image
    vqCase(12, 256, 1024, 8, "hw"),
    attnCase(2, 17, 2, 32, "sw"),
    attnCase(2, 17, 2, 32, "hw"),
    attnCase(2, 17, 3, 6, "sw"), // D % 4 != 0: scalar kernel
  ];
}

/** Runs every case on this page's adapter. */
export async function runSelfTest(
  onResult: (r: SelfTestResult) => void = () => {},
): Promise<SelfTestReport> {
  const t0 = performance.now();
  const ctx = await gpu();
  if (!ctx) throw new Error("no WebGPU adapter: see the demo page for what to do");
  const results: SelfTestResult[] = [];
  let seed = 1;
  for (const c of cases()) {
    const use: GpuContext = c.plan
      ? { ...ctx, caps: { ...ctx.caps, software: c.plan === "sw" } }
      : ctx;
    const t = performance.now();
    let r: SelfTestResult;
    try {
      await checkCase(use, c, seed++);
      r = { name: c.name, ok: true, ms: performance.now() - t };
    } catch (e) {
      r = { name: c.name, ok: false, ms: performance.now() - t, error: String(e) };
    }
    results.push(r);
    onResult(r);
  }
  const a = ctx.adapter;
  return {
    adapter: [a.vendor, a.architecture, a.description].filter(Boolean).join(" / "),
    results,
    ms: performance.now() - t0,
  };
}

async function page(): Promise<void> {
  const body = document.getElementById("results")!;
  const summary = document.getElementById("summary")!;
  try {
    const report = await runSelfTest((r) => {
      const tr = document.createElement("tr");
      tr.className = r.ok ? "ok" : "fail";
      for (const text of [r.name, r.ok ? "ok" : "FAIL", `${r.ms.toFixed(0)} ms`, r.error ?? ""]) {
        tr.append(Object.assign(document.createElement("td"), { textContent: text }));
      }
      body.append(tr);
    });
    const ok = report.results.filter((r) => r.ok).length;
    summary.textContent = `${ok} of ${report.results.length} cases match the CPU references on ` +
      `${report.adapter || "this adapter"} (${(report.ms / 1000).toFixed(1)} s).`;
    (globalThis as { selftest?: SelfTestReport }).selftest = report;
    document.body.dataset.state = "done";
  } catch (e) {
    summary.textContent = String(e);
    document.body.dataset.state = "error";
  }
}

if (globalThis.document?.getElementById("results")) void page();
