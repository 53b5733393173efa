#!/usr/bin/python3
"""Writes tests/data/resize_vectors.json: Pillow's Lanczos resizes of two small reference images,
the independent reference for the Lanczos-3 `resize` of src/io/resample.ts (tests/resample_test.ts).
Pillow filters rows and columns in 8-bit fixed point with a rounding in between, so the test
allows ±1 per sample. Run with Debian's Python (python3-pil):  /usr/bin/python3 tools/gen_resize_vectors.py
"""
import json
import os

import numpy as np
from PIL import Image

W, H = 37, 23
# Ramps, a sharp edge and hashed integer noise: smooth and high-frequency content both.
y, x = np.mgrid[0:H, 0:W]
img = np.stack([(x * 5 + y * 3) % 256,
                np.where(x > 17, 220, 30) + (y * 2),
                ((x * 131 + y * 977) ** 2 % 97) + 80], axis=-1).clip(0, 255).astype(np.uint8)

# A saturated checkerboard: Lanczos overshoots past 0 and 255 here, so Pillow's rounding and
# clamping between its two passes shows.
check = np.where(((x // 2) + (y // 3)) % 2 == 1, 255, 0)[..., None].repeat(3, -1).astype(np.uint8)
check[..., 1] = 255 - check[..., 1]

SIZES = [(36, 22), (16, 10), (9, 31), (80, 47), (37, 12)]


def cases_of(src):
    out = []
    for w, h in SIZES:
        r = np.asarray(Image.fromarray(src).resize((w, h), Image.LANCZOS))
        out.append({"width": w, "height": h, "data": r.reshape(-1).tolist()})
    return out


doc = {"source": "tools/gen_resize_vectors.py (Pillow Image.LANCZOS)",
       "images": [{"width": W, "height": H, "data": a.reshape(-1).tolist(), "cases": cases_of(a)}
                  for a in (img, check)]}
path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "resize_vectors.json")
with open(path, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
    f.write("\n")
print("wrote", os.path.normpath(path))
