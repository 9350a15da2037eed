"""The pytest plugin (asyncsnap.pytest) on its sample suite,
fixtures/pytest: leaky tests and their clean twins for every check, a leak
in a fixture, an allow mark, an aiohttp client against a local aiohttp
server. Under pytest and pytest-asyncio from Debian's packages
(python3-pytest, python3-pytest-asyncio, python3-aiohttp, for
/usr/bin/python3: meson test -C build-sys --suite pytest-plugin).

What must hold: exactly the leaky tests fail, each with its finding (the
check, and what leaked); the clean ones pass; the exit status and the junit
XML say so. Without --asyncsnap the whole suite passes: the failures are
the plugin's.
"""

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SUITE = os.path.join(ROOT, "fixtures", "pytest")

# the leaky tests of the sample suite: what the failure must say
LEAKY = {
    "test_pending_task.py::test_leaky_pending_task":
        ["[pending-task]", "Notifier._wait_ack()", "shop.py:26", "module shop -[BACKGROUND]->"],
    "test_unawaited.py::test_leaky_unawaited_coroutine":
        ["[unawaited-coroutine]", "Audit._write()", "-[backlog]->"],
    "test_unclosed.py::test_leaky_unclosed_stream":
        ["[unclosed-resource]", "_SelectorSocketTransport", "writer.close()",
         "garbage that no root reaches, held together by:"],
    "test_unclosed.py::test_leaky_unclosed_pool":
        ["[unclosed-resource]", "shop.Pool", "await pool.close()"],   # the user rule's fix
    "test_piled.py::test_leaky_piled_callbacks":
        ["[pending-future]", "120 done-callbacks of Conn._on_close()", "-[CONNECTIONS]->"],
    "test_handles.py::test_leaky_uncancelled_handles":
        ["[uncancelled-handle]", "Cache._expire"],
    "test_frame_cycle.py::test_leaky_frame_cycle":
        ["[frame-cycle]", "Parser.parse", "-[__traceback__]->"],
    "test_retained.py::test_leaky_retained_tasks":
        ["[retained-task]", "150 finished tasks of Jobs._job()", "-[history]->"],
    "test_fixture_leak.py::test_leaky_fixture":
        ["[pending-task]", "heartbeat.<locals>.beat()", "in fixture 'heartbeat'"],
    "test_aiohttp_client.py::test_leaky_aiohttp_session":
        ["[unclosed-resource]", "aiohttp.client.ClientSession", "await session.close()"],
}


def setUpModule():
    missing = []
    for m in ("pytest", "pytest_asyncio", "aiohttp"):
        try:
            importlib.import_module(m)
        except ImportError:
            missing.append(m)
    if missing:
        raise unittest.SkipTest("python %s (%s) lacks %s (Debian: python3-pytest, "
                                "python3-pytest-asyncio, python3-aiohttp)"
                                % (sys.version.split()[0], sys.executable, ", ".join(missing)))
    if not os.environ.get("ASYNCSNAP_AGENT_PATH") or not os.environ.get("ASYNCSNAP_CLI"):
        raise unittest.SkipTest("ASYNCSNAP_AGENT_PATH / ASYNCSNAP_CLI not set")


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(
        [os.environ["ASYNCSNAP_AGENT_PATH"], SUITE] +
        ([e["PYTHONPATH"]] if e.get("PYTHONPATH") else []))
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    e.pop("PYTEST_ADDOPTS", None)
    return e


def pytest(*args, plugin=True):
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE"]
    if plugin:
        cmd += ["-p", "asyncsnap.pytest"]
    p = subprocess.run(cmd + list(args), cwd=SUITE, env=env(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=600)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def junit(path):
    """{test id: (outcome, failure text)} from a junit XML file."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        nodeid = case.get("file", case.get("classname").replace(".", "/") + ".py") \
            + "::" + case.get("name")
        fail = case.find("failure")
        err = case.find("error")
        if fail is not None:
            out[nodeid] = ("failed", (fail.get("message") or "") + (fail.text or ""))
        elif err is not None:
            out[nodeid] = ("error", (err.get("message") or "") + (err.text or ""))
        elif case.find("skipped") is not None:
            out[nodeid] = ("skipped", "")
        else:
            out[nodeid] = ("passed", "")
    return out


class SampleSuite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="asyncsnap-pytest-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_exactly_the_leaky_tests_fail_each_with_its_finding(self):
        xml = os.path.join(self.tmp, "junit.xml")
        rc, out = pytest("--asyncsnap", "--junitxml", xml)
        self.assertEqual(rc, 1, out)          # pytest: 1 is "some tests failed"
        results = junit(xml)
        failed = {k for k, (o, _) in results.items() if o != "passed"}
        self.assertEqual(failed, set(LEAKY), out)
        clean = [k for k in results if "clean" in k]
        self.assertGreaterEqual(len(clean), len(LEAKY))
        for k, (outcome, text) in results.items():
            if k in LEAKY:
                self.assertEqual(outcome, "failed", k)
                self.assertIn("asyncsnap: this test left behind", text, k)
                for want in LEAKY[k]:
                    self.assertIn(want, text, "%s: %r not in its failure:\n%s" % (k, want, text))
        self.assertIn("10 failed, 26 passed", out)
        self.assertIn("asyncsnap: failed 10 leaking tests", out)

    def test_without_the_option_every_test_passes(self):
        rc, out = pytest()
        self.assertEqual(rc, 0, out)
        self.assertIn("36 passed", out)

    def test_warn_action_warns_and_passes(self):
        rc, out = pytest("--asyncsnap", "--asyncsnap-action=warn", "test_frame_cycle.py",
                         "-W", "default")
        self.assertEqual(rc, 0, out)
        self.assertIn("2 passed", out)
        self.assertIn("AsyncsnapLeakWarning", out)
        self.assertIn("[frame-cycle]", out)
        self.assertIn("asyncsnap: test_frame_cycle.py::test_leaky_frame_cycle left behind", out)
        self.assertIn("asyncsnap: warned about 1 leaking test", out)

    def test_ini_option_turns_it_on(self):
        rc, out = pytest("-o", "asyncsnap=true", "test_retained.py")
        self.assertEqual(rc, 1, out)
        self.assertIn("1 failed, 1 passed", out)
        self.assertIn("FAILED test_retained.py::test_leaky_retained_tasks", out)

    def test_baseline_lets_a_suite_that_leaks_pass(self):
        base = os.path.join(self.tmp, "baseline.json")
        files = ["test_unawaited.py", "test_pending_task.py"]
        rc, out = pytest("--asyncsnap", "--asyncsnap-baseline", base,
                         "--asyncsnap-update-baseline", *files)
        self.assertEqual(rc, 0, out)
        with open(base) as f:
            text = f.read()
        self.assertIn("test_unawaited.py::test_leaky_unawaited_coroutine", text)
        self.assertIn("test_pending_task.py::test_leaky_pending_task", text)
        self.assertNotIn("clean", text)
        rc, out = pytest("--asyncsnap", "--asyncsnap-baseline", base, *files)
        self.assertEqual(rc, 0, out)
        # a new leak is still caught
        rc, out = pytest("--asyncsnap", "--asyncsnap-baseline", base, "test_retained.py")
        self.assertEqual(rc, 1, out)

    def test_keep_leaves_the_snapshots_of_a_leaking_test(self):
        keep = os.path.join(self.tmp, "kept")
        rc, out = pytest("--asyncsnap", "--asyncsnap-keep", keep, "test_unawaited.py")
        self.assertEqual(rc, 1, out)
        names = sorted(os.listdir(keep))
        self.assertEqual(names, ["test_unawaited.py__test_leaky_unawaited_coroutine-after.snap",
                                 "test_unawaited.py__test_leaky_unawaited_coroutine-before.snap"])
        for n in names:
            self.assertEqual(os.stat(os.path.join(keep, n)).st_mode & 0o777, 0o600)
        self.assertIn("snapshots kept: " + os.path.join(keep, names[1]), out)
        # the command finds the same leak in them
        p = subprocess.run([os.environ["ASYNCSNAP_CLI"], "leaks", "--check",
                            "unawaited-coroutine"] + [os.path.join(keep, n) for n in names[::-1]],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn(b"Audit._write()", p.stdout)

    def test_usage_errors_are_said_before_any_test_runs(self):
        rc, out = pytest("--asyncsnap", "--asyncsnap-check=pending-tasks", "test_unawaited.py")
        self.assertEqual(rc, 4, out)      # pytest's usage error
        self.assertIn("--asyncsnap-check: unknown check 'pending-tasks'", out)
        rc, out = pytest("--asyncsnap", "--asyncsnap-cli", os.path.join(self.tmp, "nothing"),
                         "test_unawaited.py")
        self.assertEqual(rc, 4, out)
        self.assertIn("is not an executable file", out)
        rc, out = pytest("--asyncsnap", "-p", "allow_typo", "test_unawaited.py")
        self.assertEqual(rc, 4, out)
        self.assertIn("allow=...): unknown check 'pending_task'", out)
        bad = os.path.join(self.tmp, "bad-baseline.json")
        with open(bad, "w") as f:
            f.write('{"tests": {}}')
        rc, out = pytest("--asyncsnap", "--asyncsnap-baseline", bad, "test_unawaited.py")
        self.assertEqual(rc, 4, out)
        self.assertIn("not an asyncsnap baseline", out)

    def test_module_scope(self):
        # the fixture's leak is placed by its site; the coroutine kept by
        # shop.AUDIT has no site in a test, so the module's last test is
        # blamed, and the failure says so
        rc, out = pytest("--asyncsnap", "--asyncsnap-scope=module", "test_fixture_leak.py",
                         "test_unawaited.py")
        self.assertEqual(rc, 1, out)
        self.assertIn("FAILED test_fixture_leak.py::test_leaky_fixture", out)
        self.assertNotIn("FAILED test_fixture_leak.py::test_clean_fixture", out)
        self.assertIn("found after the 2 tests of this module", out)
        self.assertIn("2 failed, 2 passed", out)
        self.assertIn("4 tests checked in 2 windows", out)

    def test_session_scope(self):
        rc, out = pytest("--asyncsnap", "--asyncsnap-scope=session", "test_fixture_leak.py",
                         "test_unawaited.py", "test_frame_cycle.py")
        self.assertEqual(rc, 1, out)
        self.assertIn("6 tests checked in 1 window (scope session)", out)
        self.assertIn("FAILED test_fixture_leak.py::test_leaky_fixture", out)
        # neither the coroutine nor the frame cycle has a site in a test:
        # both go to the session's last test, which says so
        self.assertIn("FAILED test_frame_cycle.py::test_clean_frame_cycle", out)
        self.assertIn("found after the 6 tests of this session", out)
        self.assertIn("2 failed, 4 passed", out)

    def test_unittest_mixin_and_context_manager(self):
        p = subprocess.run([sys.executable, "-m", "unittest", "-v", "ut_shop"], cwd=SUITE,
                           env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=300)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, out)
        self.assertIn("test_leaky_pending_task (ut_shop.Notifications", out)
        self.assertIn("FAILED (failures=1)", out)
        # IsolatedAsyncioTestCase cancels the task left pending when it
        # closes its loop; shop.BACKGROUND keeps it, cancelled, with the
        # CancelledError whose traceback holds the task's frame: a frame
        # cycle that something live keeps
        self.assertRegex(out, r"\[(pending-task|frame-cycle)\] [^\n]*Notifier\._wait_ack\(\)")
        self.assertRegex(out, r"test_clean_pending_task \(ut_shop\.Notifications[^\n]*\) \.\.\. ok")
        self.assertRegex(out, r"test_clean_context_manager \(ut_shop\.Audit[^\n]*\) \.\.\. ok")
        self.assertRegex(out, r"test_leaky_context_manager \(ut_shop\.Audit[^\n]*\) \.\.\. ok")


if __name__ == "__main__":
    unittest.main()
