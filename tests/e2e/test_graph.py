"""`asyncsnap dominators`, `cycles` and `path`: on the committed snapshots,
on fixture programs run with the agent, and with bad input."""

import os
import unittest

from e2e import (PROGRAMS, TempDirTest, agent_python, fixture_snapshots, run, run_json,
                 run_program)

import subprocess


def snapshots():
    snaps = fixture_snapshots()
    if not snaps:
        raise unittest.SkipTest("no fixture snapshots")
    return snaps


def take(test, program, *args):
    """Run fixtures/programs/PROGRAM with the agent; returns the snapshot path."""
    python, env = agent_python()
    out = test.path(program.replace(".py", ".snap"))
    p = subprocess.run([python, os.path.join(PROGRAMS, program), out, *args],
                       capture_output=True, text=True, env=env, timeout=300)
    test.assertEqual(p.returncode, 0, p.stderr)
    return out


def labelled(snap):
    """Whether the agent that wrote SNAP labels references at all."""
    return any(e.get("label") for line in run("dump", "--json", snap).stdout.splitlines()
               for e in __import__("json").loads(line).get("edges", []))


OBJECT_FIELDS = ("addr", "type", "size", "retained")


class CommandsTest(TempDirTest):
    def test_help(self):
        for cmd in ("dominators", "cycles", "path"):
            p = run(cmd, "--help")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("usage: asyncsnap " + cmd, p.stdout)
            self.assertIn("--json", p.stdout)
            self.assertIn(cmd, run("--help").stdout)

    def test_dominators_json_on_every_fixture(self):
        for version, snap in snapshots().items():
            d = run_json("dominators", "--json", "--top", "5", snap)
            info = run_json("info", "--json", snap)
            self.assertEqual(d["objects"], info["objects"], version)
            self.assertGreater(d["roots"]["count"], 0, version)
            self.assertEqual(len(d["top"]), 5)
            prev = None
            for o in d["top"]:
                for k in OBJECT_FIELDS:
                    self.assertIn(k, o)
                self.assertGreaterEqual(o["retained"], o["size"])
                if prev is not None:
                    self.assertLessEqual(o["retained"], prev)
                prev = o["retained"]
            # the roots' subtrees hold everything
            self.assertGreaterEqual(d["bytes"], d["top"][0]["retained"])
            for child in d["tree"]:
                for k in OBJECT_FIELDS:
                    self.assertIn(k, child)
                self.assertIn("root", child)

    def test_dominators_type_filter(self):
        snap = next(iter(snapshots().values()))
        d = run_json("dominators", "--json", "--type", "list", snap)
        self.assertTrue(d["top"])
        for o in d["top"]:
            self.assertEqual(o["type"], "builtins.list")
        text = run("dominators", "--type", "builtins.list", snap)
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertIn("top retainers of type builtins.list", text.stdout)

    def test_cycles_json_fields(self):
        for version, snap in snapshots().items():
            c = run_json("cycles", "--json", snap)
            self.assertIn("cycles", c)
            for cy in c["cycles"]:
                self.assertEqual(len(cy["nodes"]), len(cy["labels"]))
                self.assertGreaterEqual(cy["size"], len(cy["nodes"]))
                self.assertIsInstance(cy["garbage"], bool)
                self.assertGreaterEqual(cy["retained"], 0)
                types = {n["type"] for n in cy["nodes"]}
                self.assertTrue(types & {"builtins.coroutine", "builtins.generator", "builtins.frame",
                                         "builtins.traceback", "builtins.async_generator",
                                         "_asyncio.Task"}, version)

    def test_path_to_an_address_and_to_a_type(self):
        snap = next(iter(snapshots().values()))
        d = run_json("dominators", "--json", "--type", "Session", snap)
        target = d["top"][0]["addr"]
        p = run_json("path", "--json", snap, target)
        self.assertEqual(p["target"]["addr"], target)
        self.assertEqual(p["path"][-1]["addr"], target)
        self.assertIsNone(p["path"][0]["label"])
        self.assertEqual(p["root"]["addr"], p["path"][0]["addr"])
        by_type = run_json("path", "--json", "--type", "Session", snap)
        self.assertEqual(by_type["target"]["addr"], target)
        text = run("path", snap, target)
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertIn("root:", text.stdout)
        self.assertIn(target, text.stdout)

    def test_reading_twice_gives_the_same_answers(self):
        # Large files are read in two passes (ASYNCSNAP_LOAD=auto); forced
        # here on small ones: every retention command must answer the same.
        snap = next(iter(snapshots().values()))
        addr = run_json("dominators", "--json", "--type", "Session", snap)["top"][0]["addr"]
        for args in (["dominators", "--json", snap], ["cycles", "--json", snap],
                     ["path", "--json", snap, addr], ["export", "--format", "collapsed", snap],
                     ["export", "--format", "dot", snap]):
            outs = {}
            for mode in ("once", "twice"):
                p = subprocess.run([os.environ["ASYNCSNAP_CLI"], *args], capture_output=True,
                                   text=True, env=dict(os.environ, ASYNCSNAP_LOAD=mode))
                self.assertEqual(p.returncode, 0, (args, mode, p.stderr))
                outs[mode] = p.stdout
            self.assertEqual(outs["once"], outs["twice"], args)
            self.assertTrue(outs["once"])

    def test_usage_and_input_errors(self):
        snap = next(iter(snapshots().values()))
        for args in (["dominators"], ["dominators", "--top", "0", snap], ["dominators", "--depth", "x", snap],
                     ["cycles", snap, snap], ["path", snap], ["path", snap, "12345"],
                     ["path", "--bogus", snap], ["dominators", "--type"]):
            p = run(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("--help", p.stderr, args)
            self.assertEqual(p.stdout, "")
        p = run("path", snap, "0x1")
        self.assertEqual(p.returncode, 2)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1)
        self.assertIn("no object at 0x1", p.stderr)
        p = run("path", "--type", "no.SuchType", snap)
        self.assertEqual(p.returncode, 2)
        self.assertIn("no object of type", p.stderr)
        with open(snap, "rb") as f:
            data = f.read()
        cut = self.write("cut.snap", data[: len(data) // 2])
        for cmd in (["dominators", cut], ["cycles", cut], ["path", cut, "0x10"]):
            self.assertInputError(run(*cmd), cut, "truncated")


class ProgramsTest(TempDirTest):
    def test_frame_cycle_is_reported_and_fixed_twin_is_clean(self):
        snap = take(self, "frame_cycle.py", "--count", "3")
        c = run_json("cycles", "--json", snap)
        frame_cycles = [cy for cy in c["cycles"]
                        if any(n["type"] == "builtins.ValueError" for n in cy["nodes"])
                        and any(n["type"] == "builtins.frame" for n in cy["nodes"])]
        # three garbage components of one shape: one entry that counts them
        self.assertEqual(len(frame_cycles), 1, c)
        self.assertEqual(frame_cycles[0]["count"], 3, c)
        self.assertEqual(frame_cycles[0]["components"], 3, c)
        self.assertTrue(frame_cycles[0]["whole"])
        for cy in frame_cycles:
            self.assertTrue(cy["garbage"])
            self.assertGreater(cy["retained"], 0)
            self.assertIn("builtins.traceback", [n["type"] for n in cy["nodes"]])
        if labelled(snap):
            self.assertTrue(any("failure" in (l or "") for cy in frame_cycles for l in cy["labels"]),
                            frame_cycles)
            self.assertIn("failure", run("cycles", snap).stdout)
        fixed = take(self, "frame_cycle.py", "--count", "3", "--fixed")
        c = run_json("cycles", "--json", fixed)
        self.assertFalse([cy for cy in c["cycles"]
                          if any(n["type"] == "builtins.ValueError" for n in cy["nodes"])])

    def test_cycles_inside_a_live_heap_are_found_by_shape(self):
        # A live heap is one large component (modules, functions, globals):
        # the cycles reported are the short ones through its frames,
        # coroutines and tasks, counted by shape, each a closed chain.
        for version, snap in snapshots().items():
            c = run_json("cycles", "--json", snap)
            edges = {}
            for line in run("dump", "--json", snap).stdout.splitlines():
                o = __import__("json").loads(line)
                edges[o["addr"]] = {(e["to"], e.get("label")) for e in o.get("edges", [])}
            shapes = set()
            for cy in c["cycles"]:
                addrs = [n["addr"] for n in cy["nodes"]]
                for i, a in enumerate(addrs):
                    nxt = addrs[(i + 1) % len(addrs)]
                    self.assertIn((nxt, cy["labels"][i]), edges[a], (version, cy))
                shape = tuple((n["type"], l) for n, l in zip(cy["nodes"], cy["labels"]))
                self.assertGreaterEqual(cy["count"], 1)
                if not cy["whole"]:
                    self.assertGreater(cy["size"], 1000, cy)
                    self.assertLessEqual(len(addrs), 12)
                shapes.add(shape)
            self.assertEqual(len(shapes), len(c["cycles"]), version)
            # the exception kept in a local of failing_step: one entry for
            # all of them, not a single chain for the whole component
            kept = [cy for cy in c["cycles"] if not cy["whole"] and cy["count"] >= 10
                    and [n["type"] for n in cy["nodes"]] ==
                    ["builtins.frame", "builtins.ValueError", "builtins.traceback"]]
            self.assertEqual(len(kept), 1, (version, c))
            self.assertEqual(kept[0]["labels"], ["error", "__traceback__", "tb_frame"])
            self.assertTrue(any(n["type"] == "_asyncio.Task" for cy in c["cycles"]
                                for n in cy["nodes"]), version)
            self.assertEqual(c["unexamined"], 0)
            text = run("cycles", snap).stdout
            self.assertIn("of this shape", text)

    def test_fixed_service_keeps_no_exception_cycle(self):
        run_program("leaky_service.py", "--dir", self.dir, "--rounds", "1", "--phases", "1",
                    "--fixed")
        snaps = [os.path.join(self.dir, f) for f in os.listdir(self.dir) if f.endswith(".snap")]
        self.assertTrue(snaps)
        c = run_json("cycles", "--json", snaps[0])
        self.assertFalse([cy for cy in c["cycles"]
                          if "builtins.ValueError" in [n["type"] for n in cy["nodes"]]], c)

    def test_big_list_retains_ten_megabytes_and_path_names_it(self):
        snap = take(self, "big_list.py")
        d = run_json("dominators", "--json", "--type", "builtins.list", "--top", "1", snap)
        big = d["top"][0]
        self.assertGreaterEqual(big["retained"], 10 * 1000 * 1000)
        b = run_json("dominators", "--json", "--type", "builtins.bytes", "--top", "1", snap)
        self.assertEqual(b["top"][0]["idom"], big["addr"])
        p = run_json("path", "--json", snap, b["top"][0]["addr"])
        addrs = [s["addr"] for s in p["path"]]
        self.assertIn(big["addr"], addrs)
        self.assertFalse(p["garbage"])
        if labelled(snap):
            i = addrs.index(big["addr"])
            self.assertIn("payloads", p["path"][i]["label"] or "")
            self.assertIn("payloads", run("path", snap, b["top"][0]["addr"]).stdout)
