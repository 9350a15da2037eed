"""Benchmark: the program's pause with take(fork=True) against take().

    PYTHONPATH=build/snapshot-agent python3 bench/agent_fork.py [--objects N] [--runs R]

Builds a heap of about N objects shaped like an asyncio service's (the same
shape as bench/walk.py: instances with dicts, lists, tuples, strings, ints,
bytes, suspended coroutines and tasks), then times, R times each:

- fork: the time take(fork=True) spends in the calling process (flush, fork,
  start of the reaper), waiting between runs until the child has written
  its file; with the header's fork_ms (parent's fork() to the child's first
  instruction) and the child's own walk time, when the analyzer is found
  (ASYNCSNAP_CLI or PATH);
- in-process: the time take() spends, i.e. the whole walk and write.

and prints every run and the medians.
"""

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import asyncsnap


# the heap of bench/walk.py, so that the two benchmarks measure the same
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from walk import build  # noqa: E402


def header_and_trailer(cli, path):
    """asyncsnap info --json of the file, or None without the analyzer."""
    if not cli:
        return None
    out = subprocess.run([cli, "info", "--json", path], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


async def main(args):
    loop = asyncio.get_running_loop()
    heap = build(args.objects, loop)
    await asyncio.sleep(0)  # let the tasks start and suspend
    gc.collect()
    cli = os.environ.get("ASYNCSNAP_CLI") or shutil.which("asyncsnap")
    tmp = tempfile.mkdtemp(prefix="asnap-bench-fork-")
    fork_rows, here_rows = [], []
    try:
        for r in range(args.runs):
            path = os.path.join(tmp, "f%d.snap" % r)
            t0 = time.perf_counter()
            asyncsnap.take(path, fork=True, fsync=False)
            pause = (time.perf_counter() - t0) * 1e3
            while asyncsnap._children:
                time.sleep(0.001)
            child_total = (time.perf_counter() - t0) * 1e3
            info = header_and_trailer(cli, path)
            fork_rows.append((pause, info["header"]["fork_ms"] if info else None,
                              info["trailer"]["pause_ms"] if info else None,
                              child_total, info["objects"] if info else None))
            os.unlink(path)

            path = os.path.join(tmp, "h%d.snap" % r)
            t0 = time.perf_counter()
            asyncsnap.take(path, fsync=False)
            pause = (time.perf_counter() - t0) * 1e3
            info = header_and_trailer(cli, path)
            here_rows.append((pause, info["objects"] if info else None))
            os.unlink(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("python %s, %d runs, RSS %.0f MiB" % (sys.version.split()[0], args.runs, rss_mib()))
    fmt = lambda v: "-" if v is None else "%.1f" % v
    print("%-10s %10s %14s %10s %14s %14s" % ("mode", "objects", "parent pause", "fork_ms",
                                              "child walk ms", "file ready ms"))
    for pause, fork_ms, child_walk, total, objects in fork_rows:
        print("%-10s %10s %14s %10s %14s %14s" % ("fork", objects or "-", fmt(pause), fmt(fork_ms),
                                                  fmt(child_walk), fmt(total)))
    for pause, objects in here_rows:
        print("%-10s %10s %14s %10s %14s %14s" % ("in-process", objects or "-", fmt(pause), "-",
                                                  "-", fmt(pause)))
    fork_med = statistics.median(r[0] for r in fork_rows)
    here_med = statistics.median(r[0] for r in here_rows)
    print("median parent pause: fork %.1f ms, in-process %.1f ms (%.0fx shorter)"
          % (fork_med, here_med, here_med / fork_med if fork_med else float("inf")))
    del heap


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objects", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=3)
    asyncio.run(main(p.parse_args()))
