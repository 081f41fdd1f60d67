#!/usr/bin/env python3
"""bench/w9_overlap.py TRACE.json -- the second W9 target of issue 16: how much of the allreduce
time a data-parallel run hides behind computation. TRACE is the one JSON that dagl.trace writes
on several ranks (a process per rank): per rank, the time of its `network` lane (a slice per
collective, from the communication thread's start to its end) that some node of a worker lane
covers (the allreduce nodes themselves, which only launch and wait, do not count), over that
lane's total. Prints RESULT w9_hidden_rank<r> and RESULT w9_hidden (the mean over ranks)."""
import json
import sys


def union(intervals):
    out = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def covered(a, b, merged):
    return sum(max(0.0, min(b, y) - max(a, x)) for x, y in merged if y > a and x < b)


def main():
    d = json.load(open(sys.argv[1]))
    ev = d["traceEvents"] if isinstance(d, dict) else d
    lanes = {}
    for e in ev:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            lanes[(e["pid"], e.get("tid"))] = e["args"]["name"]
    ranks = sorted({e["pid"] for e in ev if "pid" in e})
    shares = []
    for pid in ranks:
        net = [(e["ts"], e["ts"] + e["dur"]) for e in ev if e.get("ph") == "X" and e.get("pid") == pid
               and lanes.get((pid, e.get("tid"))) == "network"]
        work = union([(e["ts"], e["ts"] + e["dur"]) for e in ev if e.get("ph") == "X" and e.get("pid") == pid
                      and e.get("cat") == "node" and lanes.get((pid, e.get("tid")), "").startswith("worker")
                      and not e.get("name", "").startswith("allreduce")])
        total = sum(b - a for a, b in net)
        if total <= 0:
            continue
        share = sum(covered(a, b, work) for a, b in net) / total
        shares.append(share)
        print("RESULT w9_hidden_rank%d %.4f" % (len(shares) - 1, share))
        print("w9_overlap: rank %d: %d collectives, %.1f ms on the network lane, %.0f%% of it under nodes"
              % (len(shares) - 1, len(net), total / 1e3, 100 * share), file=sys.stderr)
    if shares:
        print("RESULT w9_hidden %.4f" % (sum(shares) / len(shares)))


if __name__ == "__main__":
    main()
