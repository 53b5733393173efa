"""Rate-aware choice of the beam search's path: the twin of src/models/progic/choice.ts.

The search keeps the B complete paths with the least latent error ‖y − ŷ‖² at every position
(`progic.beam_paths`); walking the grid in raster order, as the index coder does, each position
takes the path with the least error + λ · bits, the bits priced by the weights' static index
tables (entropy.py) with the neighbours already chosen, the lower path on ties. A path that
repeats a neighbour's code or uses frequent codes can cost several bits fewer for a little more
error, and the refinement spends the bits saved where the residual is largest (train/README.md,
"Rate-aware path choice"). Encoder only: the stream format and the decoder are unchanged.
"""
import numpy as np
import torch

from progic import beam_paths

# Weight of one bit against the latent's squared error (chosen on bsds500/val; train/README.md).
DEFAULT_RATE_WEIGHT = 0.3
PROB_BITS = 16


def _cost(f):
    """Bits of a symbol of 16-bit frequency f (FrequencyTable.cost)."""
    return PROB_BITS - np.log2(np.asarray(f, np.float64))


def static_bits(tables, s, code, left, up, previous):
    """Bits the static tables spend on `code` at stage s at a position whose left and upper codes
    (-1: none) are known, `previous` its code in the stage before (the context after stage 1;
    entropy.context_codes' rule)."""
    freq, repeat, ctx = tables
    K = ctx.shape[1] - 1
    context = previous if s > 0 else (left if left >= 0 else (up if up >= 0 else K))
    t = ctx[s][context]
    p_left, p_up = int(repeat[t][0]), int(repeat[t][1])
    bits = 0.0
    if left >= 0:
        if code == left:
            return float(_cost(p_left))
        bits += float(_cost(65536 - p_left))
    if up >= 0 and up != left:
        if code == up:
            return bits + float(_cost(p_up))
        bits += float(_cost(65536 - p_up))
    return bits + float(_cost(freq[t][code]))


def path_errors(paths, y_hwc, codebooks):
    """paths [B, S, h, w], latent [h, w, C] -> [B, h*w] ‖y − Σ_s codebook_s[code]‖² in float64."""
    B, S = paths.shape[:2]
    C = y_hwc.shape[-1]
    y = torch.as_tensor(y_hwc).reshape(-1, C).double()
    out = []
    for b in range(B):
        r = y.clone()
        for s in range(S):
            r -= codebooks[s].double()[torch.as_tensor(paths[b, s]).reshape(-1)]
        out.append((r * r).sum(-1).numpy())
    return np.stack(out)


def choose_paths(paths, errors, tables, weight):
    """paths [B, S, h, w], errors [B, h*w] -> indices [S, h, w]: per position (raster order) the
    path with the least error + weight · bits, the lower path on ties."""
    paths = np.asarray(paths)
    B, S, h, w = paths.shape
    flat = paths.reshape(B, S, -1)
    out = np.zeros((S, h * w), np.int64)
    for p in range(h * w):
        x = p % w
        best, best_cost = 0, np.inf
        for b in range(B):
            cost = float(errors[b][p])
            for s in range(S):
                left = int(out[s, p - 1]) if x > 0 else -1
                up = int(out[s, p - w]) if p >= w else -1
                previous = int(flat[b, s - 1, p]) if s > 0 else -1
                cost += weight * static_bits(tables, s, int(flat[b, s, p]), left, up, previous)
            if cost < best_cost:
                best, best_cost = b, cost
        out[:, p] = flat[best, :, p]
    return out.reshape(S, h, w)


def codec_search(model, y_hwc, beams, stages=None, weight=DEFAULT_RATE_WEIGHT, exact=False):
    """The codec's beam search (src/models/progic/codec.ts `encodeIndices`, beams > 1): the B
    complete paths and, when the model has index tables and weight > 0, the rate-aware choice
    among them, else the winner; one stage is searched greedily, as the codec does.
    -> [stages, h, w] int64."""
    S = stages or model.rvq.codebooks.shape[0]
    if S == 1:  # one stage: the codec searches greedily (its greedy graph serves every prefix)
        return beam_paths(y_hwc, model.rvq.codebooks, 1, 1, exact)[0]
    paths = beam_paths(y_hwc, model.rvq.codebooks, beams, stages, exact)
    tables = getattr(model, "entropy", None)
    if tables is None or weight <= 0:
        return paths[0]
    errors = path_errors(paths.numpy(), y_hwc, model.rvq.codebooks)
    return torch.from_numpy(choose_paths(paths.numpy(), errors, tables, weight))
