#!/usr/bin/python3
"""Probe (measurement only, not part of the codec): what spatially allocated refinement stages
beyond stage 5 would buy, with the decoder as it is.

    /usr/bin/python3 train/refine_probe.py                  # all 200 bsds500/test images, ~15 min
    /usr/bin/python3 train/refine_probe.py --limit 40 --out /tmp/probe.jsonl

1. Extra residual-VQ codebooks (`--extra` of them, 1024 codes each) by k-means (`--iters` Lloyd
   iterations from random rows) on what the five beam-searched stages leave of the encoder's latent
   on bsds500 train+val (the codec path: grid fit, pre-filter), each on the residual of the ones
   before (cached in `--cache`).
2. On each test image, the positions that get them are chosen by the encoder alone:
   - `fixed e f`: the fraction f of latent positions with the largest ‖y − ŷ(5)‖² get e extra codes;
   - `water b`: b·(positions) extra codes handed out one at a time to the position whose residual
     is currently largest (at most `--extra` per position), which evens out the worst residuals.
   The sum is decoded with the stage-5 modulation (the decoder is not retrained), post-filtered
   and measured as the codec measures (8-bit, Lanczos back to the original size, Butteraugli).
   The arm `unquantized` decodes the encoder's latent itself (no rate counted): the ceiling of
   latent precision for this decoder.
3. Rate added: 10 bits per extra code, plus the positions' signalling (the binary entropy of the
   mask for `fixed`, the empirical entropy of the depth map + 8 bits per depth value for `water`).
   With `--against` (the harness's results.jsonl) every image's total rate (its stage-5 file + the
   added bits) is set against each anchor's own curve on that image, as the report's per-image
   section does.

Writes one JSON line per (image, arm) to `--out` and prints the means.
"""

import argparse
import collections
import json
import math
import os
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import list_images, load_rgb  # noqa: E402
from export import DEFAULT_SMOOTHING, butteraugli, lanczos_resize, model_from_safetensors, write_ppm  # noqa: E402
from refine import five_stages, nearest, random_kmeans  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ARMS = [("none", 0, 0.0), ("fixed", 3, 0.1), ("water", 0, 0.2), ("water", 0, 0.3), ("water", 0, 0.4),
        ("unquantized", 0, 0.0)]


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=os.path.join(ROOT, "weights", "progic-t.safetensors"))
    ap.add_argument("--extra", type=int, default=6, help="extra codebooks")
    ap.add_argument("--iters", type=int, default=15, help="Lloyd iterations per codebook")
    ap.add_argument("--limit", type=int, default=0, help="first N test images (0: all)")
    ap.add_argument("--max-train", type=int, default=0, help="k-means on the first N train+val images (0: all)")
    ap.add_argument("--cache", default="/tmp/tessera_refine_codebooks.pt")
    ap.add_argument("--out", default="/tmp/tessera_refine_probe.jsonl")
    ap.add_argument("--against", default=os.path.join(ROOT, "bench", "eval", "results", "progic-t", "results.jsonl"))
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args(argv)


def extra_codebooks(model, a, log):
    key = ("random_kmeans", os.path.abspath(a.weights), a.iters, a.max_train)
    if os.path.exists(a.cache):
        cached = torch.load(a.cache)
        if cached.get("key") == key and cached["books"].shape[0] >= a.extra:
            return cached["books"][:a.extra]
    t0 = time.time()
    with torch.no_grad():
        res = []
        for f in list_images()[:a.max_train or None]:
            _, y, yh = five_stages(model, load_rgb(f))
            res.append((y - yh).reshape(-1, y.shape[-1]))
        r = torch.cat(res)
        books = []
        for s in range(a.extra):
            c = random_kmeans(r, model.K, a.iters, seed=s)
            e0 = r.pow(2).sum(1).mean().item()
            r = r - c[nearest(r, c)]
            log(f"extra codebook {s + 1}: mean residual energy {e0:.3f} -> {r.pow(2).sum(1).mean().item():.3f} "
                f"({time.time() - t0:.0f} s)")
            books.append(c)
    books = torch.stack(books)
    torch.save({"key": key, "books": books}, a.cache)
    return books


def depth_map(arm, e, frac, res):
    """res [n, E+1]: residual energy per position after 0..E extra codes -> depth [n]."""
    n, cap = res.shape[0], res.shape[1] - 1
    depth = torch.zeros(n, dtype=torch.long)
    if arm == "fixed":
        depth[res[:, 0].argsort(descending=True)[:int(round(frac * n))]] = min(e, cap)
    elif arm == "water":
        for _ in range(int(round(frac * n))):
            cur = res[torch.arange(n), depth].clone()
            cur[depth >= cap] = -1.0
            depth[cur.argmax()] += 1
    return depth


def signalling_bits(arm, depth, cap):
    n = depth.numel()
    if arm in ("none", "unquantized"):
        return 0.0
    cnt = torch.bincount(depth, minlength=cap + 1).double()
    p = cnt[cnt > 0] / n
    h = -(cnt[cnt > 0] * p.log2()).sum().item()
    return h if arm == "fixed" else h + 8 * (cap + 1)


def log_rate_interp(curve, bpp, key):
    for lo, hi in zip(curve, curve[1:]):
        if lo["bpp"] <= bpp <= hi["bpp"] and hi["bpp"] > lo["bpp"]:
            t = math.log(bpp / lo["bpp"]) / math.log(hi["bpp"] / lo["bpp"])
            return lo[key] + t * (hi[key] - lo[key])
    return None


def against_anchors(rows, path, log):
    recs = [json.loads(line) for line in open(path) if '"ok":true' in line]
    by = collections.defaultdict(list)
    for r in recs:
        by[(r["image"], r["codec"])].append(r)
    for v in by.values():
        v.sort(key=lambda r: r["bpp"])
    arms = collections.defaultdict(list)
    for r in rows:
        arms[r["arm"]].append(r)
    for arm, rs in arms.items():
        for anchor in ("webp", "avif"):
            pairs = []
            for r in rs:
                s5 = [x for x in by[(r["image"], "tessera")] if x["point"] == "s5"]
                if not s5:
                    continue
                bpp = s5[0]["bpp"] + r["added_bpp"]
                m, m3 = (log_rate_interp(by[(r["image"], anchor)], bpp, k) for k in ("butteraugli", "butteraugli3"))
                if m is not None:
                    pairs.append((bpp, r["butteraugli"], m, r["butteraugli3"], m3))
            if not pairs:
                continue
            mean = [sum(p[i] for p in pairs) / len(pairs) for i in range(5)]
            log(f"  {arm:12s} vs {anchor}: {len(pairs)} images at their own rates, mean {mean[0]:.4f} bpp: "
                f"max-norm {mean[1]:.3f} vs {mean[2]:.3f} ({100 * (mean[1] / mean[2] - 1):+.1f}%, lower on "
                f"{sum(p[1] < p[2] for p in pairs)}), 3-norm {mean[3]:.3f} vs {mean[4]:.3f} "
                f"({100 * (mean[3] / mean[4] - 1):+.1f}%)")


def main(argv=None):
    a = parse(argv)
    torch.set_num_threads(a.threads)
    log = lambda *s: print(*s, flush=True)  # noqa: E731
    model = model_from_safetensors(a.weights)
    model.eval()
    books = extra_codebooks(model, a, log)
    files = list_images(("test",))[:a.limit or None]
    rows = []
    with torch.no_grad(), open(a.out, "w") as out, tempfile.TemporaryDirectory() as tmp:
        ref, dist = os.path.join(tmp, "ref.ppm"), os.path.join(tmp, "dist.ppm")
        for i, f in enumerate(files):
            img = load_rgb(f)
            H, W = img.shape[:2]
            x, y, yh = five_stages(model, img)
            h, w, C = y.shape
            yv = y.reshape(-1, C)
            levels = [yh.reshape(-1, C)]
            for b in books:  # ŷ after 0..E extra codes, each the nearest code of what is left
                levels.append(levels[-1] + b[nearest(yv - levels[-1], b)])
            levels = torch.stack(levels, 1)  # [n, E+1, C]
            res = (yv[:, None] - levels).pow(2).sum(-1)
            write_ppm(ref, img)
            for arm, e, frac in ARMS:
                depth = depth_map(arm, e, frac, res)
                if arm == "unquantized":  # the ceiling: the encoder's latent itself, no rate counted
                    z = y.permute(2, 0, 1)[None]
                else:
                    z = levels[torch.arange(h * w), depth].reshape(h, w, C).permute(2, 0, 1)[None]
                rec = model.render(z, model.N, x.shape[0], x.shape[1], DEFAULT_SMOOTHING)
                q8 = lanczos_resize(torch.round(rec * 255).to(torch.uint8).numpy(), W, H)
                write_ppm(dist, q8)
                bmax, b3 = butteraugli(ref, dist)
                mse = ((q8.astype(np.float64) - img) ** 2).mean() / 255.0 ** 2
                bits = int(depth.sum()) * math.log2(model.K) + signalling_bits(arm, depth, books.shape[0])
                name = {"fixed": f"fixed {e}x{frac:g}", "water": f"water {frac:g}"}.get(arm, arm)
                row = {"image": os.path.basename(f), "arm": name,
                       "added_bpp": bits / (H * W), "butteraugli": bmax, "butteraugli3": b3,
                       "psnr": 10 * math.log10(1 / max(mse, 1e-12))}
                rows.append(row)
                out.write(json.dumps(row) + "\n")
            if (i + 1) % 20 == 0:
                log(f"  {i + 1}/{len(files)} images")
    by = collections.defaultdict(list)
    for r in rows:
        by[r["arm"]].append(r)
    log(f"{len(files)} test images, twin with the decoder unchanged; means:")
    for arm, rs in by.items():
        m = {k: sum(r[k] for r in rs) / len(rs) for k in ("added_bpp", "butteraugli", "butteraugli3", "psnr")}
        log(f"  {arm:12s} +{m['added_bpp']:.4f} bpp  max-norm {m['butteraugli']:.3f}  3-norm {m['butteraugli3']:.3f}  "
            f"PSNR {m['psnr']:.3f}")
    if a.against and os.path.exists(a.against):
        log(f"against the anchors of {os.path.relpath(a.against, ROOT)} (each image at its own total rate):")
        against_anchors([r for r in rows if r["arm"] != "unquantized"], a.against, log)


if __name__ == "__main__":
    main()
