"""The timed and threshold triggers of install() (every, on_tasks, on_rss)
and keep, run in a child process for real, and their argument checks."""

import os
import subprocess
import sys
import textwrap
import unittest

import asyncsnap

from support import SANITIZED, TempDirTest

if SANITIZED:
    # signals, forks and timers: Python-level machinery the plain runs on
    # every version cover; under AddressSanitizer they only cost minutes
    raise unittest.SkipTest("trigger tests are not run under AddressSanitizer")


def snaps(directory):
    return sorted((n for n in os.listdir(directory) if n.endswith(".snap")),
                  key=lambda n: int(n.rsplit("-", 1)[1][:-5]))


# What child() programs can call: wait (30 s at most) for a snapshot in
# directory d, then for the fork-mode child writing one to be reaped.
WAIT_SNAPSHOT = """
def wait_snapshot(d):
    import asyncsnap, os, time
    deadline = time.monotonic() + 30
    while (not [n for n in os.listdir(d) if n.endswith(".snap")]
           and time.monotonic() < deadline):
        time.sleep(0.01)
    while asyncsnap._children:
        time.sleep(0.01)
"""


class TriggerTest(TempDirTest):
    def child(self, code):
        env = dict(os.environ, XDG_RUNTIME_DIR=self.dir)
        code = WAIT_SNAPSHOT + textwrap.dedent(code)
        p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                           text=True, env=env, cwd=self.dir, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        return p.stdout

    def test_every_with_keep_leaves_the_newest(self):
        out = self.child("""
            import asyncio, asyncsnap, time
            asyncsnap.install(directory=%r, fork=False, every=0.1, keep=2)
            asyncio.run(asyncio.sleep(1.0))
            # stop the timer, and let a signal it sent just before be
            # handled, before the count is read (handled right after next()
            # took a number, it would take the next one)
            asyncsnap._trigger._state.stop = True
            time.sleep(0.5)
            print(next(asyncsnap._seq) - 1)
        """ % self.dir)
        taken = int(out)
        self.assertGreaterEqual(taken, 4)
        names = snaps(self.dir)
        self.assertEqual([int(n.rsplit("-", 1)[1][:-5]) for n in names], [taken - 1, taken])

    def test_keep_in_fork_mode(self):
        out = self.child("""
            import asyncio, asyncsnap, time
            asyncsnap.install(directory=%r, every=0.1, keep=1)
            asyncio.run(asyncio.sleep(1.0))
            # stop the timer first: one more tick after the children are
            # reaped would fork a child that outlives this process and
            # writes a second file nobody prunes
            asyncsnap._trigger._state.stop = True
            time.sleep(0.5)
            while asyncsnap._children:
                time.sleep(0.01)
            print(next(asyncsnap._seq) - 1)
        """ % self.dir)
        self.assertGreaterEqual(int(out), 2)
        self.assertEqual(len(snaps(self.dir)), 1)

    def test_signal_inside_the_executor_lock_forks_at_once(self):
        # ThreadPoolExecutor.submit() holds concurrent.futures' shutdown
        # lock, which os.fork()'s before-fork hook acquires: the agent's
        # fork runs no such hook, so a signal handled there snapshots at
        # once (os.fork() would hang the process for good)
        self.child("""
            import asyncsnap, os, signal, time
            import concurrent.futures.thread as cft
            asyncsnap.install(directory=%r)
            with cft._global_shutdown_lock:
                os.kill(os.getpid(), signal.SIGUSR1)
                for _ in range(10):
                    time.sleep(0.01)  # the handler runs here
                wait_snapshot(%r)
        """ % (self.dir, self.dir))
        self.assertEqual(len(snaps(self.dir)), 1)

    def test_signal_inside_a_finalizer_is_put_off_not_a_failure(self):
        # a __del__ the collector calls runs bytecode: the signal handler
        # runs there, mid-collection, where no walk can pause the collector
        # (asyncsnap take failed on a busy server: "a garbage collection is
        # in progress"); the snapshot is taken once the collection is done
        for fork in (False, True):
            d = os.path.join(self.dir, "fork" if fork else "here")
            os.mkdir(d)
            out = self.child("""
                import asyncsnap, gc, os, signal, time
                asyncsnap.install(directory=%r, fork=%r)
                class Cycle:
                    def __del__(self):
                        os.kill(os.getpid(), signal.SIGUSR1)
                        for _ in range(10):
                            time.sleep(0.01)  # the handler runs here
                        print("in collection:", asyncsnap._agent.gc_collecting())
                c = Cycle()
                c.me = c
                del c
                gc.collect()
                wait_snapshot(%r)
            """ % (d, fork, d))  # and no "snapshot failed" on stderr
            self.assertEqual(out, "in collection: True\n")
            self.assertEqual(len(snaps(d)), 1, (fork, os.listdir(d)))

    def test_on_tasks_fires_at_each_multiple(self):
        self.child("""
            import asyncio, asyncsnap
            asyncsnap.install(directory=%r, fork=False, on_tasks=10, poll=0.02)
            async def main():
                hold = asyncio.Event()
                tasks = []
                for i in range(25):
                    tasks.append(asyncio.create_task(hold.wait()))
                    await asyncio.sleep(0.03)
                await asyncio.sleep(0.2)
                hold.set()
                await asyncio.gather(*tasks)
            asyncio.run(main())
        """ % self.dir)
        # passed 10 (at 11 tasks) and 20 (at 21): two snapshots
        self.assertEqual(len(snaps(self.dir)), 2, snaps(self.dir))

    def test_on_rss_fires_when_memory_passes(self):
        self.child("""
            import asyncsnap, time
            mb = asyncsnap._rss() / (1 << 20)
            asyncsnap.install(directory=%r, fork=False, on_rss=mb + 40, poll=0.02)
            time.sleep(0.2)
            big = bytearray(60 << 20)
            for i in range(0, len(big), 4096):
                big[i] = 1
            time.sleep(0.5)
        """ % self.dir)
        self.assertEqual(len(snaps(self.dir)), 1, snaps(self.dir))

    def test_registration_holds_start_ticks_and_triggers(self):
        import json
        out = self.child("""
            import asyncsnap, asyncsnap._trigger as t
            asyncsnap.install(directory=%r, every=60, keep=3)
            print(open(t._state.registration).read())
        """ % self.dir)
        rec = json.loads(out)
        self.assertIsInstance(rec["process_start_ticks"], int)
        self.assertEqual(rec["triggers"], {"every": 60.0, "on_tasks": None, "on_rss": None,
                                           "keep": 3})

    def test_trigger_thread_runs_when_install_returns_and_ends_before_exit(self):
        # a thread still starting, or woken, while CPython finalizes can
        # crash it (a SIGSEGV on 3.12 in CI): install() returns once the
        # thread runs, uninstall() and the exit end it
        out = self.child("""
            import _thread, atexit, time, asyncsnap
            base = _thread._count()
            def running():
                # the count drops just after the thread's function returns
                deadline = time.monotonic() + 2
                while _thread._count() > base and time.monotonic() < deadline:
                    time.sleep(0.01)
                return _thread._count() - base
            asyncsnap.install(directory=%r, every=60)
            print(_thread._count() - base)
            asyncsnap.uninstall()
            print(running())
            # atexit runs the last registered first: this runs after the
            # handler the next install() registers
            atexit.register(lambda: print(running(), flush=True))
            asyncsnap.install(directory=%r, on_tasks=10)
            print(_thread._count() - base, flush=True)
        """ % (self.dir, self.dir))
        self.assertEqual(out.split(), ["1", "0", "1", "0"])

    def test_bad_arguments(self):
        for kw, exc in [({"every": 0}, ValueError), ({"keep": 1.5}, TypeError),
                        ({"on_tasks": -1}, ValueError), ({"on_rss": "1"}, TypeError),
                        ({"every": float("nan")}, ValueError), ({"keep": True}, TypeError)]:
            with self.assertRaises(exc, msg=kw):
                asyncsnap.install(directory=self.dir, **kw)
        self.assertIsNone(asyncsnap._trigger._state)

    def test_run_help_lists_exactly_the_options_run_accepts(self):
        import re
        from asyncsnap.__main__ import RUN_HELP, RUN_OPTIONS, parse_run
        listed = set(re.findall(r"^  (--[a-z-]+)", RUN_HELP, re.M)) - {"--"}
        self.assertEqual(listed, {o[0] for o in RUN_OPTIONS})
        values = {"--dir": "/tmp", "--signal": "USR2", "--every": "2", "--on-tasks": "5",
                  "--on-rss": "64", "--keep": "3"}
        for option in listed:
            args = [option] + ([values[option]] if option in values else []) + ["app.py"]
            opts, kind, target, rest = parse_run(args)
            self.assertEqual((kind, target, rest), ("script", "app.py", []), option)

    def test_run_options(self):
        from asyncsnap.__main__ import parse_run, UsageError
        opts, kind, target, rest = parse_run(["--every", "2.5", "--on-tasks=100", "--keep", "3",
                                              "--on-rss", "512", "app.py", "--every", "x"])
        self.assertEqual((opts["every"], opts["on_tasks"], opts["keep"], opts["on_rss"]),
                         (2.5, 100, 3, 512.0))
        self.assertEqual((target, rest), ("app.py", ["--every", "x"]))
        for bad in (["--every", "0", "a.py"], ["--keep", "1.5", "a.py"], ["--on-tasks", "x", "a.py"]):
            with self.assertRaises(UsageError):
                parse_run(bad)


if __name__ == "__main__":
    unittest.main()
