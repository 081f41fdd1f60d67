#!/usr/bin/env python3
"""bench/w11.py CASE THREADS [REPS] -- W11 in PyTorch: the same models, shapes and timing as
bench/w11.lua (LSTM(256) over 100 steps, batch 32; its bidirectional form; a transformer encoder
layer, d_model 256, 4 heads, post-norm, feed-forward 1024, sequence 128, batch 8); prints the same
RESULT lines. Run with OPENBLAS_NUM_THREADS=1 and glibc's malloc thresholds raised (PyTorch's best
configuration here, see bench/run)."""
import sys
import time

import torch
import torch.nn as tnn


def main():
    case, threads = sys.argv[1], int(sys.argv[2])
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    if case in ("lstm", "bilstm"):
        model = tnn.LSTM(64, 256, batch_first=True, bidirectional=case == "bilstm")
        x = torch.randn(32, 100, 64)
        y = torch.randn(32, 100, 512 if case == "bilstm" else 256)
        fwd = lambda: model(x)[0]
    elif case == "transformer":
        model = tnn.TransformerEncoderLayer(256, 4, dim_feedforward=1024, dropout=0.0, batch_first=True)
        x = torch.randn(8, 128, 256)
        y = torch.randn(8, 128, 256)
        fwd = lambda: model(x)
    else:
        sys.exit("w11.py: CASE must be lstm, bilstm or transformer")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(fwd(), y)
        loss.backward()
        opt.step()

    def best(f):
        b = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            f()
            b = min(b, time.perf_counter() - t0)
        return b * 1e3

    model.eval()
    with torch.no_grad():
        fwd()
        f = best(fwd)
    model.train()
    train()
    t = best(train)
    print("RESULT %s_forward_ms %.3f" % (case, f))
    print("RESULT %s_train_ms %.3f" % (case, t))


if __name__ == "__main__":
    main()
