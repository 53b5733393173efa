/**
 * A small SVG line-chart writer for RD plots: log-scaled x axis (bpp), linear y axis, one
 * polyline with markers per series, grid, ticks and legend. No dependencies.
 * @module
 */

/** One line of a chart. */
export interface Series {
  /** Legend text. */
  name: string;
  /** Points in drawing order (non-finite values are skipped). */
  points: { x: number; y: number }[];
  /** CSS colour; a palette colour when omitted. */
  color?: string;
}

/** A chart to draw. */
export interface ChartOptions {
  /** Title above the plot. */
  title: string;
  /** X-axis label. */
  xLabel: string;
  /** Y-axis label. */
  yLabel: string;
  /** The series. */
  series: Series[];
  /** Pixel width (default 720). */
  width?: number;
  /** Pixel height (default 480). */
  height?: number;
}

/** Colours assigned to series in order. */
export const PALETTE: readonly string[] = [
  "#d62728",
  "#1f77b4",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function fmtTick(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(0);
  return String(Number(v.toPrecision(6)));
}

/** Ticks at 1, 2, 5 × 10^k inside [lo, hi] (at least the two ends when none fall inside). */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(Number(v.toPrecision(6)));
    }
  }
  return out.length >= 2 ? out : [lo, hi];
}

/** About `count` round ticks covering [lo, hi], and the range they span. */
export function linearTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.05 || 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  if (out[out.length - 1] < hi) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}

/** Draws the chart as a standalone SVG document. */
export function lineChart(opts: ChartOptions): string {
  const W = opts.width ?? 720, H = opts.height ?? 480;
  const m = { l: 70, r: 160, t: 40, b: 55 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const series = opts.series.map((s) => ({
    ...s,
    points: s.points.filter((p) => Number.isFinite(p.x) && p.x > 0 && Number.isFinite(p.y)),
  }));
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l + pw / 2}" y="22" text-anchor="middle" font-size="15">${
      esc(opts.title)
    }</text>`,
  ];
  if (xs.length === 0) {
    out.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text>`, "</svg>");
    return out.join("\n") + "\n";
  }
  const xt = logTicks(Math.min(...xs) / 1.15, Math.max(...xs) * 1.15);
  const xlo = Math.min(xt[0], Math.min(...xs) / 1.08);
  const xhi = Math.max(xt[xt.length - 1], Math.max(...xs) * 1.08);
  const yt = linearTicks(Math.min(...ys), Math.max(...ys));
  const ylo = yt[0], yhi = yt[yt.length - 1];
  const X = (x: number) => m.l + (Math.log(x / xlo) / Math.log(xhi / xlo)) * pw;
  const Y = (y: number) => m.t + ph - ((y - ylo) / (yhi - ylo)) * ph;
  const f = (v: number) => v.toFixed(1);
  for (const t of xt) {
    out.push(
      `<line x1="${f(X(t))}" y1="${m.t}" x2="${f(X(t))}" y2="${m.t + ph}" stroke="#ddd"/>`,
      `<text x="${f(X(t))}" y="${m.t + ph + 16}" text-anchor="middle">${fmtTick(t)}</text>`,
    );
  }
  for (const t of yt) {
    out.push(
      `<line x1="${m.l}" y1="${f(Y(t))}" x2="${m.l + pw}" y2="${f(Y(t))}" stroke="#ddd"/>`,
      `<text x="${m.l - 6}" y="${f(Y(t) + 4)}" text-anchor="end">${fmtTick(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${m.l + pw / 2}" y="${H - 14}" text-anchor="middle">${esc(opts.xLabel)}</text>`,
    `<text transform="translate(18 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">` +
      `${esc(opts.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = s.points.map((p) => `${f(X(p.x))},${f(Y(p.y))}`);
    if (pts.length > 1) {
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(" ")}"/>`,
      );
    }
    for (const p of pts) {
      const [cx, cy] = p.split(",");
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`);
    }
    const ly = m.t + 10 + i * 20, lx = m.l + pw + 14;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${lx + 28}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
