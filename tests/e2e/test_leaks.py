"""`asyncsnap leaks`: every check on a leaky fixture program (snapshots taken
for real through the agent) names the right coroutine or type, and the
program's correct twin (--fixed) gets no finding at all."""

import json
import os
import unittest

from e2e import (TempDirTest, findings, fixture_snapshots, run, run_fixture, run_program,
                 agent_python)

import subprocess

CHECKS = ("unawaited-coroutine", "pending-task", "retained-task", "unclosed-resource",
          "pending-future", "uncancelled-handle", "frame-cycle")

SESSION_RULES = {"rules": [{"type": "__main__.ClientSession",
                            "open_when": {"attr": "_connector", "not": None},
                            "fix": "await session.close()"}]}


class FixturePairsTest(TempDirTest):
    def pair(self, program, *extra):
        leaky = run_fixture(self, program)
        fixed = run_fixture(self, program, "--fixed")
        return leaky, fixed

    def assertFinding(self, found, check, group, status=1):
        """A finding of CHECK whose group is GROUP."""
        names = [(f["check"], f["group"]) for f in found]
        self.assertIn((check, group), names, json.dumps(found, indent=1)[:4000])
        f = next(f for f in found if f["check"] == check and f["group"] == group)
        self.assertGreater(f["count"], 0)
        self.assertEqual(f["count"], len(f["objects"]))
        self.assertGreater(f["retained"], 0)
        self.assertTrue(f["summary"])
        self.assertTrue(f["path"])
        return f

    def assertClean(self, paths, *extra):
        status, found = findings(*extra, *paths)
        self.assertEqual(found, [], json.dumps(found, indent=1)[:4000])
        self.assertEqual(status, 0)
        # one snapshot alone is clean too
        status, found = findings(*extra, paths[-1])
        self.assertEqual((status, found), (0, []))

    def test_unawaited_coroutine(self):
        leaky, fixed = self.pair("unawaited_coroutine.py")
        status, found = findings(*leaky)
        self.assertEqual(status, 1)
        f = self.assertFinding(found, "unawaited-coroutine", "Notifier.notify")
        self.assertEqual(f["growth"], [20, 60, 100])
        for o in f["objects"]:
            self.assertEqual(o["state"], "created")
            self.assertEqual(o["qualname"], "Notifier.notify")
        # certain from one snapshot
        _, one = findings(leaky[0])
        self.assertFinding(one, "unawaited-coroutine", "Notifier.notify")
        self.assertClean(fixed)

    def test_pending_task_orphaned_await(self):
        leaky, fixed = self.pair("pending_task.py")
        _, found = findings(*leaky)
        f = self.assertFinding(found, "pending-task", "Client.call")
        self.assertIn("orphaned", f["summary"])
        self.assertEqual(f["certain"], f["count"])
        self.assertTrue(all(o["type"].endswith("Task") for o in f["objects"]))
        _, one = findings("--check", "pending-task", leaky[0])
        self.assertEqual(self.assertFinding(one, "pending-task", "Client.call")["count"], 20)
        # the twin's three workers wait on a queue forever, legitimately
        self.assertClean(fixed)

    def test_retained_task(self):
        leaky, fixed = self.pair("retained_task.py")
        _, found = findings(*leaky)
        f = self.assertFinding(found, "retained-task", "Jobs.job")
        self.assertEqual(f["growth"], [20, 60, 100])
        self.assertTrue(all(o["state"] == "finished" for o in f["objects"]))
        self.assertClean(fixed)

    def test_retained_future_registry(self):
        leaky, fixed = self.pair("retained_future.py")
        _, found = findings(*leaky)
        f = self.assertFinding(found, "retained-task", "futures in Rpc.pending")
        self.assertEqual(f["growth"], [10, 30, 50])
        self.assertTrue(all(o["state"] == "cancelled" for o in f["objects"]), f["objects"][:3])
        self.assertIn("never removed", f["summary"])
        self.assertIn("finally", f["fix"])
        self.assertEqual([x for x in found if x is not f], [])
        # one snapshot is no evidence: a registry looks like a cache of results
        self.assertEqual(findings(leaky[-1]), (0, []))
        self.assertClean(fixed)

    def test_retained_queue_nobody_reads(self):
        leaky, fixed = self.pair("retained_queue.py")
        _, found = findings(*leaky)
        f = self.assertFinding(found, "retained-task", "queues in Hub.subscribers")
        self.assertEqual(f["growth"], [10, 30, 50])
        self.assertTrue(all(o["type"] == "asyncio.queues.Queue" for o in f["objects"]))
        self.assertIn("nothing reads", f["summary"])
        self.assertIn("discard", f["fix"])
        # the count kept: alive in every snapshot from the second on
        self.assertEqual(f["persistent"], 30)
        text = run("leaks", *leaky).stdout
        self.assertIn("per snapshot: 10 30 50 (30 alive since the second snapshot)", text)
        _, two = findings(*leaky[1:])
        self.assertEqual(self.assertFinding(two, "retained-task", "queues in Hub.subscribers")
                         ["persistent"], 30)
        self.assertIn("30 50 (30 in both snapshots)", run("leaks", *leaky[1:]).stdout)
        self.assertEqual([x for x in found if x is not f], [])
        self.assertEqual(findings(leaky[-1]), (0, []))
        # the twin's five readers, suspended in queue.get(), are not counted
        self.assertClean(fixed)

    def test_pending_future(self):
        leaky, fixed = self.pair("pending_future.py")
        _, found = findings(*leaky)
        f = self.assertFinding(found, "pending-future", "<not awaited>")
        self.assertEqual(f["growth"], [20, 60, 100])
        self.assertTrue(all(o["state"] == "pending" for o in f["objects"]))
        self.assertClean(fixed)

    def test_uncancelled_handle(self):
        leaky, fixed = self.pair("uncancelled_handle.py")
        _, found = findings(*leaky)
        f = self.assertFinding(found, "uncancelled-handle", "Cache.expire")
        self.assertEqual(f["growth"], [20, 60, 100])
        self.assertTrue(all(o["type"] == "asyncio.events.TimerHandle" for o in f["objects"]))
        self.assertClean(fixed)

    def test_unclosed_resource_with_rules_file(self):
        rules = self.write("rules.json", json.dumps(SESSION_RULES).encode())
        leaky, fixed = self.pair("unclosed_resource.py")
        _, found = findings("--rules", rules, *leaky)
        self.assertFinding(found, "unclosed-resource",
                           "asyncio.selector_events._SelectorSocketTransport")
        f = self.assertFinding(found, "unclosed-resource", "__main__.ClientSession")
        self.assertEqual(f["fix"], "await session.close()")
        # one bug, one finding: the selector's reader handles of the open
        # transports are never findings, and what exists because of the
        # open connections (their protocols' "closed" futures, the
        # server's handler tasks waiting on them) is folded into them
        checks = [x["check"] for x in found]
        self.assertEqual(checks.count("unclosed-resource"), 2, found)
        # the server's handlers waiting on the never-closed connections are
        # folded into them where the protocol holds its task (3.11+), else
        # they are the one other finding
        self.assertLessEqual(len(found), 3, [x["summary"] for x in found])
        self.assertTrue(set(checks) <= {"unclosed-resource", "pending-task"}, checks)
        transports = next(x for x in found if x["group"].endswith("_SelectorSocketTransport"))
        folded = {(a["check"], a["group"]) for a in transports["also"]}
        self.assertIn(("pending-future", "<not awaited>"), folded)
        self.assertNotIn("uncancelled-handle", {c for c, _ in folded})
        _, handles = findings("--check", "uncancelled-handle", *leaky)
        self.assertEqual(handles, [])
        # without the rules file the session is not a resource
        _, plain = findings("--check", "unclosed-resource", *leaky)
        self.assertNotIn("__main__.ClientSession", [x["group"] for x in plain])
        self.assertClean(fixed, "--rules", rules)

    def test_child_processes_never_reaped(self):
        leaky, fixed = self.pair("child_processes.py")
        _, found = findings(*leaky)
        # one bug, one finding: the child processes, held where the program
        # files them; their pipes are theirs, and so are the futures their
        # protocols keep (stdin's "closed"), under also
        self.assertEqual(len(found), 1, [x["summary"] for x in found])
        f = self.assertFinding(found, "unclosed-resource",
                               "asyncio.unix_events._UnixSubprocessTransport")
        # 5 jobs a round (warm-up, then 2 and 2 rounds) and the 2 helpers
        self.assertEqual(f["growth"], [7, 17, 27])
        self.assertIn("held by __main__.Jobs.running through asyncio.subprocess.Process",
                      f["summary"])
        self.assertIn("await proc.wait()", f["fix"])
        self.assertEqual([(a["check"], a["group"]) for a in f["also"]],
                         [("pending-future", "<not awaited>")])
        # the helpers, alive for the program's life, are no leak
        self.assertClean(fixed)

    def test_piled_handlers_in_a_registry_named_by_a_rules_file(self):
        rules = self.write("rules.json", json.dumps({"registries": [
            {"type": "__main__.Emitter", "holds": "_handlers", "what": "shutdown handlers",
             "fix": "bus.off(event, handler) in a finally"}]}).encode())
        leaky, fixed = self.pair("piled_handlers.py")
        status, found = findings("--rules", rules, *leaky)
        self.assertEqual(status, 1)
        f = self.assertFinding(found, "pending-future", "Emitter._handlers of Service.bus")
        # every handler counts (the bus calls them all): the two for the
        # service's life too
        self.assertEqual(f["growth"], [22, 62, 102])
        self.assertIn("102 shutdown handlers registered and never removed", f["summary"])
        self.assertEqual(f["fix"], "bus.off(event, handler) in a finally")
        self.assertGreater(f["retained"], 100 * 16384)
        self.assertEqual(len(found), 1, [x["summary"] for x in found])
        # without "what" and "fix": the generic words
        bare = self.write("bare.json", json.dumps({"registries": [
            {"type": "__main__.Emitter", "holds": "_handlers"}]}).encode())
        _, found = findings("--rules", bare, *leaky)
        f = self.assertFinding(found, "pending-future", "Emitter._handlers of Service.bus")
        self.assertIn("102 callbacks registered and never removed", f["summary"])
        self.assertIn("remove each callback", f["fix"])
        # without the rules file the registry is not read
        _, plain = findings(*leaky)
        self.assertEqual([x for x in plain if "_handlers" in x["group"]], [])
        self.assertClean(fixed, "--rules", rules)

    def test_frame_cycle(self):
        python, env = agent_python()
        out = []
        for args in ((), ("--fixed",), ("--on-object",), ("--on-object", "--fixed")):
            path = self.path("fc%d.snap" % len(out))
            p = subprocess.run([python, os.path.join(os.path.dirname(__file__), "..", "..",
                                                     "fixtures", "programs", "frame_cycle.py"),
                                path, "--count", "3", *args],
                               capture_output=True, text=True, env=env, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            out.append(path)
        _, found = findings(out[0])
        f = self.assertFinding(found, "frame-cycle", "fetch")
        self.assertEqual(f["count"], 3)
        self.assertTrue(f["path_is_cycle"])
        self.assertIn("builtins.traceback", [n["type"] for n in f["path"]])
        self.assertIn("an exception kept in a local leads back", f["summary"])
        self.assertEqual(findings(out[1]), (0, []))
        # kept by an object the frame's self leads to, not by a local: the
        # summary says so (the chain shows self -> errors -> the exception)
        _, found = findings(out[2])
        # frames are named by qualified name on 3.11+, by bare name before
        group = "Fetcher.fetch" if ("frame-cycle", "Fetcher.fetch") in [
            (x["check"], x["group"]) for x in found] else "fetch"
        f = self.assertFinding(found, "frame-cycle", group)
        self.assertEqual(f["count"], 3)
        self.assertIn("is kept by an object the frame's locals reach", f["summary"])
        self.assertNotIn("kept in a local", f["summary"])
        self.assertIn("errors", [n.get("label") for n in f["path"]])
        # what each cycle costs is its exception, traceback and frame, not the
        # Fetcher (and its 1 MiB cache) that the cycle passes through
        for o in f["objects"]:
            self.assertGreater(o["retained"], 0)
            self.assertLess(o["retained"], 1 << 19)
        self.assertEqual(findings(out[3]), (0, []))


class LeakyServiceTest(TempDirTest):
    """The bundled example: the README's main job."""

    def test_leaky_snapshots_report_every_leak_and_fixed_none(self):
        leaky = run_program("leaky_service.py", "--dir", self.dir, "--rounds", "2")
        status, found = findings(*leaky)
        self.assertEqual(status, 1)
        # frames are named by qualified name on 3.11+, by bare name before
        groups = {(f["check"], f["group"].replace("Service.failing_step", "failing_step"))
                  for f in found}
        # the futures the stuck tasks await are a consequence of them: one
        # bug, one finding, the futures folded into it
        task = next(f for f in found if f["check"] == "pending-task")
        self.assertIn(("pending-future", "Service.watch"),
                      [(a["check"], a["group"]) for a in task["also"]])
        self.assertNotIn("pending-future", [f["check"] for f in found])
        groups |= {(a["check"], a["group"]) for a in task["also"]}
        wants = (("pending-task", "Service.watch"), ("pending-future", "Service.watch"),
                 ("unawaited-coroutine", "Service.audit"),
                 ("uncancelled-handle", "Service.handle.<locals>.<lambda>"),
                 ("frame-cycle", "failing_step"))
        for want in wants:
            self.assertIn(want, groups)
        for f in found:
            group = f["group"].replace("Service.failing_step", "failing_step")
            if (f["check"], group) == ("frame-cycle", "failing_step"):
                # on 3.12+ a frame may be counted with the caller frame's
                # cycle it also lies on (Service.handle)
                g = f["growth"]
                self.assertEqual(g[:2], [50, 150], f)
                self.assertTrue(200 <= g[2] <= 250, f)
            elif (f["check"], group) in wants:
                self.assertEqual(f["growth"], [50, 150, 250], f["check"])
            else:
                # 3.12+ link a finished frame to its caller's frame object:
                # the kept exceptions also keep the callers' frames in cycles
                self.assertEqual(f["check"], "frame-cycle", f)
        fixed = run_program("leaky_service.py", "--dir", self.dir, "--rounds", "2", "--fixed")
        self.assertEqual(findings(*fixed), (0, []))
        text = run("leaks", *leaky)
        self.assertEqual(text.returncode, 1)
        self.assertIn("[pending-task]", text.stdout)
        self.assertIn("fix:", text.stdout)
        self.assertIn("watchers", text.stdout)  # the retaining chain names the set
        self.assertIn("no findings", run("leaks", *fixed).stdout)

    def test_check_filter(self):
        leaky = run_program("leaky_service.py", "--dir", self.dir, "--rounds", "1")
        _, found = findings("--check", "frame-cycle,unawaited-coroutine", *leaky)
        self.assertEqual({f["check"] for f in found}, {"frame-cycle", "unawaited-coroutine"})


class CommittedSnapshotsTest(TempDirTest):
    def test_every_committed_snapshot_is_read(self):
        snaps = fixture_snapshots()
        if not snaps:
            self.skipTest("no fixture snapshots")
        for version, snap in snaps.items():
            p = run("leaks", "--json", snap)
            self.assertIn(p.returncode, (0, 1), (version, p.stderr))
            for f in json.loads(p.stdout)["findings"]:
                self.assertIn(f["check"], CHECKS)

    def test_usage_and_input_errors(self):
        snap = next(iter(fixture_snapshots().values()), None)
        if snap is None:
            self.skipTest("no fixture snapshots")
        for args in (["leaks"], ["leaks", "--check", "nope", snap], ["leaks", "--check"],
                     ["leaks", "--bogus", snap], ["leaks", "--show", "x", snap]):
            p = run(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("--help", p.stderr)
            self.assertEqual(p.stdout, "")
        with open(snap, "rb") as f:
            data = f.read()
        cut = self.write("cut.snap", data[: len(data) // 2])
        self.assertInputError(run("leaks", snap, cut), cut, "truncated")
        bad = self.write("bad.json", b'{"rules": [{"type": "x"}]}')
        p = run("leaks", "--rules", bad, snap)
        self.assertEqual(p.returncode, 2)
        self.assertIn("open_when", p.stderr)
        self.assertIn(bad, p.stderr)
        self.assertInputError(run("leaks", "--rules", self.path("missing.json"), snap),
                              self.path("missing.json"))

    def test_help(self):
        p = run("leaks", "--help")
        self.assertEqual(p.returncode, 0)
        for c in CHECKS:
            self.assertIn(c, p.stdout)
        self.assertIn("leaks", run("--help").stdout)


if __name__ == "__main__":
    unittest.main()
