"""`asyncsnap diff`: growth by type, coroutine and site; objects born and
kept, clustered by retaining path; different processes with a warning."""

from e2e import TempDirTest, fixture_snapshots, run, run_json, run_program


def row(table, key):
    return next((r for r in table if r["key"] == key), None)


class DiffTest(TempDirTest):
    def test_leaky_service_growth_and_clusters(self):
        a, b, c = run_program("leaky_service.py", "--dir", self.dir, "--rounds", "2")
        d = run_json("diff", "--json", "--top", "100", a, b, c)
        self.assertTrue(d["same_process"])
        session = row(d["types"], "__main__.Session")
        self.assertEqual(session["count"], [50, 150, 250])
        self.assertEqual(session["dcount"], 200)
        self.assertEqual(row(d["coroutines"], "Service.watch")["count"], [50, 150, 250])
        self.assertTrue(any(r["key"].startswith("Service.watch (") for r in d["sites"]))
        self.assertEqual(row(d["pending_tasks"], "Service.watch")["persistent"], 50)
        born = d["born"]
        self.assertGreater(born["objects"], 100)
        labels = [[s["label"] for s in cl["path"]] for cl in born["clusters"]]
        self.assertTrue(any("watchers" in l for l in labels), labels)
        # the timer handles: by the loop's heap or the service's list,
        # whichever the shortest chain meets first
        self.assertTrue(any("_scheduled" in l or "retries" in l for l in labels), labels)
        text = run("diff", a, b, c)
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertIn("growth by type", text.stdout)
        self.assertIn("cluster 1:", text.stdout)
        # counts agree with their nouns: "1 object", never "1 objects"
        self.assertNotRegex(text.stdout, r"(?<![\d,])1 (objects|clusters|top objects)\b")
        for cl in born["clusters"]:
            if cl["objects"] == 1:
                self.assertRegex(text.stdout, r": 1 object \(")

    def test_two_snapshots_have_no_clusters(self):
        a, b, _ = run_program("leaky_service.py", "--dir", self.dir, "--rounds", "1")
        d = run_json("diff", "--json", "--top", "100", a, b)
        self.assertNotIn("born", d)
        self.assertEqual(row(d["types"], "__main__.Session")["count"], [50, 100])

    def test_different_processes_warn(self):
        a = run_program("leaky_service.py", "--dir", self.dir, "--rounds", "1", "--name", "p1")[0]
        b = run_program("leaky_service.py", "--dir", self.dir, "--rounds", "1", "--name", "p2")[-1]
        p = run("diff", a, b)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("different processes", p.stderr)
        d = run_json("diff", "--json", "--top", "100", a, b)
        self.assertFalse(d["same_process"])
        self.assertIn("warning", d)
        self.assertNotIn("pending_tasks", d)

    def test_errors(self):
        snap = next(iter(fixture_snapshots().values()), None)
        if snap is None:
            self.skipTest("no fixture snapshots")
        for args in (["diff"], ["diff", snap], ["diff", "--top", "0", snap, snap]):
            p = run(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("--help", p.stderr)
        self.assertInputError(run("diff", snap, self.path("x.snap")), self.path("x.snap"))
