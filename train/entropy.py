"""Static entropy model of ProGIC's code indices, stored in the weights file.

ProGIC writes each stage's indices as fixed 10-bit fields. They are not uniform: after training
the codebooks' usage is skewed (about 9.2-9.5 bits of entropy per stage), and at stage 1 a code
often repeats its left or upper neighbour (sky, walls). The codec therefore codes a stage with
rANS when that is smaller (docs/format.md, ProGIC parameters version 2), using, per stage:

- `entropy.repeat` [N, 2]: 16-bit probabilities (of 65536) of "same code as the left neighbour"
  and "same code as the upper neighbour" (the second asked only when the left flag was asked and
  false or not asked, and the upper code differs from the left one);
- `entropy.freq` [N, K]: 16-bit frequencies (each >= 1, summing to 65536) of the codes, for
  positions that repeat neither neighbour.

Both are measured on bsds500 train+val with the codec's own path (grid fit, pre-filter, beam
search aimed at all N stages) and stored as exact integers in F32 tensors, so the tables are
covered by the weights hash every stream records. `code_bits` is the ideal length of a stage
under the model, which `export.evaluate` reports as the twin's rate and the TypeScript coder
(src/models/progic/entropy.ts) meets within its 4-byte rANS state per stage.

    /usr/bin/python3 train/entropy.py --weights weights/progic-t.safetensors

adds (or replaces) the tables in that file and updates the sha256 and size in its manifest;
then `export.py --eval-only` re-measures the manifest's quality (its bpp) and `golden.py` rewrites
the golden vectors for the new file. The tables are always measured with the codec's defaults
(grid fit, pre-filter DEFAULT_PRESMOOTHING, beam search DEFAULT_BEAMS), what the encoder uses
unless told otherwise.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import st_io  # noqa: E402
from data import list_images, load_rgb  # noqa: E402

PROB_SCALE = 1 << 16
TENSORS = ("entropy.freq", "entropy.repeat")
STORAGE_NOTE = "; F32 entropy tables (exact integers)"


def quantize(counts):
    """Non-negative counts -> int64 frequencies, each >= 1, summing to PROB_SCALE (the largest
    absorb the rounding, so no code is ever made impossible)."""
    c = np.asarray(counts, dtype=np.float64)
    f = np.maximum(1, np.floor(c / c.sum() * PROB_SCALE)).astype(np.int64)
    order = np.argsort(-f, kind="stable")
    i, d = 0, PROB_SCALE - int(f.sum())
    while d != 0:
        j = order[i % len(f)]
        step = 1 if d > 0 else -1
        if f[j] + step >= 1:
            f[j] += step
            d -= step
        i += 1
    return f


def quantize_prob(p):
    """A probability -> 16-bit frequency in [1, 65535], so both outcomes stay codable."""
    return int(min(PROB_SCALE - 1, max(1, round(p * PROB_SCALE))))


def contexts(idx):
    """idx [h, w] -> (ask_left, is_left, ask_up, is_up, plain) boolean maps, as the coder walks a
    stage in raster order: the left flag is asked where there is a left neighbour; the up flag
    where there is an upper neighbour, the left flag did not fire and the upper code differs from
    the left one (else its answer is known); `plain` marks positions coded with the table."""
    idx = np.asarray(idx)
    h, w = idx.shape
    ask_l = np.zeros((h, w), bool)
    ask_l[:, 1:] = True
    is_l = np.zeros((h, w), bool)
    is_l[:, 1:] = idx[:, 1:] == idx[:, :-1]
    ask_u = np.zeros((h, w), bool)
    ask_u[1:, :] = True
    ask_u[1:, 1:] &= idx[:-1, 1:] != idx[1:, :-1]
    ask_u &= ~is_l
    is_u = np.zeros((h, w), bool)
    is_u[1:, :] = idx[1:, :] == idx[:-1, :]
    is_u &= ask_u
    plain = ~is_l & ~is_u
    return ask_l, is_l, ask_u, is_u, plain


def build_tables(stage_indices, K):
    """stage_indices: list over images of [N, h, w] int arrays -> (freq [N, K], repeat [N, 2])."""
    N = stage_indices[0].shape[0]
    freq = np.zeros((N, K), np.int64)
    repeat = np.zeros((N, 2), np.int64)
    for s in range(N):
        counts = np.full(K, 0.5)
        n = np.zeros(4)
        for idx in stage_indices:
            al, il, au, iu, plain = contexts(idx[s])
            n += [al.sum(), il.sum(), au.sum(), iu.sum()]
            counts += np.bincount(idx[s][plain].ravel(), minlength=K)
        freq[s] = quantize(counts)
        repeat[s] = [quantize_prob((n[1] + 0.5) / (n[0] + 1)), quantize_prob((n[3] + 0.5) / (n[2] + 1))]
    return freq, repeat


def code_bits(idx, freq, repeat):
    """Ideal length in bits of one stage [h, w] under the stage's tables (freq [K], repeat [2])."""
    al, il, au, iu, plain = contexts(idx)
    pl, pu = repeat[0] / PROB_SCALE, repeat[1] / PROB_SCALE
    bits = -(il.sum() * np.log2(pl) + (al & ~il).sum() * np.log2(1 - pl))
    bits -= iu.sum() * np.log2(pu) + (au & ~iu).sum() * np.log2(1 - pu)
    bits -= np.log2(freq[np.asarray(idx)[plain]] / PROB_SCALE).sum()
    return float(bits)


def stage_bits(idx, tables, s, K):
    """Bits the codec spends on stage s (idx [h, w]): its fixed log2(K)-bit fields, or, when the
    weights carry `tables` (freq, repeat) and that is smaller, the rANS stream (ideal length
    rounded up to bytes, plus the 4-byte final state)."""
    idx = np.asarray(idx)
    raw = idx.size * np.log2(K)
    if tables is None:
        return float(raw)
    coded = int(np.ceil(code_bits(idx, tables[0][s], tables[1][s]) / 8)) + 4
    # As the writer decides: rANS only when its bytes are fewer than the fixed fields' bytes.
    return float(8 * coded if coded < np.ceil(raw / 8) else raw)


def tables_of(tensors):
    """(freq, repeat) int arrays from a weights file's tensors, or None when it has none."""
    if "entropy.freq" not in tensors:
        return None
    return (np.asarray(tensors["entropy.freq"]).astype(np.int64),
            np.asarray(tensors["entropy.repeat"]).astype(np.int64))


def codec_indices(model, files, log=print):
    """Indices [N, h, w] of each file as the codec writes `--stages N` (grid fit, pre-filter,
    beam search)."""
    from export import DEFAULT_BEAMS, DEFAULT_PRESMOOTHING, codec_input
    from progic import beam_search
    out, t0 = [], time.time()
    for i, f in enumerate(files):
        y = model.latent(codec_input(load_rgb(f)), DEFAULT_PRESMOOTHING)
        out.append(beam_search(y, model.rvq.codebooks, DEFAULT_BEAMS).numpy())
        if (i + 1) % 50 == 0:
            log(f"  indices {i + 1}/{len(files)} ({time.time() - t0:.0f}s)")
    return out


def measure_tables(model, files, log=print):
    """-> (tensors dict to add, summary dict for the manifest)."""
    idx = codec_indices(model, files, log)
    freq, repeat = build_tables(idx, model.K)
    bits = [np.mean([code_bits(i[s], freq[s], repeat[s]) / i[s].size for i in idx])
            for s in range(model.N)]
    summary = {"data": f"bsds500 train+val ({len(files)} images), codec path (grid fit, pre-filter, "
                       "beam search aimed at every stage)",
               "train_bits_per_code": [round(float(b), 4) for b in bits],
               "repeat_left_up": repeat.tolist()}
    tens = {"entropy.freq": freq.astype(np.float32), "entropy.repeat": repeat.astype(np.float32)}
    return tens, summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", required=True, help="a ProGIC .safetensors (its .json manifest beside it)")
    p.add_argument("--limit", type=int, default=0, help="use the first N training images (0: all)")
    a = p.parse_args(argv)
    from export import model_from_safetensors, weights_file_record, write_manifest
    torch.set_num_threads(2)
    model = model_from_safetensors(a.weights)
    files = list_images()
    if a.limit:
        files = files[:a.limit]
    tens, summary = measure_tables(model, files)
    stored, meta = st_io.load(a.weights)
    stored.update(tens)
    st_io.save(a.weights, stored, metadata=meta)
    print(f"wrote {a.weights}: bits per code by stage {summary['train_bits_per_code']}")
    mpath = os.path.splitext(a.weights)[0] + ".json"
    if os.path.exists(mpath):
        with open(mpath) as f:
            manifest = json.load(f)
        manifest["weights"].update(weights_file_record(a.weights, stored))
        if STORAGE_NOTE not in manifest["weights"].get("storage", ""):
            manifest["weights"]["storage"] = manifest["weights"].get("storage", "") + STORAGE_NOTE
        manifest["entropy"] = summary
        write_manifest(mpath, manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
