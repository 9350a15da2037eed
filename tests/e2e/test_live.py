"""Live processes: `asyncsnap run` starts a real asyncio server on
127.0.0.1 with the agent and no change to it, `ps` lists it, `take`
snapshots it three times while a bounded client load runs, and `leaks` on
the three files finds the task leaked per request, with its coroutine and
site. Every way `take` can fail has a test, and so does `run`'s plumbing
(exit status, signals, a program's own sitecustomize)."""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import unittest

from e2e import PROGRAMS, TempDirTest, agent_python, cli, findings, run

SERVER = os.path.join(PROGRAMS, "leaky_server.py")


def start_time_ticks(pid):
    with open("/proc/%d/stat" % pid, "rb") as f:
        s = f.read()
    return int(s[s.rindex(b")") + 2:].split()[19])


class LiveTest(TempDirTest):
    def setUp(self):
        super().setUp()
        python, env = agent_python()
        self.python = python
        self.env = dict(env, XDG_RUNTIME_DIR=self.path("run"))
        os.mkdir(self.path("run"))
        os.mkdir(self.path("snaps"))

    def asnap(self, *args, timeout=120):
        return subprocess.run([cli(), *args], capture_output=True, text=True, env=self.env,
                              timeout=timeout)

    def start(self, *cmd, stdin=subprocess.PIPE):
        p = subprocess.Popen([cli(), *cmd], stdin=stdin, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.env)
        self.addCleanup(self.stop, p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.kill()
        p.wait()
        for f in (p.stdin, p.stdout, p.stderr):
            if f:
                f.close()

    def start_server(self, *extra):
        p = self.start("run", "--dir", self.path("snaps"), "--", self.python, SERVER, *extra)
        line = p.stdout.readline()
        if not line.startswith("listening "):
            p.kill()
            self.fail("the server did not start: %r %s" % (line, p.stderr.read()))
        return p, int(line.split()[1])

    def take(self, p, *args):
        t = self.asnap("take", str(p.pid), *args)
        if t.returncode != 0:
            p.kill()
            self.fail("take failed: %s\nthe process said: %s" % (t.stderr, p.stderr.read()))
        return t.stdout.strip()

    def registration(self, pid):
        return os.path.join(self.path("run"), "asyncsnap", "%d.json" % pid)

    def assertTakeFails(self, proc, *words):
        self.assertEqual(proc.returncode, 2, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertTrue(lines[0].startswith("asyncsnap: cannot take a snapshot of process "),
                        lines[0])
        for w in words:
            self.assertIn(w, lines[0])
        self.assertEqual(proc.stdout, "")


def request(port, n, tag):
    """n requests on one connection; their replies."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rwb")
        replies = []
        for i in range(n):
            f.write(b"%s-%d\n" % (tag.encode(), i))
            f.flush()
            replies.append(f.readline())
        return replies


class Load(threading.Thread):
    """A bounded client load: connections of a few requests each, until
    stopped or `limit` requests are served."""

    def __init__(self, port, limit=400):
        super().__init__(daemon=True)
        self.port, self.limit, self.done, self.error = port, limit, 0, None
        self.halt = threading.Event()

    def run(self):
        try:
            while not self.halt.is_set() and self.done < self.limit:
                replies = request(self.port, 5, "load")
                assert all(r.startswith(b"ok load-") for r in replies), replies
                self.done += len(replies)
                time.sleep(0.002)
        except Exception as e:  # reported by the test
            self.error = e

    def wait_for(self, n, timeout=60):
        deadline = time.monotonic() + timeout
        while self.done < n and self.error is None and self.is_alive():
            if time.monotonic() > deadline:
                raise AssertionError("load: %d requests after %ds" % (self.done, timeout))
            time.sleep(0.01)


class ServerTest(LiveTest):
    def test_run_ps_take_three_times_then_leaks_finds_the_task_per_request(self):
        p, port = self.start_server()
        ps = json.loads(self.asnap("ps", "--json").stdout)
        self.assertEqual([r["pid"] for r in ps], [p.pid])  # exec: the same pid
        self.assertEqual(ps[0]["program"], "leaky_server")
        self.assertEqual(ps[0]["python"], "%d.%d.%d" % sys.version_info[:3])
        self.assertEqual(ps[0]["directory"], self.path("snaps"))
        self.assertEqual(ps[0]["signal_name"], "SIGUSR1")
        self.assertGreaterEqual(ps[0]["uptime"], 0)
        text = self.asnap("ps").stdout.splitlines()
        self.assertEqual(text[0].split(), ["PID", "PROGRAM", "PYTHON", "UPTIME", "SIGNAL",
                                           "DIRECTORY"])
        self.assertEqual(text[1].split()[:2], [str(p.pid), "leaky_server"])

        load = Load(port)
        load.start()
        self.addCleanup(load.join)
        self.addCleanup(load.halt.set)
        paths = []
        for i in range(3):
            load.wait_for(40 * (i + 1))
            path = self.take(p, "--timeout", "60")
            self.assertEqual(os.path.dirname(path), self.path("snaps"))
            self.assertRegex(os.path.basename(path), r"^leaky_server-%d-%d\.snap$" % (p.pid, i + 1))
            paths.append(path)
        load.halt.set()
        load.join()
        self.assertIsNone(load.error)
        # only complete files, never a temporary one
        self.assertEqual(sorted(os.listdir(self.path("snaps"))),
                         sorted(os.path.basename(x) for x in paths))

        status, found = findings(*paths)
        self.assertEqual(status, 1)
        f = next((f for f in found if f["check"] == "pending-task"
                  and f["group"] == "Auditor.record"), None)
        self.assertIsNotNone(f, json.dumps(found, indent=1)[:3000])
        self.assertGreaterEqual(f["count"], 40)
        for o in f["objects"]:
            self.assertEqual(o["qualname"], "Auditor.record")
            self.assertTrue(o["site"].startswith(SERVER + ":"), o["site"])

        p.stdin.write("quit\n")
        p.stdin.flush()
        self.assertEqual(p.wait(timeout=60), 0)  # the program's exit status
        self.assertIn("served", p.stdout.read())
        self.assertFalse(os.path.exists(self.registration(p.pid)))
        self.assertEqual(json.loads(self.asnap("ps", "--json").stdout), [])

    def test_fixed_twin_has_no_finding(self):
        p, port = self.start_server("--fixed")
        paths = []
        for i in range(3):
            self.assertEqual(len(request(port, 20, "r%d" % i)), 20)
            path = self.take(p, "-o", self.path("fixed-%d.snap" % i), "--timeout", "20")
            self.assertEqual(path, self.path("fixed-%d.snap" % i))
            paths.append(path)
        self.assertEqual(os.listdir(self.path("snaps")), [])  # moved by -o
        status, found = findings(*paths)
        self.assertEqual((status, found), (0, []), json.dumps(found, indent=1)[:3000])
        p.stdin.close()
        self.assertEqual(p.wait(timeout=60), 0)


    def test_take_into_a_fifo_a_device_and_a_link(self):
        # -o naming what is not a regular file is written into, never
        # renamed over (as root, a rename over /dev/null replaced it)
        p, port = self.start_server("--fixed")
        fifo, link, target = self.path("snap.fifo"), self.path("link.snap"), self.path("t.snap")
        os.mkfifo(fifo)
        os.symlink("t.snap", link)
        got = {}
        reader = threading.Thread(target=lambda: got.update(data=open(fifo, "rb").read()),
                                  daemon=True)
        reader.start()
        self.assertEqual(self.take(p, "-o", fifo, "--timeout", "20"), fifo)
        reader.join(60)
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        copy = self.path("copy.snap")
        with open(copy, "wb") as f:
            f.write(got.get("data", b""))
        self.assertEqual(run("info", copy).returncode, 0)
        for _ in range(2):  # a link to nothing, then to the snapshot taken
            self.assertEqual(self.take(p, "-o", link, "--timeout", "20"), link)
            self.assertTrue(os.path.islink(link))
            self.assertEqual(run("info", target).returncode, 0)
        if os.geteuid() == 0:
            null = self.path("null")  # what /dev/null is, made here
            os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            self.assertEqual(self.take(p, "-o", null, "--timeout", "20"), null)
            self.assertTrue(stat.S_ISCHR(os.lstat(null).st_mode))
        else:
            print("\n(take into a device node skipped: making one needs root)", file=sys.stderr)
        self.assertEqual(os.listdir(self.path("snaps")), [])  # nothing left behind
        p.stdin.close()
        self.assertEqual(p.wait(timeout=60), 0)


class TakeFailsTest(LiveTest):
    def sleeper(self, **kw):
        p = subprocess.Popen(["sleep", "60"], **kw)
        self.addCleanup(self.stop, p)
        return p

    def test_dead_process(self):
        p = subprocess.Popen([self.python, "-c", "pass"])
        p.wait()
        self.assertTakeFails(self.asnap("take", str(p.pid)), str(p.pid), "no such process")

    def test_process_without_agent(self):
        p = self.sleeper()
        self.assertTakeFails(self.asnap("take", str(p.pid)), "has no asyncsnap agent",
                             "asyncsnap run")
        self.assertIsNone(p.poll())  # not signalled

    def test_another_users_process(self):
        if os.getuid() == 0:
            p = self.sleeper(user=65534)
            pid = p.pid
        else:
            pid = 1
            if os.stat("/proc/1").st_uid == os.getuid():
                self.skipTest("pid 1 is this user's")
        self.assertTakeFails(self.asnap("take", str(pid)), "another user")
        if os.getuid() == 0:
            self.assertIsNone(p.poll())

    def fake_registration(self, pid, ticks, signum=signal.SIGUSR1):
        os.makedirs(os.path.dirname(self.registration(pid)), mode=0o700, exist_ok=True)
        with open(self.registration(pid), "w") as f:
            json.dump({"pid": pid, "process_start_ticks": ticks, "signal": int(signum),
                       "signal_name": "SIGUSR1", "directory": self.path("snaps"),
                       "fork": True, "program": "x", "python": "3"}, f)
        os.chmod(self.registration(pid), 0o600)

    def test_reused_pid_is_not_signalled_and_its_entry_is_cleaned(self):
        p = self.sleeper()  # SIGUSR1 would kill it
        self.fake_registration(p.pid, start_time_ticks(p.pid) - 1)
        self.assertTakeFails(self.asnap("take", str(p.pid)), "reused")
        time.sleep(0.1)
        self.assertIsNone(p.poll())
        self.assertFalse(os.path.exists(self.registration(p.pid)))
        # ps ignores and removes such entries too
        self.fake_registration(p.pid, start_time_ticks(p.pid) + 5)
        self.assertEqual(json.loads(self.asnap("ps", "--json").stdout), [])
        self.assertFalse(os.path.exists(self.registration(p.pid)))

    def test_handler_reset_is_not_signalled(self):
        # registered, but the program has since ignored the signal: sending
        # it would do nothing (or, at SIG_DFL, kill the process)
        p = subprocess.Popen([self.python, "-c",
                              "import signal, sys, time\n"
                              "signal.signal(signal.SIGUSR1, signal.SIG_IGN)\n"
                              "print('ready', flush=True)\ntime.sleep(60)\n"],
                             stdout=subprocess.PIPE, text=True)
        self.addCleanup(self.stop, p)
        self.assertEqual(p.stdout.readline(), "ready\n")
        self.fake_registration(p.pid, start_time_ticks(p.pid))
        self.assertTakeFails(self.asnap("take", "--timeout", "30", str(p.pid)),
                             "does not catch SIGUSR1", "not signalled")
        self.assertIsNone(p.poll())

    def test_timeout_when_nothing_answers(self):
        # registered, and it catches the signal, but nothing answers the
        # request: one signal, no other, and a message that says so
        p = subprocess.Popen([self.python, "-c",
                              "import signal, sys, time\n"
                              "n = []\n"
                              "signal.signal(signal.SIGUSR1, lambda *a: n.append(1))\n"
                              "print('ready', flush=True)\n"
                              "sys.stdin.readline()\nprint(len(n), flush=True)\n"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(self.stop, p)
        self.assertEqual(p.stdout.readline(), "ready\n")
        self.fake_registration(p.pid, start_time_ticks(p.pid))
        t0 = time.monotonic()
        self.assertTakeFails(self.asnap("take", "--timeout", "6", str(p.pid)),
                             "has not answered in 6 seconds", "run no Python code")
        self.assertLess(time.monotonic() - t0, 15)
        p.stdin.write("\n")
        p.stdin.flush()
        self.assertEqual(p.stdout.readline(), "1\n")  # signalled exactly once
        # its request is gone with it: nothing is left for a later signal
        self.assertEqual([n for n in os.listdir(os.path.dirname(self.registration(p.pid)))
                          if not n.endswith(".json")], [])

    def test_process_that_ends_before_writing(self):
        p = subprocess.Popen([self.python, "-c",
                              "import signal, sys, time\n"
                              "signal.signal(signal.SIGUSR1, lambda *a: sys.exit(0))\n"
                              "print('ready', flush=True)\ntime.sleep(60)\n"],
                             stdout=subprocess.PIPE, text=True)
        self.addCleanup(self.stop, p)
        self.assertEqual(p.stdout.readline(), "ready\n")
        self.fake_registration(p.pid, start_time_ticks(p.pid))
        threading.Timer(0.5, p.wait).start()  # reap it, so that its pid is gone
        self.assertTakeFails(self.asnap("take", "--timeout", "30", str(p.pid)), "ended")

    def test_usage(self):
        for args, words in [([], "a process id is required"), (["x"], "'x' is not a process id"),
                            (["0"], "is not a process id"), (["1", "2"], "only one"),
                            (["--timeout", "0", "1"], "--timeout"),
                            (["--timeout"], "needs a value"), (["--bogus", "1"], "unknown option")]:
            t = self.asnap("take", *args)
            self.assertEqual(t.returncode, 2, (args, t.stderr))
            self.assertIn(words, t.stderr)
            self.assertIn("Try 'asyncsnap take --help'", t.stderr)
        for cmd in ("take", "ps", "run"):
            h = self.asnap(cmd, "--help")
            self.assertEqual(h.returncode, 0)
            self.assertTrue(h.stdout.startswith("usage: asyncsnap %s" % cmd))
        self.assertEqual(self.asnap("ps", "extra").returncode, 2)


class RunTest(LiveTest):
    def script(self, name, text):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_exit_status_and_signals_pass_through(self):
        s = self.script("exits.py", "import sys; sys.exit(int(sys.argv[1]))\n")
        self.assertEqual(self.asnap("run", "--", self.python, s, "7").returncode, 7)
        s = self.script("killed.py", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)\n")
        self.assertEqual(self.asnap("run", self.python, s).returncode, -signal.SIGTERM)
        r = self.asnap("run", "--", "no-such-command-asnap")
        self.assertEqual(r.returncode, 127)
        self.assertIn("cannot run 'no-such-command-asnap'", r.stderr)

    def test_module_and_program_sitecustomize_and_triggers(self):
        # the program's own sitecustomize still runs; ours is not on its path
        os.mkdir(self.path("site"))
        self.script("site/sitecustomize.py", "import builtins; builtins.SITE_RAN = True\n")
        os.mkdir(self.path("pkg"))
        self.script("pkg/showmod.py", (
            "import json, signal, sys, time, asyncsnap._trigger as t\n"
            "h = signal.getsignal(signal.SIGUSR2)\n"
            "time.sleep(0.6)\n"
            "print(json.dumps({'site': SITE_RAN, 'handler': getattr(h, '__module__', None),\n"
            "  'boot': [p for p in sys.path if '_boot' in p], 'argv': sys.argv[1:],\n"
            "  'every': t._state.every, 'keep': t._state.keep}))\n"))
        env = dict(self.env, PYTHONPATH=self.path("site") + os.pathsep + self.path("pkg"))
        r = subprocess.run([cli(), "run", "--signal", "USR2", "--every", "0.1", "--keep", "2",
                            "--no-fork", "--dir", self.path("snaps"), self.python, "-m", "showmod",
                            "a", "-b"], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        seen = json.loads(r.stdout)
        self.assertEqual(seen, {"site": True, "handler": "asyncsnap._trigger", "boot": [],
                                "argv": ["a", "-b"], "every": 0.1, "keep": 2})
        names = sorted(os.listdir(self.path("snaps")))
        self.assertEqual(len(names), 2, names)  # --every took more, --keep left two
        self.assertTrue(all(n.startswith("showmod-") for n in names), names)

    def test_usage(self):
        for args, words in [([], "a command to run is required"),
                            (["--signal", "KILL", "x"], "cannot be caught"),
                            (["--signal", "NOPE", "x"], "unknown signal"),
                            (["--every", "0", "x"], "--every"),
                            (["--keep", "1.5", "x"], "--keep"),
                            (["--dir", self.path("missing"), "x"], "missing")]:
            r = self.asnap("run", *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(words, r.stderr)
        env = dict(self.env, ASYNCSNAP_AGENT_PATH=self.path("run"))
        r = subprocess.run([cli(), "run", "true"], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no agent in", r.stderr)


if __name__ == "__main__":
    unittest.main()
