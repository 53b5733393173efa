#!/usr/bin/python3
"""Refinement codebooks: residual VQ beyond the five stages, handed out per latent position.

ProGIC gives every latent position (16×16 pixels) the same five codes. Where the latent is hard
to quantize (detail, saturated colour) the stage-5 residual stays large, and Butteraugli's
max-norm is set by the worst such spot (train/README.md, "Refinement beyond stage 5"). The
refinement section of a stream (docs/format.md) gives some positions up to E more codes from E
extra 1024-code codebooks, `rvq.refine` [E, K, C2] (F16) in the weights file; the decoder sums
them into ŷ(5) and decodes with the stage-5 modulation, unchanged.

The codebooks are k-means (`--iters` Lloyd iterations from random rows, an empty cluster
restarted at a random row) on what the codec's five stages (grid fit, pre-filter, beam search)
leave of the encoder's latent on bsds500 train+val, each on the residual of the ones before. The
encoder's rule (`refine_chain`, `fill_order`): every position's chain of greedy nearest codes
through the E books, then codes handed out one at a time to the position whose residual energy is
currently largest (ties: the lower position), at most E per position; a budget of m codes takes
the first m of that order. The codec first scales each position's energies by the visibility of
its stage-N decode's error, cubed (`steered`; visibility.py).

    /usr/bin/python3 train/refine.py --weights weights/progic-t.safetensors   # ~6 min

adds (or replaces) `rvq.refine` in that file and updates the sha256 and size in its manifest;
then `golden.py` rewrites the golden vectors for the new file.
"""
import argparse
import heapq
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from data import list_images, load_rgb  # noqa: E402
from progic import sq_dist  # noqa: E402

REFINE_TENSOR = "rvq.refine"
BOOKS = 8
ITERS = 15
STORAGE_NOTE = "; F16 rvq.refine"


def five_stages(model, img):
    """-> (coded-size input [h, w, 3], latent y [h', w', C], ŷ(N) [h', w', C]) as the codec codes
    all N stages by default (grid fit, pre-filter, beam search)."""
    from choice import codec_search
    from export import DEFAULT_BEAMS, DEFAULT_PRESMOOTHING, codec_input
    x = codec_input(img, "auto")
    y = model.latent(x, DEFAULT_PRESMOOTHING)
    idx = codec_search(model, y, DEFAULT_BEAMS, stages=model.N)
    return x, y, model.lookup(idx[:, None], model.N)[0].permute(1, 2, 0)


def nearest(r, cb, chunk=8192):
    """Index of the nearest code for each row of r, in chunks (a [P, K] distance matrix at a time)."""
    return torch.cat([sq_dist(r[i:i + chunk], cb).argmin(1) for i in range(0, r.shape[0], chunk)])


def random_kmeans(x, k, iters, seed):
    """Lloyd iterations from k random rows, an empty cluster restarted at a random row. Not
    `progic.kmeans`: its k-means++ seeding took ~3 minutes per codebook on the 180 000 residuals
    here (against seconds)."""
    g = torch.Generator().manual_seed(seed)
    c = x[torch.randperm(x.shape[0], generator=g)[:k]].clone()
    for _ in range(iters):
        a = nearest(x, c)
        s = torch.zeros_like(c).index_add_(0, a, x)
        n = torch.bincount(a, minlength=k).float()
        refill = x[torch.randint(0, x.shape[0], (k,), generator=g)]
        c = torch.where((n == 0)[:, None], refill, s / n.clamp(min=1)[:, None])
    return c


@torch.no_grad()
def build_books(model, files, books, iters, log=print):
    """-> ([books, K, C2] float32 holding F16-exact values, mean residual energy per level)."""
    t0 = time.time()
    r = torch.cat([(y - yh).reshape(-1, y.shape[-1]) for _, y, yh in
                   (five_stages(model, load_rgb(f)) for f in files)])
    log(f"{r.shape[0]} stage-{model.N} residuals from {len(files)} images ({time.time() - t0:.0f} s)")
    out, energy = [], [r.pow(2).sum(1).mean().item()]
    for s in range(books):
        # Rounded to F16 before the residual is taken, so the next book fits what the codec sees.
        c = random_kmeans(r, model.K, iters, seed=s).half().float()
        r = r - c[nearest(r, c)]
        energy.append(r.pow(2).sum(1).mean().item())
        log(f"refinement book {s + 1}: mean residual energy {energy[-2]:.3f} -> {energy[-1]:.3f} "
            f"({time.time() - t0:.0f} s)")
        out.append(c)
    return torch.stack(out), energy


def build(model, files, books=BOOKS, iters=ITERS, log=print):
    """-> (`rvq.refine` as stored: [books, K, C2] float16, the manifest's "refine" record)."""
    out, energy = build_books(model, files, books, iters, log)
    return out.numpy().astype(np.float16), {
        "books": books, "codes": model.K, "lloyd_iterations": iters, "images": len(files),
        "data": "bsds500 train+val, the codec's five stages (grid fit, pre-filter, beam search)",
        "mean_residual_energy": [round(v, 4) for v in energy],
    }


@torch.no_grad()
def refine_chain(r0, books, exact=False):
    """r0 [P, C] (y − ŷ(N), float32) -> (codes [E, P] int64: each position's greedy nearest code
    in each book in turn, energies [E + 1, P] float64: ‖r‖² before any and after each code).
    Residuals in float32 (r = r − B_e[code]); distances in float64 when `exact` (golden vectors),
    lowest index wins ties."""
    r = r0.float()
    codes, energies = [], [r.double().pow(2).sum(1)]
    for b in books:
        b = b.float()
        if exact:
            d = ((r.double()[:, None, :] - b.double()[None, :, :]) ** 2).sum(-1)
            code = d.argmin(1)
        else:
            code = nearest(r, b)
        r = r - b[code]
        codes.append(code)
        energies.append(r.double().pow(2).sum(1))
    return torch.stack(codes), torch.stack(energies)


STEER_POWER = 3.0


def steered(energies, vis, power=STEER_POWER):
    """energies [E + 1, P] -> the same with position p's row scaled by vis[p]^power: `fill_order`
    of these hands codes to where the residual is large *and* the decoded stage-N image differs
    visibly (visibility.py; src/models/progic/refine.ts `steered`)."""
    w = np.asarray(vis, np.float64) ** power
    return np.asarray(energies, np.float64) * w[None, :]


def fill_order(energies):
    """energies [E + 1, P] -> positions in the order they receive refinement codes (length E·P):
    each time the position whose current residual energy (after the codes it has) is largest,
    the lower position on ties, until every position has E."""
    e = np.asarray(energies, dtype=np.float64)
    E, P = e.shape[0] - 1, e.shape[1]
    heap = [(-e[0, p], p) for p in range(P)]
    heapq.heapify(heap)
    depth = np.zeros(P, np.int64)
    order = []
    while heap:
        _, p = heapq.heappop(heap)
        order.append(p)
        depth[p] += 1
        if depth[p] < E:
            heapq.heappush(heap, (-e[depth[p], p], p))
    return np.asarray(order, np.int64)


def depths(order, positions, m):
    """Refinement codes per position when the first m of `fill_order` are given."""
    return np.bincount(np.asarray(order[:m], np.int64), minlength=positions)


def depth_bits(depth, width):
    """Ideal bits of the depths under the adaptive model of refine.ts (ProGIC parameters version
    4): per context (how many of the left and upper neighbours have codes, 0-2) counts that start
    at 1 per depth 0..max and grow by 2 per depth seen."""
    d = np.asarray(depth, np.int64)
    counts = np.ones((3, int(d.max()) + 1))
    bits = 0.0
    for p, v in enumerate(d):
        c = int(p % width > 0 and d[p - 1] > 0) + int(p >= width and d[p - width] > 0)
        bits -= math.log2(counts[c, v] / counts[c].sum())
        counts[c, v] += 2
    return bits


def section_bits(depth, K, width):
    """Ideal bits of a refinement section's symbols with these depths on a grid `width` positions
    wide (refine.ts): log2(K) per code and the depths under the adaptive model. The section adds
    its E′ byte (`DEPTH_BYTE_BITS`), and its symbols join the stages' rANS stream
    (entropy.stream_bits; parameters version 6)."""
    depth = np.asarray(depth)
    return depth.sum() * math.log2(K) + depth_bits(depth, width)


DEPTH_BYTE_BITS = 8  # E′, the byte before the section's symbols


def auto_count(order, positions, K, room_bits, width):
    """The most codes of `order` whose section fits in `room_bits` (0 when none does), by bisection
    on the count, as the codec's `"auto"` budget (src/models/progic/codec.ts)."""
    lo, hi = 0, len(order)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if section_bits(depths(order, positions, mid), K, width) <= room_bits:
            lo = mid
        else:
            hi = mid - 1
    return lo


def refined_latent(yhat, books, codes, depth):
    """ŷ [P, C] + each position's first depth[p] refinement codes (summed in book order)."""
    out = yhat.float().clone()
    d = torch.as_tensor(depth)
    for e, b in enumerate(books):
        on = d > e
        out[on] = out[on] + b.float()[codes[e][on]]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", required=True, help="a ProGIC .safetensors (its .json manifest beside it)")
    p.add_argument("--books", type=int, default=BOOKS, help="refinement codebooks")
    p.add_argument("--iters", type=int, default=ITERS, help="Lloyd iterations per codebook")
    p.add_argument("--limit", type=int, default=0, help="use the first N training images (0: all)")
    a = p.parse_args(argv)
    from export import add_to_weights_file, model_from_safetensors
    torch.set_num_threads(2)
    model = model_from_safetensors(a.weights)
    books, record = build(model, list_images()[:a.limit or None], a.books, a.iters)
    add_to_weights_file(a.weights, {REFINE_TENSOR: books}, STORAGE_NOTE, "refine", record)
    print(f"wrote {a.weights}: {REFINE_TENSOR} {list(books.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
