"""Static entropy model of ProGIC's code indices, stored in the weights file.

ProGIC writes each stage's indices as fixed 10-bit fields. They are not uniform: after training
the codebooks' usage is skewed (about 9.2-9.5 bits of entropy per stage), and at stage 1 a code
often repeats its left or upper neighbour (sky, walls). The codec therefore codes a stage with
rANS when that is smaller (docs/format.md, ProGIC parameters version 2), using T tables:

- `entropy.repeat` [T, 2]: 16-bit probabilities (of 65536) of "same code as the left neighbour"
  and "same code as the upper neighbour" (the second asked only when the left flag was asked and
  false or not asked, and the upper code differs from the left one);
- `entropy.freq` [T, K]: 16-bit frequencies (each >= 1, summing to 65536) of the codes, for
  positions that repeat neither neighbour;
- `entropy.context` [N, K + 1]: which table a position of stage s uses, by its context code: at
  stage 1 its left neighbour's code (the upper one's in the first column; K at the first
  position), at a later stage the code at the same position in the stage before. A stage coded
  without context maps every column to one table. A file without this tensor has T = N and stage
  s uses table s (the layout before contexts).

The tables group context codes by their k-means cluster in the codebook they come from
(`--clusters`, 32): at stage 1 the left neighbour's cluster predicts a code well (smooth regions
keep similar codes), which saves ~7% of stage 1; at stages 2-5 the previous stage's cluster saves
~1.4% (train/README.md).

Since ProGIC parameters version 5 the codec adapts these tables as it walks a stage (`adaptive_code_bits`,
`adapted_cdf`, `adapted_flag`): a code already coded in this stage of this image gets a share of the
range (the static table weighing ADAPT_CODE_PRIOR codes), and a flag's odds scale with how often it
fired against the static expectation (ADAPT_FLAG_PRIOR). On bsds500/test that saves 1.0% of the
stages (train/README.md, "Adaptive index coding"); `code_bits` prices that model unless told
`adaptive=False` (the static walk of versions 2-4).

All are measured on bsds500 train+val with the codec's own path (grid fit, pre-filter, beam
search aimed at all N stages) and stored as U16 tensors, so the tables are
covered by the weights hash every stream records. `code_bits` is the ideal length of a stage
under the model, which `export.evaluate` reports as the twin's rate and the TypeScript coder
(src/models/progic/entropy.ts) meets within its 4-byte rANS state per stage.

    /usr/bin/python3 train/entropy.py --weights weights/progic-t.safetensors

adds (or replaces) the tables in that file and updates the sha256 and size in its manifest;
then `export.py --eval-only` re-measures the manifest's quality (its bpp) and `golden.py` rewrites
the golden vectors for the new file. The tables are always measured with the codec's defaults
(grid fit, pre-filter DEFAULT_PRESMOOTHING, beam search DEFAULT_BEAMS), what the encoder uses
unless told otherwise. (The tables shipped in progic-t and progic-s were measured at pre-filter
0.5, the default until 2026-12-05; re-measuring them at 1 would change the weights' hash.)
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from data import list_images, load_rgb  # noqa: E402

PROB_SCALE = 1 << 16
TENSORS = ("entropy.freq", "entropy.repeat", "entropy.context")
CLUSTERS = 32
# Pseudo-counts that shrink a context's counts toward its stage's (chosen on train -> val).
CODE_PRIOR, FLAG_PRIOR = 1600, 20
# The adaptive model's weights of the static tables (docs/format.md, ProGIC parameters version 5):
# a stage's code table weighs as many codes as ADAPT_CODE_PRIOR (stages 1, 2, 3 and later), a
# flag's odds as ADAPT_FLAG_PRIOR expected repeats (chosen on 100 train images; train/README.md).
ADAPT_CODE_PRIOR = (800, 1600, 3200)
ADAPT_FLAG_PRIOR = 2
STORAGE_NOTE = "; U16 entropy tables"
OLD_STORAGE_NOTE = "; F32 entropy tables (exact integers)"  # files written before 2026-12-04


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


def context_codes(stages, s, K):
    """stages [>= s + 1, h, w] -> [h, w] the context code of each position of stage s: at stage 1
    (s = 0) its left neighbour's code, the upper one's in the first column, K at the first
    position; later, the same position's code in stage s - 1."""
    stages = np.asarray(stages).astype(np.int64)
    if s > 0:
        return stages[s - 1]
    idx = stages[0]
    nb = np.full(idx.shape, K, np.int64)
    nb[1:, 0] = idx[:-1, 0]
    nb[:, 1:] = idx[:, :-1]
    return nb


def codebook_clusters(codebook, G, seed=0):
    """codebook [K, C] -> [K] k-means cluster (0..G-1) of each code."""
    from progic import kmeans, sq_dist
    cb = torch.as_tensor(np.asarray(codebook), dtype=torch.float32)
    centers = kmeans(cb, G, 30, generator=torch.Generator().manual_seed(seed))
    return sq_dist(cb, centers).argmin(1).numpy()


def build_tables(stage_indices, K, groups=None):
    """stage_indices: list over images of [N, h, w] int arrays; groups: per stage None (one table)
    or a [K + 1] array of context groups 0..G-1 by context code (`context_codes`)
    -> (freq [T, K], repeat [T, 2], context [N, K + 1])."""
    N = stage_indices[0].shape[0]
    groups = groups or [None] * N
    freq, repeat, context = [], [], np.zeros((N, K + 1), np.int64)
    for s in range(N):
        g = np.zeros(K + 1, np.int64) if groups[s] is None else np.asarray(groups[s], np.int64)
        G = int(g.max()) + 1
        counts, n = np.zeros((G, K)), np.zeros((G, 4))
        for idx in stage_indices:
            c = g[context_codes(idx, s, K)].ravel()
            al, il, au, iu, plain = (m.ravel() for m in contexts(idx[s]))
            np.add.at(counts, (c[plain], idx[s].ravel()[plain]), 1)
            for j, m in enumerate((al, il, au, iu)):
                n[:, j] += np.bincount(c[m], minlength=G)
        stage = counts.sum(0) + 0.5
        tot = n.sum(0)
        flags = np.array([(tot[1] + 0.5) / (tot[0] + 1), (tot[3] + 0.5) / (tot[2] + 1)])
        if G > 1:  # few positions per context: shrink toward the stage's own statistics
            counts = counts + CODE_PRIOR * stage / stage.sum()
            p_flag = (n[:, [1, 3]] + FLAG_PRIOR * flags) / (n[:, [0, 2]] + FLAG_PRIOR)
        else:
            counts, p_flag = stage[None], flags[None]
        context[s] = len(freq) + g
        freq += [quantize(counts[j]) for j in range(G)]
        repeat += [[quantize_prob(p_flag[j, 0]), quantize_prob(p_flag[j, 1])] for j in range(G)]
    return np.stack(freq), np.array(repeat, np.int64), context


def adaptive_prior(s):
    """Pseudo-count weight of the static code table at stage s (0-based) in the adaptive model."""
    return ADAPT_CODE_PRIOR[min(s, len(ADAPT_CODE_PRIOR) - 1)]


def adapted_cdf(f, counts, n, prior):
    """The adaptive model's cumulative code frequencies [K + 1] (int64, from 0 to PROB_SCALE, every
    code >= 1 wide): the static table f [K] mixed with the counts [K] of the n codes this stage has
    coded so far, the table weighing `prior` codes. Each coded code owns `unit` = (2^16 - K) //
    (prior + n) of the range; the static table, less 1 per code, is scaled into what is left (R),
    by its cumulative sums, so that a coder finds any bound in O(log K) (a Fenwick tree of the
    counts) instead of rebuilding K frequencies per code; as in entropy.ts."""
    K = len(f)
    room = PROB_SCALE - K
    unit = room // (prior + n)
    rest = room - n * unit
    c = np.arange(K + 1)
    F = np.concatenate([[0], np.cumsum(np.asarray(f, np.int64))])
    C = np.concatenate([[0], np.cumsum(np.asarray(counts, np.int64))])
    return c + (F - c) * rest // room + unit * C


def adapted_flag(p16, hits, expected):
    """The adaptive model's 16-bit probability of a flag whose static one is p16, after `hits`
    repeats where the static model expected `expected` (the sum of its probabilities): its odds
    scaled by (hits + ADAPT_FLAG_PRIOR) / (expected + ADAPT_FLAG_PRIOR), as in entropy.ts."""
    a = p16 * ((hits + ADAPT_FLAG_PRIOR) / (expected + ADAPT_FLAG_PRIOR))
    return int(min(PROB_SCALE - 1, max(1, np.floor(PROB_SCALE * a / (a + (PROB_SCALE - p16)) + 0.5))))


def adaptive_code_bits(stages, tables, s):
    """Ideal length in bits of stage s under the adaptive model (ProGIC parameters version 5): the
    walk of `contexts`, each flag's probability adapted by `adapted_flag` to the flags of its kind
    coded before in this stage, each code's table by `adapted_cdf` to the codes coded before."""
    freq, repeat, context = tables
    idx = np.asarray(stages[s])
    K = freq.shape[1]
    t = context[s][context_codes(stages, s, K)]
    al, il, au, iu, plain = contexts(idx)
    prior, counts, n = adaptive_prior(s), np.zeros(K, np.int64), 0
    seen = [[0, 0.0], [0, 0.0]]  # per flag kind: repeats, expected repeats
    bits = 0.0
    for y, x in np.ndindex(idx.shape):
        tt = t[y, x]
        for k, (ask, hit) in enumerate(((al, il), (au, iu))):
            if ask[y, x]:
                p16 = int(repeat[tt, k])
                q = adapted_flag(p16, *seen[k])
                bits -= np.log2((q if hit[y, x] else PROB_SCALE - q) / PROB_SCALE)
                seen[k][0] += int(hit[y, x])
                seen[k][1] += p16 / PROB_SCALE
        if plain[y, x]:
            c = idx[y, x]
            cdf = adapted_cdf(freq[tt], counts, n, prior)
            bits -= np.log2((cdf[c + 1] - cdf[c]) / PROB_SCALE)
            counts[c] += 1
            n += 1
    return float(bits)


def code_bits(stages, tables, s, adaptive=True):
    """Ideal length in bits of stage s of `stages` [>= s + 1, h, w] under `tables` (freq, repeat,
    context): the adaptive model the codec writes (`adaptive_code_bits`), or with `adaptive`
    False the static one of parameter versions 2-4."""
    if adaptive:
        return adaptive_code_bits(stages, tables, s)
    freq, repeat, context = tables
    idx = np.asarray(stages[s])
    t = context[s][context_codes(stages, s, freq.shape[1])]
    al, il, au, iu, plain = contexts(idx)
    pl, pu = repeat[t, 0] / PROB_SCALE, repeat[t, 1] / PROB_SCALE
    bits = -(np.log2(pl[il]).sum() + np.log2(1 - pl[al & ~il]).sum())
    bits -= np.log2(pu[iu]).sum() + np.log2(1 - pu[au & ~iu]).sum()
    bits -= np.log2(freq[t[plain], idx[plain]] / PROB_SCALE).sum()
    return float(bits)


STATE_BITS = 32  # the rANS state a stream ends with: one per file since parameters version 6


def stage_bits(stages, tables, s, K):
    """(fixed bits, rANS bits) stage s of `stages` [>= s + 1, h, w] adds to a file, one of them 0:
    its fixed log2(K)-bit fields, or, when the weights carry `tables` (freq, repeat, context) and
    its ideal length rounds to fewer bytes, that ideal length. Since parameters version 6 the
    rANS-coded stages and the refinement are one stream, whose rounding and 4-byte state
    `stream_bits` counts once."""
    raw = np.asarray(stages[s]).size * np.log2(K)
    fixed = 8.0 * np.ceil(raw / 8)
    if tables is None:
        return fixed, 0.0
    coded = code_bits(stages, tables, s)
    # As the writer decides: rANS only when its bytes are fewer than the fixed fields' bytes.
    return (0.0, float(coded)) if np.ceil(coded / 8) < np.ceil(raw / 8) else (fixed, 0.0)


def stages_bits(stages, tables, n, K):
    """(fixed bits, rANS bits) of the first n stages (`stage_bits` summed)."""
    parts = [stage_bits(stages, tables, k, K) for k in range(n)]
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def stream_bits(fixed, coded):
    """A file's segment payload bits (parameters version 6): the fixed stages' and, when anything is
    rANS-coded, the one stream's ideal length rounded up to bytes plus its state."""
    return fixed + (8 * np.ceil(coded / 8) + STATE_BITS if coded > 0 else 0.0)


def tables_of(tensors):
    """(freq, repeat, context) int arrays from a weights file's tensors, or None when it has
    none; a file without `entropy.context` maps stage s to table s."""
    if "entropy.freq" not in tensors:
        return None
    freq = np.asarray(tensors["entropy.freq"]).astype(np.int64)
    if "entropy.context" in tensors:
        context = np.asarray(tensors["entropy.context"]).astype(np.int64)
    else:
        context = np.repeat(np.arange(len(freq))[:, None], freq.shape[1] + 1, 1)
    return freq, np.asarray(tensors["entropy.repeat"]).astype(np.int64), context


def codec_indices(model, files, log=print):
    """Indices [N, h, w] of each file as the codec writes `--stages N` (grid fit, pre-filter,
    beam search)."""
    from export import DEFAULT_BEAMS, DEFAULT_PRESMOOTHING, codec_input
    from choice import codec_search
    out, t0 = [], time.time()
    for i, f in enumerate(files):
        y = model.latent(codec_input(load_rgb(f)), DEFAULT_PRESMOOTHING)
        out.append(codec_search(model, y, DEFAULT_BEAMS).numpy())
        if (i + 1) % 50 == 0:
            log(f"  indices {i + 1}/{len(files)} ({time.time() - t0:.0f}s)")
    return out


def measure_tables(model, files, clusters=CLUSTERS, log=print):
    """-> (tensors dict to add, summary dict for the manifest)."""
    idx = codec_indices(model, files, log)
    groups = [None] * model.N
    if clusters > 1:  # stage 1's first position (context code K) has a group of its own
        groups = [np.append(codebook_clusters(model.rvq.codebooks[max(s - 1, 0)], clusters),
                            clusters if s == 0 else 0) for s in range(model.N)]
    tables = build_tables(idx, model.K, groups)
    bits = [np.mean([code_bits(i, tables, s) / i[s].size for i in idx]) for s in range(model.N)]
    summary = {"data": f"bsds500 train+val ({len(files)} images), codec path (grid fit, pre-filter, "
                       "beam search aimed at every stage)",
               "context": (f"k-means cluster ({clusters} per codebook) of the left neighbour's code at "
                           "stage 1, of the previous stage's code at the same position later; "
                           f"pseudo-counts {CODE_PRIOR} (codes) / {FLAG_PRIOR} (flags)"
                           if clusters > 1 else "none"),
               "tables": int(len(tables[0])),
               "train_bits_per_code": [round(float(b), 4) for b in bits]}
    return table_tensors(tables), summary


def table_tensors(tables):
    """(freq, repeat, context) -> the weights file's U16 tensors by name."""
    # Every value fits 16 bits: frequencies 1..65536 - (K - 1), probabilities 1..65535, table
    # numbers below T.
    assert all(0 <= v.min() and v.max() < 1 << 16 for v in tables)
    return {k: v.astype(np.uint16) for k, v in zip(TENSORS, tables)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", required=True, help="a ProGIC .safetensors (its .json manifest beside it)")
    p.add_argument("--limit", type=int, default=0, help="use the first N training images (0: all)")
    p.add_argument("--clusters", type=int, default=CLUSTERS,
                   help="context groups per stage, by k-means cluster of the context code (0: none)")
    a = p.parse_args(argv)
    from export import add_to_weights_file, model_from_safetensors
    torch.set_num_threads(2)
    model = model_from_safetensors(a.weights)
    files = list_images()
    if a.limit:
        files = files[:a.limit]
    tens, summary = measure_tables(model, files, a.clusters)
    add_to_weights_file(a.weights, tens, STORAGE_NOTE, "entropy", summary, drop_note=OLD_STORAGE_NOTE)
    print(f"wrote {a.weights}: bits per code by stage {summary['train_bits_per_code']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
