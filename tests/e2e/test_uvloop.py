"""`asyncsnap leaks` on programs running on uvloop: uncancelled call_later
handles, unclosed uvloop transports, tasks on orphaned futures and pending
futures piling up are each found, and their correct twins (handles
cancelled, transports closed, tasks legitimately waiting on socket reads)
give no finding. Also the leak fixtures of fixtures/programs/, run under
uvloop by fixtures/uvloop/on_uvloop.py. Skipped when the interpreter has
no uvloop (python3-uvloop is Debian's, for /usr/bin/python3)."""

import json
import os
import subprocess
import sys
import unittest

from e2e import FIXTURES, TempDirTest, agent_python, findings, run

UVLOOP_DIR = os.path.join(FIXTURES, "uvloop")

try:
    import uvloop  # noqa: F401  (the programs run on this interpreter)
    NO_UVLOOP = None
except ImportError as e:
    NO_UVLOOP = "uvloop is not importable by %s: %s" % (sys.executable, e)
    print("test_uvloop: skipped: " + NO_UVLOOP, file=sys.stderr)


def run_uvloop(test, script, *args):
    """Run fixtures/uvloop/SCRIPT with the agent; the three snapshot paths."""
    python, env = agent_python()
    p = subprocess.run([python, os.path.join(UVLOOP_DIR, script), *args, "--dir", test.dir],
                       capture_output=True, text=True, env=env, timeout=300)
    if p.returncode != 0:
        raise AssertionError("%s %s failed (%d): %s" % (script, " ".join(args), p.returncode,
                                                        p.stderr))
    paths = p.stdout.splitlines()
    test.assertEqual(len(paths), 3, p.stdout)
    return paths


@unittest.skipIf(NO_UVLOOP, NO_UVLOOP)
class UvloopLeaksTest(TempDirTest):
    def pair(self, mode):
        return (run_uvloop(self, "uvloop_leaks.py", mode),
                run_uvloop(self, "uvloop_leaks.py", mode, "--fixed"))

    def assertFinding(self, found, check, group):
        pairs = [(f["check"], f["group"]) for f in found]
        self.assertIn((check, group), pairs, json.dumps(found, indent=1)[:4000])
        f = next(f for f in found if f["check"] == check and f["group"] == group)
        self.assertGreater(f["count"], 0)
        self.assertEqual(f["count"], len(f["objects"]))
        self.assertTrue(f["summary"])
        self.assertTrue(f["path"])
        return f

    def assertClean(self, paths):
        status, found = findings(*paths)
        self.assertEqual(found, [], json.dumps(found, indent=1)[:4000])
        self.assertEqual(status, 0)
        self.assertEqual(findings(paths[-1]), (0, []))

    def test_uncancelled_call_later_handles(self):
        leaky, fixed = self.pair("timers")
        status, found = findings(*leaky)
        self.assertEqual(status, 1)
        f = self.assertFinding(found, "uncancelled-handle", "App.expire")
        self.assertEqual(f["growth"], [20, 60, 100])
        self.assertTrue(all(o["type"] == "uvloop.loop.TimerHandle" for o in f["objects"]))
        # each keeps its 16 KiB payload alive
        self.assertGreater(f["retained"], 100 * 16384)
        self.assertIn("3600 s", f["summary"])
        self.assertClean(fixed)

    def test_unclosed_transports(self):
        leaky, fixed = self.pair("transports")
        status, found = findings(*leaky)
        self.assertEqual(status, 1)
        f = self.assertFinding(found, "unclosed-resource", "uvloop.loop.TCPTransport")
        self.assertEqual(f["growth"], [10, 30, 50])
        self.assertIn("wait_closed", f["fix"])
        self.assertClean(fixed)

    def test_orphaned_tasks_but_not_tasks_reading_sockets(self):
        leaky, fixed = self.pair("orphan")
        status, found = findings(*leaky)
        self.assertEqual(status, 1)
        f = self.assertFinding(found, "pending-task", "App.call")
        self.assertIn("orphaned", f["summary"])
        self.assertEqual((f["count"], f["certain"]), (100, 100))
        # certain from one snapshot
        _, one = findings("--check", "pending-task", leaky[0])
        self.assertEqual(self.assertFinding(one, "pending-task", "App.call")["count"], 20)
        # the subscribers waiting on socket reads are reached through the
        # loop's transports: never orphaned, never reported
        groups = [(x["check"], x["group"]) for x in found]
        groups += [(a["check"], a["group"]) for x in found for a in x.get("also", [])]
        self.assertNotIn("App.subscriber", [g for _, g in groups])
        for paths in (leaky, fixed):
            p = run("tasks", "--json", paths[-1])
            self.assertEqual(p.returncode, 0, p.stderr)
            subs = [t for t in json.loads(p.stdout)["tasks"] if t.get("qualname") == "App.subscriber"]
            self.assertEqual(len(subs), 3, p.stdout[:2000])
            for t in subs:
                self.assertEqual(t["state"], "pending")
                self.assertTrue(t["blocked"])
                self.assertFalse(t["orphaned"])
        self.assertClean(fixed)

    def test_pending_futures(self):
        leaky, fixed = self.pair("futures")
        status, found = findings(*leaky)
        self.assertEqual(status, 1)
        f = self.assertFinding(found, "pending-future", "<not awaited>")
        self.assertEqual(f["growth"], [20, 60, 100])
        self.assertTrue(all(o["state"] == "pending" for o in f["objects"]))
        self.assertClean(fixed)


@unittest.skipIf(NO_UVLOOP, NO_UVLOOP)
class FixturesOnUvloopTest(TempDirTest):
    """The leak fixtures that apply under both loops, on uvloop."""

    # program: (check, group) found in its leaky snapshots
    PROGRAMS = {
        "uncancelled_handle.py": ("uncancelled-handle", "Cache.expire"),
        "pending_task.py": ("pending-task", "Client.call"),
        "pending_future.py": ("pending-future", "<not awaited>"),
        "unclosed_resource.py": ("unclosed-resource", "uvloop.loop.TCPTransport"),
        "child_processes.py": ("unclosed-resource", "uvloop.loop.UVProcessTransport"),
        "unawaited_coroutine.py": ("unawaited-coroutine", "Notifier.notify"),
        "retained_task.py": ("retained-task", "Jobs.job"),
    }

    def test_leak_fixtures(self):
        for program, (check, group) in self.PROGRAMS.items():
            with self.subTest(program=program):
                leaky = run_uvloop(self, "on_uvloop.py", program)
                fixed = run_uvloop(self, "on_uvloop.py", program, "--fixed")
                _, found = findings(*leaky)
                self.assertIn((check, group), [(f["check"], f["group"]) for f in found],
                              json.dumps(found, indent=1)[:3000])
                status, clean = findings(*fixed)
                self.assertEqual((status, clean), (0, []), json.dumps(clean, indent=1)[:3000])


if __name__ == "__main__":
    unittest.main()
