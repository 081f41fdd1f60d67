"""w5_eager.py -- workload W5 of DESIGN.md in PyTorch (and NumPy when present): an eager add of two
16-float tensors from the script in a loop. Prints the median time per op over several repetitions.
    /usr/bin/python3 bench/w5_eager.py [iterations=2000000] [repetitions=7]
Output: human-readable lines, plus one "RESULT <name> <median ns/op>" line per variant (bench/w5).
Times are CPU time of the process (time.process_time_ns), as os.clock in the Lua twin; one thread.
"""
import statistics
import sys
import time

n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 2000000
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 7


def bench(body):
    body(n // 10)
    per = []
    for _ in range(reps):
        t0 = time.process_time_ns()
        body(n)
        per.append((time.process_time_ns() - t0) / n)
    return statistics.median(per), min(per)


def report(name, what, body):
    med, mn = bench(body)
    print(f"  {what:<24} median {med:8.1f} ns/op   min {mn:8.1f} ns/op")
    print(f"RESULT {name} {med:.1f}")


def loop_overhead(k):
    x = None
    for _ in range(k):
        c = x


try:
    import torch
except ImportError:
    torch = None

if torch is not None:
    torch.set_num_threads(1)
    a, b = torch.ones(16), torch.ones(16)
    assert float((a + b).sum()) == 32.0
    add = torch.add

    def torch_add(k):
        for _ in range(k):
            c = add(a, b)

    def torch_op(k):
        for _ in range(k):
            c = a + b

    print(f"W5 eager tiny add, PyTorch {torch.__version__} (1 thread), {n} iterations x {reps} repetitions")
    report("torch_add_fn", "c = torch.add(a, b)", torch_add)
    report("torch_add_op", "c = a + b", torch_op)
else:
    print("PyTorch is not installed (apt-get install python3-torch)")

try:
    import numpy as np
except ImportError:
    np = None

if np is not None:
    x, y = np.ones(16, dtype=np.float32), np.ones(16, dtype=np.float32)
    npadd = np.add

    def numpy_add(k):
        for _ in range(k):
            c = npadd(x, y)

    def numpy_op(k):
        for _ in range(k):
            c = x + y

    print(f"W5 eager tiny add, NumPy {np.__version__}, {n} iterations x {reps} repetitions")
    report("numpy_add_fn", "c = np.add(a, b)", numpy_add)
    report("numpy_add_op", "c = a + b", numpy_op)

print(f"Python {sys.version.split()[0]}")
report("python_loop", "empty loop (overhead)", loop_overhead)
