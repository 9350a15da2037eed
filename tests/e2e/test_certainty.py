"""Certainty that means certain: garbage reference cycles that the cycle
collector frees are no leak; they are reported when the collector is
disabled (certain, one snapshot) or when they survive across snapshots and
grow (the collector is not keeping up) - fixtures/programs/garbage_cycles.py."""

import os
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

    def test_a_pile_that_does_not_grow_is_bounded(self):
        # the same tasks in every snapshot: bounded, whatever keeps them
        paths = self.snaps("idle")
        self.assertEqual(findings(*paths), (0, []))
        self.assertEqual(self.groups(paths[-1]), [("retained-task", "Cache.fetch", [150])])


# Correct programs that one-snapshot rules took for leaks (each takes three
# snapshots and prints their paths; argv[2] == "leaky" makes the bug).
#
# sessions: one 15-minute idle timer per logged-in user, cancelled and set
# again on every request and cancelled at logout: 1,100 timers at each
# snapshot, many of them new. Leaky: touch() never cancels the old timer.
SESSIONS = textwrap.dedent(r'''
    import asyncio, sys
    import asyncsnap

    class Session:
        def __init__(self, store, key, leaky):
            self.store, self.key, self.leaky = store, key, leaky
            self.loop = asyncio.get_running_loop()
            self.timer = None
            self.touch()

        def touch(self):
            if self.timer is not None and not self.leaky:
                self.timer.cancel()
            self.timer = self.loop.call_later(900, self.expire)

        def expire(self):
            self.store.pop(self.key, None)

        def close(self):
            self.timer.cancel()
            self.store.pop(self.key, None)

    async def main(out, leaky):
        store = {}
        for key in range(1100):
            store[key] = Session(store, key, leaky)
        for k in range(3):
            for key in range(k * 100, k * 100 + 100):    # 100 log out, 100 log in
                store[key].close()
                store[key + 5000] = Session(store, key + 5000, leaky)
            for key in range(500, 800):                  # 300 requests
                store[key].touch()
            print(asyncsnap.take("%s-%d.snap" % (out, k + 1)))

    asyncio.run(main(sys.argv[1], sys.argv[2] == "leaky"))
''')

# burst: a thread hands 1,500 events to the loop with call_soon_threadsafe
# just before each snapshot; they wait in the loop's ready queue and run at
# its next iteration.
BURST = textwrap.dedent(r'''
    import asyncio, sys, threading
    import asyncsnap

    delivered = 0

    def deliver(item):
        global delivered
        delivered += 1

    def producer(loop, n):
        for i in range(n):
            loop.call_soon_threadsafe(deliver, i)

    async def main(out):
        loop = asyncio.get_running_loop()
        for k in range(3):
            th = threading.Thread(target=producer, args=(loop, 1500))
            th.start()
            th.join()
            print(asyncsnap.take("%s-%d.snap" % (out, k + 1)))
            await asyncio.sleep(0.01)
        assert delivered == 4500, delivered

    asyncio.run(main(sys.argv[1]))
''')

# deferred: each job starts 50 ms later through a timer whose lambda holds
# the coroutine in its closure. Leaky: the lambda is never scheduled.
DEFERRED = textwrap.dedent(r'''
    import asyncio, sys
    import asyncsnap

    done = 0
    kept = []

    async def job(i):
        global done
        done += 1

    def start_later(loop, delay, coro, leaky):
        start = lambda: asyncio.ensure_future(coro)
        if leaky:
            kept.append(start)
        else:
            loop.call_later(delay, start)

    async def main(out, leaky):
        loop = asyncio.get_running_loop()
        for k in range(3):
            for j in range(20):
                start_later(loop, 0.05, job(j), leaky)
            print(asyncsnap.take("%s-%d.snap" % (out, k + 1)))
            await asyncio.sleep(0.1)
        assert done == (0 if leaky else 60), done
        for start in kept:
            start().cancel()

    asyncio.run(main(sys.argv[1], sys.argv[2] == "leaky"))
''')

# batches: each request makes its coroutines first, then waits for a slot
# (a semaphore) and gathers them; the snapshots catch 40 requests waiting
# with their unstarted coroutines in a local list. Leaky: every request also
# leaves one coroutine in a list that outlives it.
BATCHES = textwrap.dedent(r'''
    import asyncio, sys
    import asyncsnap

    forgotten = []

    async def fetch(i):
        await asyncio.sleep(0)
        return i

    async def request(slots, leaky):
        batch = [fetch(i) for i in range(5)]
        if leaky:
            forgotten.append(fetch(-1))
        async with slots:
            return await asyncio.gather(*batch)

    async def main(out, leaky):
        for k in range(3):
            slots = asyncio.Semaphore(0)
            pending = [asyncio.create_task(request(slots, leaky)) for _ in range(40)]
            await asyncio.sleep(0.01)
            print(asyncsnap.take("%s-%d.snap" % (out, k + 1)))
            for _ in pending:
                slots.release()
            await asyncio.gather(*pending)
        for coro in forgotten:
            coro.close()

    asyncio.run(main(sys.argv[1], sys.argv[2] == "leaky"))
''')

# backlog: coroutines submitted to four workers through a deque and a
# Condition; the workers drain it before the next round. Leaky: no workers.
BACKLOG = textwrap.dedent(r'''
    import asyncio, collections, sys
    import asyncsnap

    class Scheduler:
        def __init__(self, workers):
            self.backlog = collections.deque()
            self.cond = asyncio.Condition()
            self.workers = [asyncio.create_task(self.work()) for _ in range(workers)]

        async def submit(self, coro):
            async with self.cond:
                self.backlog.append(coro)
                self.cond.notify()

        async def work(self):
            while True:
                async with self.cond:
                    await self.cond.wait_for(lambda: self.backlog)
                    coro = self.backlog.popleft()
                await coro

    async def job(i):
        await asyncio.sleep(0.001)

    async def main(out, leaky):
        s = Scheduler(0 if leaky else 4)
        for k in range(3):
            for j in range(100):
                await s.submit(job(k * 100 + j))
            print(asyncsnap.take("%s-%d.snap" % (out, k + 1)))
            while s.backlog and not leaky:
                await asyncio.sleep(0.01)
        for w in s.workers:
            w.cancel()
        for coro in s.backlog:
            coro.close()

    asyncio.run(main(sys.argv[1], sys.argv[2] == "leaky"))
''')

# subscribers: every connection of a server registers a done-callback on
# one shared "shutdown" future and removes it when the connection is lost:
# 120 connections at each snapshot, 20 replaced in between. Leaky: the
# callback is never removed.
SUBSCRIBERS = textwrap.dedent(r'''
    import asyncio, sys
    import asyncsnap

    LEAKY = sys.argv[2] == "leaky"

    class Session(asyncio.Protocol):
        def __init__(self, shutdown):
            self.shutdown = shutdown

        def connection_made(self, transport):
            self.transport = transport
            self.shutdown.add_done_callback(self.on_shutdown)

        def on_shutdown(self, fut):
            self.transport.close()

        def connection_lost(self, exc):
            if not LEAKY:
                self.shutdown.remove_done_callback(self.on_shutdown)

    async def main(out):
        loop = asyncio.get_running_loop()
        shutdown = loop.create_future()
        server = await loop.create_server(lambda: Session(shutdown), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        connect = lambda: loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        clients = [(await connect())[0] for _ in range(120)]
        for k in range(3):
            for i in range(20):
                clients.pop(i * 3).close()
                clients.append((await connect())[0])
            await asyncio.sleep(0.05)
            print(asyncsnap.take("%s-%d.snap" % (out, k + 1)))
        shutdown.set_result(None)
        for t in clients:
            t.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main(sys.argv[1]))
''')


# Fork mode (what a signal takes by default) has only the forking thread's
# stack, and the snapshot child must not run the program's signal
# handlers. A correct program: a loop in a thread of its own whose main
# task awaits asyncio.Future() until cancelled; a thread holding a
# coroutine it is about to hand to that loop; a thread holding a list of
# 200 finished tasks of a private loop; a watcher task that a
# signal.signal() handler wakes through an Event. argv[2] == "leaky": the
# handler is never installed, so the watcher can never wake.
THREADS = textwrap.dedent(r'''
    import asyncio, os, signal, sys, threading, time
    import asyncsnap

    LEAKY = sys.argv[2] == "leaky"
    ready, done = threading.Event(), threading.Event()
    state = {}

    async def job(i):
        await asyncio.sleep(0)
        return i

    async def loop_main():
        state["loop"] = asyncio.get_running_loop()
        state["main"] = asyncio.current_task()
        ready.set()
        try:
            await asyncio.Future()           # run until cancelled
        except asyncio.CancelledError:
            pass

    def hand_over():
        coro = job(1)                        # held by this frame alone
        done.wait()
        asyncio.run_coroutine_threadsafe(coro, state["loop"]).result()

    def private_batch():
        loop = asyncio.new_event_loop()
        tasks = [loop.create_task(job(i)) for i in range(200)]
        loop.run_until_complete(asyncio.wait(tasks))
        done.wait()                          # saving the results
        loop.close()

    watchers = set()

    async def watcher(stop):
        await stop.wait()

    def on_sigterm(loop):
        stop = asyncio.Event()
        if not LEAKY:
            signal.signal(signal.SIGTERM, lambda *_: loop.call_soon_threadsafe(stop.set))
        return stop

    async def main(out):
        t = asyncio.create_task(watcher(on_sigterm(asyncio.get_running_loop())))
        watchers.add(t)
        t.add_done_callback(watchers.discard)
        del t
        threads = [threading.Thread(target=lambda: asyncio.run(loop_main())),
                   threading.Thread(target=hand_over), threading.Thread(target=private_batch)]
        for th in threads:
            th.start()
        ready.wait()
        await asyncio.sleep(0.3)
        asyncsnap.take(out, fork=True)
        while not os.path.exists(out):
            await asyncio.sleep(0.05)
        done.set()
        threads[1].join()                    # the coroutine has run
        threads[2].join()
        state["loop"].call_soon_threadsafe(state["main"].cancel)
        threads[0].join()
        for t in list(watchers):
            t.cancel()

    asyncio.run(main(sys.argv[1]))
''')


# A worker thread keeps the future a task awaits in its threading.local
# batch, and resolves it later; beside it, an object whose __del__ takes a
# lock the worker holds. CPython's own after-fork cleanup (os.fork()) frees
# other threads' thread-local data in the child: the future went missing
# (the task looked orphaned) and the __del__ waited for that lock for good.
# Leaky: the worker drops the future, nothing can ever resolve it.
THREAD_LOCAL = textwrap.dedent(r'''
    import asyncio, os, sys, threading
    import asyncsnap

    LEAKY = sys.argv[2] == "leaky"
    local = threading.local()
    lock = threading.Lock()
    handed, done = threading.Event(), threading.Event()
    tasks = set()

    class Flusher:
        def __del__(self):
            with lock:
                pass

    def worker(loop, box):
        with lock:
            local.flusher = Flusher()
            local.batch = [] if LEAKY else [box.pop()]
            box.clear()
            handed.set()
            done.wait()
            for fut in local.batch:
                loop.call_soon_threadsafe(fut.set_result, 1)

    async def waiter(fut):
        return await fut

    async def main(out):
        loop = asyncio.get_running_loop()
        box = [loop.create_future()]
        tasks.add(asyncio.create_task(waiter(box[0])))
        await asyncio.sleep(0)
        th = threading.Thread(target=worker, args=(loop, box))
        th.start()
        handed.wait()
        asyncsnap.take(out, fork=True)
        for _ in range(600):
            if os.path.exists(out):
                break
            await asyncio.sleep(0.05)
        else:
            sys.exit("the snapshot was not written in 30 s")
        done.set()
        if not LEAKY:
            await tasks.pop()
        th.join()

    asyncio.run(main(sys.argv[1]))
''')


class ForkModeTest(TempDirTest):
    """What only other threads hold (their stacks, their thread-local data)
    and what fork mode must not run (the program's signal handlers) is no
    finding on a correct program."""

    def test_threads_and_signal_handlers(self):
        snap = self.path("threads.snap")
        run_source(self, "threads.py", THREADS, snap, "correct")
        self.assertEqual(findings(snap), (0, []))
        leaky = self.path("leaky.snap")
        run_source(self, "leaky.py", THREADS, leaky, "leaky")
        self.assertEqual([(f["check"], f["group"]) for f in findings(leaky)[1]],
                         [("pending-task", "watcher")])

    def test_other_threads_thread_local_data(self):
        snap = self.path("local.snap")
        run_source(self, "local.py", THREAD_LOCAL, snap, "correct")
        self.assertEqual(findings(snap), (0, []))
        leaky = self.path("leaky.snap")
        run_source(self, "leaky.py", THREAD_LOCAL, leaky, "leaky")
        self.assertEqual([(f["check"], f["group"]) for f in findings(leaky)[1]],
                         [("pending-task", "waiter")])


class OneSnapshotRulesTest(TempDirTest):
    """What one snapshot takes for a pile, several snapshots of a correct
    program settle; the leaky twins are still found."""

    def snaps(self, source, *args):
        name = "p%d" % len(os.listdir(self.dir))
        return run_source(self, name + ".py", source, self.path(name), *args).split()

    def groups(self, *paths):
        return [(f["check"], f["group"]) for f in findings(*paths)[1]]

    def test_idle_timers_of_live_sessions(self):
        paths = self.snaps(SESSIONS, "correct")
        self.assertEqual(findings(*paths), (0, []))
        # one snapshot alone: 1,100 timers an hour out look like a pile
        self.assertEqual(self.groups(paths[-1]), [("uncancelled-handle", "Session.expire")])
        leaky = self.snaps(SESSIONS, "leaky")
        self.assertEqual(self.groups(*leaky), [("uncancelled-handle", "Session.expire")])

    def test_handles_in_the_ready_queue_are_about_to_run(self):
        paths = self.snaps(BURST)
        self.assertEqual(findings(*paths), (0, []))
        self.assertEqual(findings(paths[-1]), (0, []))

    def test_a_coroutine_in_a_scheduled_lambda_will_run(self):
        paths = self.snaps(DEFERRED, "correct")
        self.assertEqual(findings(paths[-1]), (0, []))
        self.assertEqual(findings(*paths), (0, []))
        leaky = self.snaps(DEFERRED, "leaky")
        self.assertEqual(self.groups(leaky[-1]), [("unawaited-coroutine", "job")])

    def test_coroutines_a_waiting_request_will_gather(self):
        paths = self.snaps(BATCHES, "correct")
        self.assertEqual(findings(paths[-1]), (0, []))
        self.assertEqual(findings(*paths), (0, []))
        leaky = self.snaps(BATCHES, "leaky")
        self.assertEqual(self.groups(leaky[-1]), [("unawaited-coroutine", "fetch")])
        self.assertEqual(self.groups(*leaky), [("unawaited-coroutine", "fetch")])

    def test_a_backlog_that_workers_drain(self):
        paths = self.snaps(BACKLOG, "correct")
        self.assertEqual(findings(*paths), (0, []))
        leaky = self.snaps(BACKLOG, "leaky")
        self.assertEqual(self.groups(*leaky), [("unawaited-coroutine", "job")])

    def test_one_callback_per_live_connection(self):
        paths = self.snaps(SUBSCRIBERS, "correct")
        self.assertEqual(findings(*paths), (0, []))
        leaky = self.snaps(SUBSCRIBERS, "leaky")
        self.assertEqual([c for c, _ in self.groups(*leaky)], ["pending-future"])


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

    def test_garbage_made_after_the_last_full_collection_is_no_finding(self):
        # 20 -> 60 -> 100, but the one full collection ran before the
        # garbage of the last two snapshots existed: nothing survived one
        paths = self.snaps("once")
        self.assertEqual(findings(*paths), (0, []))

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
