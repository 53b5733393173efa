#!/usr/bin/python3
"""Writes tests/data/resize_vectors.json: Pillow's Lanczos resizes of a small reference image,
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

SIZES = [(36, 22), (16, 10), (9, 31), (80, 47), (37, 12)]
cases = []
for w, h in SIZES:
    out = np.asarray(Image.fromarray(img).resize((w, h), Image.LANCZOS))
    cases.append({"width": w, "height": h, "data": out.reshape(-1).tolist()})
doc = {"source": "tools/gen_resize_vectors.py (Pillow Image.LANCZOS)",
       "width": W, "height": H, "data": img.reshape(-1).tolist(), "cases": cases}
path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "resize_vectors.json")
with open(path, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
    f.write("\n")
print("wrote", os.path.normpath(path))
