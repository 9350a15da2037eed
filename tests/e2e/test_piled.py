"""`asyncsnap leaks`, pending-future: callbacks and waiters that pile up on one
long-lived object (fixtures/programs/piled_callbacks.py, piled_waiters.py),
found from one snapshot and across three; their correct twins, which keep
the same object busy with legitimate in-flight work, get no finding."""

import json
import unittest

from e2e import TempDirTest, findings, run, run_fixture


def piled(found, group):
    """The pending-future finding of GROUP, at the top or folded into
    another finding (its `also`): (finding, folded)."""
    for f in found:
        if f["check"] == "pending-future" and f["group"] == group:
            return f, False
    for f in found:
        for a in f.get("also", []):
            if a["check"] == "pending-future" and a["group"] == group:
                return a, True
    raise AssertionError("no pending-future finding %r in %s"
                         % (group, json.dumps(found, indent=1)[:4000]))


class PiledTest(TempDirTest):
    def assertClean(self, paths):
        for args in (paths, paths[-1:]):
            status, found = findings(*args)
            self.assertEqual((status, found), (0, []), json.dumps(found, indent=1)[:4000])

    def test_done_callbacks_on_one_future(self):
        leaky = run_fixture(self, "piled_callbacks.py")
        group = "Conn.on_close on Conn._closed"
        # one snapshot: at least 100 never-removed callbacks
        status, one = findings(leaky[-1])
        self.assertEqual(status, 1)
        f, folded = piled(one, group)
        self.assertFalse(folded)
        self.assertGreaterEqual(f["count"], 100)
        self.assertEqual(f["count"], f["certain"])
        self.assertEqual(len(f["objects"]), f["count"])
        self.assertTrue(all(o["type"] == "functools.partial" for o in f["objects"]))
        # each partial keeps its request's 16 KiB buffer
        self.assertGreater(f["retained"], 100 * 16384)
        self.assertIn("done-callbacks of Conn.on_close()", f["summary"])
        self.assertIn("held by Conn._closed", f["summary"])
        labels = [n.get("label") for n in f["path"]]
        self.assertIn("_closed", labels)
        self.assertIn("_callbacks", labels)
        self.assertIn("remove_done_callback", f["fix"])
        # only the leak: the in-flight waits on the same future are not reported
        self.assertEqual([x for x in one if x["check"] == "pending-future"], [f])
        # three snapshots: growth of the same future's pile
        status, three = findings(*leaky)
        self.assertEqual(status, 1)
        f, _ = piled(three, group)
        g = f["growth"]
        self.assertEqual(len(g), 3)
        self.assertTrue(20 <= g[0] < g[1] < g[2], g)
        self.assertGreater(f["persistent"], 0)
        self.assertIn("across the snapshots", f["summary"])
        # the text output
        text = run("leaks", *leaky)
        self.assertEqual(text.returncode, 1)
        self.assertIn("[pending-future]", text.stdout)
        self.assertIn("Conn.on_close()", text.stdout)
        # growth alone, from the first two snapshots (fewer than 100)
        _, two = findings(*leaky[:2])
        f, _ = piled(two, group)
        self.assertLess(f["count"], 100)
        # the correct twin: callbacks removed in a finally
        fixed = run_fixture(self, "piled_callbacks.py", "--fixed")
        self.assertClean(fixed)

    def test_event_waiters(self):
        leaky = run_fixture(self, "piled_waiters.py")
        group = "Event._waiters of Channel.closing"
        status, one = findings(leaky[-1])
        self.assertEqual(status, 1)
        f, _ = piled(one, group)
        self.assertEqual(f["count"], 100)
        self.assertIn("Event.wait()", f["summary"])
        self.assertTrue(all(o["state"] == "pending" for o in f["objects"]))
        # three snapshots: it grows (the tasks left waiting are reported
        # by pending-task too; the two may be folded into one finding)
        _, three = findings(*leaky)
        f, _ = piled(three, group)
        self.assertIn("20 -> 60 -> 100 across the snapshots", f["summary"])
        # the correct twin: what asyncio.wait leaves pending is cancelled;
        # workers held by the channel wait on the event and a queue
        fixed = run_fixture(self, "piled_waiters.py", "--fixed")
        self.assertClean(fixed)


if __name__ == "__main__":
    unittest.main()
