/**
 * Aggregates of the per-image results: mean RD curves per codec, BD-rates, lowest rates and
 * timings. Means are taken over the images that every codec measured at every point, so all
 * curves describe the same images.
 * @module
 */
import { bdRate, type RdPoint } from "../../src/metrics/mod.ts";
import type { OkRecord, ResultRecord } from "./codec.ts";

/** A metric the report plots and tabulates. */
export interface MetricInfo {
  /** Field of {@link OkRecord}. */
  key: "psnr" | "msssim" | "butteraugli" | "butteraugli3";
  /** Axis label. */
  label: string;
  /** True for distortions (Butteraugli). */
  lowerIsBetter: boolean;
}

/** The metrics of the report, in order. */
export const METRICS: readonly MetricInfo[] = [
  { key: "psnr", label: "PSNR RGB (dB)", lowerIsBetter: false },
  { key: "msssim", label: "MS-SSIM RGB", lowerIsBetter: false },
  { key: "butteraugli", label: "Butteraugli max-norm", lowerIsBetter: true },
  { key: "butteraugli3", label: "Butteraugli 3-norm", lowerIsBetter: true },
];

/** Means of one operating point over the images. */
export interface PointMean {
  /** Operating point. */
  point: string;
  /** Images averaged. */
  n: number;
  /** Mean bits per pixel. */
  bpp: number;
  /** Mean of each metric (absent when no image had it). PSNR is ∞ if any image was lossless. */
  metrics: Partial<Record<MetricInfo["key"], number>>;
  /** Mean encode time, ms. */
  encodeMs: number;
  /** Mean decode time, ms. */
  decodeMs: number;
}

/** Everything the report says about one codec. */
export interface CodecSummary {
  /** Codec name. */
  codec: string;
  /** Per-point means, by increasing mean bpp. */
  points: PointMean[];
  /** Lowest mean bpp over the points. */
  lowestMeanBpp: number;
  /** Lowest bpp any single image reached. */
  lowestImageBpp: number;
  /** Mean encode / decode time over all points and images, ms. */
  encodeMs: number;
  /** See {@link CodecSummary.encodeMs}. */
  decodeMs: number;
  /** Mean megapixels per second of encode and of decode. */
  encodeMpps: number;
  /** See {@link CodecSummary.encodeMpps}. */
  decodeMpps: number;
  /** Failed (image, point) records. */
  failures: number;
}

/** The summaries and the image set they are over. */
export interface Aggregate {
  /** One entry per codec, in the order asked for. */
  codecs: CodecSummary[];
  /** Images in the means. */
  images: string[];
  /** Images left out because some codec lacks a point on them. */
  incomplete: string[];
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

/**
 * Builds the per-codec summaries from the latest record of every (image, codec, point).
 * `points` gives each codec's operating points (a codec's points with no record are ignored).
 */
export function aggregate(
  records: readonly ResultRecord[],
  points: ReadonlyMap<string, readonly string[]>,
): Aggregate {
  const ok = records.filter((r): r is OkRecord => r.ok);
  const byImage = new Map<string, Set<string>>();
  for (const r of ok) {
    if (!byImage.has(r.image)) byImage.set(r.image, new Set());
    byImage.get(r.image)!.add(`${r.codec}\u0000${r.point}`);
  }
  const present = [...points.entries()].map(([c, ps]) => {
    const seen = new Set(ok.filter((r) => r.codec === c).map((r) => r.point));
    return [c, ps.filter((p) => seen.has(p))] as const;
  }).filter(([, ps]) => ps.length > 0);
  const allImages = [...new Set(records.map((r) => r.image))].sort();
  const images = allImages.filter((im) =>
    present.every(([c, ps]) => ps.every((p) => byImage.get(im)?.has(`${c}\u0000${p}`)))
  );
  const inSet = new Set(images);
  const codecs: CodecSummary[] = [];
  for (const [codec, ps] of present) {
    const mine = ok.filter((r) => r.codec === codec && inSet.has(r.image));
    const pm: PointMean[] = [];
    for (const point of ps) {
      const rs = mine.filter((r) => r.point === point);
      if (rs.length === 0) continue;
      const metrics: PointMean["metrics"] = {};
      for (const m of METRICS) {
        const vals = rs.map((r) => r[m.key]).filter((v): v is number => typeof v === "number");
        if (vals.length === rs.length) metrics[m.key] = mean(vals);
      }
      pm.push({
        point,
        n: rs.length,
        bpp: mean(rs.map((r) => r.bpp)),
        metrics,
        encodeMs: mean(rs.map((r) => r.encodeMs)),
        decodeMs: mean(rs.map((r) => r.decodeMs)),
      });
    }
    if (pm.length === 0) continue;
    pm.sort((a, b) => a.bpp - b.bpp);
    const mpx = mean(mine.map((r) => (r.width * r.height) / 1e6));
    const encodeMs = mean(mine.map((r) => r.encodeMs)),
      decodeMs = mean(mine.map((r) => r.decodeMs));
    codecs.push({
      codec,
      points: pm,
      lowestMeanBpp: pm[0].bpp,
      lowestImageBpp: Math.min(...mine.map((r) => r.bpp)),
      encodeMs,
      decodeMs,
      encodeMpps: mpx / (encodeMs / 1000),
      decodeMpps: mpx / (decodeMs / 1000),
      failures: records.filter((r) => !r.ok && (r.codec === codec || r.codec === "*")).length,
    });
  }
  return { codecs, images, incomplete: allImages.filter((im) => !inSet.has(im)) };
}

/** The mean RD curve of a codec for one metric (points without that metric are left out). */
export function curve(s: CodecSummary, metric: MetricInfo["key"]): RdPoint[] {
  return s.points.filter((p) => p.metrics[metric] !== undefined).map((p) => ({
    rate: p.bpp,
    quality: p.metrics[metric]!,
  }));
}

/** One BD-rate: `test` against `anchor` on `metric`, in percent (NaN when undefined). */
export interface BdEntry {
  /** Codec under test. */
  test: string;
  /** Reference codec. */
  anchor: string;
  /** Metric. */
  metric: MetricInfo["key"];
  /** BD-rate in percent; negative means `test` saves bits. */
  value: number;
}

/** BD-rates of every test codec against every anchor codec (itself excluded), per metric. */
export function bdRates(
  agg: Aggregate,
  tests: readonly string[],
  anchors: readonly string[],
): BdEntry[] {
  const get = (n: string) => agg.codecs.find((c) => c.codec === n);
  const out: BdEntry[] = [];
  for (const t of tests) {
    for (const a of anchors) {
      const ts = get(t), as = get(a);
      if (!ts || !as || t === a) continue;
      for (const m of METRICS) {
        const value = bdRate(curve(as, m.key), curve(ts, m.key), {
          lowerIsBetter: m.lowerIsBetter,
        });
        out.push({ test: t, anchor: a, metric: m.key, value });
      }
    }
  }
  return out;
}

/** A value measured at a rate. */
interface RateValue {
  bpp: number;
  value: number;
}

/**
 * The value at `bpp` on a curve sorted by rate, interpolated linearly in log-rate between the two
 * neighbouring points; undefined outside the curve.
 */
function valueAtRate(pts: readonly RateValue[], bpp: number): number | undefined {
  for (let i = 0; i + 1 < pts.length; i++) {
    const a = pts[i], b = pts[i + 1];
    if (bpp >= a.bpp && bpp <= b.bpp && b.bpp > a.bpp) {
      const t = Math.log(bpp / a.bpp) / Math.log(b.bpp / a.bpp);
      return a.value + t * (b.value - a.value);
    }
  }
  return undefined;
}

/**
 * The mean value of a metric at a target mean rate, interpolated linearly in log-rate between
 * the two neighbouring points; undefined outside the curve.
 */
export function metricAtRate(
  s: CodecSummary,
  metric: MetricInfo["key"],
  bpp: number,
): number | undefined {
  const pts = s.points.filter((p) => p.metrics[metric] !== undefined)
    .map((p) => ({ bpp: p.bpp, value: p.metrics[metric]! }));
  return valueAtRate(pts, bpp);
}

/** One image where a codec point was set against an anchor's curve on the same image. */
export interface ImagePair {
  /** Image file name. */
  image: string;
  /** The test point's rate on this image. */
  bpp: number;
  /** The test codec's value. */
  test: number;
  /** The anchor's value interpolated to {@link ImagePair.bpp} on this image's curve. */
  anchor: number;
}

/**
 * A test codec's point against an anchor per image: the anchor's own RD curve on each image is
 * interpolated (linearly in log-rate) to the rate the test point reached on that image. Mean
 * curves compare averages of different per-image rates; this compares every image at its own.
 */
export interface PerImageComparison {
  /** Images where both were measured and the anchor's curve spans the test rate. */
  pairs: ImagePair[];
  /** Images left out because the anchor's curve on them does not reach the test rate. */
  outside: number;
  /** Pairs where the test codec is strictly better. */
  better: number;
  /** Median of test / anchor (below 1 is better for a distortion). */
  medianRatio: number;
}

/** See {@link PerImageComparison}; `records` are the latest per (image, codec, point). */
export function perImageComparison(
  records: readonly ResultRecord[],
  test: string,
  testPoint: string,
  anchor: string,
  metric: MetricInfo,
): PerImageComparison {
  const ok = records.filter((r): r is OkRecord => r.ok && typeof r[metric.key] === "number");
  const curves = new Map<string, RateValue[]>();
  for (const r of ok) {
    if (r.codec !== anchor) continue;
    if (!curves.has(r.image)) curves.set(r.image, []);
    curves.get(r.image)!.push({ bpp: r.bpp, value: r[metric.key]! });
  }
  for (const c of curves.values()) c.sort((a, b) => a.bpp - b.bpp);
  const pairs: ImagePair[] = [];
  let outside = 0;
  for (const r of ok.filter((r) => r.codec === test && r.point === testPoint)) {
    const c = curves.get(r.image);
    if (!c) continue;
    const value = valueAtRate(c, r.bpp);
    if (value === undefined) outside++;
    else pairs.push({ image: r.image, bpp: r.bpp, test: r[metric.key]!, anchor: value });
  }
  const better =
    pairs.filter((p) => metric.lowerIsBetter ? p.test < p.anchor : p.test > p.anchor).length;
  const ratios = pairs.map((p) => p.test / p.anchor).sort((a, b) => a - b);
  const mid = ratios.length >> 1;
  const medianRatio = ratios.length === 0
    ? NaN
    : ratios.length % 2
    ? ratios[mid]
    : (ratios[mid - 1] + ratios[mid]) / 2;
  return { pairs, outside, better, medianRatio };
}
