/// <reference lib="dom" />
/**
 * Fetches model weights relative to the page with byte-level progress, and keeps them in the
 * Cache API so the demo works offline once a model has been loaded. Web APIs only.
 * @module
 */
import { WeightsError } from "../src/errors.ts";

/** Cache holding weights responses, keyed by URL plus a `?sha256=` version. */
export const WEIGHTS_CACHE = "tessera-weights-v1";

/** Progress of a weights load. */
export interface WeightsProgress {
  /** Bytes read so far. */
  readonly loaded: number;
  /** Expected bytes (0 when unknown). */
  readonly total: number;
  /** True when served from the page's cache. */
  readonly fromCache: boolean;
}

/** Loaded weights and where they came from. */
export interface LoadedWeights {
  /** The safetensors file. */
  readonly bytes: Uint8Array;
  /** True when served from the page's cache (no network). */
  readonly fromCache: boolean;
}

/**
 * Loads a model's weights: from the cache when this version was stored before, else from the
 * network (then stored, replacing older versions of the same file).
 * @param url weights URL relative to the page
 * @param version content hash from models.json; a new one invalidates the cached copy
 * @throws {WeightsError} when the file cannot be fetched
 */
export async function fetchWeights(
  name: string,
  url: string,
  version: string,
  onProgress: (p: WeightsProgress) => void = () => {},
): Promise<LoadedWeights> {
  const plain = new URL(url, location.href);
  const key = new URL(plain);
  key.searchParams.set("sha256", version);
  const cache = await openCache();
  const hit = await cache?.match(key.href);
  if (hit) {
    return { bytes: await readBody(hit, true, onProgress), fromCache: true };
  }
  let res: Response;
  try {
    res = await fetch(plain, { cache: "no-store" });
  } catch (e) {
    throw new WeightsError(
      `cannot fetch the weights of "${name}" at ${plain.pathname}: ${
        navigator.onLine ? e : "this browser is offline and has no cached copy"
      }`,
      { cause: e },
    );
  }
  if (!res.ok) {
    throw new WeightsError(
      `cannot fetch the weights of "${name}" at ${plain.pathname}: HTTP ${res.status}`,
    );
  }
  const bytes = await readBody(res, false, onProgress);
  if (cache) {
    for (const old of await cache.keys()) {
      const u = new URL(old.url);
      if (u.pathname === plain.pathname && u.href !== key.href) await cache.delete(old);
    }
    await cache.put(
      key.href,
      new Response(bytes as Uint8Array<ArrayBuffer>, {
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(bytes.length),
        },
      }),
    ).catch(() => {}); // quota: the page still works, only not offline
  }
  return { bytes, fromCache: false };
}

/** The weights cache, or null where the Cache API is unavailable (insecure pages). */
async function openCache(): Promise<Cache | null> {
  try {
    return globalThis.caches ? await caches.open(WEIGHTS_CACHE) : null;
  } catch {
    return null;
  }
}

/** Reads a response body chunk by chunk, reporting progress. */
async function readBody(
  res: Response,
  fromCache: boolean,
  onProgress: (p: WeightsProgress) => void,
): Promise<Uint8Array> {
  const total = Number(res.headers.get("content-length")) || 0;
  if (!res.body) {
    const all = new Uint8Array(await res.arrayBuffer());
    onProgress({ loaded: all.length, total: all.length, fromCache });
    return all;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress({ loaded, total, fromCache });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress({ loaded, total, fromCache });
  }
  if (chunks.length === 1) return chunks[0];
  const all = new Uint8Array(loaded);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  return all;
}
