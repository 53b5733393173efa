/**
 * The seven workloads of the engine benchmark (issue 3, "Benchmarks"), each expressed three
 * ways: a Tessera graph (weights as graph constants, activations as graph inputs), TF.js ops on
 * pre-created tensors, and an ONNX model from tools/onnx_models.py (weights as initializers)
 * for onnxruntime-web's WebGPU EP. Each workload also knows its exact reference at sampled
 * output positions, so every engine's result is checked, not just compared with the others.
 *
 * Canonical output layout (what results are compared in) is Tessera's: NHWC / row-major.
 * @module
 */
import {
  attention,
  conv2d,
  gate,
  type GpuContext,
  GraphBuilder,
  type HostArray,
  matmul,
  type Value,
  vqSearch,
  webgpuBackend,
  weightsFromTorch,
} from "../../src/engine.ts";
import { hashed, nchwToNhwc, nhwcToNchw, sample, type Samples } from "./data.ts";
import { type Ort, ortSessionOptions, type Tf } from "./peers.ts";

/** One engine's compiled workload. */
export interface Runner {
  /** The timed call: inputs in, result on the host. */
  run(): Promise<unknown>;
  /** Converts what `run` returned into the canonical layout (not timed). */
  canonical(raw: unknown): Float32Array | Int32Array;
  /** Frees the engine's resources for this workload. */
  dispose(): void;
  /** Facts worth reporting (e.g. dispatch count). */
  info?: string;
}

/** How results are checked. */
export type Check =
  | { readonly kind: "float"; readonly samples: () => Samples; readonly tol: number }
  | {
    readonly kind: "argmin";
    /** Exact squared distance of vector `row` to code `code`. */
    readonly dist: (row: number, code: number) => number;
    /** Exact argmin and second-best distance for a row. */
    readonly best: (row: number) => { index: number; d1: number; d2: number };
    readonly rows: number;
    /** Distances closer than this are ties within f32 rounding. */
    readonly tieTol: (row: number) => number;
  };

/** A workload with its data generated. */
export interface Prepared {
  /**
   * Tessera graph, compiled once. `resident`: the activations are graph constants, uploaded once
   * like TF.js's pre-created tensors, instead of graph inputs uploaded every run like ORT's.
   */
  tessera(ctx: GpuContext, resident: boolean): Promise<Runner>;
  /** TF.js ops on tensors created here, outside the timing. */
  tfjs(tf: Tf): Runner;
  /** An onnxruntime-web session over the model bytes. */
  ort(ort: Ort, model: Uint8Array): Promise<Runner>;
  /** Result check. */
  check: Check;
}

/** A benchmark workload. */
export interface Workload {
  /** Short name for `--only` and the ONNX file name. */
  readonly name: string;
  /** Table title. */
  readonly title: string;
  /** Nominal floating-point operations per run (same count for every engine). */
  readonly flops: number;
  /** Minimum bytes moved per run (inputs + weights + outputs), for GB/s of memory-bound ops. */
  readonly bytes?: number;
  /** Bytes of graph inputs (uploaded per run by Tessera and ORT; TF.js keeps them on the GPU). */
  readonly inBytes: number;
  /** Bytes of the output read back per run by every engine. */
  readonly outBytes: number;
  /** Issue 3's target speed-up of Tessera over the faster peer. */
  readonly target: number;
  /** How each engine expresses it (layouts, what the peer does that Tessera fuses). */
  readonly notes: string;
  /** Generates the data. */
  prepare(): Prepared;
}

// ---------------------------------------------------------------- engine adapters

/** A builder whose inputs become constants holding the feeds: nothing to upload per run. */
class ResidentBuilder extends GraphBuilder {
  constructor(readonly feeds: Record<string, HostArray>) {
    super();
  }
  override input(name: string, shape: readonly number[]): Value {
    return this.constant(name, this.feeds[name], shape);
  }
}

async function tesseraRunner(
  ctx: GpuContext,
  resident: boolean,
  build: (g: GraphBuilder) => Value,
  feeds: Record<string, HostArray>,
): Promise<Runner> {
  const g = resident ? new ResidentBuilder(feeds) : new GraphBuilder();
  g.output("y", build(g));
  const exe = await webgpuBackend(ctx).compile(g.build());
  const s = exe.stats;
  return {
    run: () => exe.run(resident ? {} : feeds),
    canonical: (raw) => (raw as Record<string, HostArray>).y as Float32Array | Int32Array,
    dispose: () => exe.dispose(),
    info: `${s.nodes} ops, ${s.dispatches} dispatches, plan ${
      (s.peakBytes / 2 ** 20).toFixed(1)
    } MiB`,
  };
}

type TfTensor = ReturnType<Tf["tensor"]>;
type T4 = ReturnType<Tf["tensor4d"]>;

function tfRunner(tf: Tf, keep: TfTensor[], fn: () => TfTensor): Runner {
  return {
    run: async () => {
      const r = fn();
      try {
        return await r.data();
      } finally {
        r.dispose();
      }
    },
    canonical: (raw) => raw as Float32Array | Int32Array,
    dispose: () => {
      keep.forEach((t) => t.dispose());
      tf.disposeVariables();
    },
  };
}

async function ortRunner(
  ort: Ort,
  model: Uint8Array,
  feeds: Record<string, { data: Float32Array; dims: number[] }>,
  canonical: (data: unknown) => Float32Array | Int32Array = (d) => d as Float32Array,
): Promise<Runner> {
  const session = await ort.InferenceSession.create(model, ortSessionOptions);
  const tensors: Record<string, InstanceType<Ort["Tensor"]>> = {};
  for (const [name, f] of Object.entries(feeds)) {
    tensors[name] = new ort.Tensor("float32", f.data, f.dims);
  }
  const out = session.outputNames[0];
  return {
    run: () => session.run(tensors),
    canonical: (raw) => canonical((raw as Record<string, { data: unknown }>)[out].data),
    dispose: () => void session.release(),
  };
}

/** Tessera conv weights `[KH, KW, Cin/g, Cout]` (= TF.js HWIO; depthwise: TF.js `[KH, KW, C, 1]`). */
function hwio(w: Float32Array, oihw: readonly number[]): Float32Array {
  return weightsFromTorch(w, oihw);
}

/** ORT runner for a one-input NCHW model, fed from and read back as NHWC `[1, h, w, c]`. */
function ortNhwcRunner(
  ort: Ort,
  model: Uint8Array,
  x: Float32Array,
  h: number,
  w: number,
  c: number,
): Promise<Runner> {
  return ortRunner(
    ort,
    model,
    { X: { data: nhwcToNchw(x, 1, h, w, c), dims: [1, c, h, w] } },
    (d) => nchwToNhwc(d as Float32Array, 1, c, h, w),
  );
}

/**
 * Reference for element `i` of a 3×3, pad-1, C→C convolution with `groups` groups on an NHWC
 * `[1, h, w, c]` input, from PyTorch-layout weights `[C, C/groups, 3, 3]`.
 */
function conv3x3At(
  x: Float32Array,
  wt: Float32Array,
  h: number,
  w: number,
  c: number,
  groups: number,
): (i: number) => number {
  const cg = c / groups;
  return (i) => {
    const co = i % c, px = Math.floor(i / c), y = Math.floor(px / w), xx = px % w;
    const ci0 = Math.floor(co / cg) * cg;
    let s = 0;
    for (let ky = 0; ky < 3; ky++) {
      for (let kx = 0; kx < 3; kx++) {
        const iy = y + ky - 1, ix = xx + kx - 1;
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
        for (let ci = 0; ci < cg; ci++) {
          s += wt[((co * cg + ci) * 3 + ky) * 3 + kx] * x[(iy * w + ix) * c + ci0 + ci];
        }
      }
    }
    return s;
  };
}

// ---------------------------------------------------------------- workloads

function gemmWorkload(name: string, m: number, k: number, n: number): Workload {
  const scale = k > 256 ? 1 / 32 : 1 / 16; // as tools/onnx_models.py
  return {
    name,
    title: `GEMM [${m}×${k}]·[${k}×${n}]`,
    flops: 2 * m * n * k,
    inBytes: 4 * m * k,
    outBytes: 4 * m * n,
    target: 2,
    notes: "Tessera `matmul`; TF.js `tf.matMul`; ORT `MatMul` (B an initializer).",
    prepare() {
      const a = hashed(`${name}.A`, m * k);
      const b = hashed(`${name}.B`, k * n, scale);
      return {
        tessera: (ctx, resident) =>
          tesseraRunner(ctx, resident, (g) => {
            const x = g.input("a", [m, k]);
            return g.op1(matmul, [x, g.constant("b", b, [k, n])], {});
          }, { a }),
        tfjs: (tf) => {
          const ta = tf.tensor2d(a, [m, k]), tb = tf.tensor2d(b, [k, n]);
          return tfRunner(tf, [ta, tb], () => tf.matMul(ta, tb));
        },
        ort: (ort, model) => ortRunner(ort, model, { A: { data: a, dims: [m, k] } }),
        check: {
          kind: "float",
          tol: 1e-4,
          samples: () =>
            sample(m * n, 512, (i) => {
              const r = Math.floor(i / n), c = i % n;
              let s = 0;
              for (let j = 0; j < k; j++) s += a[r * k + j] * b[j * n + c];
              return s;
            }),
        },
      };
    },
  };
}

const DW = { h: 64, w: 64, c: 256 };

const depthwise: Workload = {
  name: "dw3x3",
  title: "depthwise 3×3, 64×64×256, pad 1",
  flops: 2 * DW.h * DW.w * DW.c * 9,
  bytes: 4 * (2 * DW.h * DW.w * DW.c + 9 * DW.c),
  inBytes: 4 * DW.h * DW.w * DW.c,
  outBytes: 4 * DW.h * DW.w * DW.c,
  target: 1.5,
  notes: "Tessera `conv2d` groups=C, NHWC; TF.js `tf.depthwiseConv2d` NHWC 'same'; " +
    "ORT `Conv` group=256 on NCHW input; the EP runs 3 nodes (Transpose → NHWC Conv → " +
    "Transpose), all on WebGPU.",
  prepare() {
    const { h, w, c } = DW;
    const x = hashed("dw3x3.X", h * w * c);
    const wt = hashed("dw3x3.W", c * 9, 0.25); // [C, 1, 3, 3]
    const wh = hwio(wt, [c, 1, 3, 3]); // [3, 3, 1, C]
    return {
      tessera: (ctx, resident) =>
        tesseraRunner(ctx, resident, (g) => {
          const v = g.input("x", [1, h, w, c]);
          return g.op1(conv2d, [v, g.constant("w", wh, [3, 3, 1, c])], { padding: 1, groups: c });
        }, { x }),
      tfjs: (tf) => {
        const tx = tf.tensor4d(x, [1, h, w, c]), tw = tf.tensor4d(wh, [3, 3, c, 1]);
        return tfRunner(tf, [tx, tw], () => tf.depthwiseConv2d(tx, tw, 1, "same"));
      },
      ort: (ort, model) => ortNhwcRunner(ort, model, x, h, w, c),
      check: {
        kind: "float",
        tol: 1e-5,
        samples: () => sample(h * w * c, 1024, conv3x3At(x, wt, h, w, c, c)),
      },
    };
  },
};

const CV = { h: 128, w: 128, c: 128 };

const conv3x3: Workload = {
  name: "conv3x3",
  title: "conv 3×3 128→128, 128×128, pad 1",
  flops: 2 * CV.h * CV.w * CV.c * CV.c * 9,
  inBytes: 4 * CV.h * CV.w * CV.c,
  outBytes: 4 * CV.h * CV.w * CV.c,
  target: 1.5,
  notes: "Tessera `conv2d` NHWC, weights [3,3,Cin,Cout]; TF.js `tf.conv2d` NHWC 'same', HWIO; " +
    "ORT `Conv` NCHW/OIHW; the EP runs Transpose → NHWC Conv → Transpose, all on WebGPU.",
  prepare() {
    const { h, w, c } = CV;
    const x = hashed("conv3x3.X", h * w * c);
    const wt = hashed("conv3x3.W", c * c * 9, 1 / 32); // [Cout, Cin, 3, 3]
    const wh = hwio(wt, [c, c, 3, 3]);
    return {
      tessera: (ctx, resident) =>
        tesseraRunner(ctx, resident, (g) => {
          const v = g.input("x", [1, h, w, c]);
          return g.op1(conv2d, [v, g.constant("w", wh, [3, 3, c, c])], { padding: 1 });
        }, { x }),
      tfjs: (tf) => {
        const tx = tf.tensor4d(x, [1, h, w, c]), tw = tf.tensor4d(wh, [3, 3, c, c]);
        return tfRunner(tf, [tx, tw], () => tf.conv2d(tx, tw, 1, "same"));
      },
      ort: (ort, model) => ortNhwcRunner(ort, model, x, h, w, c),
      check: {
        kind: "float",
        tol: 1e-4,
        samples: () => sample(h * w * c, 512, conv3x3At(x, wt, h, w, c, 1)),
      },
    };
  },
};

const AT = { b: 256, t: 64, h: 8, d: 32 };

const windowAttention: Workload = {
  name: "attention",
  title: "window attention 256 win × 64 tok × 8 heads × 32",
  flops: AT.b * AT.h * AT.t * AT.t * (4 * AT.d + 3),
  inBytes: 3 * 4 * AT.b * AT.t * AT.h * AT.d,
  outBytes: 4 * AT.b * AT.t * AT.h * AT.d,
  target: 1.5,
  notes: "Tessera one `attention` op on q,k,v [256,64,256]; TF.js and ORT: reshape → transpose " +
    "→ batched matMul(q,kᵀ) → ·scale → softmax → matMul(·,v) → transpose → reshape " +
    "(ORT keeps all 12 nodes, on WebGPU).",
  prepare() {
    const { b, t, h, d } = AT;
    const c = h * d;
    const n = b * t * c;
    const q = hashed("attention.q", n), k = hashed("attention.k", n), v = hashed("attention.v", n);
    const scale = 1 / Math.sqrt(d);
    return {
      tessera: (ctx, resident) =>
        tesseraRunner(ctx, resident, (g) => {
          const [qi, ki, vi] = ["q", "k", "v"].map((s) => g.input(s, [b, t, c]));
          return g.op1(attention, [qi, ki, vi], { heads: h });
        }, { q, k, v }),
      tfjs: (tf) => {
        const [tq, tk, tv] = [q, k, v].map((a) => tf.tensor3d(a, [b, t, c]));
        const ts = tf.scalar(scale);
        const heads = (x: TfTensor) => tf.transpose(tf.reshape(x, [b, t, h, d]), [0, 2, 1, 3]);
        return tfRunner(tf, [tq, tk, tv, ts], () =>
          tf.tidy(() => {
            const s = tf.mul(tf.matMul(heads(tq), heads(tk), false, true), ts);
            const o = tf.matMul(tf.softmax(s), heads(tv));
            return tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [b, t, c]);
          }));
      },
      ort: (ort, model) =>
        ortRunner(ort, model, {
          q: { data: q, dims: [b, t, c] },
          k: { data: k, dims: [b, t, c] },
          v: { data: v, dims: [b, t, c] },
        }),
      check: {
        kind: "float",
        tol: 1e-4,
        samples: () =>
          sample(n, 512, (i) => {
            const ch = i % c, tok = Math.floor(i / c) % t, bi = Math.floor(i / (t * c));
            const hd = Math.floor(ch / d), e = ch % d;
            const qo = (bi * t + tok) * c + hd * d;
            const s = new Float64Array(t);
            let m = -Infinity;
            for (let j = 0; j < t; j++) {
              let dot = 0;
              for (let z = 0; z < d; z++) dot += q[qo + z] * k[(bi * t + j) * c + hd * d + z];
              s[j] = dot * scale;
              m = Math.max(m, s[j]);
            }
            let sum = 0, acc = 0;
            for (let j = 0; j < t; j++) {
              const p = Math.exp(s[j] - m);
              sum += p;
              acc += p * v[(bi * t + j) * c + hd * d + e];
            }
            return acc / sum;
          }),
      },
    };
  },
};

const VQ = { m: 4096, k: 1024, d: 256 };

const vq: Workload = {
  name: "vq",
  title: "VQ search 4096 vec × 1024 codes × 256",
  flops: 2 * VQ.m * VQ.k * VQ.d,
  inBytes: 4 * VQ.m * VQ.d,
  outBytes: 4 * VQ.m,
  target: 1.5,
  notes: "Tessera `vq_search` (fused GEMM + argmin); TF.js and ORT: argMin(‖c‖² − x·(2cᵀ)) " +
    "with ‖c‖² and 2cᵀ precomputed as weights, i.e. a MatMul, a Sub and an ArgMin (ORT: " +
    "3 nodes on WebGPU, int64 indices).",
  prepare() {
    const { m, k, d } = VQ;
    const x = hashed("vq.X", m * d);
    const cb = hashed("vq.codebook", k * d); // [K, D]
    const twoCT = new Float32Array(d * k);
    const norms = new Float32Array(k);
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let e = 0; e < d; e++) {
        const cv = cb[j * d + e];
        twoCT[e * k + j] = 2 * cv;
        s += cv * cv;
      }
      norms[j] = s;
    }
    const dist = (row: number, code: number) => {
      let s = 0;
      for (let e = 0; e < d; e++) {
        const t = x[row * d + e] - cb[code * d + e];
        s += t * t;
      }
      return s;
    };
    let xNormMax = 0;
    for (let r = 0; r < m; r++) {
      let s = 0;
      for (let e = 0; e < d; e++) s += x[r * d + e] ** 2;
      xNormMax = Math.max(xNormMax, s);
    }
    let cNormMax = 0;
    for (const v of norms) cNormMax = Math.max(cNormMax, v);
    return {
      tessera: (ctx, resident) =>
        tesseraRunner(ctx, resident, (g) => {
          const xi = g.input("x", [m, d]);
          return g.op(vqSearch, [xi, g.constant("codebook", cb, [k, d])], {})[0];
        }, { x }),
      tfjs: (tf) => {
        const tx = tf.tensor2d(x, [m, d]), tc = tf.tensor2d(twoCT, [d, k]);
        const tn = tf.tensor1d(norms);
        return tfRunner(
          tf,
          [tx, tc, tn],
          () => tf.tidy(() => tf.argMin(tf.sub(tn, tf.matMul(tx, tc)), 1)),
        );
      },
      ort: (ort, model) =>
        ortRunner(ort, model, { X: { data: x, dims: [m, d] } }, (data) => {
          // ArgMin gives int64.
          const a = data as BigInt64Array | Int32Array;
          return a instanceof Int32Array ? a : Int32Array.from(a, (v) => Number(v));
        }),
      check: {
        kind: "argmin",
        rows: m,
        dist,
        best: (row) => {
          let d1 = Infinity, d2 = Infinity, index = 0;
          for (let j = 0; j < k; j++) {
            const s = dist(row, j);
            if (s < d1) {
              d2 = d1;
              d1 = s;
              index = j;
            } else if (s < d2) d2 = s;
          }
          return { index, d1, d2 };
        },
        // f32 evaluation of ‖c‖² − 2x·c: a few ulps of the largest terms.
        tieTol: () => 64 * 2 ** -23 * (xNormMax + 2 * cNormMax),
      },
    };
  },
};

const CODEC = { blocks: 8, c: 256, size: 64 };

interface BlockWeights {
  pw1: Float32Array;
  pw1b: Float32Array;
  dw: Float32Array;
  dwb: Float32Array;
  pw2: Float32Array;
  pw2b: Float32Array;
  ffn1: Float32Array;
  ffn1b: Float32Array;
  ffn2: Float32Array;
  ffn2b: Float32Array;
}

/** Weights in the logical OIHW layout, named as in tools/onnx_models.py. */
function codecWeights(i: number): BlockWeights {
  const { c } = CODEC;
  const p = `codec.${i}.`;
  const w = (n: string, count: number, scale: number) => hashed(p + n, count, scale);
  return {
    pw1: w("pw1", c * c, 1 / 16),
    pw1b: w("pw1.b", c, 1 / 16),
    dw: w("dw", c * 9, 0.25),
    dwb: w("dw.b", c, 1 / 16),
    pw2: w("pw2", c * c, 1 / 16),
    pw2b: w("pw2.b", c, 1 / 16),
    ffn1: w("ffn1", 4 * c * c, 1 / 16),
    ffn1b: w("ffn1.b", 4 * c, 1 / 16),
    ffn2: w("ffn2", c * 2 * c, 1 / 32),
    ffn2b: w("ffn2.b", c, 1 / 16),
  };
}

/** Per block: 1×1 256→256, dw 3×3, 1×1 256→256, 1×1 256→1024, 1×1 512→256 (MACs ×2). */
const CODEC_FLOPS = CODEC.blocks * CODEC.size ** 2 *
  (2 * (CODEC.c * CODEC.c * 2 + 9 * CODEC.c + 4 * CODEC.c * CODEC.c + 2 * CODEC.c * CODEC.c));

/**
 * Exact float64 evaluation of the codec graph at one output pixel: runs the blocks on the
 * pixel's receptive field (radius 8, clipped at the image border), shrinking it by one pixel per
 * depthwise convolution on every side not at the border.
 */
function codecRefPixel(
  x: Float32Array,
  blocks: BlockWeights[],
  py: number,
  px: number,
): Float64Array {
  const { c, size } = CODEC;
  let r = {
    y0: Math.max(0, py - blocks.length),
    y1: Math.min(size, py + blocks.length + 1),
    x0: Math.max(0, px - blocks.length),
    x1: Math.min(size, px + blocks.length + 1),
  };
  type R = typeof r;
  const area = (q: R) => (q.y1 - q.y0) * (q.x1 - q.x0);
  let cur = new Float64Array(area(r) * c);
  for (let y = r.y0; y < r.y1; y++) {
    for (let xx = r.x0; xx < r.x1; xx++) {
      const o = ((y - r.y0) * (r.x1 - r.x0) + xx - r.x0) * c;
      for (let k = 0; k < c; k++) cur[o + k] = x[(y * size + xx) * c + k];
    }
  }
  const pointwise = (
    inp: Float64Array,
    cin: number,
    w: Float32Array,
    b: Float32Array,
    cout: number,
  ) => {
    const pixels = inp.length / cin;
    const out = new Float64Array(pixels * cout);
    for (let p = 0; p < pixels; p++) {
      for (let o = 0; o < cout; o++) {
        let s = b[o];
        for (let i = 0; i < cin; i++) s += w[o * cin + i] * inp[p * cin + i];
        out[p * cout + o] = s;
      }
    }
    return out;
  };
  const crop = (inp: Float64Array, from: R, to: R) => {
    const out = new Float64Array(area(to) * c);
    for (let y = to.y0; y < to.y1; y++) {
      for (let xx = to.x0; xx < to.x1; xx++) {
        const src = ((y - from.y0) * (from.x1 - from.x0) + xx - from.x0) * c;
        const dst = ((y - to.y0) * (to.x1 - to.x0) + xx - to.x0) * c;
        out.set(inp.subarray(src, src + c), dst);
      }
    }
    return out;
  };
  for (const bw of blocks) {
    let hdn = pointwise(cur, c, bw.pw1, bw.pw1b, c).map((v) => v > 0 ? v : 0);
    const nr: R = {
      y0: r.y0 === 0 ? 0 : r.y0 + 1,
      y1: r.y1 === size ? size : r.y1 - 1,
      x0: r.x0 === 0 ? 0 : r.x0 + 1,
      x1: r.x1 === size ? size : r.x1 - 1,
    };
    const dwOut = new Float64Array(area(nr) * c);
    const rw = r.x1 - r.x0;
    for (let y = nr.y0; y < nr.y1; y++) {
      for (let xx = nr.x0; xx < nr.x1; xx++) {
        const o = ((y - nr.y0) * (nr.x1 - nr.x0) + xx - nr.x0) * c;
        for (let k = 0; k < c; k++) {
          let s = bw.dwb[k];
          for (let ky = 0; ky < 3; ky++) {
            for (let kx = 0; kx < 3; kx++) {
              const iy = y + ky - 1, ix = xx + kx - 1;
              if (iy < 0 || iy >= size || ix < 0 || ix >= size) continue;
              s += bw.dw[k * 9 + ky * 3 + kx] * hdn[((iy - r.y0) * rw + ix - r.x0) * c + k];
            }
          }
          dwOut[o + k] = s;
        }
      }
    }
    hdn = dwOut;
    const res = crop(cur, r, nr);
    const y = pointwise(hdn, c, bw.pw2, bw.pw2b, c).map((v, i) => v + res[i]);
    const f = pointwise(y, c, bw.ffn1, bw.ffn1b, 4 * c);
    const pixels = y.length / c;
    const u = new Float64Array(pixels * 2 * c);
    for (let p = 0; p < pixels; p++) {
      for (let k = 0; k < 2 * c; k++) {
        const a = f[p * 4 * c + k];
        u[p * 2 * c + k] = (a > 0 ? a : 0) * f[p * 4 * c + 2 * c + k];
      }
    }
    cur = pointwise(u, 2 * c, bw.ffn2, bw.ffn2b, c).map((v, i) => v + y[i]);
    r = nr;
  }
  return crop(cur, r, { y0: py, y1: py + 1, x0: px, x1: px + 1 });
}

const codec: Workload = {
  name: "codec",
  title: "codec graph: 8 DepthConv blocks, 256 ch, 64×64",
  flops: CODEC_FLOPS,
  inBytes: 4 * CODEC.size ** 2 * CODEC.c,
  outBytes: 4 * CODEC.size ** 2 * CODEC.c,
  target: 2,
  notes: "Per block: 1×1 → ReLU → dw3×3 → 1×1 (+x), gated FFN 1×1 256→1024 → " +
    "ReLU(first half)·second half → 1×1 512→256 (+y); biases everywhere. Tessera: 6 ops per " +
    "block (bias/ReLU/residual in conv epilogues, `gate` op); TF.js: `tf.fused.conv2d` / " +
    "`tf.fused.depthwiseConv2d` with bias+ReLU, `tf.add`, `tf.split`, `tf.relu`, `tf.mul`; " +
    "ORT: Conv/Relu/Add/Split/Mul graph on NCHW (88 nodes in the file); ORT's optimizer and " +
    "NHWC layout pass leave 82 nodes, all on WebGPU.",
  prepare() {
    const { blocks, c, size } = CODEC;
    const x = hashed("codec.X", size * size * c);
    const ws = Array.from({ length: blocks }, (_, i) => codecWeights(i));
    const pw = (w: Float32Array, cout: number, cin: number) => hwio(w, [cout, cin, 1, 1]);
    const conv = ws.map((b) => ({
      pw1: pw(b.pw1, c, c),
      dw: hwio(b.dw, [c, 1, 3, 3]),
      pw2: pw(b.pw2, c, c),
      ffn1: pw(b.ffn1, 4 * c, c),
      ffn2: pw(b.ffn2, c, 2 * c),
    }));
    const pixels: [number, number][] = [[0, 0], [size - 1, size - 1], [0, 37]];
    return {
      tessera: (ctx, resident) =>
        tesseraRunner(ctx, resident, (g) => {
          let v = g.input("x", [1, size, size, c]);
          conv.forEach((k, i) => {
            const b = ws[i];
            const cst = (n: string, data: Float32Array, shape: number[]) =>
              g.constant(`b${i}.${n}`, data, shape);
            const ep = { bias: true };
            let h = g.op1(conv2d, [v, cst("pw1", k.pw1, [1, 1, c, c]), cst("pw1b", b.pw1b, [c])], {
              epilogue: { ...ep, act: "relu" },
            });
            h = g.op1(conv2d, [h, cst("dw", k.dw, [3, 3, 1, c]), cst("dwb", b.dwb, [c])], {
              padding: 1,
              groups: c,
              epilogue: ep,
            });
            const y = g.op1(
              conv2d,
              [h, cst("pw2", k.pw2, [1, 1, c, c]), cst("pw2b", b.pw2b, [c]), v],
              { epilogue: { ...ep, residual: true } },
            );
            const f = g.op1(
              conv2d,
              [y, cst("ffn1", k.ffn1, [1, 1, c, 4 * c]), cst("ffn1b", b.ffn1b, [4 * c])],
              { epilogue: ep },
            );
            const u = g.op1(gate, [f], { act: "relu" });
            v = g.op1(
              conv2d,
              [u, cst("ffn2", k.ffn2, [1, 1, 2 * c, c]), cst("ffn2b", b.ffn2b, [c]), y],
              { epilogue: { ...ep, residual: true } },
            );
          });
          return v;
        }, { x }),
      tfjs: (tf) => {
        const keep: TfTensor[] = [];
        const t4 = (a: Float32Array, s: [number, number, number, number]) => {
          const t = tf.tensor4d(a, s);
          keep.push(t);
          return t;
        };
        const t1 = (a: Float32Array) => {
          const t = tf.tensor1d(a);
          keep.push(t);
          return t;
        };
        const tx = t4(x, [1, size, size, c]);
        const tw = conv.map((k, i) => ({
          pw1: t4(k.pw1, [1, 1, c, c]),
          pw1b: t1(ws[i].pw1b),
          dw: t4(k.dw, [3, 3, c, 1]),
          dwb: t1(ws[i].dwb),
          pw2: t4(k.pw2, [1, 1, c, c]),
          pw2b: t1(ws[i].pw2b),
          ffn1: t4(k.ffn1, [1, 1, c, 4 * c]),
          ffn1b: t1(ws[i].ffn1b),
          ffn2: t4(k.ffn2, [1, 1, 2 * c, c]),
          ffn2b: t1(ws[i].ffn2b),
        }));
        return tfRunner(tf, keep, () =>
          tf.tidy(() => {
            let v: T4 = tx;
            for (const w of tw) {
              let h = tf.fused.conv2d({
                x: v,
                filter: w.pw1,
                strides: 1,
                pad: "valid",
                bias: w.pw1b,
                activation: "relu",
              });
              h = tf.fused.depthwiseConv2d({
                x: h,
                filter: w.dw,
                strides: 1,
                pad: "same",
                bias: w.dwb,
              });
              const y = tf.add<T4>(
                tf.fused.conv2d({ x: h, filter: w.pw2, strides: 1, pad: "valid", bias: w.pw2b }),
                v,
              );
              const f = tf.fused.conv2d({
                x: y,
                filter: w.ffn1,
                strides: 1,
                pad: "valid",
                bias: w.ffn1b,
              });
              const [a, b] = tf.split(f, 2, 3);
              const u = tf.mul<T4>(tf.relu(a), b);
              v = tf.add<T4>(
                tf.fused.conv2d({ x: u, filter: w.ffn2, strides: 1, pad: "valid", bias: w.ffn2b }),
                y,
              );
            }
            return v;
          }));
      },
      ort: (ort, model) => ortNhwcRunner(ort, model, x, size, size, c),
      check: {
        kind: "float",
        tol: 1e-4,
        samples: () => {
          const at: number[] = [], want: number[] = [];
          for (const [py, px] of pixels) {
            const v = codecRefPixel(x, ws, py, px);
            for (let k = 0; k < c; k++) {
              at.push((py * size + px) * c + k);
              want.push(v[k]);
            }
          }
          return { at, want };
        },
      },
    };
  },
};

/** All workloads in issue order. */
export const WORKLOADS: readonly Workload[] = [
  gemmWorkload("gemm1024", 1024, 1024, 1024),
  gemmWorkload("gemm4096", 4096, 256, 1024),
  depthwise,
  conv3x3,
  windowAttention,
  vq,
  codec,
];
