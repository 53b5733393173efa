/**
 * Matrix product with a fused epilogue: `[..., M, K] · [K, N]` or batched
 * `[B, M, K] · [B, K, N]`. A pointwise (1×1) convolution over NHWC data is this op on
 * `[N·H·W, Cin] · [Cin, Cout]`.
 * @module
 */
import type { HostArray, TensorSpec } from "../graph/tensor.ts";
import { numel } from "../graph/tensor.ts";
import matmulWgsl from "../../shaders/matmul.wgsl" with { type: "text" };
import matmulScalarWgsl from "../../shaders/matmul_scalar.wgsl" with { type: "text" };
import matmulSwWgsl from "../../shaders/matmul_sw.wgsl" with { type: "text" };
import {
  applyEpilogueCpu,
  checkEpilogue,
  type Epilogue,
  epilogueArity,
  epilogueGpu,
  withEpilogue,
} from "./epilogue.ts";
import { cdiv, check, desc, type OpDef, uniforms } from "./op.ts";

/** Attributes of {@link matmul}. */
export interface MatmulAttrs {
  /** Fused epilogue; its extra inputs follow A and B. */
  readonly epilogue?: Epilogue;
}

interface Dims {
  batch: number;
  m: number;
  k: number;
  n: number;
  batchedB: boolean;
}

function dims(a: TensorSpec, b: TensorSpec): Dims {
  const k = a.shape[a.shape.length - 1];
  const n = b.shape[b.shape.length - 1];
  const batchedB = b.shape.length === 3;
  const batch = batchedB ? b.shape[0] : 1;
  const m = batchedB ? a.shape[a.shape.length - 2] : numel(a.shape) / k;
  return { batch, m, k, n, batchedB };
}

const KERNEL_VEC4 = withEpilogue(matmulWgsl);
const KERNEL_SW = withEpilogue(matmulSwWgsl);
const KERNEL_SCALAR = withEpilogue(matmulScalarWgsl);

/** `C = A · B` then the epilogue. Inputs: A, B, then the epilogue's tensors. */
export const matmul: OpDef<MatmulAttrs> = {
  type: "matmul",
  infer(inputs, attrs, name) {
    check(inputs.length >= 2, "matmul", name, "expects inputs A and B");
    const [a, b] = inputs;
    check(
      a.dtype === "f32" && b.dtype === "f32",
      "matmul",
      name,
      `A and B must be f32, got ${desc(a)}, ${desc(b)}`,
    );
    check(a.shape.length >= 2, "matmul", name, `A must have rank ≥ 2, got ${desc(a)}`);
    check(
      b.shape.length === 2 || (b.shape.length === 3 && a.shape.length === 3 &&
        a.shape[0] === b.shape[0]),
      "matmul",
      name,
      `B must be [K, N], or [B, K, N] with A [B, M, K]; got A ${desc(a)}, B ${desc(b)}`,
    );
    const k = a.shape[a.shape.length - 1];
    const kb = b.shape[b.shape.length - 2];
    check(k === kb, "matmul", name, `inner dimensions differ: A ${desc(a)} · B ${desc(b)}`);
    const out: TensorSpec = {
      shape: [...a.shape.slice(0, -1), b.shape[b.shape.length - 1]],
      dtype: "f32",
    };
    checkEpilogue("matmul", name, inputs, 2, attrs.epilogue ?? {}, out);
    return [out];
  },
  cpu(inputs, specs, attrs) {
    const [a, b] = inputs as Float32Array[];
    const { batch, m, k, n, batchedB } = dims(specs[0], specs[1]);
    const out = new Float32Array(batch * m * n);
    const acc = new Float64Array(n);
    for (let bt = 0; bt < batch; bt++) {
      const bOff = batchedB ? bt * k * n : 0;
      for (let i = 0; i < m; i++) {
        acc.fill(0);
        const aRow = (bt * m + i) * k;
        for (let kk = 0; kk < k; kk++) {
          const av = a[aRow + kk];
          const bRow = bOff + kk * n;
          for (let j = 0; j < n; j++) acc[j] += av * b[bRow + j];
        }
        out.set(acc, (bt * m + i) * n);
      }
    }
    return [applyEpilogueCpu(out, n, inputs as HostArray[], 2, attrs.epilogue)];
  },
  gpu(inputs, _outputs, attrs, caps) {
    const { batch, m, k, n, batchedB } = dims(inputs[0], inputs[1]);
    const vec4 = k % 4 === 0 && n % 4 === 0;
    const u = vec4 ? 4 : 1;
    const ep = epilogueGpu(attrs.epilogue, 2);
    // Rows × vec4 columns per thread of each kernel; the workgroup is 16 × 8 threads.
    const [code, label, tm, tn] = !vec4
      ? [KERNEL_SCALAR, "matmul_scalar", 4, 1]
      : caps.software
      ? [KERNEL_SW, "matmul_sw", 32, 2]
      : [KERNEL_VEC4, "matmul", 8, 1];
    return {
      launches: [{
        label,
        code,
        constants: ep.constants,
        bindings: [
          { slot: 0, access: "read", ref: { input: 0 } },
          { slot: 1, access: "read", ref: { input: 1 } },
          { slot: 2, access: "write", ref: { output: 0 } },
          ...ep.bindings,
          {
            slot: 15,
            access: "uniform",
            ref: {
              uniform: uniforms([m, n, k, m * k / u, batchedB ? k * n / u : 0, m * n / u]),
            },
          },
        ],
        workgroups: vec4
          ? [cdiv(n / 4, 16 * tn), cdiv(m, 8 * tm), batch]
          : [cdiv(n, 64), cdiv(m, tm), batch],
      }],
    };
  },
  flops(inputs, attrs) {
    const { batch, m, k, n } = dims(inputs[0], inputs[1]);
    return 2 * batch * m * n * k + epilogueArity(attrs.epilogue) * batch * m * n;
  },
};
