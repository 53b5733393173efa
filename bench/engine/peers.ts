/**
 * Loading the peer WebGPU engines inside Deno (see shared/design/peers-and-browser.md):
 * TensorFlow.js 4.22 with its WebGPU backend, and onnxruntime-web 1.30's WebGPU execution
 * provider (the browser build: `onnxruntime-web/webgpu`; the bare package resolves to the Node
 * build, which has no WebGPU), plus building the ONNX models with tools/onnx_models.py.
 * @module
 */

/** The TF.js core namespace. */
export type Tf = typeof import("npm:@tensorflow/tfjs-core@4.22.0");
/** The onnxruntime-web namespace. */
export type Ort = typeof import("npm:onnxruntime-web@1.30.0/webgpu");

/** Imports TF.js and selects its WebGPU backend; throws if that backend is not the one in use. */
export async function loadTfjs(): Promise<Tf> {
  const tf = await import("npm:@tensorflow/tfjs-core@4.22.0");
  await import("npm:@tensorflow/tfjs-backend-webgpu@4.22.0");
  const ok = await tf.setBackend("webgpu");
  await tf.ready();
  if (!ok || tf.getBackend() !== "webgpu") {
    throw new Error(`TF.js could not select its webgpu backend (got "${tf.getBackend()}")`);
  }
  return tf;
}

/** Imports onnxruntime-web's WebGPU build with the settings that work in Deno. */
export async function loadOrt(): Promise<Ort> {
  const ort = await import("npm:onnxruntime-web@1.30.0/webgpu");
  // numThreads > 1 spawns a worker from a blob: URL, which Deno refuses.
  ort.env.wasm.numThreads = 1;
  return ort;
}

/** Session options every benchmark session gets (main.ts adds logging for --ort-verbose). */
export const ortSessionOptions: {
  executionProviders: string[];
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  logVerbosityLevel?: number;
} = { executionProviders: ["webgpu"] };

/** Version strings of the peers, for the report. */
export function peerVersions(tf: Tf | null, ort: Ort | null): string[] {
  const v: string[] = [];
  if (tf) v.push(`TF.js ${tf.version_core} (webgpu backend 4.22.0)`);
  if (ort) v.push(`onnxruntime-web ${ort.env.versions?.web ?? "1.30.0"} (WebGPU EP)`);
  return v;
}

const SCRIPT = new URL("../../tools/onnx_models.py", import.meta.url);

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Makes sure `dir` holds the models written by the current tools/onnx_models.py, running it
 * with /usr/bin/python3 (Debian's python3-onnx) when models are missing or the script changed.
 */
export async function ensureModels(dir: string, names: readonly string[]): Promise<void> {
  const want = await sha256Hex(await Deno.readFile(SCRIPT));
  let have = "";
  try {
    have = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`)).script_sha256 ?? "";
  } catch { /* no manifest yet */ }
  const missing = [];
  for (const n of names) {
    try {
      await Deno.stat(`${dir}/${n}.onnx`);
    } catch {
      missing.push(n);
    }
  }
  if (have === want && missing.length === 0) return;
  console.error(
    `building ONNX models in ${dir} (${
      have === want ? `missing: ${missing.join(", ")}` : "script changed"
    })`,
  );
  const python = Deno.env.get("TESSERA_PYTHON") ?? "/usr/bin/python3";
  const out = await new Deno.Command(python, {
    args: [SCRIPT.pathname, "--out", dir],
    stdout: "inherit",
    stderr: "inherit",
  }).output().catch((e) => {
    throw new Error(`could not run ${python} (${e}); install Debian's python3-onnx`);
  });
  if (!out.success) {
    throw new Error(
      `tools/onnx_models.py failed (exit ${out.code}); it needs Debian's python3-onnx ` +
        "(apt-get install -y python3-onnx) run with /usr/bin/python3",
    );
  }
}
