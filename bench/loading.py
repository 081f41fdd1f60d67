#!/usr/bin/env python3
"""bench/loading.py [ROUNDS] [NPY_DIR] -- load times, dagl against NumPy, warm (the files in the
page cache; dropping caches is not possible here), each process loading one thing once, dagl and
NumPy alternating so machine noise hits both alike. Prints the median and the range per case:

  - .npy float32 (N, 28, 28, 1) and uint8: dagl.load_npy vs np.load (NPY_DIR from bench/w12_data.py);
  - Fashion-MNIST's four gzipped IDX files: dagl.data.fashion_mnist vs what Keras's
    fashion_mnist.load_data() does (gzip.open + np.frombuffer per file).

Runs /usr/bin/python3 (Debian's numpy) and build/dagl (DAGL_BIN).
"""
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAGL = os.environ.get("DAGL_BIN", os.path.join(ROOT, "build", "dagl"))
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
NPY = sys.argv[2] if len(sys.argv) > 2 else "/tmp/fmnist"
IDX = "/usr/share/datasets/fashion-mnist"

DAGL_NPY = """local dagl = require "dagl"
local t0 = dagl.wall_time(); local x = dagl.load_npy(arg[1]); print(dagl.wall_time() - t0)"""
NUMPY_NPY = """import sys, time, numpy as np
t0 = time.perf_counter(); x = np.load(sys.argv[1]); print(time.perf_counter() - t0)"""
DAGL_IDX = """local dagl = require "dagl"
local t0 = dagl.wall_time(); local x, y, xt, yt = dagl.data.fashion_mnist {dir = arg[1]}
print(dagl.wall_time() - t0)"""
# keras/src/datasets/fashion_mnist.py: gzip.open + np.frombuffer(offset=8 or 16) per file
NUMPY_IDX = """import gzip, os, sys, time, numpy as np
t0 = time.perf_counter()
d = sys.argv[1]
out = []
for name, off in (("train-labels-idx1-ubyte.gz", 8), ("train-images-idx3-ubyte.gz", 16),
                  ("t10k-labels-idx1-ubyte.gz", 8), ("t10k-images-idx3-ubyte.gz", 16)):
    with gzip.open(os.path.join(d, name), "rb") as f:
        a = np.frombuffer(f.read(), np.uint8, offset=off)
    out.append(a if off == 8 else a.reshape(-1, 28, 28))
print(time.perf_counter() - t0)"""


def run(cmd):
    return float(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()[-1])


def main():
    cases = []
    for f in ("x_train.npy", "x_train_u8.npy"):
        p = os.path.join(NPY, f)
        if os.path.exists(p):
            cases.append((f, [DAGL, "-e", DAGL_NPY, p], ["/usr/bin/python3", "-c", NUMPY_NPY, p]))
    if os.path.exists(os.path.join(IDX, "train-images-idx3-ubyte.gz")):
        cases.append(("fashion-mnist IDX .gz (4 files)", [DAGL, "-e", DAGL_IDX, IDX],
                      ["/usr/bin/python3", "-c", NUMPY_IDX, IDX]))
    # dagl -e runs the chunk with no script args: pass the path through a wrapper chunk
    print("%-34s %22s %22s %8s" % ("case", "dagl median (range) s", "NumPy median (range) s", "ratio"))
    for name, dcmd, ncmd in cases:
        dcmd = [DAGL, "-e", "arg = {[1] = %r}" % dcmd[-1], "-e", dcmd[2]]
        ds, ns = [], []
        for _ in range(ROUNDS):
            ds.append(run(dcmd))
            ns.append(run(ncmd))
        dm, nm = statistics.median(ds), statistics.median(ns)
        print("%-34s %7.3f (%.3f-%.3f) %9.3f (%.3f-%.3f) %8.2f" % (name, dm, min(ds), max(ds), nm, min(ns),
                                                                   max(ns), nm / dm))
    print("ratio: NumPy / dagl (above 1: dagl is faster)")


if __name__ == "__main__":
    main()
