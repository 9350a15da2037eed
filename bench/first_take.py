"""Benchmark: what the first takes of a process cost it, against later ones.

    PYTHONPATH=build/snapshot-agent python3 bench/first_take.py [--objects N] [--takes T]

Builds walk.py's heap of about N objects in this (new) process, then takes T
snapshots in a row and prints one line: the first take's pause, the
second's, the median of the rest, the page faults of the first, second and
last, the size of the file, and the memory the first take borrowed from the
process (its peak resident memory over the heap's, the peak reset just
before it: /proc/self/clear_refs). A process snapshotted once, from a
signal, pays the first. Run it several times, alternating builds, for a
comparison: each run is a new process.
"""

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time

import asyncsnap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import walk  # noqa: E402  (the same heap as walk.py)


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main(args):
    loop = asyncio.new_event_loop()
    heap = walk.build(args.objects, loop)
    tmp = tempfile.mkdtemp(prefix="asnap-bench-")
    path = os.path.join(tmp, "f.snap")
    pauses, faults = [], []
    borrowed = None
    try:
        for i in range(args.takes):
            if i == 0:
                try:
                    with open("/proc/self/clear_refs", "w") as f:
                        f.write("5")  # the peak resident memory starts over
                    before = status_kib("VmRSS")
                except OSError:
                    before = None
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            asyncsnap.take(path, fsync=False)
            pauses.append((time.perf_counter() - t0) * 1e3)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
            if i == 0 and before is not None:
                borrowed = (status_kib("VmHWM") - before) / 1024
        size = os.path.getsize(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rest = statistics.median(pauses[2:]) if len(pauses) > 2 else float("nan")
    print("python %s: first %.0f ms, second %.0f ms, later %.0f ms (median of %d); "
          "faults %d, %d, %d; file %d bytes; the first take borrowed %s" % (
              sys.version.split()[0], pauses[0], pauses[1], rest, max(len(pauses) - 2, 0),
              faults[0], faults[1], faults[-1], size,
              "%.0f MiB" % borrowed if borrowed is not None else "(unknown)"))
    del heap


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objects", type=int, default=1_000_000)
    p.add_argument("--takes", type=int, default=8)
    a = p.parse_args()
    if a.takes < 2:
        p.error("--takes must be at least 2")
    main(a)
