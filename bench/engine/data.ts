/**
 * Deterministic benchmark data and result comparison for the engine benchmark.
 *
 * Every tensor is derived from its name by a counter-based integer hash that
 * `tools/onnx_models.py` reproduces bit for bit in numpy, so the ONNX initializers, the TF.js
 * tensors and Tessera's graph constants hold the same numbers without exchanging files.
 * Tensors are generated in their logical (PyTorch/ONNX) layout — conv weights OIHW, GEMM
 * weights `[K, N]` — and converted per engine; activations are generated NHWC.
 * @module
 */

/** FNV-1a over the UTF-8 bytes of a name (the per-tensor seed). */
export function fnv1a(name: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(name)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * `n` values uniform in [-1, 1) times `scale`, a pure function of (name, index). Must stay
 * identical to `weights()` in tools/onnx_models.py (24 random bits per value, so exact in f32).
 */
export function hashed(name: string, n: number, scale = 1): Float32Array {
  const s = Math.imul(fnv1a(name), 0x85ebca77) >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let x = (Math.imul(i, 0x9e3779b1) + s) >>> 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x7feb352d) >>> 0;
    x ^= x >>> 15;
    x = Math.imul(x, 0x846ca68b) >>> 0;
    x ^= x >>> 16;
    out[i] = ((x >>> 8) / 16777216 * 2 - 1) * scale;
  }
  return out;
}

/** `[N, H, W, C]` → `[N, C, H, W]`. */
export function nhwcToNchw(
  x: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
): Float32Array {
  const y = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h * w; i++) {
      const src = (b * h * w + i) * c;
      for (let k = 0; k < c; k++) y[(b * c + k) * h * w + i] = x[src + k];
    }
  }
  return y;
}

/** `[N, C, H, W]` → `[N, H, W, C]`. */
export function nchwToNhwc(
  x: Float32Array,
  n: number,
  c: number,
  h: number,
  w: number,
): Float32Array {
  const y = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      const src = (b * c + k) * h * w;
      for (let i = 0; i < h * w; i++) y[(b * h * w + i) * c + k] = x[src + i];
    }
  }
  return y;
}

/** A small seeded PRNG for picking sample positions (not for data). */
export function sampler(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Reference values at sampled output positions (flat indices in the canonical layout). */
export interface Samples {
  /** Flat indices into the canonical output. */
  readonly at: readonly number[];
  /** Exact (float64) reference values at those indices, rounded to f32 only for display. */
  readonly want: readonly number[];
}

/** Picks `count` distinct-ish flat indices below `n` and evaluates `ref` at each. */
export function sample(n: number, count: number, ref: (i: number) => number, seed = 1): Samples {
  const rand = sampler(seed);
  const at = [0, n - 1];
  while (at.length < count) at.push(Math.floor(rand() * n));
  return { at, want: at.map(ref) };
}

/** Error of a result against something else. */
export interface Err {
  /** max |got − want|. */
  readonly maxAbs: number;
  /** maxAbs / max |want| (error relative to the tensor's scale; robust near zeros). */
  readonly rel: number;
  /** Number of values compared. */
  readonly count: number;
  /** Non-finite values in `got`. */
  readonly nonFinite: number;
}

/** Compares a result against reference samples. */
export function errVsSamples(got: ArrayLike<number>, s: Samples): Err {
  let maxAbs = 0, scale = 0, nonFinite = 0;
  s.at.forEach((i, k) => {
    const g = got[i];
    if (!Number.isFinite(g)) nonFinite++;
    maxAbs = Math.max(maxAbs, Math.abs(g - s.want[k]));
    scale = Math.max(scale, Math.abs(s.want[k]));
  });
  return { maxAbs, rel: maxAbs / Math.max(scale, 1e-30), count: s.at.length, nonFinite };
}

/** Compares two full results of the same layout. */
export function errVsArray(got: ArrayLike<number>, want: ArrayLike<number>): Err {
  if (got.length !== want.length) {
    throw new Error(`result has ${got.length} values, expected ${want.length}`);
  }
  let maxAbs = 0, scale = 0, nonFinite = 0;
  for (let i = 0; i < got.length; i++) {
    if (!Number.isFinite(got[i])) nonFinite++;
    const d = Math.abs(got[i] - want[i]);
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return { maxAbs, rel: maxAbs / Math.max(scale, 1e-30), count: got.length, nonFinite };
}

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
