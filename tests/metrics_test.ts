// Tests of src/metrics: PSNR, SSIM and MS-SSIM against scikit-image and an independent
// NumPy MS-SSIM (vectors from tools/gen_eval_vectors.py), plus exact identities.
import { InvalidArgumentError } from "../src/errors.ts";
import {
  type MetricImage,
  MS_SSIM_WEIGHTS,
  mse,
  msSsim,
  msSsimScales,
  msSsimWeights,
  psnr,
  ssim,
} from "../src/metrics/mod.ts";
import { assert, assertClose, assertEquals, assertThrows, rng } from "./assert.ts";

interface MetricCase {
  width: number;
  height: number;
  channels: number;
  seed: number;
  strength: number;
  ssim?: number;
  msssim: number;
  mse: number;
}

const vectors = JSON.parse(
  await Deno.readTextFile(new URL("./data/eval_vectors.json", import.meta.url)),
) as { metrics: MetricCase[] };

/** The reference image pair of a case: the integer formulas of tools/gen_eval_vectors.py. */
function synth(c: MetricCase): [MetricImage, MetricImage] {
  const { width: w, height: h, channels: ch, seed, strength: s } = c;
  const a = new Uint8Array(w * h * ch), b = new Uint8Array(w * h * ch);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < ch; k++) {
        const i = (y * w + x) * ch + k;
        const n = x * 131 + y * 977 + k * 7919 + seed * 104729;
        const ramp = (x * 2 + y * 3 + k * 40 + seed * 17) % 200;
        a[i] = 28 + ramp + (n * n) % 21 - 10;
        const m = x * 613 + y * 389 + k * 2003 + seed * 7907;
        b[i] = Math.min(255, Math.max(0, a[i] + (m * m) % (2 * s + 1) - s));
      }
    }
  }
  return [{ width: w, height: h, data: a }, { width: w, height: h, data: b }];
}

for (const c of vectors.metrics) {
  const label = `${c.width}×${c.height}×${c.channels}`;
  Deno.test(`metrics: ${label} matches scikit-image SSIM and the NumPy MS-SSIM`, () => {
    const [a, b] = synth(c);
    assertClose([mse(a, b)], [c.mse], { atol: 0, rtol: 1e-12, msg: "mse" });
    if (c.ssim !== undefined) {
      assertClose([ssim(a, b)], [c.ssim], { atol: 1e-10, rtol: 0, msg: "ssim" });
    }
    assertClose([msSsim(a, b)], [c.msssim], { atol: 1e-10, rtol: 0, msg: "ms-ssim" });
  });
}

Deno.test("metrics: identical images give PSNR ∞, SSIM 1 and MS-SSIM exactly 1", () => {
  const rand = rng(7);
  for (const [w, h, ch] of [[200, 170, 3], [37, 23, 1], [1, 1, 3], [5, 300, 3]]) {
    const data = Uint8Array.from({ length: w * h * ch }, () => Math.floor(rand() * 256));
    const img = { width: w, height: h, data };
    const copy = { width: w, height: h, data: data.slice() };
    assertEquals(psnr(img, copy), Infinity);
    assertEquals(mse(img, copy), 0);
    assertEquals(msSsim(img, copy), 1);
    assertEquals(ssim(img, copy), 1);
  }
});

Deno.test("metrics: a noise image of known MSE gives the exact PSNR", () => {
  const w = 64, h = 48;
  for (const d of [1, 3, 10, 40]) {
    const a = new Uint8Array(w * h * 3).fill(128);
    // ±d on alternate samples: every squared error is d², so MSE = d² exactly.
    const b = a.map((v, i) => (i % 2 ? v + d : v - d));
    assertEquals(mse({ width: w, height: h, data: a }, { width: w, height: h, data: b }), d * d);
    const expected = 10 * Math.log10((255 * 255) / (d * d));
    assertClose([psnr({ width: w, height: h, data: a }, { width: w, height: h, data: b })], [
      expected,
    ], { atol: 1e-12, rtol: 0 });
  }
  // The textbook value: MSE 1 → 48.1308 dB.
  assertClose([10 * Math.log10(255 * 255)], [48.13080360867910], { atol: 1e-12, rtol: 0 });
});

Deno.test("metrics: MS-SSIM scale count and weights follow the image size", () => {
  assertEquals(msSsimScales(161, 500), 5);
  assertEquals(msSsimScales(481, 321), 5);
  assertEquals(msSsimScales(160, 160), 4);
  assertEquals(msSsimScales(37, 23), 2);
  assertEquals(msSsimScales(21, 21), 2);
  assertEquals(msSsimScales(20, 20), 1);
  assertEquals(msSsimScales(3, 3), 1);
  assertEquals(msSsimWeights(500, 500), [...MS_SSIM_WEIGHTS]);
  const w2 = msSsimWeights(37, 23);
  assertClose(w2, [0.0448 / 0.3304, 0.2856 / 0.3304], { atol: 1e-15, rtol: 0 });
});

Deno.test("metrics: MS-SSIM is in [0, 1], falls with distortion and handles gray", () => {
  const w = 170, h = 165;
  const rand = rng(3);
  const a = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7 + (i % 251)) & 255);
  let prev = 1;
  for (const s of [2, 8, 32, 96]) {
    const b = a.map((v) => Math.min(255, Math.max(0, v + Math.round((rand() - 0.5) * 2 * s))));
    const v = msSsim({ width: w, height: h, data: a }, { width: w, height: h, data: b });
    assert(v >= 0 && v < prev, `MS-SSIM ${v} should fall below ${prev} at noise ±${s}`);
    prev = v;
  }
  // A gray image scores the same as its three-channel replica.
  const g = Uint8Array.from({ length: 40 * 30 }, (_, i) => (i * 13) & 255);
  const g2 = g.map((v, i) => (i % 3 ? v : 255 - v));
  const rgb = (x: Uint8Array) => Uint8Array.from({ length: x.length * 3 }, (_, i) => x[i / 3 | 0]);
  const one = msSsim({ width: 40, height: 30, data: g }, { width: 40, height: 30, data: g2 });
  const three = msSsim({ width: 40, height: 30, data: rgb(g) }, {
    width: 40,
    height: 30,
    data: rgb(g2),
  });
  assertClose([one], [three], { atol: 1e-14, rtol: 0 });
});

Deno.test("metrics: mismatched images are refused", () => {
  const a = { width: 4, height: 4, data: new Uint8Array(48) };
  assertThrows(
    () => psnr(a, { width: 4, height: 3, data: new Uint8Array(36) }),
    InvalidArgumentError,
  );
  assertThrows(
    () => msSsim(a, { width: 4, height: 4, data: new Uint8Array(16) }),
    InvalidArgumentError,
  );
  assertThrows(
    () => ssim(a, { width: 4, height: 4, data: new Uint8Array(47) }),
    InvalidArgumentError,
  );
});
