// Tests of src/metrics/visibility.ts: parity with its PyTorch twin (train/visibility.py wrote the
// vectors), the closed form on identical images, that it finds a damaged block, and its errors.
import { InvalidArgumentError } from "../src/errors.ts";
import { blockVisibility, VISIBILITY_BLOCK } from "../src/metrics/visibility.ts";
import { VISIBILITY_COEFFICIENTS } from "../src/metrics/visibility_coefficients.ts";
import { assert, assertClose, assertEquals, assertThrows, rng } from "./assert.ts";

const vectors = JSON.parse(
  await Deno.readTextFile(new URL("./data/visibility_vectors.json", import.meta.url)),
) as {
  width: number;
  height: number;
  original: number[];
  decoded: number[];
  coefficients: number[];
  visibility: number[];
};

const image = (width: number, height: number, data: ArrayLike<number>) => ({
  width,
  height,
  data: Uint8Array.from(data),
});

Deno.test("visibility: reproduces the PyTorch twin on a decoded crop with partial blocks", () => {
  const { width, height } = vectors;
  assert(width % VISIBILITY_BLOCK !== 0 && height % VISIBILITY_BLOCK !== 0);
  const v = blockVisibility(
    image(width, height, vectors.original),
    image(width, height, vectors.decoded),
    vectors.coefficients,
  );
  assertEquals(v.length, Math.ceil(width / 16) * Math.ceil(height / 16));
  assertClose(v, vectors.visibility, { atol: 0, rtol: 1e-9 });
  // The vectors were written with the shipped fit.
  assertEquals([...VISIBILITY_COEFFICIENTS], vectors.coefficients);
});

Deno.test("visibility: computed in tiles with margins, bit for bit the whole-image result", () => {
  const { width, height } = vectors;
  const a = image(width, height, vectors.original), b = image(width, height, vectors.decoded);
  const whole = blockVisibility(a, b);
  for (const tile of [16, 32, 48]) {
    assertEquals(
      Array.from(blockVisibility(a, b, undefined, tile)),
      Array.from(whole),
      `tile ${tile}`,
    );
  }
  assertThrows(() => blockVisibility(a, b, undefined, 24), InvalidArgumentError, "multiple of 16");
});

Deno.test("visibility: identical images give every block the model's floor", () => {
  const r = rng(3);
  const img = image(40, 20, Array.from({ length: 40 * 20 * 3 }, () => Math.floor(r() * 256)));
  const c = VISIBILITY_COEFFICIENTS;
  // Every band is 0, so every feature is log(1e-4).
  const floor = Math.exp(c[c.length - 1] + Math.log(1e-4) * c.slice(0, -1).reduce((a, b) => a + b));
  assertClose(blockVisibility(img, img), [floor, floor, floor, floor, floor, floor], {
    atol: 0,
    rtol: 1e-12,
  });
});

Deno.test("visibility: a block damaged on a smooth image ranks first", () => {
  const r = rng(7);
  const w = 96, h = 64;
  const smooth = Array.from({ length: w * h * 3 }, (_, i) => 90 + ((i / 3) % w) / 4);
  const damaged = smooth.map((v, i) => {
    const p = Math.floor(i / 3), x = p % w, y = Math.floor(p / w);
    // Block (row 2, column 3): noise of ±24 levels; elsewhere ±2.
    const amp = x >= 48 && x < 64 && y >= 32 && y < 48 ? 24 : 2;
    return Math.max(0, Math.min(255, Math.round(v + (r() * 2 - 1) * amp)));
  });
  const v = blockVisibility(image(w, h, smooth), image(w, h, damaged));
  const top = v.indexOf(Math.max(...v));
  assertEquals(top, 2 * (w / 16) + 3);
});

Deno.test("visibility: mismatched or non-RGB images and wrong coefficients are refused", () => {
  const a = image(16, 16, new Uint8Array(16 * 16 * 3));
  assertThrows(
    () => blockVisibility(a, image(16, 8, new Uint8Array(16 * 8 * 3))),
    InvalidArgumentError,
  );
  const gray = image(16, 16, new Uint8Array(16 * 16));
  assertThrows(() => blockVisibility(gray, gray), InvalidArgumentError, "RGB");
  assertThrows(() => blockVisibility(a, a, [1, 2, 3]), InvalidArgumentError, "coefficients");
});
