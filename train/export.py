#!/usr/bin/python3
"""Export a trained ProGIC checkpoint to weights/<config>.safetensors + weights/<config>.json.

    /usr/bin/python3 train/export.py --config progic-t            # all 200 bsds500/test images
    /usr/bin/python3 train/export.py --config progic-t --limit 20 # quick check
    /usr/bin/python3 train/export.py --config progic-t --eval-only # re-measure the shipped weights

Reads train/runs/<config>/ckpt.pt (or resume.pt). Also rewrites tests/golden/<config>.safetensors
from the new file (--no-golden to skip), so golden vectors and weights stay in step. Conv weights are stored as F16 by default,
rvq.codebooks and the modulation tensors as F32 (--dtype / --keep-f32 change this). The quality
in the manifest is measured with the weights exactly as stored (F16 values widened to F32), on
full test images through the codec path with its defaults (a side 1–4 px past a multiple of 16
shrunk to it and enlarged back, other sizes padded with replicated edges and cropped back; the
encoder's pre-filter, beam search and the decoder's post-filter; output rounded to 8 bits): per
stage mean bpp (10·s·ceil(coded H/16)·ceil(coded W/16)/(H·W)), PSNR (RGB, 8-bit
peak), MS-SSIM (standard 5 scales, Gaussian 11/1.5, RGB channels averaged) and, when libjxl's
butteraugli_main is on PATH, Butteraugli max-norm and 3-norm (as bench/eval measures them).
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

# Sleep instead of spin at OpenMP barriers: on the shared 2-core machine (other processes, nice 19)
# spinning made 2-thread steps ~5x slower than passive waiting (measured 23-27 s vs 4-6 s per step).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
from PIL import Image
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ckpt  # noqa: E402
import st_io  # noqa: E402
from data import BSDS, list_images, load_rgb  # noqa: E402
from losses import ms_ssim  # noqa: E402
from progic import CONFIGS, TRAIN_ONLY_BUFFERS, ProGIC, is_f32_kept, param_names  # noqa: E402
from choice import DEFAULT_RATE_WEIGHT, codec_search  # noqa: E402
from refine import BOOKS as REFINE_BOOKS, DEPTH_BYTE_BITS, REFINE_TENSOR, STORAGE_NOTE as REFINE_STORAGE_NOTE, auto_count, build as build_refine, depths, fill_order, refine_chain, refined_latent, section_bits, steered  # noqa: E402
from visibility import load_coefficients, visibility  # noqa: E402
from entropy import STATE_BITS, STORAGE_NOTE as ENTROPY_STORAGE_NOTE, TENSORS as ENTROPY_TENSORS, measure_tables, stages_bits, stream_bits, tables_of  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FORMAT = "tessera-progic-1"
# Residual-VQ search width of the TypeScript encoder by default (DEFAULT_BEAMS in
# src/models/progic/codec.ts): the manifest measures what `mod.ts encode` writes.
DEFAULT_BEAMS = 8
# The TypeScript decoder's default post-filter strength (DEFAULT_SMOOTHING in
# src/models/progic/codec.ts): the manifest measures what `mod.ts decode` returns.
DEFAULT_SMOOTHING = 0.75
# The TypeScript encoder's default pre-filter strength (DEFAULT_PRESMOOTHING in
# src/models/progic/codec.ts): the same blur as the post-filter, on the encoder's input.
DEFAULT_PRESMOOTHING = 1.0


def fit_to_grid(n):
    """The coded length of a side of n pixels under the TypeScript encoder's default `fit: "auto"`
    (fitToGrid in src/models/progic/codec.ts): n − n mod 16 when that remainder is 1…4 and at most
    n/64, else n (padded)."""
    r = n % 16
    return n - r if 0 < r <= 4 and 64 * r <= n else n


def lanczos_resize(rgb8, width, height):
    """[H, W, 3] uint8 -> [height, width, 3] uint8 with Pillow's Lanczos filter, which the
    TypeScript `resize` (src/io/resample.ts) matches within ±1 per sample."""
    if rgb8.shape[0] == height and rgb8.shape[1] == width:
        return rgb8
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb8)).resize((width, height), Image.LANCZOS))


def codec_input(img, fit="auto"):
    """8-bit [H, W, 3] -> float [h, w, 3] in [0, 1] at the size the codec codes: fitted to the latent
    grid (`fit_to_grid`, Lanczos) for fit "auto", as it is for "pad" (the model pads)."""
    H, W = img.shape[:2]
    ch, cw = (fit_to_grid(H), fit_to_grid(W)) if fit == "auto" else (H, W)
    return torch.from_numpy(lanczos_resize(img, cw, ch).copy()).float() / 255.0


def export_tensors(model, dtype="f16", keep_f32=True):
    """state_dict (exported names only) -> dict name -> numpy array in the storage dtype."""
    sd = model.state_dict()
    out = {}
    for n in param_names(model):
        a = sd[n].detach().float().cpu().numpy()
        if dtype == "f16" and not (keep_f32 and is_f32_kept(n)):
            a = a.astype(np.float16)
        out[n] = a
    return out


def write_weights(path, config, tensors):
    st_io.save(path, tensors, metadata={"config": config, "format": FORMAT})


def weights_file_record(path, tensors):
    """The manifest's description of a written weights file: sha256, size, tensors per dtype."""
    dtypes = {}
    for t in tensors.values():
        k = st_io.dtype_name(np.asarray(t))
        dtypes[k] = dtypes.get(k, 0) + 1
    return {"sha256": sha256(path), "bytes": os.path.getsize(path), "tensors_by_dtype": dtypes}


def add_to_weights_file(path, tensors, storage_note, manifest_key, record, drop_note=""):
    """Adds (or replaces) `tensors` in an exported weights file in place and, when its manifest is
    beside it, updates the sha256 and size there, appends `storage_note` to its storage line
    (removing `drop_note`) and stores `record` under `manifest_key`."""
    stored, meta = st_io.load(path)
    stored.update(tensors)
    st_io.save(path, stored, metadata=meta)
    mpath = os.path.splitext(path)[0] + ".json"
    if not os.path.exists(mpath):
        return
    with open(mpath) as f:
        manifest = json.load(f)
    manifest["weights"].update(weights_file_record(path, stored))
    storage = manifest["weights"].get("storage", "")
    storage = storage.replace(drop_note, "") if drop_note else storage
    manifest["weights"]["storage"] = storage if storage_note in storage else storage + storage_note
    manifest[manifest_key] = record
    write_manifest(mpath, manifest)


def model_from_safetensors(path, config=None, device="cpu"):
    """Build a ProGIC from an exported file (weights widened to F32 exactly as stored)."""
    tens, meta = st_io.load(path)
    config = config or meta.get("config")
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: format {meta.get('format')!r} != {FORMAT}")
    model = ProGIC(config)
    sd = {k: torch.from_numpy(v.astype(np.float32)) for k, v in tens.items()
          if k not in ENTROPY_TENSORS and k != REFINE_TENSOR}
    model.entropy = tables_of(tens)  # the index coder's tables ride in the same file
    # The refinement codebooks (refine.py), widened exactly as the codec reads them; None: none.
    model.refine = torch.from_numpy(tens[REFINE_TENSOR].astype(np.float32)) if REFINE_TENSOR in tens else None
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if unexpected or set(missing) - set(TRAIN_ONLY_BUFFERS):
        raise ValueError(f"{path}: missing {missing} unexpected {unexpected}")
    model.rvq.initted.fill_(1.0)
    return model.to(device).eval()


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


BUTTERAUGLI = shutil.which("butteraugli_main")  # libjxl-devtools; None: no Butteraugli columns


def write_ppm(path, rgb8):
    """Binary PPM (P6) of an [H, W, 3] uint8 array: what butteraugli_main reads without a decoder."""
    H, W = rgb8.shape[:2]
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (W, H))
        f.write(np.ascontiguousarray(rgb8, dtype=np.uint8).tobytes())


def butteraugli(ref_ppm, dist_ppm):
    """-> (max-norm, 3-norm) from libjxl's butteraugli_main (80 nits), as bench/eval measures it."""
    out = subprocess.run([BUTTERAUGLI, ref_ppm, dist_ppm, "--pnorm", "3"], capture_output=True,
                         text=True, check=True).stdout.split()
    return float(out[0]), float(out[out.index("3-norm:") + 1])


@torch.no_grad()
def evaluate(model, files, stages=None, log=print, with_butteraugli=None, beams=1, smoothing=0.0,
             presmoothing=0.0, fit="pad", refine=False):
    """-> list of per-stage dicts {stage, bpp, psnr, ms_ssim[, butteraugli, butteraugli3]} averaged
    over files. Butteraugli is measured when libjxl's butteraugli_main is on PATH (or when asked).
    beams > 1: each stage count s is encoded as the codec encodes `--stages s`, by a beam search
    over the first s codebooks; beams = 1: greedy, one search serves every prefix. smoothing: the
    decoder's post-filter strength (0: the network's output). presmoothing: the encoder's
    pre-filter strength. fit "auto": sides fitted to the latent grid (`fit_to_grid`, Lanczos
    there and back) as the codec does by default; "pad": padded and cropped. refine (with
    refinement books in the model and a beam search): one more entry, stage N with the codec's
    default refinement (`"refined": true`): the codes of `refine.fill_order` that fit, by their
    ideal size, in what the N entropy-coded stages leave of their fixed-length size."""
    N = model.N
    stages = stages or list(range(1, N + 1))
    if with_butteraugli is None:
        with_butteraugli = BUTTERAUGLI is not None
    if with_butteraugli and BUTTERAUGLI is None:
        raise SystemExit("butteraugli_main not found (Debian package libjxl-devtools)")
    keys = ("bpp", "psnr", "ms_ssim") + (("butteraugli", "butteraugli3") if with_butteraugli else ())
    refined = refine and beams > 1 and getattr(model, "refine", None) is not None and N in stages
    acc = {s: dict.fromkeys(keys, 0.0) for s in stages + (["r"] if refined else [])}
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        ref, dist = os.path.join(tmp, "ref.ppm"), os.path.join(tmp, "dist.ppm")
        for i, f in enumerate(files):
            img = load_rgb(f)
            H, W = img.shape[:2]
            x = codec_input(img, fit)
            ch, cw = x.shape[:2]
            if beams > 1:
                y = model.latent(x, presmoothing)
            else:
                idx = model.compress(x, presmoothing=presmoothing)
            xt = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].double() / 255.0
            if with_butteraugli:
                write_ppm(ref, img)
            for s in stages + (["r"] if refined else []):
                if s == "r":  # stage N's indices and their bits are still in idx and split
                    yhat = model.lookup(idx[:, None], N)[0].permute(1, 2, 0)
                    rec, bits = refined_decode(model, y, yhat, split, x, smoothing)
                else:
                    if beams > 1:
                        idx = codec_search(model, y, beams, stages=s)
                    rec = model.decompress(idx, s, ch, cw, smoothing=smoothing)
                    split = stages_bits(idx, getattr(model, "entropy", None), s, model.K)
                    bits = stream_bits(*split)
                q8 = to_u8(rec)
                q8 = torch.from_numpy(lanczos_resize(q8, W, H).copy())
                rt = (q8.double() / 255.0).permute(2, 0, 1)[None]
                mse = ((rt - xt) ** 2).mean().item()
                acc[s]["psnr"] += 10 * np.log10(1.0 / max(mse, 1e-12))
                acc[s]["ms_ssim"] += ms_ssim(rt, xt, scales=5, floor=0.0).item()
                acc[s]["bpp"] += bits / (H * W)
                if with_butteraugli:
                    write_ppm(dist, q8.numpy())
                    bmax, b3 = butteraugli(ref, dist)
                    acc[s]["butteraugli"] += bmax
                    acc[s]["butteraugli3"] += b3
            if (i + 1) % 20 == 0:
                log(f"  eval {i + 1}/{len(files)} ({time.time() - t0:.0f}s)")
    n = len(files)
    digits = {"bpp": 6, "psnr": 4, "ms_ssim": 6, "butteraugli": 4, "butteraugli3": 4}
    return [{"stage": s, **{k: round(acc[s][k] / n, digits[k]) for k in keys}} for s in stages] + (
        [{"stage": N, "refined": True, **{k: round(acc["r"][k] / n, digits[k]) for k in keys}}] if refined else [])


def to_u8(x):
    """[..., 3] float in [0, 1] -> uint8 numpy, rounded as the codec writes samples."""
    return torch.round(x * 255.0).clamp(0, 255).to(torch.uint8).numpy()


def encoder_visibility(model, x, yhat):
    """-> [P] the visibility (visibility.py) of the default stage-N decode of ŷ(N) [h, w, C2]
    against the coded-size input x [H, W, 3], per latent position: what the encoder steers its
    refinement codes by (`refine.steered`)."""
    ch, cw = x.shape[:2]
    rec = model.render(yhat.permute(2, 0, 1)[None], model.N, ch, cw, DEFAULT_SMOOTHING)
    return visibility(to_u8(x), to_u8(rec), load_coefficients()).numpy()


def default_refinement(model, y, yhat, split, x=None):
    """-> (the refined latent [h, w, C2] of the codec's default budget, its stream's bits). y, yhat
    [h, w, C2]: the latent and ŷ(N); split: the N stages' (fixed, rANS) bits
    (`entropy.stages_bits`). The budget is the fixed-length size of N stages; the section's
    symbols join the stages' rANS stream (one state per file), and it adds its E′ byte. x: the
    coded-size input [H, W, 3]; given, the codes are steered by visibility as the codec's are
    (`encoder_visibility`); None: by residual energy alone."""
    h, w, C = y.shape
    P = h * w
    fixed, coded = split
    budget = model.N * 8 * math.ceil(P * math.log2(model.K) / 8)
    room = budget - fixed - coded - STATE_BITS - DEPTH_BYTE_BITS
    codes, energy = refine_chain((y - yhat).reshape(-1, C), model.refine)
    energy = energy.numpy()
    if x is not None:
        energy = steered(energy, encoder_visibility(model, x, yhat))
    order = fill_order(energy)
    m = auto_count(order, P, model.K, room, w)
    depth = depths(order, P, m)
    z = refined_latent(yhat.reshape(-1, C), model.refine, codes, depth).reshape(h, w, C)
    if not m:
        return z, stream_bits(fixed, coded)
    return z, stream_bits(fixed, coded + section_bits(depth, model.K, w)) + DEPTH_BYTE_BITS


def refined_decode(model, y, yhat, split, x, smoothing, steer=True):
    """-> (stage N plus the default refinement (`default_refinement`, steered by the coded-size
    input x [ch, cw, 3] unless not `steer`) decoded [ch, cw, 3], its bits)."""
    z, bits = default_refinement(model, y, yhat, split, x if steer else None)
    return model.render(z.permute(2, 0, 1)[None], model.N, x.shape[0], x.shape[1], smoothing), bits


def load_checkpoint(config, path=None):
    run = os.path.join(HERE, "runs", config)
    cands = [path] if path else [os.path.join(run, "ckpt.pt"), os.path.join(run, "resume.pt")]
    for p in cands:
        if p and os.path.exists(p):
            ck = ckpt.load(p)
            if ck["cfg"] != CONFIGS[config]:
                raise SystemExit(f"{p}: cfg {ck['cfg']} != CONFIGS[{config}] {CONFIGS[config]}")
            model = ProGIC(config)
            missing, unexpected = model.load_state_dict(ck["model"], strict=False)
            if unexpected or set(missing) - {"rvq.ema_sum"}:
                raise SystemExit(f"{p}: missing {missing} unexpected {unexpected}")
            return model.eval(), ck, p
    raise SystemExit(f"no checkpoint for {config} (looked at {cands})")


def measure(wpath, a, model=None, manifest=None):
    """-> the manifest's "quality" block: the weights file at wpath evaluated on bsds500/test with
    the codec defaults in `a` (and, with --compare-f32, `model`'s unrounded weights, recorded in
    manifest["quality_unrounded_f32"])."""
    files = sorted(list_images(("test",)))
    if a.limit:
        files = files[:a.limit]
    t0 = time.time()
    em = model_from_safetensors(wpath, a.config)
    q = evaluate(em, files, beams=a.beams, smoothing=a.smoothing, presmoothing=a.presmoothing, fit=a.fit,
                 refine=True)
    quality = {
        "dataset": f"bsds500/test ({len(files)} of 200 images{'' if not a.limit else ', --limit'})",
        "images": len(files),
        "measured": datetime.datetime.utcnow().replace(microsecond=0).isoformat() + "Z",
        "method": ("codec path: sides 1-4 px past a multiple of 16 shrunk to it (Lanczos) and enlarged back, "
                   "others replicate-padded to x16 and cropped; " if a.fit == "auto" else
                   "codec path (replicate pad to x16, crop); ")
                  + (f"encoder pre-filter presmoothing {a.presmoothing}; " if a.presmoothing > 0 else "")
                  + "8-bit output, weights as stored; "
                  + (f"beam search {a.beams} wide over the first s codebooks for stage s"
                     + (f", its path chosen rate-aware (choice.py, weight {DEFAULT_RATE_WEIGHT}); "
                        if getattr(em, "entropy", None) is not None else "; ")
                     if a.beams > 1 else "greedy search; ")
                  + (f"decoder post-filter smoothing {a.smoothing}; " if a.smoothing > 0 else "no post-filter; ")
                  + "PSNR RGB; "
                  "MS-SSIM 5 scales Gaussian 11/1.5, RGB channel mean; "
                  + ("bpp = the stages' payload bits / (H*W), each stage the smaller of its fixed 10-bit fields "
                     "and its ideal rANS length under the file's entropy tables as the codec adapts them; the rANS-coded "
                     "stages (and the refinement) as one stream, rounded up to bytes, plus its 4-byte state (ProGIC parameters version 6)"
                     if getattr(em, "entropy", None) is not None else
                     "bpp = 10*s*ceil(coded H/16)*ceil(coded W/16)/(H*W)")
                  + ("; Butteraugli: libjxl butteraugli_main --pnorm 3 on PPM (80 nits), max-norm and 3-norm"
                     if BUTTERAUGLI else "")
                  + ("; the entry with \"refined\": stage N plus the codec's default refinement (the codes of "
                     "refine.fill_order, of the residual energies steered by the stage-N decode's visibility (refine.steered), "
                     "whose section, by its ideal size, fits in what the stages leave of their fixed-length size; its "
                     "bits added)" if getattr(em, "refine", None) is not None else ""),
        "stages": q,
    }
    print(f"evaluated {len(files)} images in {time.time() - t0:.0f}s", flush=True)
    for r in q:
        ba = (f" butteraugli {r['butteraugli']:.3f} 3-norm {r['butteraugli3']:.3f}"
              if "butteraugli" in r else "")
        print(f"  stage {r['stage']}{' + refinement' if r.get('refined') else ''}: bpp {r['bpp']:.4f} psnr {r['psnr']:.3f} ms-ssim {r['ms_ssim']:.5f}{ba}")
    if a.compare_f32 and model is not None:
        model.entropy = em.entropy  # the same tables, so both blocks report the same kind of bpp
        q32 = evaluate(model.float().eval(), files, beams=a.beams, smoothing=a.smoothing,
                       presmoothing=a.presmoothing, fit=a.fit)
        manifest["quality_unrounded_f32"] = q32
        for r, r32 in zip(q, q32):
            print(f"  stage {r['stage']}: stored-vs-f32 dPSNR {r['psnr'] - r32['psnr']:+.4f} "
                  f"dMS-SSIM {r['ms_ssim'] - r32['ms_ssim']:+.6f}")
    return quality


def write_manifest(mpath, manifest):
    with open(mpath + ".tmp", "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.replace(mpath + ".tmp", mpath)
    print(f"wrote {mpath}")


def requalify(a):
    """--eval-only: re-measure the quality of the weights already in --out-dir (after a change of
    the codec's defaults) and rewrite only the manifest's "quality" block."""
    wpath = os.path.join(a.out_dir, f"{a.config}.safetensors")
    mpath = os.path.join(a.out_dir, f"{a.config}.json")
    if not (os.path.exists(wpath) and os.path.exists(mpath)):
        raise SystemExit(f"--eval-only needs {wpath} and {mpath}")
    with open(mpath) as f:
        manifest = json.load(f)
    if manifest["weights"]["sha256"] != sha256(wpath):
        raise SystemExit(f"{mpath} does not describe {wpath} (sha256 differs)")
    manifest["quality"] = measure(wpath, a)
    manifest.pop("quality_unrounded_f32", None)  # measured under the old defaults
    write_manifest(mpath, manifest)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="progic-t", choices=sorted(CONFIGS))
    ap.add_argument("--ckpt", default=None, help="default train/runs/<config>/ckpt.pt, then resume.pt")
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "weights"))
    ap.add_argument("--dtype", default="f16", choices=["f16", "f32"], help="storage of conv weights")
    ap.add_argument("--all-f16", action="store_true", help="also store codebooks/modulation as F16")
    ap.add_argument("--limit", type=int, default=0, help="evaluate on the first N test images only")
    ap.add_argument("--compare-f32", action="store_true", help="also evaluate unrounded F32 weights")
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--eval-only", action="store_true",
                    help="re-measure the weights already in --out-dir and rewrite only their manifest's quality")
    ap.add_argument("--no-golden", action="store_true",
                    help="do not rewrite tests/golden/<config>.safetensors from the new weights")
    ap.add_argument("--no-entropy", action="store_true",
                    help="ship no index entropy tables (the codec then writes fixed 10-bit fields)")
    ap.add_argument("--refine-books", type=int, default=REFINE_BOOKS,
                    help="refinement codebooks (refine.py) to build and ship (0: none)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--beams", type=int, default=DEFAULT_BEAMS,
                    help="residual-VQ search width of the evaluation (the TypeScript encoder's default)")
    ap.add_argument("--smoothing", type=float, default=DEFAULT_SMOOTHING,
                    help="decoder post-filter strength of the evaluation (the TypeScript decoder's default)")
    ap.add_argument("--presmoothing", type=float, default=DEFAULT_PRESMOOTHING,
                    help="encoder pre-filter strength of the evaluation (the TypeScript encoder's default)")
    ap.add_argument("--fit", default="auto", choices=["auto", "pad"],
                    help="how sides meet the latent grid (the TypeScript encoder's default: auto)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.eval_only:
        if a.compare_f32 or a.ckpt or a.no_eval:
            raise SystemExit("--eval-only measures the weights file as stored: no --compare-f32, --ckpt or --no-eval")
        return requalify(a)

    model, ck, ck_path = load_checkpoint(a.config, a.ckpt)
    os.makedirs(a.out_dir, exist_ok=True)
    wpath = os.path.join(a.out_dir, f"{a.config}.safetensors")
    tensors = export_tensors(model, a.dtype, keep_f32=not a.all_f16)
    params = int(sum(t.size for t in tensors.values()))
    write_weights(wpath, a.config, tensors)
    entropy = None
    if not a.no_entropy:  # tables measured with the weights as stored, then stored beside them
        ent, entropy = measure_tables(model_from_safetensors(wpath, a.config), list_images())
        tensors.update(ent)
        write_weights(wpath, a.config, tensors)
    refine = None
    if a.refine_books:  # k-means on what the stored weights' five stages leave (refine.py)
        tensors[REFINE_TENSOR], refine = build_refine(model_from_safetensors(wpath, a.config), list_images(),
                                                      a.refine_books)
        write_weights(wpath, a.config, tensors)
    record = weights_file_record(wpath, tensors)
    print(f"wrote {wpath} ({record['bytes']} bytes, sha256 {record['sha256'][:16]}…, "
          f"{record['tensors_by_dtype']})", flush=True)

    manifest = {
        "config": a.config,
        "arch": CONFIGS[a.config],
        "format": FORMAT,
        "weights": {"file": os.path.basename(wpath), "sha256": record["sha256"], "bytes": record["bytes"],
                    "params": params,
                    "storage": ("F16 conv weights/biases; F32 rvq.codebooks and modulation"
                                if a.dtype == "f16" and not a.all_f16 else
                                ("all F16" if a.dtype == "f16" else "all F32"))
                               + (ENTROPY_STORAGE_NOTE if entropy else "")
                               + (REFINE_STORAGE_NOTE if refine else ""),
                    "tensors_by_dtype": record["tensors_by_dtype"]},
        "training": {
            "checkpoint": os.path.relpath(ck_path, ROOT),
            "data": "BSDS500 train+val (300 images), random crops; evaluation on BSDS500 test (200 images)",
            "steps": int(ck.get("step", 0)),
            "wall_hours": round(float(ck.get("wall", 0.0)) / 3600, 3),
            "hardware": ck.get("hardware"),
            "args": {k: v for k, v in (ck.get("args") or {}).items()
                     if k in ("batch", "crop", "lr", "lr_min", "lambda_ms", "l1_luma", "l2", "peak", "peak_p",
                              "peak_sigma", "peak_chroma", "beta", "p",
                              "ema_decay", "dead_frac", "disc_start", "disc_weight", "steps", "warmup", "rewarm",
                              "device", "downscale_p")},
            "loss": ("sum_i lambda_i (L1 [+ l2 L2] [+ peak P] + lambda_ms (1 - MS-SSIM) + beta commit_i), "
                     "lambda = p/(N-1).., 1-p, p = 0.5; L1 over RGB (l1_luma 0) or over YCbCr with weights "
                     "(l1_luma, 1, 1) / l1_luma, L2 the same with squared errors, P = (mean E^(peak_p/2))^(1/peak_p) "
                     "with E the Gaussian(peak_sigma)-blurred squared luma error plus peak_chroma times the squared "
                     "chroma errors (see schedule)"),
            # the settings of every training session (args above are those of the last one)
            "schedule": ck.get("history") or [],
            # train/soup.py: the checkpoints whose mean these weights are (codebooks: the first's)
            **({"soup": ck["soup"]} if ck.get("soup") else {}),
        },
        **({"entropy": entropy} if entropy else {}),
        **({"refine": refine} if refine else {}),
        "exported": datetime.datetime.utcnow().replace(microsecond=0).isoformat() + "Z",
        "export_host": {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
                        "torch": torch.__version__},
    }
    if not a.no_eval:
        manifest["quality"] = measure(wpath, a, model, manifest)
    write_manifest(os.path.join(a.out_dir, f"{a.config}.json"), manifest)
    if not a.no_golden and os.path.abspath(a.out_dir) == os.path.join(ROOT, "weights"):
        import golden  # the golden vectors must match the weights file they name
        golden.main(["--config", a.config, "--weights", wpath])
    return 0


if __name__ == "__main__":
    sys.exit(main())
