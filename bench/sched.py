"""sched.py -- PyTorch's side of the scheduler workloads (see sched.lua), one per run:
    /usr/bin/python3 bench/sched.py W3|W4|W4_1|W6_seq|W6_threads|peak [reps]
Prints "RESULT <name> <median seconds per iteration>", like sched.lua.
    /usr/bin/python3 bench/sched.py W3_onnx PATH
writes W3's model (input x, output the sum of the branches) as ONNX for bench/w3_ort.js."""
import statistics
import sys
import threading
import time

import torch

which = sys.argv[1] if len(sys.argv) > 1 else "W3"
reps = int(sys.argv[2]) if len(sys.argv) > 2 and which != "W3_onnx" else 15


def timed(body):
    # warm up for 0.3 s (at least 3 runs), as sched.lua does
    t_end, n = time.perf_counter() + 0.3, 0
    while n < 3 or time.perf_counter() < t_end:
        body()
        n += 1
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        body()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def branches(nb, depth, width, batch):
    torch.manual_seed(1)
    layers = [[torch.nn.Linear(width, width) for _ in range(depth)] for _ in range(nb)]
    x = torch.randn(batch, width)

    def f():
        acc = None
        for chain in layers:
            h = x
            for lin in chain:
                h = lin(h)
            acc = h if acc is None else acc + h
        return acc

    return f


def result(name, v):
    print("RESULT %s %.9g" % (name, v))


class Branches(torch.nn.Module):
    """branches() as a module, for torch.onnx.export."""

    def __init__(self, nb, depth, width):
        super().__init__()
        torch.manual_seed(1)
        self.chains = torch.nn.ModuleList(
            torch.nn.Sequential(*[torch.nn.Linear(width, width) for _ in range(depth)]) for _ in range(nb))

    def forward(self, x):
        acc = None
        for chain in self.chains:
            h = chain(x)
            acc = h if acc is None else acc + h
        return acc


with torch.no_grad():
    if which == "W3_onnx":
        torch.onnx.export(Branches(4, 4, 512), (torch.randn(256, 512),), sys.argv[2], input_names=["x"],
                          output_names=["y"], opset_version=13)
    elif which in ("W3", "peak"):
        torch.set_num_threads(2)
        if which == "W3":
            t = timed(branches(4, 4, 512, 256))
            result("W3", t)
            result("W3_gflops", 16 * 2 * 256 * 512 * 512 / t / 1e9)
        else:
            a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
            result("peak_gflops", 2 * 2048**3 / timed(lambda: a @ b) / 1e9)
    elif which in ("W4", "W4_1"):
        torch.set_num_threads(2 if which == "W4" else 1)
        result(which, timed(branches(4, 8, 256, 16)))
    elif which in ("W6_seq", "W6_threads"):
        # the GIL case: two CPU-bound Python functions, one after the other or in 2 threads
        def busy():
            s = 0.0
            for i in range(3000000):
                s += (i % 7) * 0.5
            return s

        def seq():
            busy()
            busy()

        def threads():
            ts = [threading.Thread(target=busy) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()

        result(which, timed(seq if which == "W6_seq" else threads))
    elif which == "W1":
        torch.set_num_threads(2)
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Linear(100, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                                    torch.nn.ReLU(), torch.nn.Linear(64, 10), torch.nn.Softmax(dim=1))
        x = torch.randn(1000, 100)
        result("W1", timed(lambda: model(x)))
    elif which != "W2":
        raise SystemExit("unknown workload " + which)

if which == "W2":
    torch.set_num_threads(2)
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = torch.randn(128, 784), torch.tensor([(i * 7) % 10 for i in range(1, 129)])

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    result("W2", timed(step))
