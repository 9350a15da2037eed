"""The real-library corpus (fixtures/reallib): leaky programs on real async
libraries - aiohttp, redis.asyncio, asyncpg, httpx, FastAPI on uvicorn,
websockets - against real servers (redis-server, PostgreSQL, web servers in
processes of their own), on asyncio's loop and on uvloop. For each pair:

- the leaky program: `asyncsnap leaks` on its three snapshots exits 1; the
  FIRST finding is of the program's declared check (EXPECT), names what it
  declares, and is in the program's own code (its site, chain or objects);
  at most 2 findings (the bug, and at most one that is not folded into it),
  or as many as EXPECT's "findings";
- its correct twin (--fixed): no finding, on the three snapshots and on
  the last alone.

And correct programs with no twin (ok_*.py, class Correct): the patterns of
long-lived services that must get no finding, on both loops. And leaks no
check finds yet (gap_*.py, class Gap, KNOWN_GAPS; none today, the first,
the heartbeat chains, is found now): the leak is in the snapshots and the
checks miss it, the twin is clean.

Runs under Debian's /usr/bin/python3 (the libraries are Debian's), with the
agent built for it: ASYNCSNAP_AGENT_PATH, ASYNCSNAP_CLI as in tests/e2e.
scripts/test.sh runs it twice: under Debian 12's 3.11 on the host
(build-sys/: aiohttp 3.8, redis-py 4.3, uvloop 0.17, PostgreSQL 15) and
under Debian sid's 3.14 in the sid root (build-py/3.14/, inside
`scripts/sid-root.sh run`: aiohttp 3.14, redis-py 6.4, asyncpg 0.31,
uvloop 0.23, PostgreSQL 18); the same programs and expectations on both.
One class per program: `python3 -m unittest test_reallib.RedisClient`.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(ROOT, "fixtures", "reallib")
sys.path.insert(0, HERE)

import servers  # noqa: E402

LIBRARIES = ("aiohttp", "redis", "asyncpg", "httpx", "fastapi", "uvicorn", "websockets", "uvloop")

# program -> the loops it runs on
PROGRAMS = {
    "aiohttp_session": ("asyncio", "uvloop"),
    "aiohttp_frame_cycle": ("asyncio", "uvloop"),
    "pool_warmup": ("asyncio", "uvloop"),
    "redis_client": ("asyncio", "uvloop"),
    "redis_unawaited": ("asyncio",),
    "redis_replies": ("asyncio", "uvloop"),
    "asyncpg_pool": ("asyncio", "uvloop"),
    "httpx_client": ("asyncio",),
    "asyncpg_listeners": ("asyncio", "uvloop"),
    "heartbeat_chains": ("asyncio", "uvloop"),
    "websockets_client": ("asyncio", "uvloop"),
    "websockets_served_client": ("asyncio", "uvloop"),
    "aiohttp_ws_client": ("asyncio", "uvloop"),
    "aiohttp_unread_response": ("asyncio", "uvloop"),
    "httpx_unclosed_stream": ("asyncio", "uvloop"),
}

# Leaks no check finds yet (docs/CHECKS.md, "What the checks do not
# find"): program -> the type whose objects pile up in its snapshots. Their
# test asserts that the leak is there (asyncsnap diff), that leaks still
# misses it, and that the twin has none: the day a check finds one, its
# test fails and says to move it to PROGRAMS' leaks.
KNOWN_GAPS = {
}

# Correct programs with no leaky twin (ok_*.py): what long-lived services
# do all day - pub/sub subscribers, LISTEN callbacks, workers idle on a
# queue, connections kept open, a timer that re-arms, requests cancelled in
# flight, timeouts that fire. No check may report anything on them.
CORRECT = {
    "ok_redis_pubsub": ("asyncio", "uvloop"),
    "ok_asyncpg_listen": ("asyncio", "uvloop"),
    "ok_aiohttp_server": ("asyncio", "uvloop"),
    "ok_queue_workers": ("asyncio", "uvloop"),
    "ok_websockets_echo": ("asyncio", "uvloop"),
    "ok_httpx_stream": ("asyncio", "uvloop"),
    "ok_timers": ("asyncio", "uvloop"),
    "ok_heartbeats": ("asyncio", "uvloop"),
    "ok_aiohttp_cancel": ("asyncio", "uvloop"),
}

_servers = {}


def setUpModule():
    missing = [m for m in LIBRARIES if importlib.util.find_spec(m) is None]
    if missing:
        raise unittest.SkipTest("python %s lacks %s" % (sys.version.split()[0], ", ".join(missing)))
    if not os.environ.get("ASYNCSNAP_AGENT_PATH") or not os.environ.get("ASYNCSNAP_CLI"):
        raise unittest.SkipTest("ASYNCSNAP_AGENT_PATH / ASYNCSNAP_CLI not set")
    # With the libraries there and the build's paths set (how meson runs
    # it), servers that cannot start are a failure, not a skip: a skip
    # here printed OK in meson's summary while nothing ran.
    try:
        _servers["redis"] = servers.Redis()
        _servers["pg"] = servers.Postgres()
    except (FileNotFoundError, RuntimeError, subprocess.CalledProcessError) as e:
        for srv in _servers.values():
            srv.stop()
        raise RuntimeError("cannot start the servers: %s" % e) from e


def tearDownModule():
    for s in _servers.values():
        s.stop()


def expectation(program):
    spec = importlib.util.spec_from_file_location("_x", os.path.join(CORPUS, program + ".py"))
    with open(spec.origin) as f:
        src = f.read()
    ns = {}
    start = src.index("EXPECT = ")
    exec(src[start:src.index("\n", start)], ns)
    return ns["EXPECT"]


def leaks(*paths):
    p = subprocess.run([os.environ["ASYNCSNAP_CLI"], "leaks", "--json", *paths],
                       capture_output=True, text=True, timeout=300)
    if p.returncode not in (0, 1):
        raise AssertionError("asyncsnap leaks failed (%d): %s" % (p.returncode, p.stderr))
    return p.returncode, json.loads(p.stdout)["findings"]


def run_program(test, program, loop, *extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.environ["ASYNCSNAP_AGENT_PATH"]
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    args = [sys.executable, os.path.join(CORPUS, program + ".py"), "--dir", test.dir,
            "--loop", loop, "--redis-port", str(_servers["redis"].port),
            "--pg-dsn", _servers["pg"].dsn, *extra]
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=240)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (program, p.returncode, p.stderr[-3000:]))
    paths = p.stdout.split()
    test.assertEqual(len(paths), 3, p.stdout)
    return paths, time.monotonic() - t0


class Pair(unittest.TestCase):
    program = None

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="asnap-reallib-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def check(self, loop):
        want = expectation(self.program)
        leaky, _ = run_program(self, self.program, loop)
        status, found = leaks(*leaky)
        summaries = [f["summary"] for f in found]
        self.assertEqual(status, 1, "no finding on the leaky %s (%s)" % (self.program, loop))
        first = found[0]
        self.assertEqual(first["check"], want["check"], summaries)
        shown = json.dumps([first["group"], first["summary"],
                            [o.get("type") for o in first["objects"][:3]]])
        self.assertIn(want["names"], shown)
        self.assertTrue(first["in_user_code"], first)
        self.assertLessEqual(len(found), want.get("findings", 2), summaries)
        fixed, _ = run_program(self, self.program, loop, "--fixed")
        self.assertEqual(leaks(*fixed), (0, []), "the twin of %s (%s)" % (self.program, loop))
        self.assertEqual(leaks(fixed[-1]), (0, []))


class Correct(Pair):
    """A correct program (CORRECT): no finding on its three snapshots, nor
    on the last alone."""

    def check(self, loop):
        paths, _ = run_program(self, self.program, loop, "--fixed")
        for snaps in (paths, paths[-1:]):
            status, found = leaks(*snaps)
            self.assertEqual((status, ["[%s] %s @ %s" % (f["check"], f["summary"], f["site"])
                                       for f in found]), (0, []),
                             "%s (%s), %d snapshot(s)" % (self.program, loop, len(snaps)))


def growth(paths, type_name):
    """How many more objects of type_name the last snapshot has than the
    first (asyncsnap diff)."""
    p = subprocess.run([os.environ["ASYNCSNAP_CLI"], "diff", "--json", paths[0], paths[-1]],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError("asyncsnap diff failed (%d): %s" % (p.returncode, p.stderr))
    return sum(t["dcount"] for t in json.loads(p.stdout)["types"] if t["key"] == type_name)


class Gap(Pair):
    """A leak no check finds yet (KNOWN_GAPS): there, missed, the twin
    clean."""

    def check(self, loop):
        piling = KNOWN_GAPS[self.program]
        leaky, _ = run_program(self, self.program, loop)
        self.assertGreaterEqual(growth(leaky, piling), 40, "the leak of %s is not in its "
                                "snapshots: the program no longer shows the gap" % self.program)
        status, found = leaks(*leaky)
        self.assertEqual(status, 0, "%s is found now (%s): move it from KNOWN_GAPS to PROGRAMS "
                         "and docs/CHECKS.md's gaps to the check's own section"
                         % (self.program, [f["summary"] for f in found]))
        fixed, _ = run_program(self, self.program, loop, "--fixed")
        self.assertLess(growth(fixed, piling), 10)
        self.assertEqual(leaks(*fixed), (0, []), "the twin of %s (%s)" % (self.program, loop))


def _make(program, loops, base):
    name = "".join(w.capitalize() for w in program.split("_"))
    methods = {"program": program}
    for loop in loops:
        methods["test_" + loop] = lambda self, loop=loop: self.check(loop)
    globals()[name] = type(name, (base,), methods)


for _program, _loops in PROGRAMS.items():
    _make(_program, _loops, Pair)
for _program, _loops in CORRECT.items():
    _make(_program, _loops, Correct)
for _program in KNOWN_GAPS:
    _make(_program, ("asyncio",), Gap)
del _program, _loops


class Live(unittest.TestCase):
    """The operator's way: the server started with `asyncsnap run`, three
    `asyncsnap take PID` while a separate client process sends real HTTP or
    websocket traffic between them."""

    program = None
    client = None   # ("http", PATH) or ("ws",)
    burst = 40

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="asnap-reallib-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.env = dict(os.environ, PYTHONPATH=os.environ["ASYNCSNAP_AGENT_PATH"],
                        PYTHONDONTWRITEBYTECODE="1",
                        XDG_RUNTIME_DIR=os.path.join(self.dir, "run"))
        os.mkdir(os.path.join(self.dir, "run"))

    def asnap(self, *args):
        return subprocess.run([os.environ["ASYNCSNAP_CLI"], *args], capture_output=True,
                              text=True, env=self.env, timeout=120)

    def serve_and_snapshot(self, fixed):
        tag = "fixed" if fixed else "leaky"
        snaps = os.path.join(self.dir, tag)
        os.mkdir(snaps)
        server = subprocess.Popen(
            [os.environ["ASYNCSNAP_CLI"], "run", "--dir", snaps, "--", sys.executable,
             os.path.join(CORPUS, self.program + ".py")] + (["--fixed"] if fixed else []),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env,
            start_new_session=True)
        try:
            line = server.stdout.readline()
            if not line.startswith("listening "):
                self.fail("%s did not start: %r %s" % (self.program, line, server.stderr.read()))
            port = line.split()[1]
            paths = []
            for i in range(3):
                subprocess.run([sys.executable, os.path.join(CORPUS, "_client.py"),
                                self.client[0], port, str(self.burst), *self.client[1:]],
                               check=True, env=self.env, timeout=120)
                out = os.path.join(self.dir, "%s-%d.snap" % (tag, i + 1))
                t = self.asnap("take", str(server.pid), "-o", out, "--timeout", "60")
                self.assertEqual(t.returncode, 0, t.stderr)
                paths.append(out)
            return paths
        finally:
            server.kill()
            server.wait()
            server.stdout.close()
            server.stderr.close()

    def check(self):
        want = expectation(self.program)
        self.leaky = self.serve_and_snapshot(False)
        status, found = leaks(*self.leaky)
        summaries = [f["summary"] for f in found]
        self.assertEqual(status, 1, "no finding on the leaky %s" % self.program)
        self.assertEqual(found[0]["check"], want["check"], summaries)
        self.assertIn(want["names"], found[0]["group"] + found[0]["summary"])
        self.assertTrue(found[0]["in_user_code"], found[0]["summary"])
        self.assertLessEqual(len(found), 2, summaries)
        fixed = self.serve_and_snapshot(True)
        status, extra = leaks(*fixed)
        self.assertEqual((status, [f["summary"] + " @ " + str(f["site"]) for f in extra]), (0, []),
                         "the twin of %s" % self.program)
        self.assertEqual(leaks(fixed[-1]), (0, []))


class LiveFastapiTasks(Live):
    program, client = "live_fastapi_tasks", ("http", "/order/")

    def test_uvicorn_uvloop(self):
        self.check()
        # `asyncsnap tasks`: the 120 audit tasks kept are one block, not 120
        snap = self.leaky[-1]
        every = json.loads(self.asnap("tasks", "--json", snap).stdout)["tasks"]
        audits = [t for t in every if t.get("qualname") == "audit"]
        self.assertEqual(len(audits), 3 * self.burst)
        text = self.asnap("tasks", snap)
        self.assertEqual(text.returncode, 0, text.stderr)
        blocks = text.stdout.split("\n\n")[1:]
        alike = [b for b in blocks if " in audit" in b]
        self.assertEqual(len(alike), 1, text.stdout[:3000])
        self.assertRegex(alike[0], r"^finished +%d _asyncio\.Task tasks alike" % len(audits))


class LiveAiohttpTimers(Live):
    program, client = "live_aiohttp_timers", ("http", "/cache/")

    def test_aiohttp_uvloop(self):
        self.check()


class LiveWebsocketsPending(Live):
    program, client = "live_websockets_pending", ("ws",)
    burst = 30

    def test_websockets(self):
        self.check()
