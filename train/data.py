"""Training data: all BSDS500 train+val images decoded once into memory (uint8), random crops,
random horizontal/vertical flips and an optional random-downscale augmentation.

No per-step JPEG decode: one batch costs a few numpy slices plus (for downscaled samples) one
area-resize of a small region.
"""

import glob
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

BSDS = "/work/shared/data/bsds500"


def list_images(splits=("train", "val"), root=BSDS):
    files = []
    for s in splits:
        files += sorted(glob.glob(os.path.join(root, s, "*.jpg")))
    return files


def load_rgb(path):
    im = Image.open(path)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.array(im, dtype=np.uint8)


class CropSampler:
    """rng: numpy Generator (its state is saved in checkpoints)."""

    def __init__(self, splits=("train", "val"), crop=128, flip=True, vflip=True,
                 downscale_p=0.3, downscale_min=0.5, seed=0, root=BSDS, max_images=0):
        self.root = root
        self.files = list_images(splits, root)
        if max_images:
            self.files = self.files[:max_images]
        if not self.files:
            raise FileNotFoundError(f"no images under {root}/{splits}")
        self.images = [load_rgb(f) for f in self.files]
        self.crop = crop
        self.flip, self.vflip = flip, vflip
        self.downscale_p, self.downscale_min = downscale_p, downscale_min
        self.rng = np.random.default_rng(seed)

    def describe(self):
        return (f"{len(self.images)} images from {self.root} ({', '.join(sorted({os.path.basename(os.path.dirname(f)) for f in self.files}))}), "
                f"crop {self.crop}, flips h={self.flip} v={self.vflip}, "
                f"downscale p={self.downscale_p} min={self.downscale_min}")

    def _one(self):
        rng = self.rng
        img = self.images[rng.integers(len(self.images))]
        H, W = img.shape[:2]
        c = self.crop
        scale = 1.0
        if self.downscale_p > 0 and rng.random() < self.downscale_p:
            scale = rng.uniform(self.downscale_min, 1.0)
        src = min(int(round(c / scale)), H, W)
        top = rng.integers(0, H - src + 1)
        left = rng.integers(0, W - src + 1)
        patch = img[top:top + src, left:left + src]
        if self.flip and rng.random() < 0.5:
            patch = patch[:, ::-1]
        if self.vflip and rng.random() < 0.5:
            patch = patch[::-1]
        t = torch.from_numpy(np.ascontiguousarray(patch)).permute(2, 0, 1).float().div_(255.0)
        if src != c:
            t = F.interpolate(t[None], size=(c, c), mode="area" if src > c else "bilinear",
                              align_corners=None if src > c else False)[0].clamp_(0, 1)
        return t

    def batch(self, n):
        return torch.stack([self._one() for _ in range(n)], 0)

    def state(self):
        return self.rng.bit_generator.state

    def set_state(self, st):
        self.rng.bit_generator.state = st
