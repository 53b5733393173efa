#!/usr/bin/python3
"""Writes the ONNX models of the engine benchmark (bench/engine/main.ts) for onnxruntime-web.

Usage: /usr/bin/python3 tools/onnx_models.py [--out DIR]   (default DIR: /tmp/tessera-onnx)

Needs Debian's python3-onnx (`apt-get install -y python3-onnx`; run with /usr/bin/python3, which
sees dist-packages). Opset 13, IR version 8. Layouts are ONNX's natural ones (NCHW activations,
OIHW conv weights, [K, N] MatMul weights), so onnxruntime-web's WebGPU EP gets the models an ONNX
user would give it; the EP itself converts Conv to NHWC and inserts the transposes.

Weights are initializers derived from `weights(name, shape, scale)`: a counter-based integer hash
that bench/engine/data.ts reproduces bit for bit, so all three engines of the benchmark compute
with the same numbers without exchanging files. Activations are graph inputs.

Also writes manifest.json holding the SHA-256 of this script; the benchmark regenerates the
models when that differs from the script it sees.
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 8

MASK = np.uint64(0xFFFFFFFF)


def fnv1a(name: str) -> int:
    h = 0x811C9DC5
    for b in name.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def weights(name: str, shape, scale: float) -> np.ndarray:
    """Uniform [-1, 1) · scale in the logical (ONNX/PyTorch) layout; see bench/engine/data.ts."""
    n = int(np.prod(shape))
    seed = np.uint64(fnv1a(name))
    x = np.arange(n, dtype=np.uint64)
    x = (x * np.uint64(0x9E3779B1) + seed * np.uint64(0x85EBCA77)) & MASK
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & MASK
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & MASK
    x ^= x >> np.uint64(16)
    u = (x >> np.uint64(8)).astype(np.float64) / 16777216.0 * 2.0 - 1.0
    return (u * scale).astype(np.float32).reshape(shape)


class Model:
    def __init__(self, name: str):
        self.name = name
        self.nodes = []
        self.inits = []
        self.n = 0

    def init(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def ints(self, name: str, values) -> str:
        return self.init(name, np.array(values, dtype=np.int64))

    def node(self, op: str, inputs, n_out: int = 1, **attrs):
        self.n += 1
        outs = [f"{op.lower()}{self.n}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=f"{op}{self.n}", **attrs))
        return outs[0] if n_out == 1 else outs

    def save(self, out_dir: str, inputs, outputs) -> None:
        # The last node's first output becomes the graph output.
        last = self.nodes[-1]
        renamed = outputs[0][0]
        last.output[0] = renamed
        graph = helper.make_graph(
            self.nodes,
            self.name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
            [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
            self.inits,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="tessera-bench",
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        path = os.path.join(out_dir, f"{self.name}.onnx")
        onnx.save(model, path)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def gemm(out: str, name: str, m: int, k: int, n: int) -> None:
    g = Model(name)
    b = g.init("B", weights(f"{name}.B", (k, n), 1.0 / 32 if k > 256 else 1.0 / 16))
    g.node("MatMul", ["A", b])
    g.save(out, [("A", [m, k])], [("Y", TensorProto.FLOAT, [m, n])])


def depthwise(out: str) -> None:
    g = Model("dw3x3")
    w = g.init("W", weights("dw3x3.W", (256, 1, 3, 3), 0.25))
    g.node("Conv", ["X", w], group=256, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.save(out, [("X", [1, 256, 64, 64])], [("Y", TensorProto.FLOAT, [1, 256, 64, 64])])


def conv3x3(out: str) -> None:
    g = Model("conv3x3")
    w = g.init("W", weights("conv3x3.W", (128, 128, 3, 3), 1.0 / 32))
    g.node("Conv", ["X", w], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.save(out, [("X", [1, 128, 128, 128])], [("Y", TensorProto.FLOAT, [1, 128, 128, 128])])


def attention(out: str) -> None:
    """Window attention as an ONNX user writes it: reshape/transpose to heads, MatMul, Softmax."""
    b, t, h, d = 256, 64, 8, 32
    g = Model("attention")
    shape4 = g.ints("shape4", [b, t, h, d])
    shape3 = g.ints("shape3", [b, t, h * d])
    scale = g.init("scale", np.array(1.0 / np.sqrt(d), dtype=np.float32))
    qh = g.node("Transpose", [g.node("Reshape", ["q", shape4])], perm=[0, 2, 1, 3])
    kt = g.node("Transpose", [g.node("Reshape", ["k", shape4])], perm=[0, 2, 3, 1])
    vh = g.node("Transpose", [g.node("Reshape", ["v", shape4])], perm=[0, 2, 1, 3])
    s = g.node("Mul", [g.node("MatMul", [qh, kt]), scale])
    p = g.node("Softmax", [s], axis=-1)
    o = g.node("Transpose", [g.node("MatMul", [p, vh])], perm=[0, 2, 1, 3])
    g.node("Reshape", [o, shape3])
    ins = [(n, [b, t, h * d]) for n in ("q", "k", "v")]
    g.save(out, ins, [("Y", TensorProto.FLOAT, [b, t, h * d])])


def vq(out: str) -> None:
    """argmin_k ‖c_k‖² − x·(2cᵀ): ‖x‖² is constant per row, so it is left out, as users do."""
    m, k, d = 4096, 1024, 256
    g = Model("vq")
    cb = weights("vq.codebook", (k, d), 1.0)
    c64 = cb.astype(np.float64)
    two_ct = g.init("two_cT", (2.0 * c64.T).astype(np.float32))
    norms = g.init("c_norm2", (c64 * c64).sum(axis=1).astype(np.float32))
    dist = g.node("Sub", [norms, g.node("MatMul", ["X", two_ct])])
    g.node("ArgMin", [dist], axis=1, keepdims=0)
    g.save(out, [("X", [m, d])], [("I", TensorProto.INT64, [m])])


def codec(out: str) -> None:
    """8 DepthConv blocks at 256 channels: 1×1 → ReLU → dw3×3 → 1×1 (+x), then the gated FFN
    1×1 256→1024 → ReLU(first half)·second half → 1×1 512→256 (+y). Conv biases everywhere."""
    c, blocks, size = 256, 8, 64
    g = Model("codec")
    x = "X"
    for i in range(blocks):
        p = f"codec.{i}."

        def conv(inp, wname, shape, scale, **attrs):
            w = g.init(p + wname, weights(p + wname, shape, scale))
            b = g.init(p + wname + ".b", weights(p + wname + ".b", (shape[0],), 1.0 / 16))
            return g.node("Conv", [inp, w, b], **attrs)

        h = g.node("Relu", [conv(x, "pw1", (c, c, 1, 1), 1.0 / 16)])
        h = conv(h, "dw", (c, 1, 3, 3), 0.25, group=c, kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        y = g.node("Add", [conv(h, "pw2", (c, c, 1, 1), 1.0 / 16), x])
        f = conv(y, "ffn1", (4 * c, c, 1, 1), 1.0 / 16)
        a, b = g.node("Split", [f], n_out=2, axis=1)
        u = g.node("Mul", [g.node("Relu", [a]), b])
        x = g.node("Add", [conv(u, "ffn2", (c, 2 * c, 1, 1), 1.0 / 32), y])
    shape = [1, c, size, size]
    g.save(out, [("X", shape)], [("Y", TensorProto.FLOAT, shape)])


def script_hash() -> str:
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/tessera-onnx")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    gemm(args.out, "gemm1024", 1024, 1024, 1024)
    gemm(args.out, "gemm4096", 4096, 256, 1024)
    depthwise(args.out)
    conv3x3(args.out)
    attention(args.out)
    vq(args.out)
    codec(args.out)
    manifest = {
        "script_sha256": script_hash(),
        "onnx": onnx.__version__,
        "opset": OPSET,
        "ir_version": IR_VERSION,
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(f"onnx {onnx.__version__}, opset {OPSET}: models in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
