#!/usr/bin/python3
"""Quick self-check of the PyTorch side (< 1 min on 2 cores):

    /usr/bin/python3 train/selftest.py

- CONFIGS == the table in docs/progic.md
- state_dict names and shapes == the names derived from the doc's rules, for every config
- pixel_unshuffle channel ordering (c·r² + i·r + j)
- DCB / Attention forward == a literal transcription of the doc pseudo-code
- shapes of encode / quantize / decode / compress / decompress (padding + crop, 70x50)
- per-sample stage modulation == per-int stage modulation
- peak_err_per_sample: constant grey error -> its size, chroma-only -> 0, p = 2 -> RMS, rises with p
- decoder post-filter (smooth_image): impulse response, replicated edges, blend strength
- RVQ: lowest index wins ties; fast search == exact search on random data
- RVQ beam search: width 1 == greedy; wider lowers the total residual energy; == brute force on a
  toy codebook; ties keep the lower code
- safetensors round trip (F32/F16/I32, alignment) and export -> load round trip
- decoder_finetune.write_weights_with_decoder: only dec.* replaced, stored as exported
- training resume round trip: ckpt.pt (bitwise-continuing) and slim resume.pt
"""

import os
import re
import shutil
import sys
import tempfile
import time

# Sleep instead of spin at OpenMP barriers: on the shared 2-core machine (other processes, nice 19)
# spinning made 2-thread steps ~5x slower than passive waiting (measured 23-27 s vs 4-6 s per step).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ckpt  # noqa: E402
import st_io  # noqa: E402
from data import list_images  # noqa: E402
from losses import err_per_sample, peak_err_per_sample  # noqa: E402
from export import export_tensors, load_checkpoint, model_from_safetensors, write_weights  # noqa: E402
from progic import (CONFIGS, DCB, ProGIC, beam_search, beam_widths, exact_search, param_names,  # noqa: E402
                    smooth_image, sq_dist)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
T0 = time.time()


def ok(msg):
    print(f"ok  {time.time() - T0:5.1f}s  {msg}", flush=True)


def doc_configs():
    text = open(os.path.join(ROOT, "docs", "progic.md")).read()
    out = {}
    for m in re.finditer(r"^\| `([a-z0-9-]+)`[^|]*\|((?:\s*\d+\s*\|){7})\s*(yes|no)\s*\|", text, re.M):
        v = [int(t) for t in m.group(2).split("|") if t.strip()]
        out[m.group(1)] = dict(zip(("C1", "M", "D", "k", "C2", "N", "K"), v), P=m.group(3) == "yes")
    return out


def doc_names(cfg):
    """Expected exported names -> shapes, written from the doc's rules (independently of progic.py)."""
    C1, M, D, k, C2, N, K = (cfg[n] for n in ("C1", "M", "D", "k", "C2", "N", "K"))
    e = {}

    def pwn(p, cin, cout):
        e[p + ".weight"], e[p + ".bias"] = (cout, cin, 1, 1), (cout,)

    def dcb(p, cin, cout, mod):
        C = cout
        if cin != cout:
            pwn(p + ".adaptor", cin, cout)
        pwn(p + ".dc.pw1", C, C)
        e[p + ".dc.dw.weight"], e[p + ".dc.dw.bias"] = (C, 1, 3, 3), (C,)
        pwn(p + ".dc.pw2", C, C)
        pwn(p + ".ffn.pw1", C, 4 * C)
        pwn(p + ".ffn.pw2", 2 * C, C)
        if mod:
            for t in ("mod_dc", "mod_ffn"):
                e[f"{p}.{t}.scale"] = e[f"{p}.{t}.bias"] = (N, C)

    def attn(p, mod):
        for j in range(k):
            dcb(f"{p}.trunk.{j}", C2, C2, mod)
            dcb(f"{p}.mask.{j}", C2, C2, mod)
        pwn(p + ".mask_conv", C2, C2)

    dcb("enc.head", 192, C1, False)
    for i in range(M - 1):
        dcb(f"enc.blocks.{i}", C1, C1, False)
    e["enc.down.weight"], e["enc.down.bias"] = (C2, C1, 3, 3), (C2,)
    attn("enc.attn", False)
    e["rvq.codebooks"] = (N, K, C2)
    attn("dec.attn", True)
    pwn("dec.up", C2, 4 * C1)
    dcb("dec.up_block", C1, C1, True)
    for i in range(D - 2):
        dcb(f"dec.blocks.{i}", C1, C1, True)
    if cfg["P"]:
        dcb("dec.tail", C1, C1, True)
        pwn("dec.tail_proj", C1, 192)
    else:
        dcb("dec.tail", C1, 192, True)
    return e


def literal_dcb(blk, x, s):
    """docs/progic.md DCB pseudo-code, transcribed literally (activation slicing)."""
    if blk.adaptor is not None:
        x = blk.adaptor(x)
    t = blk.dc.pw2(blk.dc.dw(F.relu(blk.dc.pw1(x))))
    if blk.mod_dc is not None:
        t = t * blk.mod_dc.scale[s].view(1, -1, 1, 1) + blk.mod_dc.bias[s].view(1, -1, 1, 1)
    h = x + t
    u = blk.ffn.pw1(h)
    C = h.shape[1]
    u = F.relu(u[:, :2 * C]) * u[:, 2 * C:]
    t = blk.ffn.pw2(u)
    if blk.mod_ffn is not None:
        t = t * blk.mod_ffn.scale[s].view(1, -1, 1, 1) + blk.mod_ffn.bias[s].view(1, -1, 1, 1)
    out = h + t
    if blk.shortcut:
        out = out + x
    return out


def randomise_mod(model, g):
    with torch.no_grad():
        for n, p in model.named_parameters():
            if ".mod_" in n:
                p.copy_((1.0 if n.endswith("scale") else 0.0) + 0.3 * torch.randn(p.shape, generator=g))


def main():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)

    # -- configs and names
    dc = doc_configs()
    assert dc == CONFIGS, f"docs/progic.md table {dc} != CONFIGS {CONFIGS}"
    ok(f"CONFIGS match the doc table ({', '.join(dc)})")
    for name, cfg in CONFIGS.items():
        m = ProGIC(name)
        exp = doc_names(cfg)
        sd = m.state_dict()
        got = {n: tuple(sd[n].shape) for n in param_names(m)}
        assert set(got) == set(exp), (name, sorted(set(got) ^ set(exp))[:10])
        bad = [n for n in exp if got[n] != exp[n]]
        assert not bad, (name, bad[:5])
        ok(f"{name}: {len(got)} exported tensors, names and shapes match the doc "
           f"({sum(np.prod(s) for s in got.values()) / 1e6:.2f}M values)")

    # -- pixel_unshuffle ordering
    x = torch.randn(1, 3, 16, 24)
    pu = F.pixel_unshuffle(x, 8)
    c, i, j, yy, xx = 2, 5, 3, 1, 2
    assert pu[0, c * 64 + i * 8 + j, yy, xx] == x[0, c, yy * 8 + i, xx * 8 + j]
    assert torch.equal(F.pixel_shuffle(pu, 8), x)
    ok("pixel_unshuffle: channel c*r^2 + i*r + j; pixel_shuffle is its inverse")

    # -- luma-weighted L1: a grey error costs its RGB L1; a pure-chroma error (from the inverse
    # BT.601 matrix) costs |dC| / W
    x = torch.rand(2, 3, 8, 8, generator=g)
    grey = torch.randn(2, 1, 8, 8, generator=g).expand(2, 3, 8, 8) * 0.1
    assert torch.allclose(err_per_sample(x + grey, x, 4.0), err_per_sample(x + grey, x, 0.0), atol=1e-6)
    dcr = torch.tensor([1.402, -0.714136, 0.0]).view(1, 3, 1, 1) * 0.1  # Cr += 0.1, Y = Cb = 0
    got = err_per_sample(x + dcr, x, 4.0)
    assert torch.allclose(got, torch.full((2,), 0.1 / 4.0), atol=1e-5), got
    ok("err_per_sample: grey errors cost RGB L1, a Cr error of 0.1 costs 0.1 / W")
    got = err_per_sample(x + dcr, x, 4.0, power=2)
    assert torch.allclose(got, torch.full((2,), 0.01 / 4.0), atol=1e-6), got
    assert torch.allclose(err_per_sample(x + grey, x, 0.0, 2), ((grey ** 2).flatten(1).mean(1)), atol=1e-7)
    ok("err_per_sample power 2: squared errors with the same channel weights")
    x = torch.rand(2, 3, 32, 32, generator=g)
    for p in (2.0, 8.0):
        assert torch.allclose(peak_err_per_sample(x + 0.1, x, 1.0, p), torch.full((2,), 0.1), atol=1e-5)
        assert peak_err_per_sample(x + dcr, x, 1.0, p).max() < 1e-5
    spot = torch.zeros(2, 3, 32, 32)
    spot[:, :, 16, 16] = 0.5  # grey: luma error 0.5 on one interior pixel
    rms = (0.25 / 32 / 32) ** 0.5
    norms = [peak_err_per_sample(x + spot, x, 1.0, p)[0].item() for p in (2.0, 4.0, 8.0)]
    assert abs(norms[0] - rms) < 1e-5 and norms[0] < norms[1] < norms[2], norms
    # chroma weight c: a constant Cr error of 0.1 has local error c * 0.01, so the norm is sqrt(c) * 0.1
    for c in (0.5, 2.0):
        assert torch.allclose(peak_err_per_sample(x + dcr, x, 1.0, 4.0, chroma=c),
                              torch.full((2,), 0.1 * c ** 0.5), atol=1e-5)
        assert torch.allclose(peak_err_per_sample(x + 0.1, x, 1.0, 4.0, chroma=c), torch.full((2,), 0.1),
                              atol=1e-5)
    ok("peak_err_per_sample: constant grey error -> its size, chroma -> 0 (c * its size^2 with chroma c), "
       "p = 2 -> RMS, grows with p")

    # -- blocks vs literal transcription
    m = ProGIC("progic-test").eval()
    randomise_mod(m, g)
    with torch.no_grad():
        for blk in (m.dec.tail, m.dec.up_block, m.enc.head):
            cin = blk.adaptor.in_channels if blk.adaptor is not None else blk.dc.pw1.in_channels
            xi = torch.randn(2, cin, 5, 7)
            for s in range(m.N):
                a = blk(xi, s if blk.mod_dc is not None else None)
                b = literal_dcb(blk, xi, s)
                assert torch.allclose(a, b, atol=1e-5, rtol=1e-5), (s, (a - b).abs().max())
        at = m.dec.attn
        yi = torch.randn(2, 256, 3, 4)
        a_ = yi
        for blk in at.trunk:
            a_ = literal_dcb(blk, a_, 2)
        b_ = yi
        for blk in at.mask:
            b_ = literal_dcb(blk, b_, 2)
        ref = yi + a_ * torch.sigmoid(at.mask_conv(b_))
        assert torch.allclose(at(yi, 2), ref, atol=1e-5)
    ok("DCB (plain, adaptor, shortcut, modulated) and Attention == doc pseudo-code")

    # -- shapes, padding, per-sample modulation
    with torch.no_grad():
        xb = torch.rand(2, 3, 48, 64)
        y = m.encode(xb)
        assert y.shape == (2, 256, 3, 4)
        idx, yh, com = m.quantize(y, update=False)
        assert idx.shape == (5, 2, 3, 4) and len(yh) == 5 and com.shape == (5,)
        allst = m.decode_stages(yh, clamp=True)
        assert allst.shape == (10, 3, 48, 64)
        for s in range(1, 6):
            single = m.decode(yh[s - 1], s)
            assert torch.allclose(allst[(s - 1) * 2:s * 2], single, atol=1e-5)
            assert torch.allclose(m.lookup(idx, s), yh[s - 1], atol=1e-5)
        img = torch.rand(50, 70, 3)
        ind = m.compress(img)
        assert ind.shape == (5, 4, 5)
        rec = m.decompress(ind, 3, 50, 70)
        assert rec.shape == (50, 70, 3) and rec.min() >= 0 and rec.max() <= 1
        # replicate padding: the padded input equals edge pixels
        xp = ProGIC.pad16(ProGIC.to_nchw(img))
        assert xp.shape == (1, 3, 64, 80) and torch.equal(xp[0, :, 63, 79], img[49, 69])
        gray = m.compress(torch.rand(20, 20))
        assert gray.shape == (5, 2, 2)
    ok("encode/quantize/decode shapes, stacked per-sample stages == per-int stages, compress/decompress 70x50")

    # -- decoder post-filter: the [1 2 1]^2/16 kernel, replicated edges, blended by strength
    x = torch.zeros(1, 2, 5, 5)
    x[0, 0, 2, 2] = 1.0
    x[0, 1] = 0.3
    k = torch.tensor([1.0, 2.0, 1.0])
    full = smooth_image(x, 1.0)
    assert torch.allclose(full[0, 0, 1:4, 1:4], k[:, None] * k[None, :] / 16)
    assert torch.allclose(full[0, 1], x[0, 1]) and torch.equal(smooth_image(x, 0.0), x)
    assert torch.allclose(smooth_image(x, 0.5), (x + full) / 2)
    corner = torch.zeros(1, 1, 3, 3)
    corner[0, 0, 0, 0] = 1.0
    assert abs(smooth_image(corner, 1.0)[0, 0, 0, 0].item() - 9 / 16) < 1e-7
    with torch.no_grad():
        assert torch.equal(m.decompress(ind, 3, 50, 70, smoothing=0.0), rec)
        assert not torch.equal(m.decompress(ind, 3, 50, 70, smoothing=0.5), rec)
    ok("post-filter smooth_image: impulse -> [1 2 1]^2/16, edges replicated, constants kept, blend")

    # -- RVQ search
    cb = torch.randn(2, 8, 4)
    cb[0, 5] = cb[0, 2]  # duplicate code: index 2 must win
    r = cb[0, 2][None].clone()
    assert sq_dist(r, cb[0]).argmin(1).item() == 2
    idx_e, gap = exact_search(r.view(1, 1, 4), cb)
    assert idx_e[0, 0, 0] == 2 and gap[0, 0, 0] == 0
    yv = torch.randn(6, 7, 256) * 0.3
    idx_e, gap = exact_search(yv, m.rvq.codebooks)
    idx_f, _, _ = m.rvq(yv.permute(2, 0, 1)[None], update=False)
    near = gap < 1e-4
    assert torch.equal(idx_e[~near], idx_f[:, 0][~near])
    ok("RVQ: lowest index wins ties; fast search == exact search")

    # -- beam search: width 1 is the greedy search; wider leaves less residual energy in total (not
    # at every position: the greedy path can fall off the beam), equals a brute force over all
    # paths of a tiny codebook, and keeps the lower code on ties
    assert beam_widths(5, 4) == [4, 4, 4, 4, 1] and beam_widths(1, 4) == [1]
    assert torch.equal(beam_search(yv, m.rvq.codebooks, 1, exact=True), idx_e)
    energy = lambda idx, cbs, y: (y - sum(cbs[s][idx[s]] for s in range(idx.shape[0]))).pow(2).sum(-1)
    wide = beam_search(yv, m.rvq.codebooks, 4, exact=True)
    e1, e4 = energy(idx_e, m.rvq.codebooks, yv), energy(wide, m.rvq.codebooks, yv)
    assert e4.sum() < 0.99 * e1.sum(), (e1.sum(), e4.sum())
    tiny = torch.randn(2, 5, 2, generator=g)
    ys = torch.randn(4, 3, 2, generator=g)
    paths = torch.cartesian_prod(torch.arange(5), torch.arange(5))  # all 25 two-stage paths
    best = energy(paths.t()[:, :, None, None].expand(2, 25, 4, 3), tiny, ys[None]).argmin(0)
    got = beam_search(ys, tiny, 8, exact=True)  # 8 ≥ 5 codes: the second stage sees every path
    assert got.shape == (2, 4, 3)
    assert torch.allclose(energy(got, tiny, ys), energy(paths[best].permute(2, 0, 1), tiny, ys), atol=1e-6)
    dup = torch.stack([torch.eye(2).repeat(2, 1)] * 2)  # codes 0,1 == codes 2,3
    assert beam_search(torch.tensor([[[1.0, 0.0]]]), dup, 4, exact=True).flatten().tolist()[0] == 0
    ok(f"RVQ beam search: width 1 == greedy; width 4 energy {e4.sum():.2f} < greedy {e1.sum():.2f}; "
       f"== brute force on a 5-code toy; ties keep the lower code")

    # -- EMA update + restarts
    mt = ProGIC("progic-test").train()
    yy = torch.randn(4, 256, 4, 4)
    mt.rvq.data_init(yy, per_step_vectors=64, kmeans_iters=2, generator=g)
    before = mt.rvq.codebooks.clone()
    mt.rvq.ema_count[0, :10] = 0.0  # force dead codes (far away, so unused)
    mt.rvq.codebooks[0, :10] = 1e3
    before = mt.rvq.codebooks.clone()
    mt.quantize(yy)
    assert not torch.equal(before, mt.rvq.codebooks) and mt.rvq.restarts[0] >= 10
    # a restarted code is one of the batch's stage-1 residuals (the latents), up to its tiny jitter
    flat = yy.permute(0, 2, 3, 1).reshape(-1, 256)
    near = torch.cdist(mt.rvq.codebooks[0, :10], flat).min(1).values
    assert (near < 0.01 * flat.norm(dim=1).mean()).all(), near
    c10 = mt.rvq.ema_count[0, :10]
    assert (c10 > 0).all() and torch.allclose(c10, c10[0].expand(10)), c10  # each the mean count
    sm = mt.rvq.smoothed_count()[:, :, None]
    assert torch.allclose(mt.rvq.ema_sum, mt.rvq.codebooks * sm, atol=1e-5, rtol=1e-4)
    ok(f"EMA codebook update, dead-code restarts ({mt.rvq.restarts}), ema_sum == codebooks*count")

    tmp = tempfile.mkdtemp(prefix="progic-selftest-")
    try:
        # -- safetensors round trip
        p = os.path.join(tmp, "t.safetensors")
        tens = {"a": np.random.randn(3, 5).astype(np.float32), "b": np.random.randn(7).astype(np.float16),
                "c": np.arange(6, dtype=np.int32).reshape(2, 3), "d": np.zeros((0,), np.float32)}
        st_io.save(p, tens, metadata={"config": "x"})
        back, meta = st_io.load(p)
        assert meta == {"config": "x"}
        for k in tens:
            assert back[k].dtype == tens[k].dtype and np.array_equal(back[k], tens[k]), k
        hdr = st_io.header_of(p)
        n = int.from_bytes(open(p, "rb").read(8), "little")
        assert (8 + n) % 8 == 0
        for k, v in hdr.items():
            if k != "__metadata__":
                assert v["data_offsets"][0] % np.dtype(tens[k].dtype).itemsize == 0
        ok("safetensors round trip (F32/F16/I32, 8-aligned data, element-aligned offsets)")

        # -- export -> load round trip
        wp = os.path.join(tmp, "w.safetensors")
        write_weights(wp, "progic-test", export_tensors(m, "f32"))
        m2 = model_from_safetensors(wp, "progic-test")
        img = torch.rand(40, 36, 3)
        with torch.no_grad():
            assert torch.equal(m.compress(img), m2.compress(img))
            assert torch.equal(m.decompress(m.compress(img), 5, 40, 36), m2.decompress(m2.compress(img), 5, 40, 36))
        write_weights(wp, "progic-test", export_tensors(m, "f16"))
        hdr = st_io.header_of(wp)
        assert hdr["rvq.codebooks"]["dtype"] == "F32" and hdr["enc.down.weight"]["dtype"] == "F16"
        assert hdr["dec.tail.mod_dc.scale"]["dtype"] == "F32"
        assert hdr["__metadata__"] == {"config": "progic-test", "format": "tessera-progic-1"}
        m3 = model_from_safetensors(wp)
        w16 = m.state_dict()["enc.down.weight"].half().float()
        assert torch.equal(m3.state_dict()["enc.down.weight"], w16)
        ok("export (F32 and F16+F32) -> model_from_safetensors round trip")

        # -- decoder_finetune writes a file that differs only in dec.* (stored as export.py stores it)
        from decoder_finetune import write_weights_with_decoder
        g = torch.Generator().manual_seed(7)
        dec = {k: v + 0.01 * torch.randn(v.shape, generator=g)
               for k, v in m3.state_dict().items() if k.startswith("dec.")}
        wp2 = os.path.join(tmp, "w2.safetensors")
        write_weights_with_decoder(wp, wp2, dec)
        (t1, meta1), (t2, meta2) = st_io.load(wp), st_io.load(wp2)
        assert meta1 == meta2 and t1.keys() == t2.keys()
        for k in t1:
            if not k.startswith("dec."):
                assert t1[k].dtype == t2[k].dtype and np.array_equal(t1[k], t2[k]), k
            else:
                assert t2[k].dtype == t1[k].dtype, k
                want = dec[k].numpy().astype(t1[k].dtype)
                assert np.array_equal(t2[k], want), k
        m4 = model_from_safetensors(wp2)
        with torch.no_grad():
            assert torch.equal(m3.compress(img), m4.compress(img))
        ok("decoder_finetune: only dec.* replaced, F16 / F32 as exported, indices unchanged")

        # -- training resume round trip
        import train as tr
        run = os.path.join(tmp, "run")
        common = ["--config", "progic-test", "--run-dir", run, "--max-images", "4", "--init-batches", "1",
                  "--batch", "2", "--crop", "64", "--log-every", "1", "--warmup", "2"]
        import contextlib
        import io

        def train_in(run_dir, *extra):
            """train.main with `common` in the run folder run_dir, its stdout swallowed."""
            with contextlib.redirect_stdout(io.StringIO()):
                tr.main([a if a != run else run_dir for a in common] + list(extra))

        train_in(run, "--steps", "4", "--until", "2", "--fresh")  # the first half of a 4-step run
        a2 = torch.load(os.path.join(run, "ckpt.pt"))
        assert a2["step"] == 2 and "opt" in a2
        sl = torch.load(os.path.join(run, "resume.pt"))
        assert "rvq.ema_sum" not in sl["model"] and "opt" not in sl
        train_in(run, "--steps", "4")  # resumes from ckpt.pt
        b4 = torch.load(os.path.join(run, "ckpt.pt"))
        # the same run from a copy of the same 4 images given by --data must train the same weights
        data2 = os.path.join(tmp, "data2")
        os.makedirs(os.path.join(data2, "train"))
        for f in list_images()[:4]:
            shutil.copy(f, os.path.join(data2, "train"))
        run2 = os.path.join(tmp, "run2")
        train_in(run2, "--data", data2, "--steps", "4", "--fresh")
        c4 = torch.load(os.path.join(run2, "ckpt.pt"))
        assert f"4 images from {data2} (train)" in open(os.path.join(run2, "train.log")).read()
        assert b4["step"] == c4["step"] == 4
        diff = max((b4["model"][k].float() - c4["model"][k].float()).abs().max().item() for k in c4["model"])
        assert diff < 1e-4, diff
        # slim resume
        os.remove(os.path.join(run, "ckpt.pt"))
        train_in(run, "--steps", "5")
        log = open(os.path.join(run, "train.log")).read()
        assert "from=resume.pt" in log and "step=4" in log
        d5 = torch.load(os.path.join(run, "ckpt.pt"))
        assert d5["step"] == 5
        spans = [(h["from_step"], h["to_step"]) for h in d5["history"]]
        assert spans == [(0, 2), (2, 4), (4, 5)], spans
        # --slim-f16: conv weights F16 (export's rule), codebooks / EMA counts / modulation F32,
        # and a slim resume from it starts from exactly those values widened
        run3 = os.path.join(tmp, "run3")
        train_in(run3, "--steps", "2", "--fresh", "--slim-f16")
        s16 = ckpt.load(os.path.join(run3, "resume.pt"))["model"]
        f32 = ckpt.load(os.path.join(run3, "ckpt.pt"))["model"]
        assert s16["enc.down.weight"].dtype == torch.float16
        assert s16["rvq.codebooks"].dtype == s16["rvq.ema_count"].dtype == torch.float32
        assert s16["dec.tail.mod_dc.scale"].dtype == torch.float32
        assert torch.equal(s16["enc.down.weight"].float(), f32["enc.down.weight"].half().float())
        m16 = ProGIC("progic-test")
        tr.load_model_state(m16, s16)
        assert torch.equal(m16.state_dict()["enc.down.weight"], s16["enc.down.weight"].float())
        # --amp bf16 (meant for the GPU; CPU autocast runs the same code path): finite steps
        run4 = os.path.join(tmp, "run4")
        train_in(run4, "--steps", "2", "--fresh", "--amp", "bf16")
        a4 = ckpt.load(os.path.join(run4, "ckpt.pt"))
        assert a4["step"] == 2 and a4["history"][-1]["amp"] == "bf16"
        assert "non-finite" not in open(os.path.join(run4, "train.log")).read()
        # --compile: the compiled modules are tried before training; a compiler that fails on
        # them leaves an eager run (torch.compile stood in for, so this runs on torch 1.13 too)
        real = getattr(torch, "compile", None)

        class Broken(torch.nn.Module):
            def forward(self, *args):
                raise RuntimeError("no compiler here")

        try:
            for stand_in, says in ((lambda m, mode: m, "compiled and tried"),
                                   (lambda m, mode: Broken(), "failed (RuntimeError: no compiler here)")):
                torch.compile = stand_in
                run5 = os.path.join(tmp, "run5")
                train_in(run5, "--steps", "2", "--fresh", "--compile", "default")
                assert says in open(os.path.join(run5, "train.log")).read()
                assert ckpt.load(os.path.join(run5, "ckpt.pt"))["step"] == 2
                shutil.rmtree(run5)
        finally:
            if real is None:
                del torch.compile
            else:
                torch.compile = real
        ok(f"resume: ckpt.pt continues (--until 2, then 2 steps, vs 4 fresh from a --data copy: max diff {diff:.1e}); slim resume.pt works (F32 and --slim-f16); --amp bf16 steps; --compile tried, eager when it fails; history {spans} "
           f"(resume.pt {os.path.getsize(os.path.join(run, 'resume.pt')) / 1e6:.1f} MB for progic-test)")

        # -- weight averaging (train/soup.py): encoder/decoder means, codebooks from the base
        import soup
        sp = os.path.join(tmp, "soup.pt")
        soup.main(["--out", sp, os.path.join(run, "ckpt.pt"), os.path.join(run2, "ckpt.pt")])
        so = torch.load(sp)
        k = "enc.down.weight"
        mean = (d5["model"][k].double() + c4["model"][k].double()) / 2
        assert torch.allclose(so["model"][k].double(), mean, atol=1e-7)
        assert not torch.equal(d5["model"][k], c4["model"][k])
        assert torch.equal(so["model"]["rvq.codebooks"], d5["model"]["rvq.codebooks"])
        assert "opt" not in so and [m["step"] for m in so["soup"]] == [5, 4]
        sm, _, _ = load_checkpoint("progic-test", sp)
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                soup.main(["--out", sp, os.path.join(run, "ckpt.pt"), os.path.join(run2, "ckpt.pt")])
                raise AssertionError("soup.py overwrote its --out")
            except SystemExit as e:
                assert "exists" in str(e)
        ok("soup: parameters are the mean of the inputs, codebooks the base's, export loads it, no overwrite")

        # -- the codec path of export.evaluate: grid fit (fitToGrid's cases in tests/progic_test.ts)
        import export
        from PIL import Image
        fits = {481: 480, 321: 320, 484: 480, 485: 485, 480: 480, 500: 496, 255: 255, 257: 256,
                100: 100, 50: 50, 17: 17, 65: 64, 1: 1, 16: 16}
        assert all(export.fit_to_grid(n) == w for n, w in fits.items())
        yy, xx = np.mgrid[0:177, 0:257]  # >= 176 px: MS-SSIM's 5 scales
        pic = np.stack([xx, yy * 1.4, (xx + yy) % 64 * 4], -1).clip(0, 255).astype(np.uint8)
        pp = os.path.join(tmp, "fit.png")
        Image.fromarray(pic).save(pp)
        back = export.lanczos_resize(export.lanczos_resize(pic, 256, 176), 257, 177)
        assert back.shape == pic.shape and np.abs(back.astype(int) - pic).mean() < 1.5
        with contextlib.redirect_stdout(io.StringIO()):
            q = {f: export.evaluate(sm, [pp], stages=[2], with_butteraugli=False, fit=f, presmoothing=0.5)[0]
                 for f in ("auto", "pad")}
        assert abs(q["auto"]["bpp"] - 2 * 10 * 16 * 11 / (257 * 177)) < 1e-5, q
        assert abs(q["pad"]["bpp"] - 2 * 10 * 17 * 12 / (257 * 177)) < 1e-5, q
        ok(f"export.evaluate: fit auto codes 257x177 as 256x176 (bpp {q['auto']['bpp']:.4f} vs padded "
           f"{q['pad']['bpp']:.4f}), Lanczos round trip close, fit_to_grid = fitToGrid")

        # -- entropy tables: valid frequencies, and code_bits = a position-by-position walk
        import entropy
        g2 = np.random.default_rng(3)
        grids = [np.minimum(g2.geometric(0.05, (3, 7, 9)) - 1, 63) for _ in range(4)]
        for gi in grids:  # runs, so the repeat flags matter
            gi[:, :, 1::2] = gi[:, :, 0:-1:2]
        # stage 0 by its neighbour's code mod 3 (plus "none"), stage 1 without context, stage 2 by
        # the parity of stage 1's code at the same position
        groups = [np.append(np.arange(64) % 3, 3), None, np.append(np.arange(64) % 2, 0)]
        tables = entropy.build_tables(grids, 64, groups)
        freq, repeat, context = tables
        assert len(freq) == 1 + 4 + 2 and context.shape == (3, 65)
        assert (freq >= 1).all() and (freq.sum(1) == entropy.PROB_SCALE).all()
        assert ((repeat >= 1) & (repeat < entropy.PROB_SCALE)).all()
        assert (context[0] == groups[0]).all() and (context[1] == 4).all() and (context[2] == 5 + groups[2]).all()
        plain = entropy.build_tables(grids, 64)
        assert len(plain[0]) == 3 and (plain[2] == np.arange(3)[:, None]).all()
        assert (plain[0][1] == freq[4]).all()  # a stage without context is unchanged by another's

        S = entropy.PROB_SCALE

        def walk_bits(g, st, adaptive):
            idx = g[st]
            bits, (h, w) = 0.0, idx.shape
            seen, flags = [], {0: [0, 0.0], 1: [0, 0.0]}  # codes so far; per flag: repeats, expected
            prior = (800, 1600, 3200)[min(st, 2)]

            def flag(kind, p16, hit):
                q = p16
                if adaptive:
                    a = p16 * ((flags[kind][0] + 2) / (flags[kind][1] + 2))
                    q = min(S - 1, max(1, np.floor(S * a / (a + (S - p16)) + 0.5)))
                    flags[kind][0] += hit
                    flags[kind][1] += p16 / S
                return -np.log2((q if hit else S - q) / S)

            for y in range(h):
                for x in range(w):
                    c, left, up = idx[y, x], idx[y, x - 1] if x else None, idx[y - 1, x] if y else None
                    nb = g[st - 1][y, x] if st else left if x else up if y else 64
                    f, r = freq[context[st][nb]], repeat[context[st][nb]]
                    if left is not None:
                        bits += flag(0, int(r[0]), c == left)
                        if c == left:
                            continue
                    if up is not None and up != left:
                        bits += flag(1, int(r[1]), c == up)
                        if c == up:
                            continue
                    if adaptive:  # each code seen owns `unit`, the static table less 1 per code the rest
                        unit = (S - 64) // (prior + len(seen))
                        rest = (S - 64) - len(seen) * unit
                        lo, hi = (k + (int(f[:k].sum()) - k) * rest // (S - 64) + unit * sum(v < k for v in seen)
                                  for k in (c, c + 1))
                        bits -= np.log2((hi - lo) / S)
                    else:
                        bits -= np.log2(f[c] / S)
                    seen.append(c)
            return bits

        for gi in grids:
            for st in range(3):
                for adaptive in (False, True):
                    assert abs(entropy.code_bits(gi, tables, st, adaptive) - walk_bits(gi, st, adaptive)) < 1e-6
        # Hand cases: odds 1:3 scaled by (3 + 2) / (1 + 2) -> 5:9 -> 65536 * 5 / 14 = 23405.7;
        # one code 2 seen after a flat table weighing 800 codes -> (200 + 1) / 801 of the mass.
        assert entropy.adapted_flag(16384, 3, 1.0) == 23406
        q = np.diff(entropy.adapted_cdf(np.full(4, S // 4), np.array([0, 0, 1, 0]), 1, 800))
        assert q.sum() == S and abs(q[2] / S - 201 / 801) < 1e-4 and abs(q[0] / S - 200 / 801) < 1e-4
        assert (entropy.adapted_cdf(freq[0], np.zeros(64, np.int64), 0, 800) ==
                np.concatenate([[0], np.cumsum(freq[0])])).all()  # nothing seen: the static table
        assert entropy.stage_bits(grids[0], None, 0, 64) == (8 * 48, 0.0)  # 63 6-bit fields
        assert entropy.stream_bits(16, 0) == 16 and entropy.stream_bits(16, 9.5) == 16 + 16 + 32
        # A file without entropy.context: stage s uses table s.
        legacy = entropy.tables_of({"entropy.freq": plain[0].astype(np.float32),
                                    "entropy.repeat": plain[1].astype(np.float32)})
        assert (legacy[2] == plain[2]).all()
        # Stored as U16, as measure_tables writes them, the tables come back exactly.
        upath = os.path.join(tmp, "tables.safetensors")
        st_io.save(upath, entropy.table_tensors(tables))
        back, _ = st_io.load(upath)
        assert all(back[k].dtype == np.uint16 for k in entropy.TENSORS)
        assert all((x == y).all() for x, y in zip(entropy.tables_of(back), tables))
        ok("entropy: tables valid, code_bits (static and adaptive) = a position-by-position walk of the coder's contexts, U16 round trip")

        # -- rate-aware path choice (choice.py): at weight 0 the least error; at a large weight the
        # fewest static bits, position by position: path 1 repeats left neighbours, so it wins
        import choice
        rng = np.random.default_rng(9)
        paths = rng.integers(0, 64, (3, 3, 4, 5))
        paths[1] = paths[0][:, :, :1]  # path 0's first column, repeated along each row
        paths[2][:, :, 0] = paths[0][:, :, 0]  # all paths agree in column 0
        errors = rng.random((3, 20)) + np.array([[0.0], [1.0], [1.0]])
        assert (choice.choose_paths(paths, errors, tables, 0.0) == paths[0]).all()
        cheap = choice.choose_paths(paths, errors, tables, 1e3)
        static = lambda grid: sum(entropy.code_bits(grid, tables, st, False) for st in range(3))
        assert static(cheap) < static(paths[0]) and (cheap[:, :, 1:] == paths[1][:, :, 1:]).all()
        # A one-path list prices exactly what the coder's static walk spends.
        one = choice.choose_paths(paths[:1], np.zeros((1, 20)), tables, 1.0)
        assert (one == paths[0]).all()
        ok("choice: weight 0 keeps the least-error path; a large weight takes the repeats")

        # -- refinement: the fill order by hand (the TypeScript test has the same case), and the
        # chain's codes and energies against a brute-force walk
        import refine
        e = np.array([[4, 9, 4], [1, 2, 3.9], [0, 1, 0]], np.float64)
        assert refine.fill_order(e).tolist() == [1, 0, 2, 2, 1, 0]
        assert refine.depths(refine.fill_order(e), 3, 4).tolist() == [1, 1, 2]
        books = torch.randn(3, 16, 8, generator=g)
        r0 = torch.randn(10, 8, generator=g)
        codes, energy = refine.refine_chain(r0, books, exact=True)
        fast, _ = refine.refine_chain(r0, books)
        assert torch.equal(codes, fast)
        r = r0.clone()
        for i, b in enumerate(books):
            want = ((r[:, None] - b[None]) ** 2).sum(-1).argmin(1)
            assert torch.equal(codes[i], want)
            assert torch.allclose(energy[i], r.double().pow(2).sum(1))
            r = r - b[want]
        depth = np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
        z = refine.refined_latent(torch.zeros(10, 8), books, codes, depth)
        for p in range(10):
            assert torch.allclose(z[p], sum((books[i][codes[i, p]] for i in range(depth[p])), torch.zeros(8)))
        # Adaptive depth bits by hand (width 2, depths 1 0 / 1 1): contexts 0, 1, 1, 1 cost
        # 1 + 1 + 2 + 1 bits (refine.ts's model: counts 1 per depth, +2 per depth seen).
        assert abs(refine.depth_bits([1, 0, 1, 1], 2) - 5.0) < 1e-12
        assert abs(refine.section_bits([1, 0, 1, 1], 1024, 2) - (30 + 5)) < 1e-12
        ok("refine: fill order by hand, greedy chain and energies, refined latent by depth, depth bits")
        s2 = refine.steered(e, [1, 1, 3])
        assert s2.tolist() == [[4, 9, 108], [1, 2, 105.3], [0, 1, 0]]
        assert refine.fill_order(s2).tolist() == [2, 2, 1, 0, 1, 0]

        # -- visibility: the heat-map reader inverts the ramp butteraugli_main paints (written out
        # again here from its definition), identical images give the floor, and the TypeScript
        # coefficients are the fitted ones
        import visibility as V
        def paint(dist):
            f = np.where(dist < V.HEAT_GOOD, dist / V.HEAT_GOOD * 0.3,
                         np.where(dist < V.HEAT_BAD,
                                  0.3 + (dist - V.HEAT_GOOD) / (V.HEAT_BAD - V.HEAT_GOOD) * 0.15,
                                  0.45 + (dist - V.HEAT_BAD) / (V.HEAT_BAD * 12) * 0.5))
            t = np.clip(f * 11, 0, 10 - 1e-9)
            ix = t.astype(int)
            mix = (t - ix)[..., None]
            return np.sqrt(mix * V.HEAT[ix + 1] + (1 - mix) * V.HEAT[ix])
        dist = np.linspace(0.01, 13.5, 400).reshape(20, 20)
        assert np.allclose(V.heat_to_distance(paint(dist)), dist, rtol=1e-9, atol=1e-9)
        coef = V.load_coefficients()
        pic = np.random.default_rng(0).integers(0, 256, (20, 40, 3), dtype=np.uint8)
        floor = np.exp(coef[-1] + np.log(V.FLOOR) * sum(coef[:-1]))
        assert np.allclose(V.visibility(pic, pic, coef).numpy(), floor, rtol=1e-12)
        ts = open(V.COEF_TS).read()
        assert [float(v) for v in re.findall(r"^  (\S+),$", ts, re.M)] == coef
        ok("visibility: heat-map inversion, the identical-image floor, TypeScript coefficients")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"selftest passed in {time.time() - T0:.1f}s")


if __name__ == "__main__":
    main()
