#!/usr/bin/python3
"""Writes tests/data/eval_vectors.json: reference values for tests/metrics_test.ts and
tests/eval_test.ts, computed with independent implementations.

- SSIM: scikit-image's structural_similarity (gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255), per channel and averaged.
- MS-SSIM: a NumPy/SciPy implementation of the TensorFlow definition (2-D convolution,
  symmetric padding of odd sides before 2x2 average pooling, ReLU on cs/ssim), with the
  small-image rule of docs/eval.md (fewer scales, renormalised weights).
- BD-rate: SciPy's PchipInterpolator on (quality, log10 rate), integrated over the overlap,
  exactly as the `bjontegaard` package's "pchip" method.

Images are generated from integer formulas that tests/metrics_test.ts reproduces exactly, so
the file holds only sizes and expected numbers. Run with Debian's Python (python3-skimage,
python3-scipy):  /usr/bin/python3 tools/gen_eval_vectors.py
"""
import json
import os

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.signal import convolve2d
from skimage.metrics import structural_similarity

WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]


def pattern(w, h, c, seed):
    """Reference image: ramps plus hashed integer noise (see synth() in tests/metrics_test.ts)."""
    img = np.zeros((h, w, c), dtype=np.int64)
    for y in range(h):
        for x in range(w):
            for k in range(c):
                n = x * 131 + y * 977 + k * 7919 + seed * 104729
                ramp = (x * 2 + y * 3 + k * 40 + seed * 17) % 200
                img[y, x, k] = 28 + ramp + (n * n) % 21 - 10
    return img


def distort(img, strength, seed):
    """Distorted copy: hashed noise of +-strength, clipped to [0, 255]."""
    h, w, c = img.shape
    out = img.copy()
    for y in range(h):
        for x in range(w):
            for k in range(c):
                n = x * 613 + y * 389 + k * 2003 + seed * 7907
                out[y, x, k] = img[y, x, k] + (n * n) % (2 * strength + 1) - strength
    return np.clip(out, 0, 255)


def skimage_ssim(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    if a.shape[2] == 1:
        return float(structural_similarity(a[:, :, 0], b[:, :, 0], **kw))
    return float(structural_similarity(a, b, channel_axis=2, **kw))


def window(size):
    c = (size - 1) / 2
    g = np.exp(-((np.arange(size) - c) ** 2) / (2 * 1.5**2))
    g /= g.sum()
    return np.outer(g, g)


def ms_ssim_ref(a, b):
    h, w, ch = a.shape
    side = min(h, w)
    scales, s = 1, side
    while scales < 5:
        s = (s + 1) // 2
        if s < 11:
            break
        scales += 1
    weights = np.array(WEIGHTS[:scales])
    if scales < 5:  # published weights as is at 5 scales (they sum to 1.0001)
        weights /= weights.sum()
    ws = min(11, side)
    ws = ws if ws % 2 else ws - 1
    win = window(ws)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    result = []
    for k in range(ch):
        x = a[:, :, k].astype(np.float64)
        y = b[:, :, k].astype(np.float64)
        score = 1.0
        for i in range(scales):
            if i > 0:
                pads = ((0, x.shape[0] % 2), (0, x.shape[1] % 2))
                x = np.pad(x, pads, mode="symmetric")
                y = np.pad(y, pads, mode="symmetric")
                x = x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3))
                y = y.reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))
            f = lambda z: convolve2d(z, win, mode="valid")
            mx, my = f(x), f(y)
            vx, vy, vxy = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
            cs = (2 * vxy + c2) / (vx + vy + c2)
            ss = (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs
            term = ss.mean() if i == scales - 1 else cs.mean()
            score *= max(term, 0.0) ** weights[i]
        result.append(score)
    return float(np.mean(result))


def bd_rate(ra, qa, rt, qt):
    ia = PchipInterpolator(np.array(qa, float), np.log10(np.array(ra, float)))
    it = PchipInterpolator(np.array(qt, float), np.log10(np.array(rt, float)))
    lo, hi = max(min(qa), min(qt)), min(max(qa), max(qt))
    avg = (it.integrate(lo, hi) - ia.integrate(lo, hi)) / (hi - lo)
    return float((10**avg - 1) * 100)


def main():
    metric_cases = []
    for (w, h, c, seed, strength) in [
        (40, 30, 3, 1, 25),
        (37, 23, 1, 2, 40),
        (11, 11, 3, 3, 10),
        (83, 61, 3, 4, 60),
        (192, 176, 3, 5, 30),
        (7, 5, 3, 6, 20),
    ]:
        a = pattern(w, h, c, seed)
        b = distort(a, strength, seed)
        case = dict(width=w, height=h, channels=c, seed=seed, strength=strength)
        if min(w, h) >= 11:
            case["ssim"] = skimage_ssim(a, b)
        case["msssim"] = ms_ssim_ref(a, b)
        case["mse"] = float(np.mean((a - b).astype(np.float64) ** 2))
        metric_cases.append(case)

    anchor_r = [0.1, 0.2, 0.4, 0.8, 1.6]
    anchor_q = [28.0, 30.5, 33.0, 35.0, 36.8]
    curves = [
        ("shifted", anchor_r, anchor_q, [0.09, 0.19, 0.36, 0.7, 1.5], [28.3, 30.9, 33.2, 35.6, 37.4]),
        ("unequal", anchor_r, anchor_q, [0.15, 0.3, 0.5, 1.0], [30.0, 32.2, 34.1, 36.0]),
        ("six_vs_five", [0.05, 0.1, 0.2, 0.4, 0.8, 1.6], [0.90, 0.93, 0.955, 0.972, 0.984, 0.991],
         [0.08, 0.16, 0.3, 0.6, 1.2], [0.925, 0.952, 0.97, 0.982, 0.99]),
    ]
    bd_cases = []
    for name, ra, qa, rt, qt in curves:
        bd_cases.append(dict(name=name, anchor_rate=ra, anchor_quality=qa, test_rate=rt,
                             test_quality=qt, lower_is_better=False, bd_rate=bd_rate(ra, qa, rt, qt)))
    # Butteraugli-like distortion (lower is better): negate quality for the reference.
    ra, da = [0.1, 0.2, 0.4, 0.8, 1.6], [9.0, 6.5, 4.2, 2.8, 1.9]
    rt, dt = [0.1, 0.2, 0.4, 0.8], [8.0, 5.0, 3.5, 2.2]
    bd_cases.append(dict(name="lower_is_better", anchor_rate=ra, anchor_quality=da, test_rate=rt,
                         test_quality=dt, lower_is_better=True,
                         bd_rate=bd_rate(ra, [-d for d in da], rt, [-d for d in dt])))
    interp = PchipInterpolator(np.array(anchor_q), np.log10(np.array(anchor_r)))
    samples = [28.0, 29.1, 31.7, 34.4, 36.8]

    out = dict(
        generator="tools/gen_eval_vectors.py",
        metrics=metric_cases,
        bd_rate=bd_cases,
        pchip=dict(rate=anchor_r, quality=anchor_q, at=samples,
                   log10_rate=[float(v) for v in interp(samples)]),
    )
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "eval_vectors.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
