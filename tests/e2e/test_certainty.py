"""Certainty that means certain: garbage reference cycles that the cycle
collector frees are no leak; they are reported when the collector is
disabled (certain, one snapshot) or when they survive across snapshots and
grow (the collector is not keeping up) - fixtures/programs/garbage_cycles.py."""

import textwrap

from e2e import TempDirTest, findings, run_fixture, run_source

# A job queue of coroutine objects (asyncio.Queue) that a worker gets and
# awaits one by one: each is awaited in its turn (20 queued at each
# snapshot, all run before the next). Without the worker nothing consumes
# the queue and the coroutines pile up, never run.
JOB_QUEUE = textwrap.dedent(r'''
    import asyncio, sys
    import asyncsnap

    async def job(i):
        await asyncio.sleep(0.001)

    async def worker(q):
        while True:
            coro = await q.get()
            await coro
            q.task_done()

    async def main(out, consume):
        q = asyncio.Queue()
        w = asyncio.create_task(worker(q)) if consume else None
        for k in range(3):
            for i in range(20):
                q.put_nowait(job(i))
            print(asyncsnap.take("%s-%d.snap" % (out, k + 1)))  # 20 more queued
            await asyncio.sleep(0.2)  # the worker takes them all
        if w:
            await q.join()
            w.cancel()
        while not q.empty():
            q.get_nowait().close()

    asyncio.run(main(sys.argv[1], sys.argv[2] == "worker"))
''')

# A cache of tasks (one fetch in flight per key, the finished task kept as
# the cached result) in a dict: 150 entries at each snapshot. "fifo" evicts
# the oldest beyond 150, so the tasks are replaced between snapshots;
# "forever" evicts nothing, so finished tasks pile up; "idle" fills it once
# and then does nothing between snapshots.
TASK_CACHE = textwrap.dedent(r'''
    import asyncio, sys
    import asyncsnap

    class Cache:
        def __init__(self, mode):
            self.mode, self.tasks = mode, {}

        async def fetch(self, key):
            await asyncio.sleep(0)
            return key * 2

        def get(self, key):
            t = self.tasks.get(key)
            if t is None:
                t = self.tasks[key] = asyncio.ensure_future(self.fetch(key))
                while self.mode == "fifo" and len(self.tasks) > 150:
                    del self.tasks[next(iter(self.tasks))]
            return t

    async def main(out, mode):
        c = Cache(mode)
        for k in range(3):
            if mode != "idle" or k == 0:
                for i in range(150):
                    await c.get(k * 1000 + i)
            print(asyncsnap.take("%s-%d.snap" % (out, k + 1)))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
''')


class TaskCacheTest(TempDirTest):
    """retained-task's pile of 100 finished tasks in one container is a
    guess from one snapshot; several snapshots settle it."""

    def snaps(self, mode):
        return run_source(self, "cache.py", TASK_CACHE, self.path(mode), mode).split()

    def groups(self, *paths):
        return [(f["check"], f["group"], f["growth"]) for f in findings(*paths)[1]]

    def test_a_bounded_cache_of_tasks_that_turns_over_is_no_leak(self):
        paths = self.snaps("fifo")
        self.assertEqual(findings(*paths), (0, []))
        # one snapshot cannot tell a cache from a pile: it says what it sees
        self.assertEqual(self.groups(paths[-1]), [("retained-task", "Cache.fetch", [150])])

    def test_tasks_kept_forever_grow(self):
        paths = self.snaps("forever")
        self.assertEqual(self.groups(*paths),
                         [("retained-task", "Cache.fetch", [150, 300, 450])])

    def test_a_pile_that_stays_is_still_reported(self):
        # the same tasks in every snapshot: nothing says they will ever go
        paths = self.snaps("idle")
        self.assertEqual(self.groups(*paths),
                         [("retained-task", "Cache.fetch", [150, 150, 150])])


class GarbageCyclesTest(TempDirTest):
    def snaps(self, collector, *extra):
        return run_fixture(self, "garbage_cycles.py", "--collector", collector, *extra)

    def test_collected_garbage_is_no_finding(self):
        paths = self.snaps("enabled")
        self.assertEqual(findings(*paths), (0, []))
        self.assertEqual(findings(paths[-1]), (0, []))

    def test_garbage_the_collector_cannot_free_in_time_grows(self):
        paths = self.snaps("stalled")
        status, found = findings(*paths)
        self.assertEqual(status, 1)
        self.assertEqual([(f["check"], f["group"]) for f in found], [("frame-cycle", "handle")])
        f = found[0]
        self.assertEqual(f["growth"], [20, 60, 100])
        self.assertEqual(f["certain"], 0)
        self.assertIn("cycle collector has not freed", f["summary"])
        # one snapshot alone proves nothing about garbage
        self.assertEqual(findings(paths[-1]), (0, []))

    def test_disabled_collector_makes_garbage_certain(self):
        paths = self.snaps("disabled")
        status, found = findings(paths[-1])
        self.assertEqual(status, 1)
        self.assertEqual([(f["check"], f["group"]) for f in found], [("frame-cycle", "handle")])
        self.assertEqual(found[0]["certain"], 100)
        self.assertIn("gc.disable()", found[0]["summary"])

    def test_twins_are_clean(self):
        for collector in ("enabled", "stalled", "disabled"):
            paths = self.snaps(collector, "--fixed")
            self.assertEqual(findings(*paths), (0, []), collector)


class JobQueueTest(TempDirTest):
    def test_coroutines_queued_for_a_worker_are_not_unawaited(self):
        paths = run_source(self, "jobs.py", JOB_QUEUE, self.path("w"), "worker").split()
        self.assertEqual(findings(paths[-1]), (0, []))
        self.assertEqual(findings(*paths), (0, []))

    def test_coroutines_queued_for_nobody_pile_up(self):
        paths = run_source(self, "jobs.py", JOB_QUEUE, self.path("n"), "none").split()
        # one snapshot: queued work may yet be taken, nothing is certain
        self.assertEqual(findings(paths[-1]), (0, []))
        status, found = findings(*paths)
        self.assertEqual(status, 1)
        self.assertEqual([(f["check"], f["group"], f["growth"]) for f in found],
                         [("unawaited-coroutine", "job", [20, 40, 60])])
