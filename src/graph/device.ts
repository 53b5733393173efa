/**
 * WebGPU adapter and device acquisition, with errors that say what to install or enable, and
 * the per-device caches (pipelines, uploaded weights) that every graph on the device shares.
 * @module
 */
import { DeviceLimitError, TesseraError, WebGpuUnavailableError } from "../errors.ts";
import type { DeviceCaps } from "../ops/op.ts";
import type { HostArray } from "./tensor.ts";

/** What Tessera reports about the adapter it runs on. */
export interface AdapterReport {
  /** Adapter vendor (may be empty or numeric). */
  readonly vendor: string;
  /** Adapter architecture. */
  readonly architecture: string;
  /** Human-readable adapter description, e.g. `"llvmpipe (LLVM 15.0.6, 256 bits)"`. */
  readonly description: string;
  /** True for CPU-emulated adapters (llvmpipe, lavapipe, SwiftShader). */
  readonly software: boolean;
  /** Optional features the adapter exposes. */
  readonly features: readonly string[];
  /** The limits the device was created with that matter to Tessera. */
  readonly limits: Readonly<Record<string, number>>;
}

/** A WebGPU device plus Tessera's caches on it. Create once and share between graphs. */
export interface GpuContext {
  /** The device. */
  readonly device: GPUDevice;
  /** Adapter facts. */
  readonly adapter: AdapterReport;
  /** Limits kernel selection depends on. */
  readonly caps: DeviceCaps;
  /** Set when the device is lost; every later run fails with this error. */
  lost: TesseraError | null;
  /** @internal compiled pipelines by kernel key */
  readonly pipelines: Map<string, Promise<GPUComputePipeline>>;
  /** @internal bind group layouts by signature */
  readonly layouts: Map<string, GPUBindGroupLayout>;
  /** @internal uploaded constants, shared by every graph passing the same array */
  readonly constants: WeakMap<HostArray, GPUBuffer>;
  /** @internal placeholder for unused optional bindings */
  readonly dummy: GPUBuffer;
}

/** Options for {@link acquireGpu}. */
export interface AcquireOptions {
  /** Passed to `requestAdapter`. */
  readonly powerPreference?: GPUPowerPreference;
}

const WANTED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
] as const;

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe|warp|basic render/i;

/**
 * Opens the default WebGPU adapter and a device with the adapter's full limits.
 * @throws {WebGpuUnavailableError} when the runtime has no WebGPU or no adapter
 */
export async function acquireGpu(options: AcquireOptions = {}): Promise<GpuContext> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new WebGpuUnavailableError(
      "WebGPU is not available in this runtime. Use Deno ≥ 2 (no flag needed) or a browser " +
        "with WebGPU (Chrome/Edge ≥ 113; Chromium on Linux needs --enable-unsafe-webgpu).",
    );
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  } catch (e) {
    throw new WebGpuUnavailableError(`requesting a WebGPU adapter failed: ${e}`, { cause: e });
  }
  if (!adapter) {
    throw new WebGpuUnavailableError(
      "no WebGPU adapter found. On a machine without a GPU install Mesa's software Vulkan " +
        "driver (Debian/Ubuntu: apt-get install mesa-vulkan-drivers); on a GPU server install " +
        "the vendor's Vulkan driver; in Chromium pass --enable-unsafe-webgpu.",
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === "number") requiredLimits[k] = v;
  }
  let device: GPUDevice;
  try {
    // timestamp-query only serves Executable.profile; a run never writes timestamps.
    const requiredFeatures: GPUFeatureName[] = adapter.features.has("timestamp-query")
      ? ["timestamp-query"]
      : [];
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    throw new WebGpuUnavailableError(`creating a WebGPU device failed: ${e}`, { cause: e });
  }
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const description = info.description || info.device || "";
  const software = SOFTWARE.test(`${description} ${info.architecture ?? ""}`) ||
    Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter);
  const limits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) {
    limits[k] = (device.limits as unknown as Record<string, number>)[k];
  }
  const ctx: GpuContext = {
    device,
    adapter: {
      vendor: info.vendor ?? "",
      architecture: info.architecture ?? "",
      description,
      software,
      features: [...adapter.features],
      limits,
    },
    caps: {
      maxWorkgroupsPerDim: device.limits.maxComputeWorkgroupsPerDimension,
      maxInvocations: device.limits.maxComputeInvocationsPerWorkgroup,
      maxWorkgroupStorage: device.limits.maxComputeWorkgroupStorageSize,
      software,
    },
    lost: null,
    pipelines: new Map(),
    layouts: new Map(),
    constants: new WeakMap(),
    dummy: device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE }),
  };
  device.lost.then((info) => {
    ctx.lost = new TesseraError(
      "DEVICE_LOST",
      `the WebGPU device was lost (${info.reason}): ${info.message}`,
    );
  });
  return ctx;
}

/** Fails with a {@link DeviceLimitError} when a buffer would exceed the device's limits. */
export function checkBufferSize(ctx: GpuContext, bytes: number, what: string): void {
  const max = ctx.device.limits.maxStorageBufferBindingSize;
  if (bytes > max) {
    throw new DeviceLimitError(
      `${what} needs ${fmtBytes(bytes)} in one binding; this adapter allows ` +
        `${fmtBytes(max)} (maxStorageBufferBindingSize). Use a smaller image or tiles.`,
    );
  }
}

/** `1536` → `"1.5 KiB"`. */
export function fmtBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}
