"""The heap of bench/memlab/run.sh: bench/walk.py's ~N-object asyncio heap
(instances with dicts, lists, tuples, strings, ints, bytes; suspended
coroutines and tasks), snapshotted once by the agent into PATH.

    PYTHONPATH=BUILD/snapshot-agent python3 bench/memlab/heap.py PATH [--objects N]
"""

import argparse
import asyncio
import gc
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import asyncsnap  # noqa: E402
from walk import build  # noqa: E402


async def main(args):
    heap = build(args.objects, asyncio.get_running_loop())
    await asyncio.sleep(0)  # let the tasks start and suspend
    gc.collect()
    asyncsnap.take(args.path, fsync=False)
    del heap


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path")
    p.add_argument("--objects", type=int, default=1_000_000)
    asyncio.run(main(p.parse_args()))
