#!/usr/bin/env python3
"""bench/w12_data.py DIR -- writes Fashion-MNIST (Debian's dataset-fashion-mnist IDX files) as .npy
into DIR for W12: x_train/x_test float32 (N, 28, 28, 1) scaled to [0, 1], y_train/y_test int64.
The same files feed dagl and PyTorch, so both read identical data."""
import gzip
import os
import sys

import numpy as np

SRC = "/usr/share/datasets/fashion-mnist"


def idx(path):
    """An IDX file (gzipped) as a numpy array (uint8 data, big-endian dims)."""
    with gzip.open(path, "rb") as f:
        b = f.read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for part, stem in (("train", "train"), ("test", "t10k")):
        x = idx(os.path.join(SRC, stem + "-images-idx3-ubyte.gz"))
        y = idx(os.path.join(SRC, stem + "-labels-idx1-ubyte.gz"))
        np.save(os.path.join(out, "x_%s.npy" % part), (x.astype(np.float32) / 255.0).reshape(-1, 28, 28, 1))
        np.save(os.path.join(out, "y_%s.npy" % part), y.astype(np.int64))
        np.save(os.path.join(out, "x_%s_u8.npy" % part), x.reshape(-1, 28, 28, 1))


if __name__ == "__main__":
    main()
