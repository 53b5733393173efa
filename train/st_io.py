"""Minimal safetensors reader/writer (no dependency on the safetensors package).

Layout: 8-byte little-endian header length n, n bytes of JSON header (padded with spaces so the
data section starts at a multiple of 8), then the raw little-endian tensor data. Tensors are
stored largest element size first (then by name), so every tensor starts at an offset that is a
multiple of its element size (Float32Array/Int32Array views work without copying).
"""

import json
import struct

import numpy as np

_DT = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "F64": np.dtype("<f8"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
}


def _to_numpy(t):
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.ascontiguousarray(t)


def dtype_name(a):
    """The safetensors dtype name of a numpy array's dtype."""
    for name, dt in _DT.items():
        if a.dtype.kind == dt.kind and a.dtype.itemsize == dt.itemsize:
            return name
    raise ValueError(f"unsupported dtype {a.dtype}")


def save(path, tensors, metadata=None):
    """tensors: dict name -> numpy array or torch tensor (dtype already chosen)."""
    arrs, names = {}, {}
    for k, v in tensors.items():
        a = _to_numpy(v)
        names[k] = dtype_name(a)
        arrs[k] = np.ascontiguousarray(a.astype(_DT[names[k]], copy=False))
    order = sorted(arrs, key=lambda k: (-arrs[k].dtype.itemsize, k))
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    off = 0
    for k in order:
        n = arrs[k].nbytes
        header[k] = {"dtype": names[k], "shape": list(arrs[k].shape), "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-(8 + len(hb))) % 8)
    tmp = str(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for k in order:
            f.write(arrs[k].tobytes(order="C"))
    import os
    os.replace(tmp, path)


def load(path):
    """-> (dict name -> numpy array (own memory), metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for k, v in header.items():
        s, e = v["data_offsets"]
        a = np.frombuffer(data[base + s:base + e], dtype=_DT[v["dtype"]]).reshape(v["shape"]).copy()
        out[k] = a
    return out, meta


def header_of(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n).decode("utf-8"))
