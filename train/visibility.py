#!/usr/bin/python3
"""Visibility: a fitted estimate, per 16×16 block, of Butteraugli's largest difference there.

Butteraugli's max-norm is set by the worst spot of an image. The encoder's refinement codes
(refine.py) go, by default, where the latent residual is largest; giving them instead where the
decoded image differs most *visibly* from the source lowers the max-norm at the same size
(train/README.md, "Steering refinement by visibility"). Butteraugli itself (libjxl) is not
available to the encoder (TypeScript, browsers), so this module is a small model of it that the
encoder can run on the CPU: src/metrics/visibility.ts is its TypeScript twin.

The model, on an (original, decoded) pair of 8-bit RGB images of one size:
  - both to an XYB-like opponent space: sRGB → linear → an LMS mix (+ a small bias) → cube root,
    X = (L − M) / 2, Y = (L + M) / 2, B = S;
  - d = decoded − original there, split into bands by Gaussian blurs (replicated edges, radius
    ⌈3σ⌉): low (G₄ d), middle (G₁.₅ d − G₄ d), high (d − G₁.₅ d);
  - an activity map from both images' Y detail, G₃|Y − G₂ Y| summed, which masks the middle and
    high bands as Butteraugli's masking does;
  - per block, the log of the largest and of the mean value of each band's magnitude (the low
    band as it is, the masked bands for three mask offsets), 42 numbers, and a linear fit of them (+ a bias) to the
    log of the block's largest Butteraugli distance.

The fit (`fit`): the default model's stage-5 decodes (grid fit, pre-filter, beam search, post
filter as the codec) of bsds500/train against their sources, at the coded size; the target is
butteraugli_main's distance map, read back from the heat map it writes (`read_distmap`); least
squares on the 16×16 blocks, blocks in the top fifth of their image weighted 5×. It writes the
coefficients to train/visibility.json and src/metrics/visibility_coefficients.ts.

    /usr/bin/python3 train/visibility.py --images 60     # ~4 min on 2 cores
"""
import argparse
import functools
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

BLOCK = 16
SIGMA_LOW, SIGMA_MID, SIGMA_SPREAD = 4.0, 1.5, 1.0
SIGMA_DETAIL, SIGMA_ACTIVITY = 2.0, 3.0
MASK_OFFSETS = (0.01, 0.03, 0.1)
FLOOR = 1e-4  # added before the log of a block's largest band value
BANDS = 3 * (1 + 2 * len(MASK_OFFSETS))
FEATURES = 2 * BANDS  # each band's block maximum and block mean
COEF_JSON = os.path.join(HERE, "visibility.json")
COEF_TS = os.path.join(HERE, "..", "src", "metrics", "visibility_coefficients.ts")
VECTORS = os.path.join(HERE, "..", "tests", "data", "visibility_vectors.json")


def gaussian_kernel(sigma):
    """Normalised 1-D Gaussian taps, radius ⌈3σ⌉ (src/metrics/visibility.ts builds the same)."""
    r = int(math.ceil(3 * sigma))
    k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float64) ** 2 / (2 * sigma * sigma))
    return k / k.sum()


def blur(a, sigma):
    """a [C, H, W] float64 -> separable Gaussian blur, edges replicated."""
    k = gaussian_kernel(sigma)
    r = (k.numel() - 1) // 2
    c = a.shape[0]
    x = F.pad(a[None], (r, r, 0, 0), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.pad(x, (0, 0, r, r), mode="replicate")
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)[0]


def opponent(rgb8):
    """[H, W, 3] uint8 sRGB -> [3, H, W] float64 X, Y, B."""
    x = torch.from_numpy(np.ascontiguousarray(rgb8)).double().permute(2, 0, 1) / 255.0
    lin = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    r, g, b = lin[0], lin[1], lin[2]
    l_ = (0.30 * r + 0.622 * g + 0.078 * b + 0.0038) ** (1 / 3)
    m_ = (0.23 * r + 0.692 * g + 0.078 * b + 0.0038) ** (1 / 3)
    s_ = (0.2434 * r + 0.2047 * g + 0.5519 * b + 0.0038) ** (1 / 3)
    return torch.stack([(l_ - m_) / 2, (l_ + m_) / 2, s_])


def band_maps(src8, dec8):
    """-> [BANDS, H, W] float64: per pixel, the low band's square, then for each mask offset
    the spread middle and high bands' squares over (activity + offset)²."""
    a, b = opponent(src8), opponent(dec8)
    d = b - a
    low = blur(d, SIGMA_LOW)
    mid_all = blur(d, SIGMA_MID)
    mid, high = mid_all - low, d - mid_all

    def detail(y):
        return blur((y - blur(y, SIGMA_DETAIL)).abs(), SIGMA_ACTIVITY)

    act = detail(a[1:2]) + detail(b[1:2])
    mid2, high2 = blur(mid * mid, SIGMA_SPREAD), blur(high * high, SIGMA_SPREAD)
    maps = [low * low]
    for c in MASK_OFFSETS:
        den = (act + c) ** 2
        maps += [mid2 / den, high2 / den]
    return torch.cat(maps)


def block_max(m, block=BLOCK):
    """m [C, H, W] -> [C, ⌈H/block⌉·⌈W/block⌉] the largest value of each block (raster order)."""
    H, W = m.shape[1:]
    h, w = -(-H // block), -(-W // block)
    x = F.pad(m[None], (0, w * block - W, 0, h * block - H), value=-math.inf)
    return F.max_pool2d(x, block)[0].reshape(m.shape[0], -1)


def block_mean(m, block=BLOCK):
    """m [C, H, W] -> [C, P] the mean of each block over the pixels it has."""
    H, W = m.shape[1:]
    h, w = -(-H // block), -(-W // block)
    pad = (0, w * block - W, 0, h * block - H)
    total = F.avg_pool2d(F.pad(m[None], pad), block, divisor_override=1)[0]
    count = F.avg_pool2d(F.pad(torch.ones_like(m[:1])[None], pad), block, divisor_override=1)[0]
    return (total / count).reshape(m.shape[0], -1)


def block_features(src8, dec8):
    """-> [P, FEATURES] per block log(√band + FLOOR) of each band's largest value, then of each
    band's mean."""
    m = band_maps(src8, dec8)
    return torch.log(torch.cat([block_max(m), block_mean(m)]).sqrt() + FLOOR).T


def visibility(src8, dec8, coef):
    """-> [P] float64 the estimated largest Butteraugli distance of each block."""
    c = torch.as_tensor(coef, dtype=torch.float64)
    return torch.exp(block_features(src8, dec8) @ c[:-1] + c[-1])


@functools.lru_cache(maxsize=None)
def load_coefficients(path=COEF_JSON):
    """-> the fitted coefficients (FEATURES weights, then the bias) as `fit` wrote them."""
    with open(path) as f:
        return json.load(f)["coefficients"]


# --- Butteraugli's distance map, read back from its heat map --------------------------------

# butteraugli_main's --distmap writes a heat map, not distances: a distance is placed on a
# 12-colour ramp (black → blue → … → white) in three linear pieces, and each channel written as the
# square root of its ramp value. Inverting that ramp gives the distance back, up to where the ramp
# saturates at white (~13.9).
HEAT = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 1], [0, 1, 0], [1, 1, 0], [1, 0, 0], [1, 0, 1],
                 [.5, .5, 1], [1, .5, .5], [1, 1, .5], [1, 1, 1], [1, 1, 1]], np.float64)
# Its "good" and "bad" thresholds, found by inverting the ramp at known max-norms.
HEAT_GOOD, HEAT_BAD = 0.7168, 1.155639


def heat_to_distance(rgb):
    """[H, W, 3] heat-map colours -> [H, W] Butteraugli distances."""
    v = rgb.astype(np.float64) ** 2
    best = np.full(v.shape[:2], np.inf)
    t = np.zeros(v.shape[:2])
    for ix in range(len(HEAT) - 2):
        a, d = HEAT[ix], HEAT[ix + 1] - HEAT[ix]
        mix = np.clip(((v - a) @ d) / (d @ d), 0, 1)
        dist = ((v - (a + mix[..., None] * d)) ** 2).sum(-1)
        better = dist < best
        best = np.where(better, dist, best)
        t = np.where(better, ix + mix, t)
    f = t / (len(HEAT) - 1)
    return np.where(f < 0.3, f / 0.3 * HEAT_GOOD,
                    np.where(f < 0.45, HEAT_GOOD + (f - 0.3) / 0.15 * (HEAT_BAD - HEAT_GOOD),
                             HEAT_BAD * (1 + 24 * (f - 0.45))))


def read_pfm(path):
    with open(path, "rb") as f:
        f.readline()
        w, h = map(int, f.readline().split())
        scale = float(f.readline())
        a = np.frombuffer(f.read(), dtype="<f4" if scale < 0 else ">f4")
    return np.ascontiguousarray(a.reshape(h, w, 3)[::-1])


def read_distmap(butteraugli, src8, dec8):
    """-> [H, W] Butteraugli distances of dec8 against src8, via butteraugli_main."""
    from export import write_ppm
    with tempfile.TemporaryDirectory() as tmp:
        ref, dist, pfm = (os.path.join(tmp, n) for n in ("r.ppm", "d.ppm", "m.pfm"))
        write_ppm(ref, src8)
        write_ppm(dist, dec8)
        subprocess.run([butteraugli, ref, dist, "--distmap", pfm], capture_output=True, check=True)
        return heat_to_distance(read_pfm(pfm))


# --- fitting --------------------------------------------------------------------------------

@torch.no_grad()
def stage_pairs(model, files, log=print):
    """-> [(coded-size source uint8, its default stage-N decode uint8)] as the encoder sees them."""
    from data import load_rgb
    from export import DEFAULT_SMOOTHING, to_u8
    from refine import five_stages
    pairs = []
    for i, f in enumerate(files):
        x, _, yhat = five_stages(model, load_rgb(f))
        ch, cw = x.shape[:2]
        rec = model.render(yhat.permute(2, 0, 1)[None], model.N, ch, cw, DEFAULT_SMOOTHING)
        pairs.append((to_u8(x), to_u8(rec)))
        if (i + 1) % 10 == 0:
            log(f"  decoded {i + 1}/{len(files)}")
    return pairs


def block_data(pairs, butteraugli):
    """-> per image (features [P, FEATURES], log of the true block maxima [P])."""
    out = []
    for src, dec in pairs:
        dm = read_distmap(butteraugli, src, dec)
        t = block_max(torch.from_numpy(dm)[None])[0]
        out.append((block_features(src, dec).numpy(), np.log(t.numpy() + 1e-3)))
    return out


def fit(data, top_weight=5.0):
    """Weighted least squares of the log block maxima on the block features (+ bias)."""
    xs, ys, ws = [], [], []
    for x, y in data:
        xs.append(x)
        ys.append(y)
        ws.append(1 + (top_weight - 1) * (y >= np.quantile(y, 0.8)))
    x, y, w = np.concatenate(xs), np.concatenate(ys), np.sqrt(np.concatenate(ws))
    a = np.c_[x, np.ones(len(x))]
    return np.linalg.lstsq(a * w[:, None], y * w, rcond=None)[0]


def ranking(data, coef):
    """-> (mean Spearman correlation of estimated and true block maxima per image, mean share of
    the true top 5% blocks found in the estimated top 5%)."""
    def rank(v):
        return np.argsort(np.argsort(v))

    rs, hits = [], []
    for x, y in data:
        p = np.c_[x, np.ones(len(x))] @ coef
        rs.append(np.corrcoef(rank(y), rank(p))[0, 1])
        k = max(1, len(y) // 20)
        hits.append(len(set(np.argsort(-y)[:k]) & set(np.argsort(-p)[:k])) / k)
    return float(np.mean(rs)), float(np.mean(hits))


def write_coefficients(coef, meta):
    with open(COEF_JSON, "w") as f:
        json.dump({**meta, "coefficients": [float(c) for c in coef]}, f, indent=1)
        f.write("\n")
    body = ",\n".join(f"  {float(c)!r}" for c in coef)
    with open(COEF_TS, "w") as f:
        f.write(f"""// Generated by train/visibility.py from train/visibility.json; do not edit.
/**
 * Coefficients of the visibility model (src/metrics/visibility.ts): {FEATURES} block features
 * then the bias. Fitted on {meta["images"]} bsds500/train images ({meta["model"]} stage-{meta["stages"]}
 * decodes); on {meta["held_out"]} held-out val images the estimate ranks blocks with Spearman
 * {meta["spearman"]:.3f} and finds {100 * meta["top5"]:.0f}% of the true top-5% blocks.
 * @module
 */
export const VISIBILITY_COEFFICIENTS: readonly number[] = [
{body},
];
""")


def write_vectors(src8, dec8, coef, path=VECTORS):
    """Known-answer vectors for src/metrics/visibility.ts: a crop of a (source, decode) pair whose
    sides are not multiples of 16, and the twin's block visibilities for it."""
    src8, dec8 = src8[:53, :70], dec8[:53, :70]
    v = visibility(src8, dec8, coef)
    with open(path, "w") as f:
        json.dump({"note": "written by train/visibility.py: a crop of a bsds500/val image and its "
                           "default stage-N decode, and the twin's block visibilities",
                   "width": int(src8.shape[1]), "height": int(src8.shape[0]),
                   "original": src8.reshape(-1).tolist(), "decoded": dec8.reshape(-1).tolist(),
                   "coefficients": [float(c) for c in coef],
                   "visibility": [float(x) for x in v]}, f)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=os.path.join(HERE, "..", "weights", "progic-t.safetensors"))
    ap.add_argument("--images", type=int, default=60, help="bsds500/train images to fit on")
    ap.add_argument("--held-out", type=int, default=25, help="bsds500/val images to check on")
    ap.add_argument("--data", default=None)
    args = ap.parse_args()
    from data import BSDS, list_images
    from export import BUTTERAUGLI, model_from_safetensors
    if BUTTERAUGLI is None:
        raise SystemExit("butteraugli_main not found (Debian package libjxl-devtools)")
    torch.set_num_threads(2)
    root = args.data or BSDS
    model = model_from_safetensors(args.weights).eval()
    train = block_data(stage_pairs(model, list_images(["train"], root)[:args.images]), BUTTERAUGLI)
    held = stage_pairs(model, list_images(["val"], root)[:args.held_out])
    val = block_data(held, BUTTERAUGLI)
    coef = fit(train)
    spearman, top5 = ranking(val, coef)
    print(f"held-out val: Spearman {spearman:.3f}, top-5% found {top5:.2f}")
    write_coefficients(coef, {"model": os.path.basename(args.weights).split(".")[0],
                              "stages": model.N, "images": args.images,
                              "held_out": args.held_out, "spearman": spearman, "top5": top5})
    write_vectors(*held[0], coef)


if __name__ == "__main__":
    main()
