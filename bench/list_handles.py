"""Benchmark heap: a list of 2M ints beside N timer handles whose callbacks
are bound methods, growing by N between three snapshots (OUT-0.snap ..
OUT-2.snap): `leaks` on them looks names up in a string table of 2M+
strings, and follows each handle's bound method to its function.

    PYTHONPATH=build-rel/snapshot-agent python3 bench/list_handles.py OUT N
    /usr/bin/time build-rel/src/cli/asyncsnap leaks OUT-0.snap OUT-1.snap OUT-2.snap
"""
import asyncio, sys, asyncsnap
class Job:
    def __init__(self, i): self.i = i
    def fire(self): pass
async def main(out, n):
    loop = asyncio.get_running_loop()
    big = [1000 + i for i in range(2_000_000)]
    jobs = []
    for k in range(3):
        jobs += [Job(i) for i in range(n)]
        for j in jobs[-n:]:
            loop.call_later(3600, j.fire)
        asyncsnap.take("%s-%d.snap" % (out, k))
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
