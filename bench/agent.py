"""Benchmark: the agent's snapshot against a pure-Python heap walk.

    PYTHONPATH=build/snapshot-agent python3 bench/agent.py [--objects N] [--tasks T]

Builds a heap of about N objects (default 1M) including T pending asyncio
tasks (default 100k), each suspended in a coroutine holding a few locals,
then, in one run and on that same heap:

- asyncsnap.take(), three times (median): wall time, objects/s, file bytes
  and bytes/object;
- the baseline: gc.get_objects() + gc.get_referents() of every object and of
  their untracked referents, written as JSON lines (address, type, size,
  referent addresses) - what one would write without asyncsnap;

and prints the ratio. The baseline's output is not compressed; its size is
printed for reference only.
"""

import argparse
import asyncio
import gc
import json
import os
import shutil
import sys
import tempfile
import time

import asyncsnap


class Request:
    def __init__(self, i):
        self.id = i
        self.path = "/items/%d" % i
        self.headers = {"n": i, "tag": (i, "t%d" % (i % 50))}
        self.body = b"x" * (i % 128)


async def handler(req, fut):
    state = [req, req.id]
    await fut
    return state


def python_walk(path):
    """The baseline: every tracked object and its referents as JSON lines."""
    seen = set()
    n = 0
    with open(path, "w") as f:
        todo = gc.get_objects()
        while todo:
            nxt = []
            for o in todo:
                i = id(o)
                if i in seen:
                    continue
                seen.add(i)
                refs = gc.get_referents(o)
                f.write(json.dumps({"addr": i, "type": type(o).__qualname__,
                                    "size": sys.getsizeof(o),
                                    "refs": [id(r) for r in refs]}))
                f.write("\n")
                n += 1
                for r in refs:
                    if id(r) not in seen and not gc.is_tracked(r):
                        nxt.append(r)
            todo = nxt
    return n


async def main(args):
    loop = asyncio.get_running_loop()
    futs = [loop.create_future() for _ in range(args.tasks)]
    tasks = [loop.create_task(handler(Request(i), futs[i])) for i in range(args.tasks)]
    await asyncio.sleep(0)
    # fill up to about N objects with plain data
    filler = [Request(i) for i in range(max(0, (args.objects - args.tasks * 14) // 9))]
    gc.collect()
    tmp = tempfile.mkdtemp(prefix="asnap-bench-")
    try:
        snap = os.path.join(tmp, "a.snap")
        takes = []
        for _ in range(3):  # the first sizes its tables; later ones reuse the count
            t0 = time.perf_counter()
            asyncsnap.take(snap, fsync=False)
            takes.append(time.perf_counter() - t0)
        t_take = sorted(takes)[1]
        size = os.path.getsize(snap)
        jl = os.path.join(tmp, "walk.jsonl")
        t0 = time.perf_counter()
        n = python_walk(jl)
        t_py = time.perf_counter() - t0
        jl_size = os.path.getsize(jl)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("python %s; heap: %d objects by the Python walk, %d pending tasks"
          % (sys.version.split()[0], n, len(tasks)))
    print("asyncsnap.take():      %8.1f ms  %10.0f objects/s  %8.1f MiB  %5.2f bytes/object"
          "  (median of 3: %s ms)"
          % (t_take * 1e3, n / t_take, size / 2**20, size / n,
             ", ".join("%.0f" % (t * 1e3) for t in takes)))
    print("Python walk (JSON):    %8.1f ms  %10.0f objects/s  %8.1f MiB  %5.2f bytes/object"
          % (t_py * 1e3, n / t_py, jl_size / 2**20, jl_size / n))
    print("take() is %.1fx faster than the Python walk" % (t_py / t_take))
    for f in futs:
        f.cancel()
    del filler


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objects", type=int, default=1_000_000)
    p.add_argument("--tasks", type=int, default=100_000)
    asyncio.run(main(p.parse_args()))
