"""Loading this project's checkpoints on every torch the project meets (Debian's 1.13 here, 2.x on
the GPU machine, where torch.load defaults to weights_only=True and refuses the numpy RNG state
that a full checkpoint holds). Only files written by train.py / soup.py are loaded this way."""

import torch


def load(path, map_location="cpu"):
    return torch.load(path, map_location=map_location, weights_only=False)
