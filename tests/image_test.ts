// PNG and JPEG decoding of src/io/image.ts against Pillow (files and expected pixels from
// tools/gen_image_vectors.py): every PNG layout a user may hand the CLI, decoded exactly; JPEG
// within the rounding by which jpeg-js and libjpeg differ.
import { decodeImage, type ImageData8, toRgb } from "../src/io/image.ts";
import { jpegOrientation } from "../src/io/orientation.ts";
import { ImageError } from "../src/errors.ts";
import { assert, assertEquals, assertThrows } from "./assert.ts";

const dir = new URL("./data/images/", import.meta.url);
const expected: Record<string, { width: number; height: number; channels: 3 | 4; data: string }> =
  JSON.parse(await Deno.readTextFile(new URL("expected.json", dir)));
const bytesOf = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const read = (name: string) => Deno.readFileSync(new URL(name, dir));

/** Any decoded layout as RGB or RGBA (alpha kept when the file has it), for comparison. */
function widen(img: ImageData8, channels: 3 | 4): Uint8Array {
  const ch = img.channels!;
  const px = img.width * img.height;
  const out = new Uint8Array(px * channels);
  for (let i = 0; i < px; i++) {
    for (let c = 0; c < 3; c++) out[i * channels + c] = img.data[i * ch + (ch < 3 ? 0 : c)];
    if (channels === 4) {
      out[i * channels + 3] = ch === 2 || ch === 4 ? img.data[i * ch + ch - 1] : 255;
    }
  }
  return out;
}

const names = Object.keys(expected);

Deno.test("image: every PNG layout decodes exactly as Pillow decodes it", () => {
  const pngs = names.filter((n) => n.endsWith(".png"));
  assert(pngs.length >= 12, `only ${pngs.length} PNG fixtures`);
  for (const name of pngs) {
    const e = expected[name];
    const img = decodeImage(read(name));
    assertEquals([img.width, img.height], [e.width, e.height], name);
    assertEquals(widen(img, e.channels), bytesOf(e.data), name);
  }
});

Deno.test("image: JPEG (4:2:0, 4:4:4, progressive, gray, CMYK, EXIF orientations) within libjpeg's rounding", () => {
  for (const name of names.filter((n) => n.endsWith(".jpg"))) {
    const e = expected[name];
    const img = decodeImage(read(name));
    assertEquals([img.width, img.height], [e.width, e.height], name);
    const got = widen(img, 3), want = bytesOf(e.data);
    let worst = 0, sum = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      worst = Math.max(worst, d);
      sum += d;
    }
    // Measured: ±3 at most, under 0.7 on average (libjpeg interpolates 4:2:0 chroma, jpeg-js
    // replicates it; the fixtures' chroma is gentle so that this stays small).
    assert(
      worst <= 4 && sum / want.length < 1,
      `${name}: ${worst} at most, ${sum / want.length} on average`,
    );
  }
});

Deno.test("image: EXIF orientation is read from either byte order and never throws", () => {
  assertEquals(jpegOrientation(read("orient6.jpg")), 6);
  assertEquals(jpegOrientation(read("orient6_be.jpg")), 6);
  assertEquals(jpegOrientation(read("baseline.jpg")), 1);
  const full = read("orient8.jpg");
  for (let n = 0; n < 200; n++) {
    const o = jpegOrientation(full.subarray(0, n));
    assert(o === 1 || (o === 8 && n > 40), `prefix of ${n} bytes: ${o}`);
    const bent = full.slice();
    bent[n] ^= 0xff;
    const b = jpegOrientation(bent);
    assert(Number.isInteger(b) && b >= 1 && b <= 8, `byte ${n} flipped: ${b}`);
    try {
      decodeImage(bent);
    } catch (e) {
      assert(e instanceof ImageError, `byte ${n} flipped: ${e}`);
    }
  }
});

Deno.test("image: broken and unsupported files are ImageErrors", () => {
  const png = read("rgb.png");
  for (
    const bad of [
      new Uint8Array(0),
      png.subarray(0, 20),
      png.subarray(0, 60),
      read("rgb.png").fill(7, 8),
    ]
  ) {
    assertThrows(() => decodeImage(bad), ImageError);
  }
  for (const name of ["rgba.png", "gray_alpha.png", "rgb_key.png"]) {
    assertThrows(() => toRgb(decodeImage(read(name))), ImageError, "transparent");
  }
});
