#!/usr/bin/python3
"""Encode/decode timings of the PyTorch twin on the CPU, for bench/progic/main.ts.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/progic/torch_bench.py \
        --weights weights/progic-t.safetensors --sizes 256x256,768x512 --iters 5 --threads 2

Encode = ProGIC.compress (image [H, W, 3] in [0, 1] -> indices of every stage: encoder and
residual-VQ search); decode = ProGIC.decompress with all stages (codebook lookup, decoder,
crop). Inference mode, float32. Prints one JSON object on stdout: per size the first run and
`iters` timed runs (ms) after `warmup` untimed ones.
"""

import argparse
import json
import os
import re
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "train"))
from export import model_from_safetensors  # noqa: E402


def timed(fn, warmup, iters, sync=lambda: None):
    """fn's first run, then `iters` runs after `warmup - 1` more, in ms; `sync` waits for the
    device so that a CUDA run is timed to its end, not to its launch."""
    def run():
        out = fn()
        sync()
        return out

    t0 = time.perf_counter()
    out = run()
    first = (time.perf_counter() - t0) * 1e3
    for _ in range(max(0, warmup - 1)):
        run()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    return out, {"first": first, "times": times}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=os.path.join(ROOT, "weights", "progic-t.safetensors"))
    ap.add_argument("--sizes", default="256x256,512x512,768x512", help="WxH list")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu | cuda (the GPU machine)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model = model_from_safetensors(a.weights, device=device)
    n = model.N
    results = []
    with torch.inference_mode():
        for size in a.sizes.split(","):
            w, h = (int(v) for v in size.lower().split("x"))
            g = torch.Generator().manual_seed(w * 10007 + h)
            img = torch.rand(h, w, 3, generator=g).to(device)
            idx, enc = timed(lambda: model.compress(img), a.warmup, a.iters, sync)
            _, dec = timed(lambda: model.decompress(idx, n, h, w), a.warmup, a.iters, sync)
            results.append({"size": f"{w}x{h}", "encode": enc, "decode": dec})
            print(f"torch {w}x{h}: encode {min(enc['times'] or [enc['first']]):.1f} ms, "
                  f"decode {min(dec['times'] or [dec['first']]):.1f} ms", file=sys.stderr,
                  flush=True)
    m = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    blas = m.group(1) if m else "unknown"
    print(json.dumps({
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "blas": blas,
        "results": results,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
