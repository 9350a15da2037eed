"""asyncsnap export --format heapsnapshot: a valid V8 heap snapshot whose
retainer paths are asyncsnap's own."""

import json
import os

from e2e import TempDirTest, fixture_snapshots, run, run_json


def load(path):
    with open(path) as f:
        return json.load(f)


class HeapSnapshotTest(TempDirTest):
    def export(self, snap):
        out = self.path("a.heapsnapshot")
        p = run("export", "--format", "heapsnapshot", "-o", out, snap)
        self.assertEqual(p.returncode, 0, p.stderr)
        return load(out)

    def test_every_fixture_exports_a_consistent_snapshot(self):
        snaps = fixture_snapshots()
        if not snaps:
            self.skipTest("no fixture snapshots")
        for name, snap in snaps.items():
            with self.subTest(name):
                hs = self.export(snap)
                info = run_json("info", "--json", snap)
                meta = hs["snapshot"]["meta"]
                nf, ef = len(meta["node_fields"]), len(meta["edge_fields"])
                nodes, edges, strings = hs["nodes"], hs["edges"], hs["strings"]
                # one node per object, plus the synthetic root
                self.assertEqual(hs["snapshot"]["node_count"], info["objects"] + 1)
                self.assertEqual(len(nodes), hs["snapshot"]["node_count"] * nf)
                self.assertEqual(len(edges), hs["snapshot"]["edge_count"] * ef)
                counts = [nodes[i + 4] for i in range(0, len(nodes), nf)]
                self.assertEqual(sum(counts), hs["snapshot"]["edge_count"])
                self.assertEqual(sum(counts[1:]), info["edges"])
                self.assertTrue(all(edges[i + 2] % nf == 0 and edges[i + 2] < len(nodes)
                                    for i in range(0, len(edges), ef)))
                self.assertTrue(all(0 <= nodes[i + 1] < len(strings)
                                    for i in range(0, len(nodes), nf)))
                ids = [nodes[i + 2] for i in range(0, len(nodes), nf)]
                self.assertEqual(len(set(ids)), len(ids))
                weak = meta["edge_types"][0].index("weak")
                n_weak = sum(1 for i in range(0, len(edges), ef) if edges[i] == weak)
                self.assertEqual(n_weak, info["weak_edges"])
                # the class names are the constructors DevTools groups by
                names = {strings[nodes[i + 1]] for i in range(0, len(nodes), nf)}
                self.assertIn("__main__.Session", names)

    def test_retainer_path_matches_asyncsnap_path(self):
        snap = fixture_snapshots().get("py3.11") or next(iter(fixture_snapshots().values()))
        hs = self.export(snap)
        meta = hs["snapshot"]["meta"]
        nf = len(meta["node_fields"])
        etypes = meta["edge_types"][0]
        nodes, edges, strings = hs["nodes"], hs["edges"], hs["strings"]
        index = {}
        first_edge = []
        e = 0
        for i in range(0, len(nodes), nf):
            index[nodes[i + 2]] = i
            first_edge.append(e)
            e += nodes[i + 4] * 3

        def out_edges(node_index):
            k = node_index // nf
            start = first_edge[k]
            for j in range(start, start + nodes[node_index + 4] * 3, 3):
                yield etypes[edges[j]], edges[j + 1], edges[j + 2]

        path = run_json("path", "--json", "--type", "__main__.Session", snap)["path"]
        at = index[int(path[0]["addr"], 16) | 1]
        # the root is an edge of the synthetic root
        self.assertIn(at, [to for _, _, to in out_edges(0)])
        for step in path[1:]:
            target = index[int(step["addr"], 16) | 1]
            names = set()
            for etype, name, to in out_edges(at):
                if to == target:
                    names.add("[%d]" % name if etype == "element" else
                              strings[name] if etype in ("property", "weak", "shortcut") else None)
            self.assertTrue(names, step)
            if step["label"] is not None:
                self.assertIn(step["label"], names)
            at = target

    def test_bad_format_and_unwritable_output(self):
        snap = next(iter(fixture_snapshots().values()))
        p = run("export", "--format", "svg", snap)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown format", p.stderr)
        p = run("export", snap)
        self.assertEqual(p.returncode, 2)
        out = os.path.join(self.dir, "missing", "a.heapsnapshot")
        p = run("export", "--format", "heapsnapshot", "-o", out, snap)
        self.assertEqual(p.returncode, 2)
        self.assertIn(out, p.stderr)
        self.assertFalse(os.path.exists(os.path.dirname(out)))
        self.assertEqual(os.listdir(self.dir), [])


class MemlabTest(TempDirTest):
    """memlab reads the export and computes the same retained size.

    Needs node and the memlab npm package; point ASYNCSNAP_MEMLAB_MODULES
    at a node_modules holding it (e.g. after `PUPPETEER_SKIP_DOWNLOAD=1
    npm install memlab` in some directory). Skipped otherwise."""

    def test_memlab_loads_the_export_and_agrees_on_retained_size(self):
        import shutil
        import subprocess
        modules = os.environ.get("ASYNCSNAP_MEMLAB_MODULES")
        if not modules or not shutil.which("node") or \
                not os.path.isdir(os.path.join(modules, "@memlab", "heap-analysis")):
            self.skipTest("memlab not installed (set ASYNCSNAP_MEMLAB_MODULES)")
        snap = fixture_snapshots()["py3.11"]
        out = self.path("a.heapsnapshot")
        self.assertEqual(run("export", "--format", "heapsnapshot", "-o", out, snap).returncode, 0)
        script = os.path.join(os.path.dirname(__file__), "js", "memlab-check.js")
        env = dict(os.environ, NODE_PATH=modules)
        p = subprocess.run(["node", script, out], capture_output=True, text=True, env=env,
                           timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = json.loads(p.stdout.strip().splitlines()[-1].split("\x1b[K")[-1])
        info = run_json("info", "--json", snap)
        self.assertEqual(got["nodes"], info["objects"] + 1)
        path = run_json("path", "--json", "--type", "__main__.Session", snap)
        self.assertEqual(got["session_retained"], path["target"]["retained"])
        # the immediate dominator memlab computes is asyncsnap's
        idom = [step["type"] for step in path["path"] if step["addr"] == path["target"]["idom"]]
        self.assertEqual(got["dominators"][:2], ["__main__.Session"] + idom)
