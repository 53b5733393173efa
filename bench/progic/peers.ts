/**
 * The peers of the ProGIC benchmark: the same model exported to ONNX by
 * tools/export_onnx_progic.py and run by onnxruntime-web's WebGPU EP (loaded as in the engine
 * benchmark, bench/engine/peers.ts), and the PyTorch twin on the CPU (bench/progic/torch_bench.py).
 * @module
 */
import { sha256Hex } from "../../src/io/safetensors.ts";
import type { Ort } from "../engine/peers.ts";

const EXPORT_SCRIPT = new URL("../../tools/export_onnx_progic.py", import.meta.url);
const TORCH_SCRIPT = new URL("./torch_bench.py", import.meta.url);

/** The Python that has torch 1.13 and onnx (Debian's python3-torch, python3-onnx). */
export function python(): string {
  return Deno.env.get("TESSERA_PYTHON") ?? "/usr/bin/python3";
}

/** File names of one size's ONNX models. */
export function onnxFiles(
  width: number,
  height: number,
  stages: number,
): { enc: string; dec: string } {
  return { enc: `enc_${width}x${height}.onnx`, dec: `dec${stages}_${width}x${height}.onnx` };
}

/**
 * Makes sure `dir` holds the encoder and decoder of every size, exported by the current
 * script from the current weights; exports the missing or stale ones.
 */
export async function ensureOnnx(
  dir: string,
  weightsPath: string,
  weightsSha: string,
  sizes: readonly [number, number][],
  stages: number,
): Promise<void> {
  const script = await sha256Hex(await Deno.readFile(EXPORT_SCRIPT));
  let manifest: Record<string, { script_sha256?: string; weights_sha256?: string }> = {};
  try {
    manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
  } catch { /* none yet */ }
  const stale: string[] = [];
  for (const [w, h] of sizes) {
    const ok = await Promise.all(
      Object.values(onnxFiles(w, h, stages)).map(async (f) => {
        const m = manifest[f];
        if (m?.script_sha256 !== script || m?.weights_sha256 !== weightsSha) return false;
        return await Deno.stat(`${dir}/${f}`).then(() => true, () => false);
      }),
    );
    if (!ok.every(Boolean)) stale.push(`${w}x${h}`);
  }
  if (!stale.length) return;
  console.error(`exporting ONNX models for ${stale.join(", ")} to ${dir}`);
  const out = await new Deno.Command(python(), {
    args: [
      EXPORT_SCRIPT.pathname,
      "--weights",
      weightsPath,
      "--sizes",
      stale.join(","),
      "--out",
      dir,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output().catch((e) => {
    throw new Error(`could not run ${python()} (${e}); it needs Debian's python3-torch`);
  });
  if (!out.success) throw new Error(`tools/export_onnx_progic.py failed (exit ${out.code})`);
}

/** An onnxruntime-web session with the feeds of one timed run prepared. */
export interface OrtModel {
  /** ms to create the session (parse, optimize, upload initializers). */
  readonly createMs: number;
  /** One `session.run` with CPU tensors in and out; int64 outputs come back as Int32Array. */
  run(): Promise<Record<string, Float32Array | Int32Array>>;
  release(): Promise<void>;
}

/** Creates a session for `bytes` and binds `feeds` (float32 or int32 CPU tensors). */
export async function ortModel(
  ort: Ort,
  bytes: Uint8Array,
  options: Parameters<Ort["InferenceSession"]["create"]>[1],
  feeds: Record<string, { data: Float32Array | Int32Array; dims: number[] }>,
): Promise<OrtModel> {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(bytes, options);
  const createMs = performance.now() - t0;
  const tensors: Record<string, InstanceType<Ort["Tensor"]>> = {};
  for (const [name, f] of Object.entries(feeds)) {
    tensors[name] = f.data instanceof Int32Array
      ? new ort.Tensor("int32", f.data, f.dims)
      : new ort.Tensor("float32", f.data, f.dims);
  }
  return {
    createMs,
    async run() {
      const res = await session.run(tensors);
      const out: Record<string, Float32Array | Int32Array> = {};
      for (const [k, t] of Object.entries(res)) {
        const d = t.data;
        // int64 (ArgMin's type) narrowed here: a few thousand indices, microseconds.
        if (d instanceof BigInt64Array) out[k] = Int32Array.from(d, Number);
        else if (d instanceof Float32Array || d instanceof Int32Array) out[k] = d;
        else {throw new Error(
            `ORT output "${k}" has type ${t.type}, expected float32 or int(32|64)`,
          );}
      }
      return out;
    },
    release: () => session.release(),
  };
}

/** Timings of one operation in ms. */
export interface Timing {
  /** The first run (compilation included where the engine compiles lazily). */
  first: number;
  /** Timed runs after warm-up. */
  times: number[];
}

/** What torch_bench.py reports. */
export interface TorchReport {
  torch: string;
  /** "cpu", or the CUDA device's name. */
  device?: string;
  threads: number;
  mkldnn: boolean;
  blas: string;
  results: { size: string; encode: Timing; decode: Timing }[];
}

/**
 * Runs the PyTorch twin's benchmark (on the CPU with `threads` threads, or on `device` "cuda" on
 * the GPU machine) and parses its JSON.
 */
export async function runTorch(
  weightsPath: string,
  sizes: readonly [number, number][],
  iters: number,
  warmup: number,
  threads = 2,
  device = "cpu",
): Promise<TorchReport> {
  const out = await new Deno.Command(python(), {
    args: [
      TORCH_SCRIPT.pathname,
      "--weights",
      weightsPath,
      "--sizes",
      sizes.map(([w, h]) => `${w}x${h}`).join(","),
      "--iters",
      String(iters),
      "--warmup",
      String(warmup),
      "--threads",
      String(threads),
      "--device",
      device,
    ],
    env: { OMP_WAIT_POLICY: "PASSIVE", OMP_NUM_THREADS: String(threads) },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`bench/progic/torch_bench.py failed (exit ${out.code})`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
