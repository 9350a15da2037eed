"""Benchmark: how fast the agent walks a big heap, and how big the file is.

    PYTHONPATH=build/snapshot-agent python3 bench/walk.py [--objects N] [--runs R] [--shape S]

Builds a heap of about N objects shaped like an asyncio service's (instances
with dicts, lists, tuples, strings, ints, bytes, suspended coroutines and
tasks; with --shape ints, one list of N distinct ints instead), takes R snapshots and prints, per run and as the median: objects,
edges, pause (ms), objects/s of the walk, file bytes and bytes/object; then
the same for `asyncsnap info` reading the file back, when the command is
found (ASYNCSNAP_CLI or PATH); and the page faults of each take (the
first takes of a process fault in the memory the walk makes fresh; the
first row is what a process snapshotted once pays).

Then the two floors, measured R times in the same process on the same heap
(_agent._floor, nothing written): visiting every tracked object and every
referent, and the same while naming each in an address map, as any walk
must; and the pause as a multiple of each (issue 17: take() should come
within 1.2x of the naming floor).
"""

import argparse
import asyncio
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import asyncsnap


class Record:
    def __init__(self, i):
        self.id = i
        self.name = "record-%d" % i
        self.tags = [i, i + 1, "t%d" % (i % 100)]
        self.blob = b"x" * (i % 64)
        self.meta = {"k": i, "v": (i, str(i))}


async def waiter(fut, payload):
    await fut
    return payload


def build(n, loop):
    """About n objects (each Record brings ~11 with it)."""
    records = [Record(i) for i in range(n // 11)]
    futs = [loop.create_future() for _ in range(n // 400)]
    tasks = [loop.create_task(waiter(f, [i])) for i, f in enumerate(futs)]
    return records, futs, tasks


def build_ints(n):
    """One list of n distinct ints (issue 17's 5M-int list): n + 1 objects,
    n references labelled by index."""
    return [1000 + i for i in range(n)]


async def main(args):
    loop = asyncio.get_running_loop()
    heap = build(args.objects, loop) if args.shape == "service" else build_ints(args.objects)
    await asyncio.sleep(0)  # let the tasks start and suspend
    gc.collect()
    cli = os.environ.get("ASYNCSNAP_CLI") or shutil.which("asyncsnap")
    tmp = tempfile.mkdtemp(prefix="asnap-bench-")
    rows = []
    try:
        for r in range(args.runs):
            path = os.path.join(tmp, "b%d.snap" % r)
            faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            asyncsnap.take(path, fsync=False)
            wall = time.perf_counter() - t0
            faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0
            info = None
            load = None
            if cli:
                t1 = time.perf_counter()
                out = subprocess.run([cli, "info", "--json", path], capture_output=True,
                                     text=True, check=True).stdout
                load = time.perf_counter() - t1
                info = json.loads(out)
            size = os.path.getsize(path)
            objects = info["objects"] if info else None
            edges = info["edges"] if info else None
            pause = info["trailer"]["pause_ms"] if info else wall * 1e3
            rows.append((objects, edges, pause, wall, size, load, faults))
            os.unlink(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("python %s, %d runs" % (sys.version.split()[0], args.runs))
    print("%10s %10s %9s %9s %12s %10s %8s %9s %7s" % (
        "objects", "edges", "pause ms", "take ms", "objects/s", "file KiB", "B/object",
        "info ms", "faults"))
    for objects, edges, pause, wall, size, load, faults in rows:
        print("%10s %10s %9.1f %9.1f %12s %10.0f %8s %9s %7d" % (
            objects, edges, pause, wall * 1e3,
            "%.0f" % (objects / (pause / 1e3)) if objects else "-",
            size / 1024, "%.2f" % (size / objects) if objects else "-",
            "%.1f" % (load * 1e3) if load else "-", faults))
    med = lambda i: statistics.median(r[i] for r in rows)
    if rows[0][0]:
        print("median: %.0f objects/s walk+write, %.2f bytes/object on disk, pause %.1f ms, "
              "info load %.0f objects/s" % (rows[0][0] / (med(2) / 1e3), med(4) / rows[0][0], med(2),
                                            rows[0][0] / med(5)))
    floors = []
    for r in range(args.runs):
        visit = asyncsnap._agent._floor(False)
        named = asyncsnap._agent._floor(True, rows[0][0] or 0)
        floors.append((visit["ms"], named["ms"], named["named"]))
    visit_ms = statistics.median(f[0] for f in floors)
    named_ms = statistics.median(f[1] for f in floors)
    print("floors (median of %d, nothing written): visit %.1f ms, visit + address map %.1f ms "
          "(%d objects named: %.0f objects/s)" % (args.runs, visit_ms, named_ms, floors[0][2],
                                                  floors[0][2] / (named_ms / 1e3)))
    print("pause / floor: %.1fx the visit, %.2fx the naming floor" % (med(2) / visit_ms,
                                                                      med(2) / named_ms))
    del heap


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objects", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--shape", choices=("service", "ints"), default="service")
    asyncio.run(main(p.parse_args()))
