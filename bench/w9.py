#!/usr/bin/env python3
"""bench/w9.py MODEL RANKS [STEPS] -- W9 in PyTorch: DistributedDataParallel with the gloo backend,
RANKS processes x 1 thread (torch.set_num_threads(1)) on this machine, the same models, global
batch (128, split over the ranks), optimizer and random data as bench/w9.lua; prints RESULT
w9_<model>_samples_per_s (rank 0). Run with OPENBLAS_NUM_THREADS=1 and glibc's malloc thresholds
raised, PyTorch's best configuration here."""
import os
import sys
import time

import torch
import torch.distributed as tdist
import torch.multiprocessing as mp
import torch.nn as tnn


def worker(rank, ranks, which, steps):
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    tdist.init_process_group("gloo", rank=rank, world_size=ranks)
    torch.set_num_threads(1)
    torch.manual_seed(1)
    per = 128 // ranks
    if which == "cnn":
        model = tnn.Sequential(tnn.Conv2d(1, 32, 3), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(32, 64, 3), tnn.ReLU(),
                               tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(1600, 10))
        x = torch.rand(steps * per, 1, 28, 28)
    else:
        model = tnn.Sequential(tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 256), tnn.ReLU(), tnn.Linear(256, 10))
        x = torch.rand(steps * per, 784)
    y = torch.randint(0, 10, (steps * per,))
    ddp = tnn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam(ddp.parameters(), lr=1e-3)
    lossf = tnn.CrossEntropyLoss()

    def run(k):
        for i in range(k):
            xb, yb = x[i * per:(i + 1) * per], y[i * per:(i + 1) * per]
            opt.zero_grad()
            lossf(ddp(xb), yb).backward()
            opt.step()

    run(8)
    tdist.barrier()
    t0 = time.perf_counter()
    run(steps)
    tdist.barrier()
    dt = time.perf_counter() - t0
    if rank == 0:
        print("RESULT w9_%s_samples_per_s %.1f" % (which, steps * 128 / dt), flush=True)
    tdist.destroy_process_group()


if __name__ == "__main__":
    which, ranks = sys.argv[1], int(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    mp.spawn(worker, args=(ranks, which, steps), nprocs=ranks)
