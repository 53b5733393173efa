#!/usr/bin/python3
"""Writes tests/data/images/: small PNG and JPEG files in the layouts a user may hand the CLI
(1/2/4/8/16-bit gray, 2/4/8-bit palette, gray+alpha, RGB, RGBA, 16-bit RGB, tRNS colour keys;
baseline 4:2:0 and 4:4:4, progressive, gray and CMYK JPEG, EXIF orientations 2-8) and
`expected.json`, Pillow's decoding of each to 8-bit RGB (RGBA where the file has alpha; JPEGs
turned upright by `ImageOps.exif_transpose`; for the files written by hand, the samples they were
written from, scaled to 8 bits): the independent reference for src/io/image.ts
(tests/image_test.ts). Widths are odd and not multiples of 8, so packed rows of 1/2/4-bit files end
mid-byte. Pillow's JPEG decoder (libjpeg) and jpeg-js differ in rounding and in 4:2:0 chroma
upsampling, so the test allows a small difference there.
Run with Debian's Python (python3-pil):  /usr/bin/python3 tools/gen_image_vectors.py
"""
import base64
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image, ImageOps

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "images")
W, H = 13, 6
y, x = np.mgrid[0:H, 0:W]
rgb = np.stack([(x * 19 + y * 7) % 256, (x * 3 + y * 41) % 256, ((x * 131 + y * 977) ** 2) % 251],
               axis=-1).astype(np.uint8)
gray = rgb[..., 0]
alpha = np.where((x + y) % 3 == 0, 255, (x * 17) % 256).astype(np.uint8)
# Smooth content for the JPEG files (lossy coding of noise would make the tolerance meaningless):
# steep luma, gentle chroma, because jpeg-js replicates 4:2:0 chroma where libjpeg interpolates it,
# and the two differ by about a quarter of the chroma step between neighbouring samples.
base = x * 9 + y * 12
smooth = np.stack([base + x * 2 + 10, base + 20, base + y * 3 + 5], axis=-1).astype(np.uint8)


def palette_image(bits):
    n = 1 << bits
    idx = ((x * 5 + y * 3) % n).astype(np.uint8)
    pal = [(i * 37 % 256, i * 91 % 256, 255 - i * 13 % 256) for i in range(n)]
    p = Image.fromarray(idx, "P")
    p.putpalette([v for c in pal for v in c])
    return p


def raw_png(path, samples, depth, color_type):
    """A PNG Pillow cannot write (2/4-bit gray, 16-bit gray and RGB), by hand: one IDAT, filter 0 on every
    row, samples packed most significant bits first, rows padded to whole bytes."""
    h, w = samples.shape[:2]
    flat = samples.reshape(h, -1)
    rows = []
    for r in flat:
        if depth == 16:
            body = r.astype(">u2").tobytes()
        else:
            bits = np.unpackbits(r.astype(np.uint8)[:, None], axis=1)[:, 8 - depth:].reshape(-1)
            body = np.packbits(bits).tobytes()
        rows.append(b"\0" + body)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"".join(rows)))
                + chunk(b"IEND", b""))


def big_endian_exif(orientation):
    """An EXIF block ("Exif\\0\\0" + a Motorola-order TIFF with one IFD0 entry) for orientation."""
    entry = struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    return b"Exif\0\0" + b"MM" + struct.pack(">HI", 42, 8) + struct.pack(">H", 1) + entry + struct.pack(">I", 0)


def pillow(im, **opts):
    """A case Pillow writes (`save` options); its expected pixels are Pillow's reading of the file."""
    return (lambda path: im.save(path, **opts)), None


def by_hand(samples, depth, color_type, expected):
    """A case written by `raw_png`; its expected pixels are the samples scaled to 8 bits."""
    expected = expected.astype(np.uint8)
    return (lambda path: raw_png(path, samples, depth, color_type)), (
        expected[..., None].repeat(3, -1) if expected.ndim == 2 else expected)


def cases():
    """-> (file name, (writer of that file, expected 8-bit pixels or None: Pillow reads them back))."""
    yield "gray1.png", pillow(Image.fromarray(np.where(gray > 127, 255, 0).astype(np.uint8)).convert("1"))
    for bits in (2, 4):
        levels = (gray >> (8 - bits)).astype(np.float64)
        yield f"gray{bits}.png", by_hand(levels.astype(np.uint8), bits, 0, np.round(levels * 255 / ((1 << bits) - 1)))
    yield "gray8.png", pillow(Image.fromarray(gray, "L"))
    gray16 = gray.astype(np.uint16) * 257 + (x * 61).astype(np.uint16)
    yield "gray16.png", by_hand(gray16, 16, 0, np.round(gray16 / 257))
    for bits in (2, 4, 8):
        yield f"palette{bits}.png", pillow(palette_image(bits), bits=bits)
    yield "gray_alpha.png", pillow(Image.fromarray(np.dstack([gray, alpha]), "LA"))
    yield "rgb.png", pillow(Image.fromarray(rgb))
    rgb16 = rgb.astype(np.uint16) * 257 + (x * 61 + y * 7).astype(np.uint16)[..., None]
    yield "rgb16.png", by_hand(rgb16, 16, 2, np.round(rgb16 / 257))
    yield "rgba.png", pillow(Image.fromarray(np.dstack([rgb, alpha])))
    # tRNS colour keys: the pixels of exactly that colour are transparent.
    yield "gray_key.png", pillow(Image.fromarray(gray, "L"), transparency=int(gray[2, 3]))
    yield "rgb_key.png", pillow(Image.fromarray(rgb), transparency=tuple(int(v) for v in rgb[1, 4]))
    yield "baseline.jpg", pillow(Image.fromarray(smooth), quality=95)
    yield "baseline444.jpg", pillow(Image.fromarray(smooth), quality=95, subsampling=0)
    yield "progressive.jpg", pillow(Image.fromarray(smooth), progressive=True, quality=95)
    yield "gray.jpg", pillow(Image.fromarray(smooth[..., 0], "L"), quality=95)
    yield "cmyk.jpg", pillow(Image.fromarray(smooth).convert("CMYK"), quality=95)
    # EXIF orientations 2…8 (Pillow writes little-endian TIFF), one big-endian block written by
    # hand; expected: Pillow's exif_transpose.
    for o in range(2, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        yield f"orient{o}.jpg", pillow(Image.fromarray(smooth), quality=95, subsampling=0, exif=exif.tobytes())
    yield "orient6_be.jpg", pillow(Image.fromarray(smooth), quality=95, subsampling=0, exif=big_endian_exif(6))


def read_back(path):
    """Pillow's 8-bit RGB (RGBA where the file has alpha) of a file, turned upright."""
    back = ImageOps.exif_transpose(Image.open(path))
    mode = "RGBA" if ("A" in back.mode or "transparency" in back.info) else "RGB"
    return np.asarray(back.convert(mode))


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for name, (write, known) in cases():
        path = os.path.join(OUT, name)
        write(path)
        data = read_back(path) if known is None else known
        expected[name] = {"width": data.shape[1], "height": data.shape[0], "channels": data.shape[-1],
                          "data": base64.b64encode(np.ascontiguousarray(data).tobytes()).decode()}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print(f"wrote {len(expected)} images and expected.json to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
