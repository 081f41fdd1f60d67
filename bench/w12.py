#!/usr/bin/env python3
"""bench/w12.py MODEL EPOCHS DIR THREADS [LIMIT] -- W12 in PyTorch: the same Fashion-MNIST models
and data as bench/w12.lua (Adam 1e-3, batch 128, shuffled each epoch); prints the same RESULT lines.
THREADS > 0 calls torch.set_num_threads(THREADS); 0 keeps PyTorch's default (one per core).
bench/run tries it with and without OPENBLAS_NUM_THREADS=1 and glibc's malloc thresholds raised.
With LIMIT (seconds), an epoch that runs longer stops there and prints only RESULT MODEL_epoch_over
(the seconds it ran: the epoch takes longer), so bench/run's hopeless combinations cost about LIMIT
instead of minutes each."""
import sys
import time

import numpy as np
import torch
import torch.nn as tnn


def main():
    which, epochs, d, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    limit = float(sys.argv[5]) if len(sys.argv) > 5 else None
    if threads > 0:
        torch.set_num_threads(threads)
    torch.manual_seed(1)
    x = torch.from_numpy(np.load(d + "/x_train.npy")).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(np.load(d + "/y_train.npy"))
    xt = torch.from_numpy(np.load(d + "/x_test.npy")).permute(0, 3, 1, 2).contiguous()
    yt = torch.from_numpy(np.load(d + "/y_test.npy"))
    if which == "cnn":
        model = tnn.Sequential(tnn.Conv2d(1, 32, 3), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(32, 64, 3),
                               tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(), tnn.Dropout(0.5), tnn.Linear(1600, 10))
    else:
        x, xt = x.reshape(-1, 784), xt.reshape(-1, 784)
        model = tnn.Sequential(tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 256), tnn.ReLU(),
                               tnn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = tnn.CrossEntropyLoss()
    n, bs, last = x.shape[0], 128, 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n)
        tot, correct = 0.0, 0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            xb, yb = x[idx], y[idx]
            opt.zero_grad()
            out = model(xb)
            loss = lossf(out, yb)
            loss.backward()
            opt.step()
            tot += loss.item() * len(idx)  # the per-batch loss and accuracy, as Keras's progress shows
            correct += (out.argmax(1) == yb).sum().item()
            if limit and time.perf_counter() - t0 > limit:
                print("RESULT %s_epoch_over %.6f" % (which, time.perf_counter() - t0))
                return
        last = time.perf_counter() - t0
    print("RESULT %s_epoch %.6f" % (which, last))
    model.eval()
    with torch.no_grad():
        model(xt[:256])
        p0 = time.perf_counter()
        outs = [model(xt[i:i + 256]) for i in range(0, xt.shape[0], 256)]
        dt = time.perf_counter() - p0
    p = torch.cat(outs)
    print("RESULT %s_predict_ips %.1f" % (which, xt.shape[0] / dt))
    print("RESULT %s_test_acc %.4f" % (which, (p.argmax(1) == yt).float().mean().item()))


if __name__ == "__main__":
    main()
