// A shipped ProGIC model with the golden vectors its PyTorch twin wrote for it (train/golden.py),
// shared by the parity and coding tests and by the benches that run on real codes.
import { type NamedTensor, readSafetensors, type SafeTensors } from "../src/io/safetensors.ts";
import { loadProgicWeights, type ProgicWeights } from "../src/models/progic/weights.ts";
import { cpuBackend } from "../src/graph/cpu_backend.ts";
import { webgpuBackend } from "../src/graph/webgpu_backend.ts";
import { ProgicCodec } from "../src/models/progic/codec.ts";
import { gpu } from "./harness.ts";

const root = new URL("../", import.meta.url);

/** A model's shipped weights and its golden file. */
export interface Fixture {
  readonly weights: ProgicWeights;
  /** The golden file's tensor `t`. */
  readonly g: (t: string) => NamedTensor;
  /** The golden file's `__metadata__`. */
  readonly metadata: SafeTensors["metadata"];
}

/** `weights/<name>.safetensors` loaded, with `tests/golden/<name>.safetensors`. */
export async function fixture(name: string): Promise<Fixture> {
  const weights = await loadProgicWeights(
    await Deno.readFile(new URL(`weights/${name}.safetensors`, root)),
  );
  const golden = readSafetensors(
    await Deno.readFile(new URL(`tests/golden/${name}.safetensors`, root)),
  );
  return { weights, g: (t: string) => golden.tensors.get(t)!, metadata: golden.metadata };
}

/** A codec for `weights` on the WebGPU adapter, or on the CPU reference backend without one. */
export async function adapterCodec(weights: ProgicWeights, tileLatent = 64): Promise<ProgicCodec> {
  const ctx = await gpu();
  return await ProgicCodec.create(weights, ctx ? webgpuBackend(ctx) : cpuBackend(), tileLatent);
}
