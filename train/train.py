#!/usr/bin/python3
"""Train a ProGIC config (docs/progic.md). Resumes by default.

    /usr/bin/python3 train/train.py --config progic-t --steps 200000

Resume order: train/runs/<config>/ckpt.pt (full: model incl. EMA codebook statistics,
optimizer, discriminator, step, RNG states, wall time) -> train/runs/<config>/resume.pt (slim,
committed to git: f32 model weights + EMA counts, step, wall time; the learning rate is re-warmed
for --rewarm steps because the Adam moments are gone) -> fresh start (data-initialised codebooks).
Both files are written atomically (tmp + rename) every --save-min minutes, at the end and on
SIGTERM/SIGINT.

Loss (one backward per step over all N progressive stages, decoded in one stacked batch):
    L = sum_i lambda_i * ( L1_W(x, x̂_i) [+ l2 * L2_W(x, x̂_i)] [+ peak * P_p(x, x̂_i)]
                           + lambda_ms * (1 - MS-SSIM(x, x̂_i)) + beta * commit_i )
        [+ adaptive-weight hinge PatchGAN term from --disc-start on]
with lambda_i = p/(N-1) (i < N), 1-p (i = N), p = 0.5; commit_i = mean ‖y - sg(ŷ(i))‖²;
L1_W = (W |dY| + |dCb| + |dCr|) / W over BT.601 YCbCr with W = --l1-luma (0: mean |dRGB|);
L2_W the same with squared errors, weight --l2 (10; 0: off);
P_p = (mean_pixels E^(p/2))^(1/p), E = Gaussian_sigma(dY^2 + c (dCb^2 + dCr^2)): a soft maximum of
the local error, weight --peak (0.5; 0: off), p = --peak-p (4), sigma = --peak-sigma (1),
c = --peak-chroma (4).
Codebooks are EMA k-means (not trained by gradients).
"""

import argparse
import contextlib
import math
import os
import platform
import random
import signal
import sys
import time

# Sleep instead of spin at OpenMP barriers: on the shared 2-core machine (other processes, nice 19)
# spinning made 2-thread steps ~5x slower than passive waiting (measured 23-27 s vs 4-6 s per step).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ckpt  # noqa: E402
from data import BSDS, CropSampler  # noqa: E402
from losses import (NLayerDiscriminator, adaptive_weight, hinge_d_loss, err_per_sample,  # noqa: E402
                    ms_ssim, peak_err_per_sample, psnr, stage_weights)
from progic import CONFIGS, ProGIC, is_f32_kept  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="progic-t", choices=sorted(CONFIGS))
    ap.add_argument("--steps", type=int, default=200000, help="total step target (schedule length)")
    ap.add_argument("--batch", type=int, default=None, help="default 8 (cpu) / 16 (cuda)")
    ap.add_argument("--crop", type=int, default=None, help="default 128 (cpu) / 256 (cuda)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--lr-min", type=float, default=1e-5)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--rewarm", type=int, default=500, help="lr re-warm steps after a slim resume")
    ap.add_argument("--adam-b1", type=float, default=0.9)
    ap.add_argument("--adam-b2", type=float, default=0.99)
    ap.add_argument("--clip", type=float, default=1.0, help="grad-norm clip (0: off)")
    ap.add_argument("--p", type=float, default=0.5, help="progressive weight p")
    ap.add_argument("--all-stages", action="store_true",
                    help="decode all N stages every step (default: one random earlier stage plus the last, "
                         "an unbiased estimate of the same loss at 2/N of the decoder cost)")
    ap.add_argument("--lambda-ms", type=float, default=0.2,
                    help="weight of (1 - MS-SSIM); 0.2 chosen by an A/B, see train/README.md")
    ap.add_argument("--l1-luma", type=float, default=4.0,
                    help="L1 over YCbCr with luma weight W (chroma 1/W of luma); 0: L1 over RGB "
                         "(used up to step 24 845 of progic-t), see train/README.md")
    ap.add_argument("--l2", type=float, default=10.0,
                    help="weight of a squared-error term with the same channel weights as the L1 "
                         "(punishes large local errors more); 0: off (up to step 31 077 of progic-t), "
                         "see train/README.md")
    ap.add_argument("--peak", type=float, default=0.5,
                    help="weight of a soft maximum of the local error (peak_err_per_sample, aimed "
                         "at Butteraugli's max-norm); 0: off (up to step 93 038 of progic-t), see "
                         "train/README.md")
    ap.add_argument("--peak-p", type=float, default=4.0, help="norm order of --peak (4 chosen by an A/B)")
    ap.add_argument("--peak-sigma", type=float, default=1.0,
                    help="Gaussian radius (px) of --peak's local error")
    ap.add_argument("--peak-chroma", type=float, default=4.0,
                    help="weight of the chroma (Cb, Cr) squared error in --peak's local error "
                         "(4 chosen by an A/B; 0: luma only, up to step 132 877 of progic-t), see train/README.md")
    ap.add_argument("--beta", type=float, default=0.25, help="commitment weight")
    ap.add_argument("--ema-decay", type=float, default=0.99)
    ap.add_argument("--dead-frac", type=float, default=0.1,
                    help="restart codes whose EMA usage < dead_frac x mean usage")
    ap.add_argument("--init-batches", type=int, default=8, help="batches for codebook data init")
    ap.add_argument("--downscale-p", type=float, default=0.3)
    ap.add_argument("--disc-start", type=int, default=-1, help="step to enable the PatchGAN (-1: off)")
    ap.add_argument("--disc-weight", type=float, default=0.8)
    ap.add_argument("--disc-lr", type=float, default=2e-4)
    ap.add_argument("--disc-ndf", type=int, default=64)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--save-min", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--run-dir", default=None, help="default train/runs/<config>")
    ap.add_argument("--fresh", action="store_true", help="ignore existing checkpoints")
    ap.add_argument("--amp", default="off", choices=["off", "bf16"],
                    help="bf16 autocast for the encoder and decoder (for the GPU; VQ and losses stay "
                         "F32); not yet measured on the GPU")
    ap.add_argument("--compile", default="off", choices=["off", "default", "reduce-overhead"],
                    help="torch.compile the encoder and decoder with this mode (torch >= 2; for the "
                         "GPU, where the eager step is bound by launching ~11k kernels); tried on one "
                         "batch first, eager if that fails; not yet measured on the GPU")
    ap.add_argument("--slim-f16", action="store_true",
                    help="write resume.pt with F16 conv weights (see slim_state)")
    ap.add_argument("--max-images", type=int, default=0, help="use only the first N images (tests)")
    ap.add_argument("--data", default=BSDS,
                    help="folder with train/ and val/ of JPEGs (default the shared BSDS500; on the GPU "
                         "machine, a carried copy)")
    ap.add_argument("--max-minutes", type=float, default=0, help="stop (and save) after this long")
    ap.add_argument("--until", type=int, default=0,
                    help="stop (and save) at this step without shortening the --steps schedule")
    a = ap.parse_args(argv)
    cuda = a.device.startswith("cuda")
    if a.batch is None:
        a.batch = 16 if cuda else 8
    if a.crop is None:
        a.crop = 256 if cuda else 128
    if a.run_dir is None:
        a.run_dir = os.path.join(HERE, "runs", a.config)
    return a


def lr_at(step, a, rewarm_from=None):
    if step < a.warmup:
        lr = a.lr * (step + 1) / a.warmup
    else:
        t = min(1.0, (step - a.warmup) / max(1, a.steps - a.warmup))
        lr = a.lr_min + 0.5 * (a.lr - a.lr_min) * (1 + math.cos(math.pi * t))
    if rewarm_from is not None and a.rewarm > 0:
        lr *= min(1.0, (step - rewarm_from + 1) / a.rewarm)
    return lr


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def rng_state(sampler, device):
    st = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
          "data": sampler.state()}
    if device.type == "cuda":
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st, sampler, device):
    torch.set_rng_state(st["torch"].cpu())  # map_location may have moved it to the GPU
    np.random.set_state(st["numpy"])
    random.setstate(st["python"])
    sampler.set_state(st["data"])
    if device.type == "cuda" and "cuda" in st:
        try:
            torch.cuda.set_rng_state_all([s.cpu() for s in st["cuda"]])
        except Exception:  # different GPU count
            pass


def slim_state(model, f16=False):
    """The model for resume.pt: F32, or with --slim-f16 the conv weights as F16 (the storage rule of
    the shipped weights; EMA counts, codebooks and modulation stay F32), which halves a large
    config's file (progic-s: 60 -> 32 MB) so that it fits the GPU machine's 16 MiB-per-file
    return path in a few pieces and can be committed."""
    out = {}
    for k, v in model.state_dict().items():
        if k == "rvq.ema_sum":
            continue
        v = v.detach().float().cpu().clone()
        out[k] = v.half() if f16 and v.dim() > 0 and not k.startswith("rvq.") and not is_f32_kept(k) else v
    return out


def load_model_state(model, sd):
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if unexpected or (set(missing) - {"rvq.ema_sum"}):
        raise RuntimeError(f"state mismatch: missing {missing} unexpected {unexpected}")
    if "rvq.ema_sum" in missing:
        model.rvq.rebuild_ema_sum()


def main(argv=None):
    a = parse(argv)
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == "cuda":
        # Fixed crop sizes: let cuDNN pick its fastest kernels once; TF32 matmuls (convolutions
        # already use TF32 by default) for the 1x1 convolutions that run as GEMMs.
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
    os.makedirs(a.run_dir, exist_ok=True)
    ckpt_path = os.path.join(a.run_dir, "ckpt.pt")
    slim_path = os.path.join(a.run_dir, "resume.pt")
    log_path = os.path.join(a.run_dir, "train.log")
    logf = open(log_path, "a")

    def log(msg):
        line = time.strftime("%Y-%m-%d %H:%M:%S ") + msg
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)
    sampler = CropSampler(crop=a.crop, downscale_p=a.downscale_p, seed=a.seed, root=a.data,
                          max_images=a.max_images)

    model = ProGIC(a.config, decay=a.ema_decay, dead_frac=a.dead_frac).to(device)
    cfg = CONFIGS[a.config]
    N = cfg["N"]
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(a.adam_b1, a.adam_b2))
    disc = d_opt = None
    if a.disc_start >= 0:
        disc = NLayerDiscriminator(ndf=a.disc_ndf).to(device)
        d_opt = torch.optim.Adam(disc.parameters(), lr=a.disc_lr, betas=(0.5, 0.9))

    step, wall, rewarm_from, source, history = 0, 0.0, None, "fresh", []
    if not a.fresh and os.path.exists(ckpt_path):
        ck = ckpt.load(ckpt_path, device)
        if ck["cfg"] != cfg:
            raise SystemExit(f"{ckpt_path}: config {ck['cfg']} != {cfg}; use --fresh or another --run-dir")
        load_model_state(model, ck["model"])
        opt.load_state_dict(ck["opt"])
        if disc is not None and ck.get("disc") is not None:
            disc.load_state_dict(ck["disc"])
            d_opt.load_state_dict(ck["disc_opt"])
        step, wall = ck["step"], ck["wall"]
        history = list(ck.get("history") or [])
        set_rng_state(ck["rng"], sampler, device)
        source = "ckpt.pt"
    elif not a.fresh and os.path.exists(slim_path):
        ck = ckpt.load(slim_path, device)
        if ck["cfg"] != cfg:
            raise SystemExit(f"{slim_path}: config {ck['cfg']} != {cfg}")
        load_model_state(model, ck["model"])
        step, wall = ck["step"], ck["wall"]
        history = list(ck.get("history") or [])
        rewarm_from = step
        sampler.rng = np.random.default_rng(a.seed + step)
        torch.manual_seed(a.seed + step)
        source = "resume.pt (slim; lr re-warm)"

    nparams = sum(p.numel() for p in model.parameters())
    log(f"start {a.config} cfg={cfg} params={nparams} from={source} step={step} wall={wall / 3600:.2f}h "
        f"device={device} threads={a.threads} batch={a.batch} crop={a.crop} torch={torch.__version__} "
        f"host={platform.node()} data: {sampler.describe()}")
    log("args " + " ".join(f"{k}={v}" for k, v in sorted(vars(a).items())))
    # One segment per session, so that a manifest can say which settings trained which steps
    # (the args of a checkpoint are only those of its last session).
    history.append({"from_step": step, "to_step": step, "lr": a.lr, "lr_min": a.lr_min, "steps": a.steps,
                    "warmup": a.warmup, "amp": a.amp, "lambda_ms": a.lambda_ms,
                    "l1_luma": a.l1_luma, "l2": a.l2,
                    "peak": a.peak, "peak_p": a.peak_p, "peak_sigma": a.peak_sigma,
                    "peak_chroma": a.peak_chroma,
                    "disc_start": a.disc_start, "batch": a.batch, "crop": a.crop,
                    "device": str(device),
                    "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

    def save(tag=""):
        nonlocal wall_saved
        w = wall + (time.time() - t_session)
        history[-1]["to_step"] = step
        ck = {"format": "tessera-progic-train-1", "config": a.config, "cfg": cfg,
              "model": model.state_dict(), "opt": opt.state_dict(),
              "disc": disc.state_dict() if disc is not None else None,
              "disc_opt": d_opt.state_dict() if d_opt is not None else None,
              "step": step, "wall": w, "rng": rng_state(sampler, device), "args": vars(a),
              "hardware": hardware(device), "history": history}
        atomic_save(ck, ckpt_path)
        atomic_save({"format": "tessera-progic-slim-1", "config": a.config, "cfg": cfg,
                     "model": slim_state(model, a.slim_f16), "step": step, "wall": w, "args": vars(a),
                     "hardware": hardware(device), "history": history}, slim_path)
        wall_saved = time.time()
        log(f"saved step {step} {tag}")

    stop = {"flag": False, "sig": None}

    def on_signal(sig, frame):
        stop["flag"], stop["sig"] = True, sig

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t_session = time.time()
    wall_saved = time.time()

    # ---- codebook data initialisation -----------------------------------------------------------
    if model.rvq.initted.item() == 0:
        t0 = time.time()
        with torch.no_grad():
            model.eval()
            ys = [model.encode(sampler.batch(a.batch).to(device)) for _ in range(a.init_batches)]
            y = torch.cat(ys, 0)
            h, w = y.shape[-2:]
            g = torch.Generator().manual_seed(a.seed)
            P = model.rvq.data_init(y, per_step_vectors=a.batch * h * w, generator=g)
        log(f"codebooks initialised from {P} encoder vectors (k-means++ + 10 Lloyd) in {time.time() - t0:.1f}s; "
            f"y rms {y.pow(2).mean().sqrt().item():.4f}")

    # --amp bf16: the encoder and decoder under bfloat16 autocast (weights, optimizer and
    # gradients stay F32; no loss scaling needed with bf16's range).
    def autocast():
        if a.amp == "bf16":
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    enc_fn, dec_fn = model.enc, model.dec
    if a.compile != "off":
        with autocast():
            enc_fn, dec_fn = compiled(model, a.compile, sampler.batch(a.batch).to(device), N, log)
    # CUDA graphs (reduce-overhead) reuse their output memory: each step tells them a new one began
    mark_step = None
    if a.compile == "reduce-overhead" and enc_fn is not model.enc:
        mark_step = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", None)

    lam = torch.tensor(stage_weights(N, a.p), device=device)
    last_layer = model.dec.last_layer()
    model.train()

    acc = None
    n_acc, nan_run = 0, 0
    model.rvq.reset_usage()
    t_win = time.time()
    steps_win = 0
    stop_at = min(a.steps, a.until) if a.until else a.steps
    while step < stop_at:
        lr = lr_at(step, a, rewarm_from)
        for gparam in opt.param_groups:
            gparam["lr"] = lr
        if mark_step is not None:
            mark_step()
        x = sampler.batch(a.batch).to(device, non_blocking=True)
        B = x.shape[0]
        with autocast():
            y = enc_fn(x)
        # The residual VQ (nearest codes, EMA codebooks, commitment) and the losses stay F32.
        y = y.float()
        idx, yhats, commit = model.quantize(y)
        # The decoder's batch: latents and their 0-based stages (modulation rows), unclamped output.
        if a.all_stages:
            # Every stage of every sample, weighted lambda_i; stage-major.
            st = torch.arange(N, device=device).repeat_interleave(B)
            y_dec = torch.cat(yhats, 0)
            wt = lam[st] / B
        else:
            # Unbiased estimate of the same loss at 2/N of the decoder cost: per sample, one
            # stage i < N drawn uniformly (weight p, since E[p L_i] = sum_i p/(N-1) L_i) plus
            # the last stage (weight 1 - p).
            i = torch.randint(0, N - 1, (B,), device=device)
            yh = torch.stack(yhats, 0)
            st = torch.cat([i, torch.full((B,), N - 1, device=device, dtype=torch.long)])
            y_dec = torch.cat([yh[i, torch.arange(B, device=device)], yhats[-1]], 0)
            wt = torch.cat([torch.full((B,), a.p / B, device=device),
                            torch.full((B,), (1 - a.p) / B, device=device)])
        with autocast():
            xr = dec_fn(y_dec, st)
        xr = xr.float()
        xs = x.repeat(xr.shape[0] // B, 1, 1, 1)
        l1_b = err_per_sample(xr, xs, a.l1_luma)
        dist_b = l1_b + a.l2 * err_per_sample(xr, xs, a.l1_luma, power=2) if a.l2 > 0 else l1_b
        if a.peak > 0:
            dist_b = dist_b + a.peak * peak_err_per_sample(xr, xs, a.peak_sigma, a.peak_p,
                                                              a.peak_chroma)
        ms_b = ms_ssim(xr, xs)
        rec = (wt * (dist_b + a.lambda_ms * (1 - ms_b))).sum()
        com = (lam * commit).sum()
        loss = rec + a.beta * com
        g_loss = d_w = d_loss = None
        gan_on = disc is not None and step >= a.disc_start
        if gan_on:
            logits = disc(xr)
            g_loss = (wt * -logits.flatten(1).mean(1)).sum()
            d_w = adaptive_weight(rec, g_loss, last_layer, a.disc_weight)
            loss = loss + d_w * g_loss

        opt.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            nan_run += 1
            log(f"step {step}: non-finite loss ({loss.item()}), skipped ({nan_run} in a row)")
            if nan_run > 20:
                log("too many non-finite losses; exiting without saving")
                sys.exit(2)
            step += 1
            continue
        nan_run = 0
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip if a.clip > 0 else float("inf"))
        opt.step()

        if gan_on:
            d_opt.zero_grad(set_to_none=True)
            d_loss = hinge_d_loss(disc(xs), disc(xr.detach()))
            d_loss.backward()
            d_opt.step()

        with torch.no_grad():
            # Per-stage means over the samples decoded at each stage this step (NaN-free: a
            # stage not drawn contributes its running value through the counts below).
            cnt = torch.zeros(N, device=device).index_add_(0, st, torch.ones_like(l1_b))
            per = lambda v: torch.zeros(N, device=device).index_add_(0, st, v.detach())  # noqa: E731
            ps_b = psnr(xr.clamp(0, 1), xs)
            vals = torch.cat([loss.detach().view(1), per(l1_b), per(ms_b), commit.detach() * cnt, per(ps_b),
                              y.detach().pow(2).mean().sqrt().view(1), gnorm.detach().view(1).float(), cnt])
            if gan_on:
                vals = torch.cat([vals, g_loss.detach().view(1), d_loss.detach().view(1),
                                  d_w.detach().view(1).float()])
            # Summed on the device and read at log time only: a per-step read would make the CPU
            # wait for the backward pass before it samples the next batch (on CUDA the sampler,
            # ~20 ms for 32 crops of 256², then overlaps the backward pass).
            acc = vals if acc is None or acc.numel() != vals.numel() else acc + vals
            n_acc += 1
        step += 1
        steps_win += 1

        if step % a.log_every == 0 or step == a.steps:
            m = (acc / n_acc).tolist()
            o = 1
            # Per-stage columns are sums over samples; divide by how many samples each stage got.
            cnts = [max(c, 1e-9) for c in m[o + 4 * N + 2:o + 5 * N + 2]]
            for blk in range(4):
                for j in range(N):
                    m[o + blk * N + j] /= cnts[j]
            now = time.time()
            sps = steps_win / (now - t_win)
            u = model.rvq.usage
            tot = u.sum(1, keepdim=True).clamp(min=1)
            pr = u / tot
            ppl = torch.exp(-(pr * torch.log(pr.clamp(min=1e-12))).sum(1)).tolist()
            used = (u > 0).float().mean(1).tolist()
            f = lambda xs, fmt: " ".join(fmt.format(v) for v in xs)  # noqa: E731
            line = (f"step {step} lr {lr:.2e} loss {m[0]:.4f} | l1 {f(m[o:o + N], '{:.4f}')} | "
                    f"msssim {f(m[o + N:o + 2 * N], '{:.4f}')} | commit {f(m[o + 2 * N:o + 3 * N], '{:.4f}')} | "
                    f"psnr {f(m[o + 3 * N:o + 4 * N], '{:.2f}')} | use {f(used, '{:.2f}')} | "
                    f"ppl {f(ppl, '{:.0f}')} | restarts {' '.join(str(r) for r in model.rvq.restarts)} | "
                    f"yrms {m[o + 4 * N]:.3f} gnorm {m[o + 4 * N + 1]:.3f}")
            if len(m) > o + 5 * N + 2:
                line += f" | gan g {m[-3]:.3f} d {m[-2]:.3f} w {m[-1]:.3f}"
            line += f" | {sps:.3f} st/s wall {(wall + now - t_session) / 3600:.2f}h"
            log(line)
            acc, n_acc = None, 0
            model.rvq.reset_usage()
            t_win, steps_win = time.time(), 0

        if stop["flag"]:
            save(f"(signal {stop['sig']})")
            logf.close()
            return 0
        if time.time() - wall_saved > a.save_min * 60:
            save("(periodic)")
        if a.max_minutes and time.time() - t_session > a.max_minutes * 60:
            save("(max-minutes)")
            logf.close()
            return 0
    save("(done)")
    logf.close()
    return 0


def compiled(model, mode, x, N, log):
    """The encoder and decoder under torch.compile(mode), tried forward and backward on the batch x
    with the training step's shapes (no update), so that a failure falls back to eager before any
    step is taken. -> (encoder, decoder) callables sharing the model's parameters."""
    if not hasattr(torch, "compile"):
        raise SystemExit(f"--compile needs torch >= 2 (this is {torch.__version__})")
    t0 = time.time()
    enc, dec = torch.compile(model.enc, mode=mode), torch.compile(model.dec, mode=mode)
    try:
        y = enc(x)
        st = torch.arange(2 * x.shape[0], device=x.device) % N
        dec(torch.cat([y, y], 0).float(), st).float().mean().backward()  # F32 in, as in a step
    except Exception as e:  # noqa: BLE001 -- any compiler failure: train eager instead
        log(f"--compile {mode} failed ({type(e).__name__}: {e}); training eager")
        return model.enc, model.dec
    finally:
        model.zero_grad(set_to_none=True)
    log(f"--compile {mode}: encoder and decoder compiled and tried in {time.time() - t0:.1f}s")
    return enc, dec


def hardware(device):
    h = {"host_cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
         "torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        h["gpu"] = torch.cuda.get_device_name(device)
    return h


if __name__ == "__main__":
    sys.exit(main())
