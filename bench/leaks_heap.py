"""Benchmark heap for `asyncsnap leaks`: an asyncio program of about N
objects (instances with dicts, lists, tuples, strings, bytes; pending tasks
and futures; timers; exception cycles) that leaks a little between its
snapshots. Writes DIR/leaks-1.snap, DIR/leaks-2.snap (... up to --snapshots,
default 2) and prints their paths.

    PYTHONPATH=build/snapshot-agent python3 bench/leaks_heap.py DIR [--objects N] [--snapshots K]
"""

import argparse
import asyncio
import os
import sys

import asyncsnap


class Record:
    def __init__(self, i):
        self.id = i
        self.name = "record-%d" % i
        self.tags = [i, i + 1, "t%d" % (i % 100)]
        self.blob = b"x" * (i % 64)
        self.meta = {"k": i, "v": (i, str(i))}


class Service:
    def __init__(self, loop):
        self.loop = loop
        self.watchers = set()
        self.timers = []
        self.errors = []
        self.backlog = []

    async def watch(self, fut, payload):
        await fut

    async def audit(self, i):
        return i

    def fail(self, i):
        try:
            raise ValueError(i)
        except ValueError as exc:
            error = exc
            self.errors.append(error)

    def leak(self, n):
        for i in range(n):
            fut = self.loop.create_future()
            self.watchers.add(self.loop.create_task(self.watch(fut, [i] * 4)))
            self.timers.append(self.loop.call_later(3600, print, [i]))
            self.backlog.append(self.audit(i))
            self.fail(i)


async def main(args):
    loop = asyncio.get_running_loop()
    records = [Record(i) for i in range(args.objects // 11)]
    service = Service(loop)
    service.leak(args.leaks)
    await asyncio.sleep(0)
    paths = [asyncsnap.take(os.path.join(args.dir, "leaks-1.snap"))]
    for k in range(2, args.snapshots + 1):
        service.leak(args.leaks)
        records.extend(Record(i) for i in range(args.objects // 200))
        await asyncio.sleep(0)
        paths.append(asyncsnap.take(os.path.join(args.dir, "leaks-%d.snap" % k)))
    for p in paths:
        print(p)
    for t in service.watchers:
        t.cancel()
    for h in service.timers:
        h.cancel()
    for c in service.backlog:
        c.close()
    return records


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore", RuntimeWarning)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir")
    p.add_argument("--objects", type=int, default=1000000)
    p.add_argument("--leaks", type=int, default=1000, help="leaks per phase (default 1000)")
    p.add_argument("--snapshots", type=int, default=2, help="snapshots to take (default 2)")
    asyncio.run(main(p.parse_args(sys.argv[1:])))
