"""Certainty that means certain: garbage reference cycles that the cycle
collector frees are no leak; they are reported when the collector is
disabled (certain, one snapshot) or when they survive across snapshots and
grow (the collector is not keeping up) - fixtures/programs/garbage_cycles.py."""

from e2e import TempDirTest, findings, run_fixture


class GarbageCyclesTest(TempDirTest):
    def snaps(self, collector, *extra):
        return run_fixture(self, "garbage_cycles.py", "--collector", collector, *extra)

    def test_collected_garbage_is_no_finding(self):
        paths = self.snaps("enabled")
        self.assertEqual(findings(*paths), (0, []))
        self.assertEqual(findings(paths[-1]), (0, []))

    def test_garbage_the_collector_cannot_free_in_time_grows(self):
        paths = self.snaps("stalled")
        status, found = findings(*paths)
        self.assertEqual(status, 1)
        self.assertEqual([(f["check"], f["group"]) for f in found], [("frame-cycle", "handle")])
        f = found[0]
        self.assertEqual(f["growth"], [20, 60, 100])
        self.assertEqual(f["certain"], 0)
        self.assertIn("cycle collector has not freed", f["summary"])
        # one snapshot alone proves nothing about garbage
        self.assertEqual(findings(paths[-1]), (0, []))

    def test_disabled_collector_makes_garbage_certain(self):
        paths = self.snaps("disabled")
        status, found = findings(paths[-1])
        self.assertEqual(status, 1)
        self.assertEqual([(f["check"], f["group"]) for f in found], [("frame-cycle", "handle")])
        self.assertEqual(found[0]["certain"], 100)
        self.assertIn("gc.disable()", found[0]["summary"])

    def test_twins_are_clean(self):
        for collector in ("enabled", "stalled", "disabled"):
            paths = self.snaps(collector, "--fixed")
            self.assertEqual(findings(*paths), (0, []), collector)
