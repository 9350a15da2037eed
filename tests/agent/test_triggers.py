"""The agent's triggers: take(fork=True), install() and the signal handler,
python -m asyncsnap run, and what a snapshot must never hold or leak."""

import gc
import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import unittest
import warnings

import asyncsnap
from asyncsnap import _trigger

from support import SANITIZED, TempDirTest, dump, info, skip_if_sanitized, zstd_decompress

if SANITIZED:
    # signals, forks and timers: Python-level machinery the plain runs on
    # every version cover; under AddressSanitizer they only cost minutes
    raise unittest.SkipTest("trigger tests are not run under AddressSanitizer")

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "programs"))
FAILED = re.compile(r"^asyncsnap: snapshot failed: \S.*$")


def children(pid):
    """The pids of pid's child processes, zombies included (from /proc)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat_line = f.read()
        except OSError:
            continue
        fields = stat_line[stat_line.rindex(b")") + 2:].split()
        if int(fields[1]) == pid:
            found.append(int(name))
    return found


def wait_no_children(pid, timeout=120):
    """Wait until pid has no child process left, reaped ones excluded:
    fork-mode snapshot children finish and are reaped by the agent."""
    deadline = time.monotonic() + timeout
    while children(pid):
        if time.monotonic() > deadline:
            raise AssertionError("children of %d still there after %ds: %s"
                                 % (pid, timeout, children(pid)))
        time.sleep(0.02)
    # and, for our own, until the reaper thread has reported and let go
    while pid == os.getpid() and asyncsnap._children:
        if time.monotonic() > deadline:
            raise AssertionError("asyncsnap._children after %ds: %s"
                                 % (timeout, asyncsnap._children))
        time.sleep(0.01)


def snap_files(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".snap"))


def python(*args, env=None, **kw):
    """Run this interpreter with the agent importable (PYTHONPATH from meson)."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env=env, timeout=kw.pop("timeout", 300), **kw)


def agent_run(*args, **kw):
    return python("-m", "asyncsnap", "run", *args, **kw)


class Marker:
    def __init__(self, i):
        self.i = i


class ForkTest(TempDirTest):
    def tearDown(self):
        wait_no_children(os.getpid())

    def test_fork_writes_a_complete_snapshot_of_the_parent_and_reaps_the_child(self):
        markers = [Marker(i) for i in range(321)]
        was = gc.isenabled()
        path = asyncsnap.take(self.path("f.snap"), fork=True, fsync=False)
        self.assertEqual(path, self.path("f.snap"))
        self.assertEqual(gc.isenabled(), was)  # the parent got its collector back
        wait_no_children(os.getpid())
        # no zombie: the agent reaped its child, nothing is left to wait for
        with self.assertRaises(ChildProcessError):
            os.waitpid(-1, os.WNOHANG)
        self.assertEqual(asyncsnap._children, {})
        self.assertEqual(os.listdir(self.dir), ["f.snap"])
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)

        summary = info(path)
        h = summary["header"]
        self.assertIs(h["fork"], True)
        self.assertGreaterEqual(h["fork_ms"], 0)
        self.assertEqual(h["pid"], os.getpid())  # the process snapshotted, not the child
        counts = {t["type"]: t["count"] for t in summary["types"]}
        self.assertEqual(counts[__name__ + ".Marker"], 321)
        nodes = {int(n["addr"], 16): n for n in dump(path)}
        self.assertEqual(len(nodes[id(markers)]["edges"]), 321)

    def test_other_threads_are_in_the_snapshot_as_they_were(self):
        # their stacks, and their threading.local data with it, which
        # os.fork()'s cleanup in the child would free (running the __del__
        # of what only they held)
        local = threading.local()
        ready, stop = threading.Event(), threading.Event()

        def worker():
            on_my_stack = [Marker(i) for i in range(17)]
            local.kept = [Marker(i) for i in range(23)]
            ready.set()
            stop.wait()
            return on_my_stack

        t = threading.Thread(target=worker)
        t.start()
        self.addCleanup(t.join)
        self.addCleanup(stop.set)
        ready.wait()
        path = asyncsnap.take(self.path("t.snap"), fork=True, fsync=False)
        wait_no_children(os.getpid())
        nodes = dump(path)
        frames = [n for n in nodes if n.get("frame", {}).get("qualname", "").rpartition(".")[2] == "worker"]
        self.assertEqual(len(frames), 1, frames)
        self.assertEqual([r["kind"] for r in frames[0]["roots"]], ["thread"])
        counts = {t["type"]: t["count"] for t in info(path)["types"]}
        self.assertEqual(counts[__name__ + ".Marker"], 17 + 23)

    def test_no_hook_of_the_program_runs_around_the_fork(self):
        script = textwrap.dedent("""
            import os, sys, time, asyncsnap
            os.register_at_fork(before=lambda: print("before", flush=True),
                                after_in_child=lambda: os.write(1, b"in child\\n"),
                                after_in_parent=lambda: print("after", flush=True))
            asyncsnap.take(sys.argv[1], fork=True)
            while asyncsnap._children:
                time.sleep(0.01)
            print("done")
        """)
        out = python("-c", script, self.path("h.snap"))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual((out.stdout, out.stderr), ("done\n", ""))
        self.assertEqual(os.listdir(self.dir), ["h.snap"])

    def test_sequence_numbers_stay_unique_across_forks(self):
        os.environ["ASYNCSNAP_DIR"] = self.dir
        self.addCleanup(os.environ.pop, "ASYNCSNAP_DIR")
        paths = [asyncsnap.take(fork=True, fsync=False),
                 asyncsnap.take(fsync=False),
                 asyncsnap.take(fork=True, fsync=False)]
        wait_no_children(os.getpid())
        seqs = [int(os.path.basename(p).rsplit("-", 1)[1][:-5]) for p in paths]
        self.assertEqual(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2])
        self.assertEqual([info(p)["header"]["seq"] for p in paths], seqs)
        self.assertEqual(snap_files(self.dir), sorted(os.path.basename(p) for p in paths))

    def test_collector_state_is_kept_in_the_parent(self):
        was = gc.isenabled()
        try:
            gc.disable()
            asyncsnap.take(self.path("a.snap"), fork=True, fsync=False)
            self.assertFalse(gc.isenabled())
            gc.enable()
            asyncsnap.take(self.path("b.snap"), fork=True, fsync=False)
            self.assertTrue(gc.isenabled())
        finally:
            (gc.enable if was else gc.disable)()
        wait_no_children(os.getpid())
        self.assertIs(info(self.path("a.snap"))["header"]["gc"]["enabled"], False)
        self.assertIs(info(self.path("b.snap"))["header"]["gc"]["enabled"], True)

    @unittest.skipIf(sys.version_info < (3, 12), "the fork warning is new in 3.12")
    def test_only_the_multithreaded_fork_warning_is_silenced(self):
        stop = threading.Event()
        t = threading.Thread(target=stop.wait)
        t.start()
        self.addCleanup(t.join)
        self.addCleanup(stop.set)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            before = list(warnings.filters)
            asyncsnap.take(self.path("w.snap"), fork=True, fsync=False)
            self.assertEqual(warnings.filters, before)
            self.assertEqual([str(w.message) for w in seen], [])
            # the same fork done by the program itself still warns
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            warnings.warn("another warning", DeprecationWarning)
        messages = [str(w.message) for w in seen]
        self.assertEqual(len(messages), 2, messages)
        self.assertIn("multi-threaded", messages[0])
        self.assertEqual(messages[1], "another warning")
        wait_no_children(os.getpid())
        self.assertEqual(snap_files(self.dir), ["w.snap"])

    def test_child_failure_is_one_line_on_stderr_and_the_parent_goes_on(self):
        script = textwrap.dedent("""
            import os, sys, time, asyncsnap
            p = asyncsnap.take(sys.argv[1], fork=True)
            print("returned", p, flush=True)
            while asyncsnap._children:
                time.sleep(0.01)
            print("still running")
        """)
        bad = self.path("no/such/dir/x.snap")
        out = python("-c", script, bad)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, "returned %s\nstill running\n" % bad)
        lines = out.stderr.splitlines()
        self.assertEqual(len(lines), 1, out.stderr)
        self.assertRegex(lines[0], FAILED)
        self.assertIn("No such file or directory", lines[0])
        self.assertEqual(os.listdir(self.dir), [])

    @skip_if_sanitized
    def test_child_killed_midway_is_reported_and_leaves_no_file(self):
        # a heap big enough that the walk is still running when it is killed
        script = textwrap.dedent("""
            import os, signal, sys, time, asyncsnap
            heap = [[i, str(i), (i,)] for i in range(400000)]
            asyncsnap.take(sys.argv[1], fork=True, fsync=False)
            for pid in list(asyncsnap._children):
                os.kill(pid, signal.SIGKILL)
            while asyncsnap._children:
                time.sleep(0.01)
            print("still running")
        """)
        out = python("-c", script, self.path("k.snap"))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, "still running\n")
        lines = out.stderr.splitlines()
        self.assertEqual(len(lines), 1, out.stderr)
        self.assertRegex(lines[0], FAILED)
        self.assertIn("killed by SIGKILL", lines[0])
        self.assertEqual(os.listdir(self.dir), [])

    def test_from_another_thread_and_right_before_exit(self):
        script = textwrap.dedent("""
            import signal, sys, threading, asyncsnap
            signal.signal(signal.SIGUSR2, lambda *a: print("handler ran"))
            heap = [[i] for i in range(200000)]
            t = threading.Thread(target=asyncsnap.take, args=(sys.argv[1],), kwargs={"fork": True})
            t.start()
            t.join()
            asyncsnap.take(sys.argv[2], fork=True)
            print(os.getpid())
        """)
        out = python("-c", "import os\n" + script, self.path("thread.snap"),
                     self.path("exit.snap"))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stderr, "")
        pid = int(out.stdout)
        # the children outlive the program and finish their files anyway
        deadline = time.monotonic() + 120
        while sorted(os.listdir(self.dir)) != ["exit.snap", "thread.snap"]:
            self.assertLess(time.monotonic(), deadline, os.listdir(self.dir))
            time.sleep(0.05)
        for name in ("thread.snap", "exit.snap"):
            summary = info(self.path(name))
            self.assertIs(summary["header"]["fork"], True)
            self.assertEqual(summary["header"]["pid"], pid)  # the program's, not the child's
            self.assertGreater(summary["objects"], 200000)

    def test_many_forks_leave_no_process_and_no_object(self):
        script = textwrap.dedent("""
            import gc, json, os, sys, time, asyncsnap
            d = sys.argv[1]
            def burst(n):
                for i in range(n):
                    asyncsnap.take(os.path.join(d, "s.snap"), fork=True, fsync=False)
                while asyncsnap._children:
                    time.sleep(0.01)
            burst(3)
            gc.collect()
            before = len(gc.get_objects())
            burst(40)
            gc.collect()
            try:
                os.waitpid(-1, os.WNOHANG)
                zombies = "some"
            except ChildProcessError:
                zombies = "none"
            print(json.dumps({"objects": len(gc.get_objects()) - before, "zombies": zombies}))
        """)
        out = python("-c", script, self.dir)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stderr, "")
        result = json.loads(out.stdout)
        self.assertEqual(result["zombies"], "none")
        self.assertLessEqual(result["objects"], 5)
        self.assertEqual(os.listdir(self.dir), ["s.snap"])
        info(self.path("s.snap"))


class CollectTest(TempDirTest):
    def setUp(self):
        super().setUp()
        # no collection may happen by allocation during the test itself
        gc.collect()
        threshold = gc.get_threshold()
        gc.set_threshold(1 << 30)
        self.addCleanup(gc.set_threshold, *threshold)
        was = gc.isenabled()
        gc.enable()
        self.addCleanup(lambda: None if was else gc.disable())

    @staticmethod
    def collections():
        return [g["collections"] for g in gc.get_stats()]

    def test_no_collection_unless_asked(self):
        before = self.collections()
        asyncsnap.take(self.path("a.snap"), fsync=False)
        asyncsnap.take(self.path("b.snap"), fork=True, fsync=False)
        self.assertEqual(self.collections(), before)
        asyncsnap.take(self.path("c.snap"), collect=True, fsync=False)
        after = self.collections()
        self.assertEqual(after[2], before[2] + 1)
        asyncsnap.take(self.path("d.snap"), collect=True, fork=True, fsync=False)
        self.assertEqual(self.collections()[2], after[2] + 1)  # in the parent
        wait_no_children(os.getpid())

    def test_garbage_cycles_stay_in_the_snapshot_unless_collect(self):
        class Cyclic:
            pass
        a, b = Cyclic(), Cyclic()
        a.other, b.other = b, a
        type_name = "%s.%s" % (__name__, Cyclic.__qualname__)
        del a, b
        kept = info(asyncsnap.take(self.path("k.snap"), fsync=False))
        self.assertEqual({t["type"]: t["count"] for t in kept["types"]}.get(type_name), 2)
        gone = info(asyncsnap.take(self.path("g.snap"), collect=True, fsync=False))
        self.assertNotIn(type_name, {t["type"] for t in gone["types"]})


class HeaderTest(TempDirTest):
    def make_module(self, name, body):
        with open(self.path(name + ".py"), "w") as f:
            f.write(textwrap.dedent(body))

    def test_header_keys(self):
        path = asyncsnap.take(self.path("h.snap"), fsync=False)
        h = info(path)["header"]
        self.assertEqual(h["executable"], sys.executable)
        self.assertEqual(h["cwd"], os.getcwd())
        self.assertEqual(h["environ"], {"count": len(os.environ)})
        self.assertIs(h["fork"], False)
        self.assertNotIn("fork_ms", h)
        self.assertEqual(h["argv"][1:], ["<redacted>"] * (len(sys.argv) - 1))
        self.assertEqual(h["packages"].get("asyncsnap"), asyncsnap.__version__)
        for key in ("producer", "python", "platform", "pid", "process_start", "program",
                    "time", "seq", "gc", "rss", "values"):
            self.assertIn(key, h)

    def test_packages_are_read_without_running_module_code(self):
        sys.path.insert(0, self.dir)
        self.addCleanup(sys.path.remove, self.dir)
        names = ["asnap_pkg_plain", "asnap_pkg_getattr", "asnap_pkg_nonstr", "asnap_pkg_lazy",
                 "asnap_pkg_parent"]
        for n in names + ["asnap_pkg_parent.sub"]:
            self.addCleanup(sys.modules.pop, n, None)
        self.make_module("asnap_pkg_plain", '__version__ = "1.2.3"\n')
        self.make_module("asnap_pkg_getattr", """
            calls = []
            def __getattr__(name):
                calls.append(name)
                return "from-getattr"
        """)
        self.make_module("asnap_pkg_nonstr", """
            class V(str):
                pass
            __version__ = V("9.9")
        """)
        self.make_module("asnap_pkg_lazy", """
            import sys, types
            class Lazy(types.ModuleType):
                def __getattribute__(self, name):
                    sys.modules["asnap_pkg_lazy_touched"] = True
                    return types.ModuleType.__getattribute__(self, name)
            m = Lazy("asnap_pkg_lazy")
            types.ModuleType.__setattr__(m, "__file__", __file__)
            types.ModuleType.__setattr__(m, "__version__", "4.5")
            sys.modules["asnap_pkg_lazy"] = m
        """)
        os.mkdir(self.path("asnap_pkg_parent"))
        with open(self.path("asnap_pkg_parent/__init__.py"), "w") as f:
            f.write("")
        with open(self.path("asnap_pkg_parent/sub.py"), "w") as f:
            f.write('__version__ = "7.0"\n')
        import importlib
        for n in names[:3] + ["asnap_pkg_parent.sub"]:
            importlib.import_module(n)
        importlib.import_module("asnap_pkg_lazy")
        self.addCleanup(sys.modules.pop, "asnap_pkg_lazy_touched", None)
        path = asyncsnap.take(self.path("p.snap"), fsync=False)
        packages = info(path)["header"]["packages"]
        self.assertEqual(packages.get("asnap_pkg_plain"), "1.2.3")
        self.assertNotIn("asnap_pkg_getattr", packages)
        self.assertEqual(sys.modules["asnap_pkg_getattr"].calls, [])
        self.assertNotIn("asnap_pkg_nonstr", packages)
        self.assertNotIn("asnap_pkg_lazy_touched", sys.modules)
        self.assertEqual(packages.get("asnap_pkg_lazy"), "4.5")
        self.assertNotIn("asnap_pkg_parent", packages)
        self.assertNotIn("asnap_pkg_parent.sub", packages)
        # the standard library is not a package to report
        # (json has a str __version__ up to 3.14; 3.15 deprecates it behind
        # a module __getattr__, which the agent never calls)
        import json as stdlib_json
        if sys.version_info < (3, 15):
            self.assertIsInstance(vars(stdlib_json).get("__version__"), str)
        self.assertNotIn("json", packages)

    def test_values_true_keeps_argv(self):
        script = "import asyncsnap, sys; asyncsnap.take(sys.argv[1], values=True, fsync=False)"
        out = python("-c", script, self.path("v.snap"), "--flag", "value")
        self.assertEqual(out.returncode, 0, out.stderr)
        h = info(self.path("v.snap"))["header"]
        self.assertEqual(h["argv"], ["-c", self.path("v.snap"), "--flag", "value"])


class SignalTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.runtime = os.path.join(self.dir, "run")
        os.mkdir(self.runtime)
        self.snaps = os.path.join(self.dir, "snaps")
        os.mkdir(self.snaps)
        old = os.environ.get("XDG_RUNTIME_DIR")
        os.environ["XDG_RUNTIME_DIR"] = self.runtime
        self.addCleanup(lambda: os.environ.__setitem__("XDG_RUNTIME_DIR", old) if old
                        else os.environ.pop("XDG_RUNTIME_DIR", None))
        self.addCleanup(asyncsnap.uninstall)
        self.addCleanup(wait_no_children, os.getpid())

    def registration(self):
        return os.path.join(self.runtime, "asyncsnap", "%d.json" % os.getpid())

    def signal_self(self, signum=signal.SIGUSR1):
        os.kill(os.getpid(), signum)
        for _ in range(100):  # the Python handler runs between bytecodes
            time.sleep(0.001)

    def test_signal_takes_a_snapshot_in_process(self):
        asyncsnap.install(signal.SIGUSR1, self.snaps, fork=False)
        self.signal_self()
        self.signal_self()
        names = snap_files(self.snaps)
        self.assertEqual(len(names), 2, names)
        for n in names:
            self.assertRegex(n, r"^[A-Za-z0-9_.-]+-%d-\d+\.snap$" % os.getpid())
            h = info(os.path.join(self.snaps, n))["header"]
            self.assertIs(h["fork"], False)
            self.assertEqual(h["pid"], os.getpid())

    def test_signal_takes_a_snapshot_by_fork(self):
        asyncsnap.install(signal.SIGUSR2, self.snaps)
        self.signal_self(signal.SIGUSR2)
        wait_no_children(os.getpid())
        names = snap_files(self.snaps)
        self.assertEqual(len(names), 1)
        h = info(os.path.join(self.snaps, names[0]))["header"]
        self.assertIs(h["fork"], True)
        self.assertEqual(h["pid"], os.getpid())
        self.assertEqual(os.listdir(self.snaps), names)

    def test_directory_defaults_to_asyncsnap_dir_at_install(self):
        os.environ["ASYNCSNAP_DIR"] = self.snaps
        self.addCleanup(os.environ.pop, "ASYNCSNAP_DIR")
        asyncsnap.install(fork=False)
        os.environ["ASYNCSNAP_DIR"] = self.dir  # too late: install() decided
        self.signal_self()
        self.assertEqual(len(snap_files(self.snaps)), 1)

    def test_registration_file(self):
        asyncsnap.install(signal.SIGUSR1, self.snaps, fork=False)
        reg = self.registration()
        self.assertEqual(stat.S_IMODE(os.stat(reg).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(reg)).st_mode), 0o700)
        with open(reg) as f:
            rec = json.load(f)
        self.assertEqual(rec["pid"], os.getpid())
        self.assertEqual(rec["signal"], signal.SIGUSR1)
        self.assertEqual(rec["signal_name"], "SIGUSR1")
        self.assertEqual(rec["directory"], self.snaps)
        self.assertIs(rec["fork"], False)
        self.assertEqual(rec["python"], "%d.%d.%d" % sys.version_info[:3])
        self.assertIn("program", rec)
        asyncsnap.uninstall()
        self.assertFalse(os.path.exists(reg))
        self.assertEqual(os.listdir(os.path.dirname(reg)), [])

    def test_registration_refuses_a_directory_others_can_write(self):
        shared = os.path.join(self.runtime, "asyncsnap")
        os.mkdir(shared)
        os.chmod(shared, 0o777)
        r, w = os.pipe()
        saved = os.dup(2)
        os.dup2(w, 2)
        try:
            asyncsnap.install(signal.SIGUSR1, self.snaps, fork=False)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(w)
        with os.fdopen(r) as f:
            err = f.read()
        self.assertRegex(err, r"^asyncsnap: cannot register for `asyncsnap ps`: .*private")
        self.assertEqual(os.listdir(shared), [])
        self.signal_self()  # the handler works all the same
        self.assertEqual(len(snap_files(self.snaps)), 1)

    def test_uninstall_restores_the_previous_handler(self):
        seen = []
        previous = signal.signal(signal.SIGUSR1, lambda s, f: seen.append(s))
        self.addCleanup(signal.signal, signal.SIGUSR1, previous)
        mine = signal.getsignal(signal.SIGUSR1)
        asyncsnap.install(signal.SIGUSR1, self.snaps, fork=False)
        asyncsnap.install(signal.SIGUSR1, self.snaps, fork=False)  # again: still one
        self.signal_self()
        self.assertEqual(seen, [])  # replaced, not chained
        asyncsnap.uninstall()
        self.assertIs(signal.getsignal(signal.SIGUSR1), mine)
        self.signal_self()
        self.assertEqual(seen, [signal.SIGUSR1])
        self.assertEqual(len(snap_files(self.snaps)), 1)
        asyncsnap.uninstall()  # twice is harmless

    def test_install_on_another_signal_restores_the_first(self):
        before = signal.getsignal(signal.SIGUSR1)
        asyncsnap.install(signal.SIGUSR1, self.snaps, fork=False)
        asyncsnap.install(signal.SIGUSR2, self.snaps, fork=False)
        self.assertIs(signal.getsignal(signal.SIGUSR1), before)
        self.assertIs(signal.getsignal(signal.SIGUSR2), _trigger._on_signal)

    def test_bad_signals_are_refused(self):
        for bad in (signal.SIGKILL, signal.SIGSTOP, 0, 100000):
            with self.assertRaises(ValueError):
                asyncsnap.install(bad, self.snaps)
        with self.assertRaises(TypeError):
            asyncsnap.install("USR1", self.snaps)
        self.assertFalse(os.path.exists(self.registration()))

    def test_a_signal_during_a_snapshot_is_dropped_not_nested(self):
        asyncsnap.install(signal.SIGUSR1, self.snaps, fork=False)

        class SignalsWhenCollected:
            def __del__(self):
                os.kill(os.getpid(), signal.SIGUSR1)

        a, b = SignalsWhenCollected(), SignalsWhenCollected()
        a.other, b.other = b, a
        del a, b
        # the collection take() runs calls __del__, which signals while the
        # snapshot is in progress
        asyncsnap.take(self.path("t.snap"), collect=True, fsync=False)
        time.sleep(0.01)
        self.assertEqual(snap_files(self.snaps), [])
        self.assertGreaterEqual(_trigger._state.dropped, 1)
        self.signal_self()
        self.assertEqual(len(snap_files(self.snaps)), 1)

    def test_registration_is_removed_at_exit(self):
        script = textwrap.dedent("""
            import asyncsnap, os, sys
            asyncsnap.install(directory=sys.argv[1])
            print(os.getpid())
        """)
        env = dict(os.environ, XDG_RUNTIME_DIR=self.runtime)
        out = python("-c", script, self.snaps, env=env)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stderr, "")
        self.assertEqual(os.listdir(os.path.join(self.runtime, "asyncsnap")), [])

    def test_failure_from_a_signal_is_one_line_and_the_program_goes_on(self):
        script = self.path("selfsignal.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent("""
                import os, signal, time, asyncsnap
                os.kill(os.getpid(), signal.SIGUSR1)
                for _ in range(50):
                    time.sleep(0.002)
                while asyncsnap._children:
                    time.sleep(0.01)
                print("alive")
            """))
        missing = os.path.join(self.dir, "missing")
        env = dict(os.environ, XDG_RUNTIME_DIR=self.runtime)
        for mode in ([], ["--no-fork"]):
            with self.subTest(mode=mode):
                out = agent_run("--dir", missing, *mode, script, env=env)
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertEqual(out.stdout, "alive\n")
                lines = out.stderr.splitlines()
                self.assertEqual(len(lines), 1, out.stderr)
                self.assertRegex(lines[0], FAILED)
                self.assertIn("No such file or directory", lines[0])
        self.assertFalse(os.path.exists(missing))


class StormTest(TempDirTest):
    def test_signal_storm_leaves_the_process_alive_and_only_complete_files(self):
        snaps = self.path("snaps")
        runtime = self.path("run")
        os.mkdir(snaps)
        os.mkdir(runtime)
        env = dict(os.environ, XDG_RUNTIME_DIR=runtime)
        proc = subprocess.Popen(
            [sys.executable, "-m", "asyncsnap", "run", "--dir", snaps,
             os.path.join(FIXTURES, "signal_target.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            bufsize=0)  # unbuffered: readline() must not read ahead
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        ready = proc.stdout.readline().decode()
        self.assertRegex(ready, r"^ready %d$" % proc.pid)

        # the process is registered for `asyncsnap ps`
        ps = python("-m", "asyncsnap", "ps", "--json", env=env)
        self.assertEqual(ps.returncode, 0, ps.stderr)
        listed = json.loads(ps.stdout)
        self.assertEqual([r["pid"] for r in listed], [proc.pid])
        self.assertEqual(listed[0]["program"], "signal_target")
        self.assertEqual(listed[0]["directory"], snaps)
        # the same listing as the analyzer's `asyncsnap ps`: fields, columns
        cli = os.environ.get("ASYNCSNAP_CLI")
        if cli:
            theirs = json.loads(subprocess.run([cli, "ps", "--json"], env=env,
                                               capture_output=True, text=True).stdout)
            for mine in (listed, theirs):
                for r in mine:
                    r.pop("uptime")
            self.assertEqual(listed, theirs)
            text = python("-m", "asyncsnap", "ps", env=env).stdout.splitlines()
            self.assertEqual(text[0].split(), subprocess.run(
                [cli, "ps"], env=env, capture_output=True, text=True).stdout.split("\n")[0].split())

        for _ in range(100):
            os.kill(proc.pid, signal.SIGUSR1)
            time.sleep(0.01)
        self.assertIsNone(proc.poll())
        wait_no_children(proc.pid)  # every snapshot child done and reaped
        self.assertIsNone(proc.poll())
        out, err = proc.communicate(b"quit\n", timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(err.decode(), "")

        names = os.listdir(snaps)
        self.assertGreaterEqual(len(names), 1)
        self.assertEqual([n for n in names if n.endswith(".tmp") or n.startswith(".")], [])
        for n in names:
            self.assertRegex(n, r"^signal_target-%d-\d+\.snap$" % proc.pid)
            h = info(os.path.join(snaps, n))["header"]
            self.assertIs(h["fork"], True)
            self.assertEqual(h["pid"], proc.pid)
        # nothing the program printed came out twice
        lines = out.decode().splitlines()
        ticks = [line for line in lines if line.startswith("tick ")]
        self.assertEqual(len(ticks), len(set(ticks)))
        self.assertEqual(lines[-1], "ticks %d" % len(ticks))
        self.assertEqual(os.listdir(os.path.join(runtime, "asyncsnap")), [])

    def test_signal_storm_in_process(self):
        snaps = self.path("snaps")
        os.mkdir(snaps)
        env = dict(os.environ, XDG_RUNTIME_DIR=self.dir)
        proc = subprocess.Popen(
            [sys.executable, "-m", "asyncsnap", "run", "--no-fork", "--signal", "USR2",
             "--dir", snaps, os.path.join(FIXTURES, "signal_target.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
            bufsize=0)  # unbuffered: readline() must not read ahead
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self.assertRegex(proc.stdout.readline().decode(), r"^ready %d$" % proc.pid)
        for _ in range(100):
            os.kill(proc.pid, signal.SIGUSR2)
            time.sleep(0.01)
        self.assertIsNone(proc.poll())
        out, err = proc.communicate(b"quit\n", timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(err.decode(), "")
        names = os.listdir(snaps)
        self.assertGreaterEqual(len(names), 1)
        for n in names:
            self.assertRegex(n, r"^signal_target-%d-\d+\.snap$" % proc.pid)
            self.assertIs(info(os.path.join(snaps, n))["header"]["fork"], False)


class RunTest(TempDirTest):
    SHOW = textwrap.dedent("""
        import json, os, signal, sys
        handler = {s.name: signal.getsignal(s) for s in (signal.SIGUSR1, signal.SIGUSR2)}
        handler = {k: h.__module__ if callable(h) else str(h) for k, h in handler.items()}
        print(json.dumps({"argv": sys.argv, "name": __name__, "path0": sys.path[0],
                          "handler": handler,
                          "main": sys.modules["__main__"].__dict__ is globals()}))
    """)

    def setUp(self):
        super().setUp()
        self.env = dict(os.environ, XDG_RUNTIME_DIR=self.dir)

    def test_script_sees_its_own_argv(self):
        script = self.path("show.py")
        with open(script, "w") as f:
            f.write(self.SHOW)
        out = agent_run("--dir", self.dir, script, "a", "--b", "-m", "c", env=self.env)
        self.assertEqual(out.returncode, 0, out.stderr)
        seen = json.loads(out.stdout)
        self.assertEqual(seen["argv"], [script, "a", "--b", "-m", "c"])
        self.assertEqual(seen["name"], "__main__")
        self.assertTrue(seen["main"])
        self.assertEqual(seen["path0"], os.path.dirname(os.path.realpath(script)))
        self.assertEqual(seen["handler"],
                         {"SIGUSR1": "asyncsnap._trigger", "SIGUSR2": str(signal.SIG_DFL)})

    def test_module_sees_its_own_argv(self):
        os.mkdir(self.path("pkgdir"))
        with open(self.path("pkgdir/showmod.py"), "w") as f:
            f.write(self.SHOW)
        out = agent_run("--signal", "SIGUSR2", "-m", "showmod", "x", "--y", env=self.env,
                        cwd=self.path("pkgdir"))
        self.assertEqual(out.returncode, 0, out.stderr)
        seen = json.loads(out.stdout)
        self.assertEqual(seen["argv"], [self.path("pkgdir/showmod.py"), "x", "--y"])
        self.assertEqual(seen["name"], "__main__")
        self.assertTrue(seen["main"])
        self.assertEqual(seen["handler"],
                         {"SIGUSR1": str(signal.SIG_DFL), "SIGUSR2": "asyncsnap._trigger"})

    def test_snapshot_names_come_from_the_script(self):
        script = self.path("myapp.py")
        with open(script, "w") as f:
            f.write("import os, signal, time\n"
                    "os.kill(os.getpid(), signal.SIGUSR2)\n"
                    "time.sleep(0.05)\n"
                    "print(os.getpid())\n")
        out = agent_run("--no-fork", "--signal=12", "--dir=" + self.dir, script, env=self.env)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(snap_files(self.dir), ["myapp-%s-1.snap" % out.stdout.strip()])
        h = info(self.path(snap_files(self.dir)[0]))["header"]
        self.assertEqual(h["program"], "myapp")

    def test_exit_status_and_traceback_are_the_programs(self):
        script = self.path("fails.py")
        with open(script, "w") as f:
            f.write("import sys\nif sys.argv[1] == 'exit':\n    sys.exit(3)\n"
                    "def boom():\n    raise ValueError('boom')\nboom()\n")
        out = agent_run(script, "exit", env=self.env)
        self.assertEqual(out.returncode, 3)
        out = agent_run(script, "raise", env=self.env)
        self.assertEqual(out.returncode, 1)
        self.assertIn("ValueError: boom", out.stderr)
        frames = re.findall(r'File "([^"]+)"', out.stderr)
        self.assertEqual(frames, [script, script], out.stderr)

    def test_usage(self):
        cases = [
            ([], 2, r"usage: python -m asyncsnap run"),
            (["run"], 2, r"no script to run"),
            (["run", "--dir"], 2, r"--dir needs a value"),
            (["run", "--signal", "NOPE", "x.py"], 2, r"unknown signal 'NOPE'"),
            (["run", "--signal", "KILL", "x.py"], 2, r"cannot be caught"),
            (["run", "--signal", "0", "x.py"], 2, r"not a valid signal"),
            (["run", "--bogus", "x.py"], 2, r"unknown option '--bogus'"),
            (["run", "-m"], 2, r"-m needs a module name"),
            (["run", self.path("nonexistent.py")], 2, r"can't open file"),
            (["run", "-m", "asnap_no_such_module"], 1, r"No module named asnap_no_such_module"),
            (["frobnicate"], 2, r"unknown command 'frobnicate'"),
            (["ps", "--nope"], 2, r"unknown argument"),
        ]
        for args, code, message in cases:
            with self.subTest(args=args):
                out = python("-m", "asyncsnap", *args, env=self.env)
                self.assertEqual(out.returncode, code, out.stderr)
                self.assertRegex(out.stderr, message)
                self.assertEqual(out.stdout, "")
        for args, text in ((["--help"], "commands:"), (["run", "--help"], "--no-fork"),
                           (["run", "--dir", "x", "-h"], "--signal SIG"),
                           (["ps", "--help"], "registration"), (["--version"], "asyncsnap ")):
            with self.subTest(args=args):
                out = python("-m", "asyncsnap", *args, env=self.env)
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertIn(text, out.stdout)
        self.assertEqual(os.listdir(self.dir), [])

    def test_signal_names(self):
        from asyncsnap.__main__ import UsageError, parse_signal
        for text, num in (("USR1", signal.SIGUSR1), ("SIGUSR2", signal.SIGUSR2),
                          ("usr1", signal.SIGUSR1), ("10", 10), ("HUP", signal.SIGHUP),
                          ("RTMIN+2", signal.SIGRTMIN + 2), ("SIGRTMAX", signal.SIGRTMAX)):
            self.assertEqual(parse_signal(text), num, text)
        for bad in ("", "USR3", "-1", "SIGKILL", "STOP", "99999"):
            with self.assertRaises(UsageError, msg=bad):
                parse_signal(bad)


class SecretsTest(TempDirTest):
    def test_argv_and_environment_values_never_reach_a_snapshot(self):
        argv_secret = "argv-" + os.urandom(8).hex() + "-s3cr3t"
        env_secret = "env-" + os.urandom(8).hex() + "-s3cr3t"
        script = self.path("holds_secrets.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent("""
                import os, signal, sys, time, asyncsnap
                kept = {"password": sys.argv[2], "token": os.environ["ASNAP_TEST_TOKEN"]}
                os.kill(os.getpid(), signal.SIGUSR1)
                for _ in range(50):
                    time.sleep(0.002)
                asyncsnap.take(os.path.join(sys.argv[1], "explicit.snap"))
                asyncsnap.take(os.path.join(sys.argv[1], "forked.snap"), fork=True)
                while asyncsnap._children:
                    time.sleep(0.01)
            """))
        env = dict(os.environ, XDG_RUNTIME_DIR=self.dir, ASNAP_TEST_TOKEN=env_secret)
        out = agent_run("--dir", self.dir, "--no-fork", script, self.dir, argv_secret, env=env)
        self.assertEqual(out.returncode, 0, out.stderr)
        names = snap_files(self.dir)
        self.assertEqual(len(names), 3, names)
        for n in names:
            body = zstd_decompress(self.path(n))
            self.assertNotIn(argv_secret.encode(), body, n)
            self.assertNotIn(env_secret.encode(), body, n)
            h = info(self.path(n))["header"]
            self.assertEqual(h["argv"], [script, "<redacted>", "<redacted>"])
            self.assertEqual(list(h["environ"]), ["count"])


class LeakTest(TempDirTest):
    @skip_if_sanitized
    def test_a_thousand_snapshots_leak_no_objects_and_no_memory(self):
        script = textwrap.dedent("""
            import gc, json, sys, asyncsnap
            path = sys.argv[1]
            def rss():
                with open("/proc/self/statm") as f:
                    return int(f.read().split()[1]) * 4096
            for _ in range(50):
                asyncsnap.take(path, fsync=False)
            rss()  # its first call caches a codec: not the agent's
            gc.collect()
            objects, mem = len(gc.get_objects()), rss()
            for _ in range(1000):
                asyncsnap.take(path, fsync=False)
            gc.collect()
            print(json.dumps({"objects": len(gc.get_objects()) - objects, "rss": rss() - mem}))
        """)
        out = python("-S", "-c", script, self.path("l.snap"))
        self.assertEqual(out.returncode, 0, out.stderr)
        grown = json.loads(out.stdout)
        self.assertLessEqual(grown["objects"], 5, grown)
        self.assertLess(grown["rss"], 4 << 20, grown)
        self.assertEqual(os.listdir(self.dir), ["l.snap"])


if __name__ == "__main__":
    unittest.main()
