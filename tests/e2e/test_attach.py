"""`asyncsnap take --attach PID` on processes that never loaded the agent:
the real leaky_server run by a plain python (no agent on its path), which
keeps answering while it is attached and after; what the attach leaves in
the target (sys.path, sys.modules, __main__); an idle target (woken: its
main thread is parked in epoll_wait without the GIL) and one blocked in C
with the GIL (a clear timeout, and nothing written later); `ps --all`;
and every refusal, each with the target left as it was.

Under CPython 3.9-3.13 the attach goes through gdb, under 3.14+ through
sys.remote_exec; the tests run under the interpreter of the build (each
build-py/3.X of scripts/test.sh, and the sid root's 3.14/3.15)."""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

from e2e import PROGRAMS, cli, findings, run
from test_live import LiveTest, request

SERVER = os.path.join(PROGRAMS, "leaky_server.py")
NOBODY = 65534
REMOTE = sys.version_info >= (3, 14)  # sys.remote_exec, not gdb


def can_trace_children():
    """Why this machine cannot ptrace a child of ours, or None."""
    p = subprocess.Popen(["sleep", "30"])
    try:
        try:
            os.close(os.open("/proc/%d/mem" % p.pid, os.O_RDONLY))
        except OSError as e:
            return "ptrace is not permitted here: %s" % e
    finally:
        p.kill()
        p.wait()
    return None


def pyenv_pythons():
    """{(3, minor): interpreter} of the pyenv versions installed."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = {}
    for d in sorted(glob.glob(os.path.join(root, "versions", "*"))):
        name = os.path.basename(d).split(".")
        exe = os.path.join(d, "bin", "python3" if name[0] == "3" else "python")
        if len(name) >= 2 and name[0].isdigit() and name[1].isdigit() and os.access(exe, os.X_OK):
            found[(int(name[0]), int(name[1]))] = exe
    return found


class AttachTest(LiveTest):
    def setUp(self):
        super().setUp()
        why = can_trace_children()
        if why:
            print("SKIP: %s" % why, file=sys.stderr)
            self.skipTest(why)
        if not REMOTE and not shutil.which("gdb"):
            self.fail("gdb is not installed (scripts/setup.sh installs it)")
        # the agent the command falls back on must load in this Python (a
        # 3.14/3.15 agent may not be ported yet): else skip, and say why
        probe = subprocess.run([self.python, "-c", "import asyncsnap"], env=self.env,
                               capture_output=True, text=True)
        if probe.returncode != 0:
            why = "no agent for Python %d.%d here: %s" % (
                sys.version_info[:2] + (probe.stderr.strip().splitlines()[-1:] or ["?"],))
            print("SKIP: %s" % why, file=sys.stderr)
            self.skipTest(why)
        # the targets run without the agent on their path
        self.plain_env = {k: v for k, v in self.env.items() if k != "PYTHONPATH"}

    def target(self, *cmd, env=None, ready="listening "):
        """Start cmd (the program's first line starts with ready); the
        Popen and that line."""
        p = subprocess.Popen(list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=env if env is not None else self.plain_env, cwd=self.dir)
        self.addCleanup(self.stop, p)
        line = p.stdout.readline()
        if not line.startswith(ready):
            p.kill()
            self.fail("the target did not start: %r %s" % (line, p.stderr.read()))
        return p, line

    def program(self, name, source):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(source)
        return path

    def attach(self, pid, *args, timeout=120, env=None):
        return subprocess.run([cli(), "take", "--attach", str(pid), *args], capture_output=True,
                              text=True, env=env or self.env, cwd=self.dir, timeout=timeout)

    def attach_ok(self, pid, *args):
        t = self.attach(pid, *args)
        self.assertEqual(t.returncode, 0, t.stderr)
        self.assertEqual(t.stderr, "")
        path = t.stdout.strip()
        return path if os.path.isabs(path) else os.path.join(self.dir, path)

    def assertNothingLeft(self):
        """No attach directory left in the private runtime directory."""
        runtime = os.path.join(self.path("run"), "asyncsnap")
        left = os.listdir(runtime) if os.path.isdir(runtime) else []
        self.assertEqual([n for n in left if n.startswith("attach-")], [])


class ServerAttachTest(AttachTest):
    def test_plain_server_snapshot_finds_orphaned_tasks_and_it_keeps_serving(self):
        p, line = self.target(self.python, SERVER)
        port = int(line.split()[1])
        for i in range(5):
            self.assertEqual(len(request(port, 10, "before%d" % i)), 10)

        # a client that keeps asking during the attach: its worst latency
        latencies, stop, errors = [], threading.Event(), []

        def client():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                    f = s.makefile("rwb")
                    while not stop.is_set():
                        t0 = time.monotonic()
                        f.write(b"probe\n")
                        f.flush()
                        if f.readline() != b"ok probe\n":
                            raise AssertionError("bad reply")
                        latencies.append(time.monotonic() - t0)
                        time.sleep(0.002)
            except Exception as e:  # reported below
                errors.append(e)

        th = threading.Thread(target=client, daemon=True)
        th.start()
        time.sleep(0.3)
        before = len(latencies)
        t0 = time.monotonic()
        snap = self.attach_ok(p.pid, "-o", self.path("attached.snap"))
        took = time.monotonic() - t0
        time.sleep(0.3)
        stop.set()
        th.join(30)
        self.assertEqual(errors, [])
        self.assertGreater(len(latencies), before)
        worst = max(latencies[before:])
        print("\nattach (%s): %.0f ms for the command; worst client latency during it "
              "%.1f ms (%d requests)" % ("sys.remote_exec" if REMOTE else "gdb", took * 1e3,
                                          worst * 1e3, len(latencies) - before),
              file=sys.stderr)
        self.assertEqual(snap, self.path("attached.snap"))
        self.assertEqual(os.stat(snap).st_mode & 0o777, 0o600)

        tasks = run("tasks", "--json", snap)
        self.assertEqual(tasks.returncode, 0, tasks.stderr)
        self.assertIn("Auditor.record", tasks.stdout)
        status, found = findings(snap)
        self.assertEqual(status, 1)
        f = next((f for f in found if f["check"] == "pending-task"
                  and f["group"] == "Auditor.record"), None)
        self.assertIsNotNone(f, json.dumps(found, indent=1)[:3000])
        self.assertGreaterEqual(f["count"], 50)

        # it answers 100 requests afterwards, and exits as it would have
        self.assertEqual(request(port, 100, "after"),
                         [b"ok after-%d\n" % i for i in range(100)])
        self.assertNothingLeft()
        p.stdin.write("quit\n")
        p.stdin.flush()
        self.assertEqual(p.wait(timeout=60), 0, p.stderr.read())
        self.assertIn("served", p.stdout.read())


STATE = r'''
import asyncio, json, os, sys, threading

def state():
    main = sys.modules["__main__"].__dict__
    return {"path": list(sys.path), "modules": sorted(sys.modules),
            "main": sorted(main), "main_ids": sorted(id(v) for v in main.values()),
            "threads": [t.name for t in threading.enumerate()],
            "gc_enabled": __import__("gc").isenabled()}

async def tick():
    # never idle for long: sys.remote_exec (3.14+) has no wake for a loop
    # asleep in epoll_wait (IdleTest has the gdb route's)
    while True:
        await asyncio.sleep(0.05)

async def serve():
    loop = asyncio.get_running_loop()
    ticker = asyncio.ensure_future(tick())
    print("listening 0", flush=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "quit":
            return
        print(json.dumps(state()), flush=True)

asyncio.run(serve())
'''


class StateTest(AttachTest):
    def ask(self, p):
        p.stdin.write("state\n")
        p.stdin.flush()
        return json.loads(p.stdout.readline())

    def test_what_the_attach_leaves_in_the_target(self):
        prog = self.program("state.py", STATE)
        p, _ = self.target(self.python, prog)
        before = self.ask(p)
        first = self.attach_ok(p.pid)
        self.assertEqual(os.path.basename(first), "state-%d-1.snap" % p.pid)
        time.sleep(0.5)  # the fork-mode child's reaper thread ends with it
        after = self.ask(p)
        # sys.path and __main__ exactly as they were
        self.assertEqual(after["path"], before["path"])
        self.assertEqual(after["main"], before["main"])
        self.assertEqual(after["main_ids"], before["main_ids"])
        # no thread of ours (the executor may have started a worker more)
        self.assertEqual([t for t in after["threads"] if not t.startswith("asyncio_")],
                         [t for t in before["threads"] if not t.startswith("asyncio_")])
        self.assertTrue(after["gc_enabled"])
        # the agent stays imported (documented), with the standard library
        # modules it uses, and nothing else
        added = sorted(set(after["modules"]) - set(before["modules"]))
        self.assertIn("asyncsnap", added)
        self.assertFalse(set(before["modules"]) - set(after["modules"]))
        stdlib = set(getattr(sys, "stdlib_module_names", ()))
        for name in added:
            top = name.partition(".")[0]
            if top == "asyncsnap":
                continue
            if stdlib:
                self.assertIn(top.lstrip("_"), stdlib | {s.lstrip("_") for s in stdlib},
                              "%s is not the agent's nor the standard library's" % name)
        self.assertNothingLeft()
        # again: the agent already there is used, the sequence goes on
        second = self.attach_ok(p.pid, "--no-fork")
        self.assertEqual(os.path.basename(second), "state-%d-2.snap" % p.pid)
        self.assertEqual(self.ask(p)["modules"], after["modules"])
        info = run("info", "--json", second)
        self.assertEqual(info.returncode, 0, info.stderr)
        self.assertEqual(json.loads(info.stdout)["header"]["pid"], p.pid)
        # a file of the name it would get is never overwritten
        mine = self.path("state-%d-3.snap" % p.pid)
        with open(mine, "w") as f:
            f.write("mine")
        third = self.attach(p.pid)
        self.assertTakeFails(third, "exists already", "-o")
        with open(mine) as f:
            self.assertEqual(f.read(), "mine")
        self.assertNothingLeft()
        p.stdin.write("quit\n")
        p.stdin.flush()
        self.assertEqual(p.wait(timeout=30), 0, p.stderr.read())
        self.assertEqual(p.stderr.read(), "")


IDLE = r'''
import asyncio
async def main():
    srv = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    print("listening %d" % srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
'''

BLOCKED = r'''
import sys, time
# the main thread in C, with the GIL, for about argv[1] seconds: one big
# power (a single bytecode: no eval-breaker check until it is done), its
# size measured here (the time grows as n ** 1.58)
t = time.monotonic()
x = 3 ** 1000000
n = int(1000000 * (float(sys.argv[1]) / max(time.monotonic() - t, 1e-3)) ** (1 / 1.58))
print("listening 0", flush=True)
sys.stdin.readline()
t = time.monotonic()
x = 3 ** n
print("done %.1f" % (time.monotonic() - t), flush=True)
sys.stdin.readline()
'''


class IdleTest(AttachTest):
    @unittest.skipIf(REMOTE, "the wake of a parked main thread is the gdb route's")
    def test_idle_loop_is_woken_where_it_is_parked(self):
        prog = self.program("idle.py", IDLE)
        p, _ = self.target(self.python, prog)
        time.sleep(0.3)
        t0 = time.monotonic()
        snap = self.attach_ok(p.pid, "--timeout", "20")
        self.assertLess(time.monotonic() - t0, 10)
        tasks = run("tasks", snap)
        self.assertEqual(tasks.returncode, 0, tasks.stderr)
        self.assertIn("main", tasks.stdout)
        self.assertIsNone(p.poll())

    @unittest.skipUnless(REMOTE, "the gdb route wakes an idle loop (the test above)")
    def test_idle_loop_times_out_and_a_late_run_writes_nothing(self):
        prog = self.program("idle.py", IDLE)
        p, line = self.target(self.python, prog)
        time.sleep(0.3)
        t0 = time.monotonic()
        t = self.attach(p.pid, "--timeout", "2")
        self.assertTakeFails(t, "has run no Python code", "the request is withdrawn")
        self.assertLess(time.monotonic() - t0, 2 + 3)
        # a connection wakes the loop: the remote script runs, finds no
        # request, removes itself
        socket.create_connection(("127.0.0.1", int(line.split()[1]))).close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            runtime = os.path.join(self.path("run"), "asyncsnap")
            if not [n for n in os.listdir(runtime) if n.startswith("attach-")]:
                break
            time.sleep(0.05)
        self.assertNothingLeft()
        p.kill()
        p.wait()
        self.assertEqual(p.stderr.read(), "")
        self.assertEqual([n for n in os.listdir(self.dir) if n.endswith(".snap")], [])

    @unittest.skipIf(REMOTE, "3.14+ runs the remote script from PyErr_CheckSignals too, which "
                     "long computations in C call")
    def test_blocked_in_c_with_the_gil_times_out_and_writes_nothing_later(self):
        prog = self.program("blocked.py", BLOCKED)
        p, _ = self.target(self.python, prog, "10")
        p.stdin.write("go\n")
        p.stdin.flush()
        time.sleep(0.3)
        t0 = time.monotonic()
        # 4 s: gdb alone takes up to 3 s to attach under the sanitizers on
        # a busy machine; the target stays in C for 10
        t = self.attach(p.pid, "--timeout", "4")
        took = time.monotonic() - t0
        self.assertTakeFails(t, "has run no Python code", "the request is withdrawn")
        self.assertLess(took, 4 + 3)
        # when it gets back to Python, the late payload finds no request
        line = p.stdout.readline()
        self.assertTrue(line.startswith("done"), line)
        self.assertGreater(float(line.split()[1]), 2, "not blocked for the whole --timeout")
        time.sleep(0.5)
        p.stdin.write("end\n")
        p.stdin.flush()
        self.assertEqual(p.wait(timeout=30), 0)
        self.assertEqual(p.stderr.read(), "")
        self.assertEqual([n for n in os.listdir(self.dir) if n.endswith(".snap")], [])
        self.assertNothingLeft()


# The main thread inside a garbage collection until FLAG exists: a __del__
# the collector calls, where the attach's code runs (the main thread's
# only Python code then).
IN_COLLECTION = textwrap.dedent(r"""
    import gc, os, sys, time
    FLAG = sys.argv[1]
    class Held:
        def __del__(self):
            while not os.path.exists(FLAG):
                time.sleep(0.01)
    print("listening 0", flush=True)
    c = Held()
    c.me = c
    del c
    gc.collect()
    print("collected", flush=True)
    while True:
        time.sleep(0.05)
""")

LOOP = textwrap.dedent(r"""
    import time
    print("listening 0", flush=True)
    while True:
        time.sleep(0.01)
""")


class WhereItRunsTest(AttachTest):
    def test_inside_a_garbage_collection_it_waits_for_the_end(self):
        # no walk can start inside a collection: a thread of the attach
        # takes the snapshot once it is over (it failed: "a garbage
        # collection is in progress")
        flag = self.path("flag")
        p, _ = self.target(self.python, self.program("held.py", IN_COLLECTION), flag)
        time.sleep(0.3)
        timer = threading.Timer(1.5, lambda: open(flag, "w").close())
        timer.start()
        self.addCleanup(timer.cancel)
        snap = self.attach_ok(p.pid, "--timeout", "30")
        self.assertEqual(p.stdout.readline(), "collected\n")
        self.assertEqual(run("info", snap).returncode, 0)
        self.assertIsNone(p.poll())
        self.assertNothingLeft()

    def test_a_directory_named_asyncsnap_beside_the_script_is_not_the_agent(self):
        # (where a user keeps snapshots, say): on sys.path it is a namespace
        # package named asyncsnap, which the attach took for the agent
        os.mkdir(self.path("asyncsnap"))
        p, _ = self.target(self.python, self.program("loop.py", LOOP))
        snap = self.attach_ok(p.pid, "--timeout", "30")
        self.assertEqual(run("info", snap).returncode, 0)
        self.assertIsNone(p.poll())


class PsAllTest(AttachTest):
    def test_ps_all_lists_pythons_with_and_without_the_agent(self):
        prog = self.program("state.py", STATE)
        plain, _ = self.target(self.python, prog)
        with_agent, _ = self.target(cli(), "run", "--dir", self.path("snaps"), "--",
                                    self.python, prog, env=self.env)
        rows = {r["pid"]: r for r in json.loads(self.asnap("ps", "--all", "--json").stdout)}
        version = "%d.%d" % sys.version_info[:2]
        self.assertEqual(rows[plain.pid]["python"], version)
        self.assertEqual(rows[plain.pid]["agent"], "no")
        self.assertIn(prog, rows[plain.pid]["program"])
        self.assertEqual(rows[with_agent.pid]["agent"], "signal")
        self.attach_ok(plain.pid)
        rows = {r["pid"]: r for r in json.loads(self.asnap("ps", "--all", "--json").stdout)}
        self.assertEqual(rows[plain.pid]["agent"], "imported")
        text = self.asnap("ps", "--all").stdout.splitlines()
        self.assertEqual(text[0].split(), ["PID", "PYTHON", "AGENT", "PROGRAM"])
        # the package's entry point lists the same (it runs the command)
        py = subprocess.run([self.python, "-m", "asyncsnap", "ps", "--all", "--json"],
                            env=dict(self.env, ASYNCSNAP_CLI=cli()), capture_output=True,
                            text=True, timeout=60)
        self.assertEqual(py.returncode, 0, py.stderr)
        same = {r["pid"]: r for r in json.loads(py.stdout)}
        for pid in (plain.pid, with_agent.pid):
            self.assertEqual(same[pid], rows[pid])
        # --attach on a process that has the agent: its signal
        snap = self.attach_ok(with_agent.pid)
        self.assertEqual(os.path.dirname(snap), self.path("snaps"))


class RefusalTest(AttachTest):
    """Each refusal: one line, exit 2, and the target as it was."""

    def assertUntouched(self, p):
        with open("/proc/%d/maps" % p.pid) as f:
            self.assertNotIn("asyncsnap", f.read())
        self.assertIsNone(p.poll())
        self.assertNothingLeft()

    def test_not_a_cpython(self):
        p = subprocess.Popen(["sleep", "60"])
        self.addCleanup(self.stop, p)
        time.sleep(0.1)
        self.assertTakeFails(self.attach(p.pid), str(p.pid), "not a CPython process")

    def test_unsupported_version(self):
        old = [exe for v, exe in pyenv_pythons().items() if v < (3, 9)]
        if not old:
            self.skipTest("no Python older than 3.9 in pyenv")
        p, _ = self.target(old[-1], "-c", "import sys; print('listening 0'); sys.stdout.flush(); "
                           "sys.stdin.readline()")
        self.assertTakeFails(self.attach(p.pid), "which asyncsnap does not support",
                             "CPython 3.9 to 3.15")
        self.assertUntouched(p)

    def test_no_agent_for_that_python(self):
        mine = sys.version_info[:2]
        other = [exe for v, exe in pyenv_pythons().items() if (3, 9) <= v <= (3, 13) and v != mine]
        if not other:
            self.skipTest("no other CPython 3.9-3.13 in pyenv")
        p, _ = self.target(other[0], "-c", "import sys; print('listening 0'); sys.stdout.flush(); "
                           "sys.stdin.readline()")
        self.assertTakeFails(self.attach(p.pid), "no asyncsnap agent for its Python",
                             "built for %d.%d" % mine, "meson setup -Dpython=")
        self.assertUntouched(p)

    def test_ptrace_not_permitted_for_another_users_process(self):
        if os.getuid() != 0:
            self.skipTest("needs root, to act as a second user")
        p, _ = self.target(self.python, self.program("idle.py", IDLE))

        def as_nobody():
            os.setgid(NOBODY)
            os.setuid(NOBODY)

        env = dict(self.env, XDG_RUNTIME_DIR="")
        t = subprocess.run([cli(), "take", "--attach", str(p.pid)], capture_output=True,
                           text=True, env=env, cwd="/", preexec_fn=as_nobody, timeout=60)
        self.assertTakeFails(t, "ptrace is not permitted", "another user's process")
        self.assertUntouched(p)

    @unittest.skipIf(REMOTE, "3.14+ attaches with sys.remote_exec, not gdb")
    def test_gdb_missing(self):
        p, _ = self.target(self.python, self.program("idle.py", IDLE))
        env = dict(self.env, PATH=self.path("empty"))
        os.mkdir(self.path("empty"))
        self.assertTakeFails(self.attach(p.pid, env=env), "gdb is not installed",
                             "apt-get install gdb")
        self.assertUntouched(p)

    def test_remote_debugging_disabled(self):
        py314 = self.python if REMOTE else shutil.which("python3.14")
        if not py314:
            why = "no CPython 3.14+ here (remote debugging is a 3.14 feature)"
            print("SKIP: %s" % why, file=sys.stderr)
            self.skipTest(why)
        code = "import sys; print('listening 0'); sys.stdout.flush(); sys.stdin.readline()"
        p, _ = self.target(py314, "-X", "disable_remote_debug", "-c", code)
        self.assertTakeFails(self.attach(p.pid), "remote debugging is disabled",
                             "-X disable_remote_debug")
        self.assertUntouched(p)
        q, _ = self.target(py314, "-c", code,
                           env=dict(self.plain_env, PYTHON_DISABLE_REMOTE_DEBUG="1"))
        self.assertTakeFails(self.attach(q.pid), "remote debugging is disabled",
                             "PYTHON_DISABLE_REMOTE_DEBUG")
        self.assertUntouched(q)

    def test_already_traced(self):
        if REMOTE:
            self.skipTest("the tracer here is gdb")
        p, _ = self.target(self.python, self.program("idle.py", IDLE))
        # a debugger that stays attached for a while
        # (without the sanitizer runtimes the suite may preload: gdb hangs
        # with them)
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        g = subprocess.Popen(["gdb", "-nx", "-batch", "-p", str(p.pid), "-ex", "shell sleep 30"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.addCleanup(self.stop, g)
        deadline = time.monotonic() + 20
        while True:
            with open("/proc/%d/status" % p.pid) as f:
                if "TracerPid:\t0\n" not in f.read():
                    break
            self.assertLess(time.monotonic(), deadline, "gdb did not attach to the target")
            time.sleep(0.05)
        self.assertTakeFails(self.attach(p.pid), "already being traced by process")

    def test_no_such_process_and_bad_options(self):
        q = subprocess.Popen([self.python, "-c", "pass"])
        q.wait()
        self.assertTakeFails(self.attach(q.pid), "no such process")
        t = self.asnap("take", "--no-fork", "1")
        self.assertEqual(t.returncode, 2)
        self.assertIn("--no-fork goes with --attach", t.stderr)


if __name__ == "__main__":
    unittest.main()
