#!/usr/bin/python3
"""Exports a shipped ProGIC model to ONNX for the onnxruntime-web peer of bench/progic/main.ts.

    /usr/bin/python3 tools/export_onnx_progic.py --weights weights/progic-t.safetensors \
        --sizes 256x256,512x512 --out /tmp/tessera-onnx-progic/progic-t [--opset 13] [--no-check]

The network is the PyTorch twin (train/progic.py) loaded from the safetensors file with
train/export.py's model_from_safetensors, so ONNX runs exactly the weights Tessera runs (F16
values widened to F32). Shapes are static, one pair of files per image size (Tessera also
compiles one graph per size):

- enc_HxW.onnx: input `image` f32 [1, 3, H, W] holding pixel/255 - 0.5 (Tessera's input values,
  NCHW); outputs `indices0` ... `indices{N-1}` i64 [H/16 * W/16], row-major (ArgMin's own
  type and shape: onnxruntime-web 1.30 puts a Cast to i32 or a Reshape of i64 on the CPU EP,
  which would read back mid-graph, so the benchmark narrows them after the run). The twin's encoder, then the
  residual-VQ search: argmin_k (|c_k|^2 - 2 r.c_k) (the twin's sq_dist without |r|^2, which is
  the same for every code; this is also what Tessera's kernel computes), r <- r - c[idx].
  pixel_unshuffle(8) becomes SpaceToDepth's channel order (dy, dx, c), where PyTorch orders
  them (c, dy, dx); the permutation is folded into the only consumer, the head's 1x1 adaptor
  (its input channels are permuted): exact, and free at run time. The op itself is written as
  Reshape -> Transpose -> Reshape by default, because onnxruntime-web 1.30's WebGPU EP has no
  SpaceToDepth kernel (it runs on the CPU EP); --unshuffle spacetodepth writes the ONNX op.
- dec5_HxW.onnx: inputs `indices0` ... `indices{N-1}` i32 [1, H/16, W/16] (as Tessera's decoder
  graph); output `image` f32 [1, 3, H, W] = the twin's unclamped x_hat (pixel/255, so Tessera's
  output + 0.5). Each block's per-stage modulation is folded into the 1x1 conv before it (ONNX
  gets one Conv, as Tessera fuses it into the conv's epilogue). Codebook lookups are Gathers with i32 indices; pixel_shuffle is DepthToSpace
  (mode CRD), as torch.onnx writes it from opset 11.

Before writing, each wrapper is run in PyTorch and checked against the twin's own
encode/quantize/decode (latent, indices except near-ties, pixels); --no-check skips that.
Writes manifest.json beside the models: script and weights SHA-256 per file, so the benchmark
re-exports when either changes.
"""

import argparse
import copy
import json
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "train"))
from export import model_from_safetensors, sha256  # noqa: E402


class SpaceToDepth(torch.autograd.Function):
    """ONNX SpaceToDepth: out[b, (dy*r + dx)*C + c, y, x] = in[b, c, y*r + dy, x*r + dx]."""

    @staticmethod
    def forward(ctx, x, r):
        return space_to_depth(x, r)

    @staticmethod
    def symbolic(g, x, r):
        return g.op("SpaceToDepth", x, blocksize_i=r)


def space_to_depth(x, r):
    """SpaceToDepth's channel order as Reshape -> Transpose (6-D) -> Reshape."""
    b, c, h, w = x.shape
    t = x.reshape(b, c, h // r, r, w // r, r).permute(0, 3, 5, 1, 2, 4)
    return t.reshape(b, r * r * c, h // r, w // r)


class OnnxEncoder(nn.Module):
    """Image (pixel - 0.5, NCHW) -> residual-VQ indices of every stage."""

    def __init__(self, model, unshuffle="transpose"):
        super().__init__()
        self.unshuffle = unshuffle
        enc = copy.deepcopy(model.enc)
        if enc.head.adaptor is None:
            raise SystemExit("the head has no 1x1 adaptor to fold the SpaceToDepth order into")
        # SpaceToDepth channel (dy*8 + dx)*3 + c  <-  pixel_unshuffle channel c*64 + dy*8 + dx
        perm = [c * 64 + k for k in range(64) for c in range(3)]
        with torch.no_grad():
            enc.head.adaptor.weight.copy_(enc.head.adaptor.weight[:, perm].clone())
        self.enc = enc
        cb = model.rvq.codebooks.detach().float()  # [N, K, C2]
        self.register_buffer("cb", cb.clone())
        self.register_buffer("neg2cbT", (-2.0 * cb).transpose(1, 2).contiguous())  # [N, C2, K]
        self.register_buffer("cbsq", (cb * cb).sum(2))  # [N, K]
        self.n = cb.shape[0]

    def latent(self, x):
        e = self.enc
        s2d = SpaceToDepth.apply if self.unshuffle == "spacetodepth" else space_to_depth
        p = e.head(s2d(x, 8))
        for blk in e.blocks:
            p = blk(p)
        return e.attn(e.down(p))

    def forward(self, x):
        y = self.latent(x)
        _, c, h, w = y.shape
        r = y.permute(0, 2, 3, 1).reshape(h * w, c)
        out = []
        for i in range(self.n):
            idx = torch.argmin(torch.matmul(r, self.neg2cbT[i]) + self.cbsq[i], dim=1)
            out.append(idx)  # [h*w]: a Reshape of int64 would be put on the CPU EP mid-graph
            if i + 1 < self.n:
                r = r - F.embedding(idx, self.cb[i])
        return tuple(out)


@torch.no_grad()
def fold_modulation(dec, s):
    """Folds each block's stage-s modulation (t * scale + bias after a 1x1 conv) into that conv's
    weights and bias, so ONNX gets one Conv where the twin has Conv, Mul, Add (Tessera applies
    it in the conv's epilogue)."""
    for m in dec.modules():
        for mod_name, conv in (("mod_dc", "dc"), ("mod_ffn", "ffn")):
            mod = getattr(m, mod_name, None)
            if mod is None:
                continue
            pw2 = getattr(m, conv).pw2
            scale, bias = mod.scale[s].clone(), mod.bias[s].clone()
            pw2.weight.mul_(scale.view(-1, 1, 1, 1))
            pw2.bias.copy_(pw2.bias * scale + bias)
            setattr(m, mod_name, None)
    return dec


class OnnxDecoder(nn.Module):
    """Indices of the first N stages (i32) -> the stage-N reconstruction (unclamped, NCHW)."""

    def __init__(self, model, stages):
        super().__init__()
        self.dec = fold_modulation(copy.deepcopy(model.dec), stages - 1)
        self.register_buffer("cb", model.rvq.codebooks.detach().float()[:stages].clone())
        self.stages = stages

    def forward(self, *indices):
        q = F.embedding(indices[0], self.cb[0])
        for i in range(1, self.stages):
            q = q + F.embedding(indices[i], self.cb[i])
        return self.dec(q.permute(0, 3, 1, 2), self.stages - 1)


@torch.no_grad()
def check(model, encw, decw, h, w):
    """The wrappers against the twin's own API on a smooth test pattern; raises on mismatch."""
    g = torch.Generator().manual_seed(h * 1000 + w)
    img = F.interpolate(torch.rand(1, 3, h // 16, w // 16, generator=g), size=(h, w),
                        mode="bilinear", align_corners=False)
    img = torch.round(img * 255) / 255
    y_ref = model.encode(img)
    y = encw.latent(img - 0.5)
    err = (y - y_ref).abs().max().item()
    scale = y_ref.abs().max().item()
    if err > 1e-4 * max(1.0, scale):
        raise SystemExit(f"{h}x{w}: exported encoder latent differs from the twin by {err}")
    idx_ref, _, _ = model.quantize(y_ref, update=False)  # [N, 1, h, w]
    got = torch.stack(encw(img - 0.5)).reshape(idx_ref.shape)
    differ = (got != idx_ref).sum().item()
    # differences must start at near-ties (and then cascade); count positions, not stages
    first = (got != idx_ref).reshape(got.shape[0], -1).any(0).sum().item()
    if first > max(2, got[0].numel() // 200):
        raise SystemExit(f"{h}x{w}: {first} positions' indices differ from the twin's search")
    yhat = model.lookup(idx_ref, model.N)
    x_ref = model.dec(yhat, model.N - 1)
    x = decw(*[idx_ref[i].to(torch.int32) for i in range(model.N)])
    perr = (x - x_ref).abs().max().item()
    if perr > 1e-4:
        raise SystemExit(f"{h}x{w}: exported decoder differs from the twin by {perr}")
    print(f"  check {w}x{h}: latent max err {err:.1e} (|y| max {scale:.2f}), indices differing "
          f"{differ} ({first} positions), pixels max err {perr:.1e}", flush=True)


def export(module, args, path, in_names, out_names, opset):
    tmp = path + ".tmp"
    torch.onnx.export(module, args, tmp, opset_version=opset, input_names=in_names,
                      output_names=out_names, do_constant_folding=True)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=os.path.join(ROOT, "weights", "progic-t.safetensors"))
    ap.add_argument("--sizes", default="256x256,512x512,768x512", help="WxH list")
    ap.add_argument("--out", required=True)
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--unshuffle", default="transpose", choices=["transpose", "spacetodepth"],
                    help="pixel_unshuffle as Reshape/Transpose/Reshape (default) or SpaceToDepth")
    ap.add_argument("--no-check", action="store_true")
    a = ap.parse_args(argv)
    if a.opset < 13:
        raise SystemExit("--opset must be at least 13")
    torch.set_num_threads(a.threads)
    model = model_from_safetensors(a.weights)
    n = model.N
    encw = OnnxEncoder(model, a.unshuffle).eval()
    decw = OnnxDecoder(model, n).eval()
    os.makedirs(a.out, exist_ok=True)
    mpath = os.path.join(a.out, "manifest.json")
    try:
        with open(mpath) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        manifest = {}
    stamp = {"script_sha256": sha256(os.path.abspath(__file__)),
             "weights_sha256": sha256(a.weights), "opset": a.opset,
             "unshuffle": a.unshuffle,
             "torch": torch.__version__}
    for size in a.sizes.split(","):
        w, h = (int(v) for v in size.lower().split("x"))
        if h % 16 or w % 16:
            raise SystemExit(f"size {size}: width and height must be multiples of 16")
        if not a.no_check:
            check(model, encw, decw, h, w)
        idx_names = [f"indices{i}" for i in range(n)]
        enc_file = f"enc_{w}x{h}.onnx"
        dec_file = f"dec{n}_{w}x{h}.onnx"
        with torch.no_grad():
            export(encw, (torch.zeros(1, 3, h, w),), os.path.join(a.out, enc_file), ["image"],
                   idx_names, a.opset)
            idx = tuple(torch.zeros(1, h // 16, w // 16, dtype=torch.int32) for _ in range(n))
            export(decw, idx, os.path.join(a.out, dec_file), idx_names, ["image"], a.opset)
        for f in (enc_file, dec_file):
            manifest[f] = stamp
            print(f"wrote {os.path.join(a.out, f)} ({os.path.getsize(os.path.join(a.out, f))} "
                  "bytes)", flush=True)
    with open(mpath + ".tmp", "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(mpath + ".tmp", mpath)
    return 0


if __name__ == "__main__":
    sys.exit(main())
