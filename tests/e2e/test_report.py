"""`asyncsnap report`: one self-contained HTML page. Its data says what
`leaks --json`, `tasks --json` and `cycles --json` say about the same
snapshots; the correct twin gets no finding; the picture of the dominator
tree adds up; bad input writes nothing; and in a real headless browser
(Debian's chromium) the page draws without a console message, shows the
findings, keeps hostile snapshot strings as text, and makes a screenshot.

The browser is launched twice per run. The screenshot goes to the build
directory's meson-logs/report-screenshot.png (else a kept temporary
directory); its path is printed."""

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.request

from e2e import FIXTURES, TempDirTest, agent_python, findings, fixture_snapshots, run, run_json, run_program

DATA_RE = re.compile(r'<script id="asyncsnap-data" type="application/json">(.*?)</script>', re.S)

# markup in every string the agent writes from the program: class, function
# and task names
HOSTILE = "</script><img src=x onerror=\"document.title='pwned'\"><u>&amp;"

HOSTILE_PROGRAM = r'''
import asyncio, sys
import asyncsnap

H = sys.argv[2]

def rename(f, name):
    f.__name__ = f.__qualname__ = name
    try:
        f.__code__ = f.__code__.replace(co_name=name, co_qualname=name)
    except TypeError:  # before 3.11: no co_qualname
        f.__code__ = f.__code__.replace(co_name=name)
    return f

Evil = type(H, (), {})

async def audit():
    await asyncio.sleep(0)

async def waiter(fut, payload):
    await fut

rename(audit, H)
rename(waiter, H + "-waiter")

backlog = []

async def main():
    loop = asyncio.get_running_loop()
    backlog.extend(audit() for _ in range(3))      # never awaited
    objects = [Evil() for _ in range(50)]
    tasks = [asyncio.create_task(waiter(loop.create_future(), Evil()), name=H + str(i))
             for i in range(3)]                    # wait on futures nobody can resolve
    await asyncio.sleep(0)
    asyncsnap.take(sys.argv[1], values=True)  # the hostile task names too
    for c in backlog:
        c.close()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

asyncio.run(main())
'''


def page_data(page):
    """The page's JSON and its raw text."""
    m = DATA_RE.search(page)
    assert m, "no data script in the page"
    return json.loads(m.group(1)), m.group(1)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def report(test, out, *args):
    """`asyncsnap report -o OUT ARGS`: the page's data, checked to exit 0."""
    p = run("report", "-o", out, *args)
    test.assertEqual(p.returncode, 0, p.stderr)
    test.assertEqual(p.stdout, "")
    test.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
    page = read(out)
    return page_data(page)[0], page


def chromium():
    for name in (os.environ.get("ASYNCSNAP_CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def screenshot_path():
    """meson-logs/ of the build the command under test is in, else a
    temporary directory that is kept."""
    cli = os.environ.get("ASYNCSNAP_CLI")
    if cli:
        build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(cli))))
        logs = os.path.join(build, "meson-logs")
        if os.path.isdir(logs) and os.access(logs, os.W_OK):
            return os.path.join(logs, "report-screenshot.png")
    return os.path.join(tempfile.mkdtemp(prefix="asnap-report-shot-"), "report-screenshot.png")


def browse(test, page, screenshot=None):
    """Load PAGE in headless chromium (60 s at most, a private profile, no
    sanitizer runtime preloaded): (the DOM after the scripts ran, the
    console messages, chromium's stderr). With screenshot, also write a
    1280x1600 PNG there. Skips the test when chromium is missing."""
    exe = chromium()
    if not exe:
        print("\n  skipped: chromium is not installed (scripts/setup.sh installs it)", file=sys.stderr)
        test.skipTest("chromium is not installed")
    home = tempfile.mkdtemp(prefix="asnap-chromium-")
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}
    env["HOME"] = home

    def launch(*action):
        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--user-data-dir=" + os.path.join(home, "profile"), "--enable-logging=stderr",
                "--v=0", "--window-size=1280,1600", *action,
                "file://" + urllib.request.pathname2url(os.path.abspath(page))]
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             start_new_session=True)
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            out, err = b"", b""
        finally:
            try:  # chromium's own helpers, in the session it leads
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            p.wait()
        test.assertIsNotNone(p.returncode)
        if not out and not err:
            test.fail("chromium did not finish within 60 s")
        return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    try:
        shot = ["--screenshot=" + screenshot] if screenshot else []
        dom, err = launch("--dump-dom", *shot)
        if screenshot and not os.path.exists(screenshot):
            # a chromium that does one thing per run
            _, err2 = launch(*shot)
            err += err2
    finally:
        shutil.rmtree(home, ignore_errors=True)
    console = [line for line in err.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    return dom, console, err


def body_attrs(dom):
    m = re.search(r"<body([^>]*)>", dom)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1))) if m else {}


def check_tree(test, tree, objects):
    """The carried top of the dominator tree adds up: a node retains its own
    size plus what its children retain, the top every byte."""
    parent, retained, size = tree["parent"], tree["retained"], tree["size"]
    under, others = tree["objects_under"], tree["others"]
    n = len(parent)
    test.assertEqual(tree["objects"], objects)
    test.assertEqual(parent[0], -1)
    test.assertEqual(retained[0], tree["bytes"])
    test.assertEqual(under[0], objects)
    kids = [[] for _ in range(n)]
    for i in range(1, n):
        test.assertTrue(0 <= parent[i] < i, "a parent comes before its children")
        kids[parent[i]].append(i)
    for i in range(n):
        if others[i]:
            test.assertEqual(kids[i], [])
            test.assertIsNone(tree["addr"][i])
            continue
        # a node's children are all there: carried, or summed up in one "others"
        test.assertEqual(size[i] + sum(retained[k] for k in kids[i]), retained[i], i)
        test.assertEqual((0 if i == 0 else 1) + sum(under[k] for k in kids[i]), under[i], i)
        test.assertTrue(i == 0 or re.match(r"^0x[0-9a-f]+$", tree["addr"][i]), i)
    real = sum(1 for i in range(1, n) if not others[i])
    test.assertLessEqual(real, tree["limit"])
    return real


class ReportTest(TempDirTest):
    """The bundled leaky service, its correct twin and a program full of
    markup, each snapshotted once for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="asnap-report-")
        cls.leaky = cls.fixed = cls.hostile = None
        try:
            agent_python()
        except unittest.SkipTest:
            return
        cls.leaky = run_program("leaky_service.py", "--dir", cls.shared, "--rounds", "1")
        cls.fixed = run_program("leaky_service.py", "--dir", cls.shared, "--rounds", "1", "--fixed")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.shared, ignore_errors=True)

    def need_agent(self):
        if not self.leaky:
            self.skipTest("the agent is not built")

    def test_findings_tasks_and_cycles_are_those_of_the_other_commands(self):
        self.need_agent()
        data, page = report(self, self.path("r.html"), *self.leaky)
        status, want = findings(*self.leaky)
        self.assertEqual(status, 1)
        got = data["leaks"]["findings"]
        key = lambda f: (f["check"], f["group"], f["site"], f["count"], f["certain"],
                         f["persistent"], f["retained"], f["growth"], f["summary"], f["fix"],
                         f["path"], f["path_is_cycle"], f["also"], f["in_user_code"])
        self.assertEqual([key(f) for f in got], [key(f) for f in want])
        for g, w in zip(got, want):
            self.assertEqual(g["objects"], w["objects"][:data["limits"]["objects"]])
        groups = {(f["check"], f["group"].replace("Service.failing_step", "failing_step"))
                  for f in got}
        groups |= {(a["check"], a["group"]) for f in got for a in f["also"]}
        for leak in (("pending-task", "Service.watch"), ("pending-future", "Service.watch"),
                     ("unawaited-coroutine", "Service.audit"),
                     ("uncancelled-handle", "Service.handle.<locals>.<lambda>"),
                     ("frame-cycle", "failing_step")):
            self.assertIn(leak, groups)
        self.assertEqual([s["path"] for s in data["snapshots"]], self.leaky)
        self.assertEqual(data["snapshots"][-1]["program"], "leaky_service")

        tasks = run_json("tasks", "--json", self.leaky[-1])["tasks"]
        self.assertEqual(data["tasks"]["tasks"], tasks)
        self.assertEqual(data["tasks"]["total"], 151)  # 150 watchers and the main task
        self.assertEqual(data["tasks"]["orphaned"], 150)
        cycles = run_json("cycles", "--json", self.leaky[-1])["cycles"]
        self.assertEqual(data["cycles"]["shapes"], len(cycles))
        self.assertEqual(data["cycles"]["total"], sum(c["count"] for c in cycles))
        for g, w in zip(data["cycles"]["cycles"], cycles):
            self.assertEqual(g["nodes"], w["nodes"][:64])
            self.assertEqual(g["len"], len(w["nodes"]))

        info = run_json("info", "--json", self.leaky[-1])
        check_tree(self, data["tree"], info["objects"])
        # the retaining chain of the orphaned watchers is on the page's tree
        self.assertIn("watchers", data["tree"]["label"])

    def test_fixed_twin_has_no_findings(self):
        self.need_agent()
        data, _ = report(self, self.path("r.html"), *self.fixed)
        self.assertEqual(data["leaks"]["findings"], [])
        self.assertEqual(findings(*self.fixed), (0, []))
        self.assertEqual(data["tasks"]["total"], 1)  # the main task

    def test_page_is_self_contained(self):
        self.need_agent()
        data, page = report(self, self.path("r.html"), *self.leaky)
        # nothing to fetch: no URL, no external resource, a policy that forbids any
        self.assertIsNone(re.search(r"https?:|ftp:|//[a-z]", page, re.I))
        self.assertIsNone(re.search(r"\bsrc\s*=|url\(\s*['\"]?[^#'\"]|@import", page, re.I))
        self.assertEqual(re.findall(r"<link[^>]*>", page), ['<link rel="icon" href="data:,">'])
        self.assertIn("default-src 'none'", page)
        self.assertEqual(len(re.findall(r"<script", page)), 2)
        self.assertEqual(len(re.findall(r"</script", page, re.I)), 2)
        _, raw = page_data(page)
        self.assertFalse("<" in raw, "a raw '<' in the page's data")

    def test_limits_bound_the_page(self):
        self.need_agent()
        full, page = report(self, self.path("full.html"), *self.leaky)
        small, small_page = report(self, self.path("small.html"), "--nodes", "20", "--tasks", "3",
                                   "--cycles", "1", self.leaky[-1])
        self.assertLessEqual(check_tree(self, small["tree"], full["tree"]["objects"]), 20)
        self.assertEqual(len(small["tasks"]["tasks"]), 3)
        self.assertEqual(small["tasks"]["total"], full["tasks"]["total"])
        self.assertLessEqual(len(small["cycles"]["cycles"]), 1)
        self.assertLess(len(small_page), len(page))
        for f in full["leaks"]["findings"]:
            self.assertLessEqual(len(f["objects"]), 100)
        # the default page of 51k objects stays small
        self.assertLess(len(page), 2_000_000)

    def test_standard_output(self):
        snap = next(iter(fixture_snapshots().values()), None)
        if snap is None:
            self.skipTest("no fixture snapshots")
        for args in (["-o", "-", snap], [snap]):  # stdout is a pipe here, not a terminal
            p = run("report", *args)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(p.stdout.startswith("<!DOCTYPE html>"))
            self.assertTrue(p.stdout.rstrip().endswith("</html>"))
            page_data(p.stdout)

    def test_every_committed_and_odd_shaped_snapshot(self):
        snaps = list(fixture_snapshots().values())
        manifest = os.path.join(FIXTURES, "corrupt", "MANIFEST")
        if os.path.exists(manifest):
            for line in read(manifest).splitlines():
                parts = line.split("\t")
                if len(parts) == 2 and parts[1] == "ok":
                    snaps.append(os.path.join(FIXTURES, "corrupt", parts[0]))
        if not snaps:
            self.skipTest("no fixture snapshots")
        for snap in snaps:
            with self.subTest(os.path.basename(snap)):
                data, _ = report(self, self.path("r.html"), snap)
                info = run_json("info", "--json", snap)
                check_tree(self, data["tree"], info["objects"])
                status, want = findings(snap)
                self.assertEqual(len(data["leaks"]["findings"]), len(want))

    def test_bad_input_writes_nothing(self):
        snap = next(iter(fixture_snapshots().values()), None)
        if snap is None:
            self.skipTest("no fixture snapshots")
        out = self.path("r.html")
        missing = self.path("missing.snap")
        with open(snap, "rb") as f:
            cut = self.write("cut.snap", f.read()[:5000])
        cases = [([missing], missing, ("cannot read",)),
                 ([cut], cut, ("truncated",)),
                 ([snap, cut], cut, ("truncated",))]
        manifest = os.path.join(FIXTURES, "corrupt", "MANIFEST")
        if os.path.exists(manifest):
            for line in read(manifest).splitlines():
                parts = line.split("\t")
                if len(parts) == 3 and parts[1] == "2":
                    bad = os.path.join(FIXTURES, "corrupt", parts[0])
                    cases.append(([bad], bad, (parts[2],)))
        for args, named, words in cases:
            with self.subTest(os.path.basename(named)):
                self.assertInputError(run("report", "-o", out, *args), named, *words)
                self.assertEqual(os.listdir(self.dir), ["cut.snap"])
        # an output nobody can write: a directory that is a file, one that is missing
        for place in (os.path.join(cut, "r.html"), self.path("no/such/dir/r.html")):
            p = run("report", "-o", place, snap)
            self.assertInputError(p, place, "cannot write")
        self.assertEqual(os.listdir(self.dir), ["cut.snap"])
        # an existing page is left alone when the new one fails
        self.write("r.html", b"old")
        self.assertEqual(run("report", "-o", out, cut).returncode, 2)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"old")
        self.assertEqual(sorted(os.listdir(self.dir)), ["cut.snap", "r.html"])

    def test_usage(self):
        p = run("report", "--help")
        self.assertEqual(p.returncode, 0)
        for word in ("-o, --output", "--nodes", "--tasks", "--cycles", "--rules", "exit status",
                     "last one"):
            self.assertIn(word, p.stdout)
        self.assertIn("report", run("--help").stdout)
        snap = next(iter(fixture_snapshots().values()), None) or "x.snap"
        for args in (["report"], ["report", "-o"], ["report", "--nodes", "x", snap],
                     ["report", "--nodes", "-1", snap], ["report", "--bogus", snap]):
            p = run(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("--help", p.stderr)
            self.assertEqual(p.stdout, "")

    def test_in_a_browser(self):
        """Launch 1: the leaky service's page draws without a console
        message and shows every finding; the screenshot."""
        self.need_agent()
        page = self.path("leaky.html")
        data, _ = report(self, page, *self.leaky)
        shot = screenshot_path()
        if os.path.exists(shot):
            os.unlink(shot)
        dom, console, err = browse(self, page, shot)
        print("\n  report screenshot: %s" % shot, file=sys.stderr)
        self.assertEqual(console, [], err[-3000:])
        attrs = body_attrs(dom)
        self.assertEqual(attrs.get("data-status"), "ok", attrs)
        found = data["leaks"]["findings"]
        self.assertEqual(attrs.get("data-findings"), str(len(found)))
        self.assertEqual(len(re.findall(r'<article class="finding"', dom)), len(found))
        for f in found:
            self.assertIn(html.escape(f["summary"], quote=False), dom)
            self.assertIn(html.escape(f["fix"], quote=False), dom)
            self.assertIn('<span class="badge">%s</span>' % f["check"], dom)
        self.assertEqual(len(re.findall(r'<td class="verdict ', dom)), len(data["tasks"]["tasks"]))
        self.assertIn("watch-", dom)
        drawn = len(data["cycles"]["cycles"]) + sum(f["path_is_cycle"] for f in found)
        self.assertEqual(len(re.findall(r'<svg class="cyclegraph"', dom)), drawn)
        self.assertGreater(len(re.findall(r"<rect ", dom)), 50)  # the icicle's boxes
        with open(shot, "rb") as f:
            png = f.read()
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual((int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")),
                         (1280, 1600))
        self.assertGreater(len(png), 20000)  # a blank page is about 8 KB

    def test_hostile_strings_stay_text(self):
        """Launch 2: names full of markup are shown as text, run nothing."""
        python, env = agent_python()
        prog = self.write("hostile.py", HOSTILE_PROGRAM.encode())
        snap = self.path("hostile.snap")
        p = subprocess.run([python, prog, snap, HOSTILE], capture_output=True, text=True, env=env,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        page = self.path("hostile.html")
        data, text = report(self, page, snap)
        _, raw = page_data(text)
        self.assertFalse("<" in raw, "a raw '<' in the page's data")
        self.assertEqual(len(re.findall(r"</script", text, re.I)), 2)
        # the markup did reach the data: findings, tasks, types
        groups = [f["group"] for f in data["leaks"]["findings"]]
        self.assertIn(HOSTILE, groups)
        self.assertIn(HOSTILE + "-waiter", groups)
        self.assertIn(HOSTILE + "0", [t.get("name") for t in data["tasks"]["tasks"]])
        dom, console, err = browse(self, page)
        self.assertEqual(console, [], err[-3000:])
        self.assertEqual(body_attrs(dom).get("data-status"), "ok", body_attrs(dom))
        self.assertIn(html.escape(HOSTILE, quote=False), dom)
        self.assertNotIn("<img", dom)
        self.assertNotIn("<u>", dom)
        self.assertNotIn("pwned", re.search(r"<title>(.*?)</title>", dom, re.S).group(1))


if __name__ == "__main__":
    unittest.main()
