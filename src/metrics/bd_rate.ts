/**
 * Bjøntegaard-delta rate: the average rate difference between two rate–quality curves over the
 * quality range both cover. Rates are interpolated in log10 as a function of quality with a
 * piecewise cubic Hermite interpolant (PCHIP, as SciPy's `PchipInterpolator`, the JCT-VC CTC
 * sheet and the `bjontegaard` Python package's "pchip" method), integrated exactly over the
 * overlap and turned into a percentage: `(10^(mean Δlog10 R) − 1)·100`.
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";

/** One operating point of a rate–quality curve. */
export interface RdPoint {
  /** Rate (bits per pixel, bytes, … — any positive unit shared by both curves). */
  readonly rate: number;
  /** Quality value (PSNR, MS-SSIM, …, or a distortion when `lowerIsBetter`). */
  readonly quality: number;
}

/** Options of {@link bdRate}. */
export interface BdRateOptions {
  /** The metric is a distortion (e.g. Butteraugli): lower values are better. */
  readonly lowerIsBetter?: boolean;
}

/** A PCHIP interpolant over strictly increasing knots. */
interface Pchip {
  x: number[];
  y: number[];
  d: number[];
}

function pchipEdge(h0: number, h1: number, m0: number, m1: number): number {
  // SciPy's one-sided three-point end derivative, shape-preserving.
  const d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
  if (Math.sign(d) !== Math.sign(m0)) return 0;
  if (Math.sign(m0) !== Math.sign(m1) && Math.abs(d) > 3 * Math.abs(m0)) return 3 * m0;
  return d;
}

function pchip(x: number[], y: number[]): Pchip {
  const n = x.length;
  const h: number[] = [], m: number[] = [];
  for (let k = 0; k < n - 1; k++) {
    h.push(x[k + 1] - x[k]);
    m.push((y[k + 1] - y[k]) / h[k]);
  }
  if (n === 2) return { x, y, d: [m[0], m[0]] };
  const d = new Array<number>(n).fill(0);
  for (let k = 1; k < n - 1; k++) {
    const a = m[k - 1], b = m[k];
    if (a === 0 || b === 0 || Math.sign(a) !== Math.sign(b)) continue;
    const w1 = 2 * h[k] + h[k - 1], w2 = h[k] + 2 * h[k - 1];
    d[k] = (w1 + w2) / (w1 / a + w2 / b);
  }
  d[0] = pchipEdge(h[0], h[1], m[0], m[1]);
  d[n - 1] = pchipEdge(h[n - 2], h[n - 3], m[n - 2], m[n - 3]);
  return { x, y, d };
}

/** ∫ of the interpolant from `a` to `b`, both inside [x0, x_{n-1}]. */
function pchipIntegral(p: Pchip, a: number, b: number): number {
  let total = 0;
  for (let k = 0; k < p.x.length - 1; k++) {
    const lo = Math.max(a, p.x[k]), hi = Math.min(b, p.x[k + 1]);
    if (hi <= lo) continue;
    const h = p.x[k + 1] - p.x[k], m = (p.y[k + 1] - p.y[k]) / h;
    const c1 = p.d[k], c2 = (3 * m - 2 * p.d[k] - p.d[k + 1]) / h;
    const c3 = (p.d[k] + p.d[k + 1] - 2 * m) / (h * h);
    const prim = (t: number) =>
      p.y[k] * t + (c1 * t * t) / 2 + (c2 * t ** 3) / 3 + (c3 * t ** 4) / 4;
    total += prim(hi - p.x[k]) - prim(lo - p.x[k]);
  }
  return total;
}

/**
 * Prepares a curve: drops points with a non-finite or non-positive rate or a non-finite quality,
 * orients quality so that higher is better, sorts by rate and keeps only points that improve on
 * every lower-rate point (quality must rise strictly with rate for the interpolation).
 */
export function monotoneCurve(points: readonly RdPoint[], opts: BdRateOptions = {}): RdPoint[] {
  const sign = opts.lowerIsBetter ? -1 : 1;
  const ok = points
    .filter((p) => Number.isFinite(p.rate) && p.rate > 0 && Number.isFinite(p.quality))
    .map((p) => ({ rate: p.rate, quality: sign * p.quality }))
    .sort((a, b) => a.rate - b.rate || a.quality - b.quality);
  const out: RdPoint[] = [];
  for (const p of ok) {
    if (out.length === 0 || p.quality > out[out.length - 1].quality) out.push(p);
  }
  return out;
}

/**
 * BD-rate of `test` against `anchor` in percent: negative means `test` needs fewer bits for the
 * same quality. Returns `NaN` when either curve has fewer than 2 usable points or the quality
 * ranges do not overlap. Points are cleaned by {@link monotoneCurve} first.
 */
export function bdRate(
  anchor: readonly RdPoint[],
  test: readonly RdPoint[],
  opts: BdRateOptions = {},
): number {
  const a = monotoneCurve(anchor, opts), t = monotoneCurve(test, opts);
  if (a.length < 2 || t.length < 2) return NaN;
  const lo = Math.max(a[0].quality, t[0].quality);
  const hi = Math.min(a[a.length - 1].quality, t[t.length - 1].quality);
  if (!(hi > lo)) return NaN;
  const fit = (c: RdPoint[]) => pchip(c.map((p) => p.quality), c.map((p) => Math.log10(p.rate)));
  const avg = (pchipIntegral(fit(t), lo, hi) - pchipIntegral(fit(a), lo, hi)) / (hi - lo);
  return (10 ** avg - 1) * 100;
}

/**
 * Evaluates the PCHIP interpolant of `log10(rate)` over quality at `q` (for tests and plots).
 * @throws {InvalidArgumentError} when the curve has fewer than 2 usable points or `q` is outside it
 */
export function interpolateLogRate(
  points: readonly RdPoint[],
  q: number,
  opts: BdRateOptions = {},
): number {
  const c = monotoneCurve(points, opts);
  const qq = opts.lowerIsBetter ? -q : q;
  if (c.length < 2 || qq < c[0].quality || qq > c[c.length - 1].quality) {
    throw new InvalidArgumentError(`quality ${q} is outside the curve's range`);
  }
  const p = pchip(c.map((x) => x.quality), c.map((x) => Math.log10(x.rate)));
  const k = Math.max(0, p.x.findIndex((x, i) => i > 0 && qq <= x) - 1);
  const h = p.x[k + 1] - p.x[k], t = qq - p.x[k], m = (p.y[k + 1] - p.y[k]) / h;
  const c2 = (3 * m - 2 * p.d[k] - p.d[k + 1]) / h, c3 = (p.d[k] + p.d[k + 1] - 2 * m) / (h * h);
  return p.y[k] + p.d[k] * t + c2 * t * t + c3 * t ** 3;
}
