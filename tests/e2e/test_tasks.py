"""`asyncsnap tasks`: every task explained, the suspicious first."""

import json

from e2e import TempDirTest, fixture_snapshots, run, run_json, run_program


class TasksTest(TempDirTest):
    def test_leaky_service_orphans_first_and_main_last(self):
        paths = run_program("leaky_service.py", "--dir", self.dir, "--rounds", "1")
        t = run_json("tasks", "--json", paths[-1])["tasks"]
        self.assertEqual(len(t), 151)  # 150 watchers (50 a round) and the main task
        orphans = [x for x in t if x["orphaned"]]
        self.assertEqual(len(orphans), 150)
        self.assertTrue(all(x["verdict"] == "orphaned" for x in t[:150]))
        self.assertEqual(t[-1]["verdict"], "main")
        w = t[0]
        # named watch-N by the program: without values=True, as its hash
        self.assertRegex(w["name"], r"^name#[0-9a-f]{16}$")
        self.assertEqual(len({x["name"] for x in t[:150]}), 150)
        self.assertEqual(w["qualname"], "Service.watch")
        self.assertEqual(w["suspended_in"]["qualname"], "Service.watch")
        self.assertEqual(w["await_chain"][0]["qualname"], "Service.watch")
        self.assertEqual(w["await_chain"][-1]["state"], "pending")
        self.assertGreater(w["retained"], w["size"])
        held = [r.get("held_by", {}).get("label") for r in w["referrers"]]
        self.assertIn("watchers", held)
        text = run("tasks", paths[-1])
        self.assertEqual(text.returncode, 0)
        self.assertIn("orphaned", text.stdout)
        self.assertIn("await chain:", text.stdout)

    def test_fixed_service_has_only_its_main_task(self):
        paths = run_program("leaky_service.py", "--dir", self.dir, "--rounds", "1", "--fixed")
        t = run_json("tasks", "--json", paths[-1])["tasks"]
        self.assertEqual([x["verdict"] for x in t], ["main"])

    def test_errors(self):
        snap = next(iter(fixture_snapshots().values()), None)
        if snap is None:
            self.skipTest("no fixture snapshots")
        self.assertEqual(run("tasks").returncode, 2)
        self.assertEqual(run("tasks", snap, snap).returncode, 2)
        self.assertEqual(run("tasks", "--json", snap).returncode, 0)
        self.assertInputError(run("tasks", self.path("none.snap")), self.path("none.snap"))
