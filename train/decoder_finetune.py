#!/usr/bin/python3
"""Decoder-only fine-tune of an exported ProGIC on the latents its codec actually decodes.

The default stream is stage 5 plus refinement codes (refine.py), from inputs the encoder
pre-filters, searched 8 wide and chosen rate-aware (choice.py); the decoder was trained on none of
that. Here the encoder, the codebooks, the index tables and the refinement books stay bit-identical
(so every index, table and stream size is unchanged) and only `dec.*` learns, on the codec's own
latents of bsds500 (by default train only: val stays held out to judge the result). Each sample
is one 128² crop decoded once: with probability --p-refined from the default stream's refined
latent, else from ŷ(5) or, as often, from ŷ(s) of a stage s drawn from 1..4 (so the plain stages
keep their quality), with the training loss of train.py (L1 + L2 over luma-weighted YCbCr, the
`--peak` soft maximum, 0.2·(1 − MS-SSIM)) on a cosine from --lr.

    /usr/bin/python3 train/decoder_finetune.py --weights weights/progic-t.safetensors \\
        --out train/runs/progic-t-dec --steps 9000          # ~30 min on 2 cores, resumes
    /usr/bin/python3 train/decoder_finetune.py --weights weights/progic-t.safetensors \\
        --out train/runs/progic-t-dec --decoder train/runs/progic-t-dec/decoder.pt \
        --write /tmp/progic-t.safetensors       # the weights file with the fine-tuned decoder

The codec's latents are computed once (~6 min for 300 images) and cached in --cache.
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import st_io  # noqa: E402
from choice import codec_search  # noqa: E402
from data import list_images, load_rgb  # noqa: E402
from entropy import stages_bits  # noqa: E402
from export import (DEFAULT_BEAMS, DEFAULT_PRESMOOTHING, codec_input, default_refinement,  # noqa: E402
                    model_from_safetensors, sha256)
from losses import err_per_sample, ms_ssim, peak_err_per_sample  # noqa: E402
from progic import is_f32_kept  # noqa: E402


@torch.no_grad()
def codec_latents(model, files, log=print):
    """Per image: the codec input x [H, W, 3] (grid fit), the chosen indices of the N stages and
    the default stream's refined latent [h, w, C2] (F16)."""
    out, t0 = [], time.time()
    for i, f in enumerate(files):
        x = codec_input(load_rgb(f), "auto")
        y = model.latent(x, DEFAULT_PRESMOOTHING)
        idx = codec_search(model, y, DEFAULT_BEAMS, stages=model.N)
        yhat = model.lookup(idx[:, None], model.N)[0].permute(1, 2, 0)
        z, _ = default_refinement(model, y, yhat, stages_bits(idx, model.entropy, model.N, model.K), x)
        out.append({"x": x.numpy(), "idx": idx.numpy().astype(np.int16), "z": z.numpy().astype(np.float16)})
        if (i + 1) % 50 == 0:
            log(f"  latents {i + 1}/{len(files)} ({time.time() - t0:.0f}s)")
    return out


def batch(data, codebooks, rng, n, crop, p_refined, N):
    """n random crops of crop×crop latent positions -> (latents [n, C2, c, c], stages [n],
    targets [n, 3, 16c, 16c])."""
    ys, xs, st = [], [], []
    for _ in range(n):
        d = data[rng.integers(len(data))]
        h, w = d["idx"].shape[1:]
        i, j = rng.integers(h - crop + 1), rng.integers(w - crop + 1)
        u = rng.random()
        if u < p_refined:
            s, y = N, torch.from_numpy(d["z"][i:i + crop, j:j + crop].astype(np.float32))
        else:
            s = N if u < (1 + p_refined) / 2 else int(rng.integers(1, N))
            ix = torch.from_numpy(d["idx"][:s, i:i + crop, j:j + crop].astype(np.int64))
            y = sum(codebooks[k][ix[k]] for k in range(s))
        ys.append(y.permute(2, 0, 1))
        xs.append(torch.from_numpy(d["x"][16 * i:16 * (i + crop), 16 * j:16 * (j + crop)]).permute(2, 0, 1))
        st.append(s)
    return torch.stack(ys), torch.tensor(st), torch.stack(xs)


def write_weights_with_decoder(src, dst, decoder):
    """Copies the weights file `src` to `dst` with the `dec.*` tensors replaced, stored as
    export.py stores them (F16, modulation F32)."""
    tensors, meta = st_io.load(src)
    for k, v in decoder.items():
        a = v.detach().float().numpy()
        tensors[k] = a if is_f32_kept(k) else a.astype(np.float16)
    st_io.save(dst, tensors, metadata=meta)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--out", required=True, help="run folder (ckpt.pt, train.log)")
    ap.add_argument("--steps", type=int, default=9000)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=8, help="latent positions (16 pixels each)")
    ap.add_argument("--peak", type=float, default=1.0)
    ap.add_argument("--p-refined", type=float, default=0.5)
    ap.add_argument("--splits", default="train")
    ap.add_argument("--cache", default=None, help="latents cache (default /tmp/tessera-dec-<sha>.pt)")
    ap.add_argument("--save-minutes", type=float, default=5.0)
    ap.add_argument("--write", default=None, help="write the weights with the checkpoint's decoder, then exit")
    ap.add_argument("--decoder", default=None, help="the checkpoint --write takes (default OUT/ckpt.pt; "
                    "OUT/decoder.pt is the slim one written at the end)")
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    os.makedirs(a.out, exist_ok=True)
    ck = os.path.join(a.out, "ckpt.pt")
    model = model_from_safetensors(a.weights)
    if a.write:
        src = a.decoder or ck
        write_weights_with_decoder(a.weights, a.write, torch.load(src)["model"])
        print(f"wrote {a.write} (decoder of {src})")
        return
    log_f = open(os.path.join(a.out, "train.log"), "a")

    def log(s):
        s = time.strftime("%Y-%m-%d %H:%M:%S ") + s
        print(s, flush=True)
        log_f.write(s + "\n")
        log_f.flush()

    cache = a.cache or f"/tmp/tessera-dec-{sha256(a.weights)[:12]}-{a.splits.replace(',', '+')}.pt"
    if os.path.exists(cache):
        data = torch.load(cache)
    else:
        log(f"computing the codec's latents of {a.splits} into {cache}")
        data = codec_latents(model, list_images(tuple(a.splits.split(","))), log)
        torch.save(data, cache)
    params = [p for n, p in model.named_parameters() if n.startswith("dec.")]
    for n, p in model.named_parameters():
        p.requires_grad_(n.startswith("dec."))
    opt = torch.optim.Adam(params, lr=a.lr)
    step = 0
    if os.path.exists(ck):
        st = torch.load(ck)
        model.load_state_dict(st["model"], strict=False)
        opt.load_state_dict(st["opt"])
        step = st["step"]
        log(f"resumed at step {step}")

    def save(why):
        torch.save({"model": {k: v for k, v in model.state_dict().items() if k.startswith("dec.")},
                    "opt": opt.state_dict(), "step": step, "args": vars(a)}, ck + ".tmp")
        os.replace(ck + ".tmp", ck)
        log(f"saved step {step} ({why})")

    model.train()
    codebooks = model.rvq.codebooks.detach()
    rng = np.random.default_rng(step + 1)
    t_save = t0 = time.time()
    acc, n_acc = np.zeros(4), 0
    while step < a.steps:
        lr = a.lr * 0.5 * (1 + math.cos(math.pi * step / a.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        y, s, x = batch(data, codebooks, rng, a.batch, a.crop, a.p_refined, model.N)
        xr = model.decode(y, s, clamp=False)
        dist = err_per_sample(xr, x, 4.0) + 10.0 * err_per_sample(xr, x, 4.0, power=2)
        peak = peak_err_per_sample(xr, x, 1.0, 4.0, 4.0)
        ms = ms_ssim(xr, x)
        loss = (dist + a.peak * peak + 0.2 * (1 - ms)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        acc += [loss.item(), dist.mean().item(), peak.mean().item(), ms.mean().item()]
        n_acc += 1
        if step % 100 == 0:
            m = acc / n_acc
            log(f"step {step} lr {lr:.2e} loss {m[0]:.4f} dist {m[1]:.4f} peak {m[2]:.4f} "
                f"msssim {m[3]:.4f} | {n_acc / (time.time() - t0):.2f} st/s")
            acc[:], n_acc, t0 = 0, 0, time.time()
        if time.time() - t_save > 60 * a.save_minutes:
            save("periodic")
            t_save = time.time()
    save("end")
    # Small enough to commit (F32 decoder only, no optimizer state): what --write needs.
    torch.save({"model": {k: v for k, v in model.state_dict().items() if k.startswith("dec.")},
                "step": step, "args": vars(a)}, os.path.join(a.out, "decoder.pt"))


if __name__ == "__main__":
    main()
