"""asyncsnap.take(): the snapshot holds what the program really has."""

import gc
import os
import stat
import subprocess
import sys
import textwrap

import asyncsnap
from asyncsnap import _agent

from support import TempDirTest, dump, info, zstd_decompress

PAYLOAD = 1000


class Holder:
    def __init__(self, i):
        self.index = i
        self.payload = bytes(PAYLOAD) + i.to_bytes(4, "little")


class TakeTest(TempDirTest):
    def test_the_stub_describes_the_extension(self):
        # _agent.pyi (PEP 561, for type checkers) names what the C
        # extension has, with its parameters as its docstrings give them
        import ast
        import inspect
        ext = asyncsnap._agent
        stub_path = os.path.join(os.path.dirname(asyncsnap.__file__), "_agent.pyi")
        with open(stub_path) as f:
            tree = ast.parse(f.read())
        stubbed = {}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                stubbed[node.name] = [a.arg for a in node.args.args]
            elif isinstance(node, ast.ClassDef):
                stubbed[node.name] = None
            elif isinstance(node, ast.AnnAssign):
                stubbed[node.target.id] = None
        public = {n for n in dir(ext) if not n.startswith("_")}
        self.assertEqual(set(stubbed), public)
        for name, params in stubbed.items():
            if params is None:
                continue
            doc = inspect.getdoc(getattr(ext, name)).splitlines()[0]
            args = doc[doc.index("(") + 1:doc.index(")")]
            self.assertEqual([a.split("=")[0].strip() for a in args.split(",") if a.strip()],
                             params, name)
        self.assertTrue(os.path.exists(os.path.join(os.path.dirname(stub_path), "py.typed")))

    def test_floor_visits_what_the_collector_tracks(self):
        # the benchmark's floors (bench/walk.py): every tracked object
        # visited, and named once with its referents
        keep = [[i] for i in range(5000)]
        visit = _agent._floor(False)
        named = _agent._floor(True)
        self.assertGreaterEqual(visit["tracked"], 5000)
        self.assertGreaterEqual(visit["referents"], 5000)
        self.assertEqual(visit["named"], 0)
        # the same heap, but for the first call's result (a dict, tracked
        # from 3.14 on)
        self.assertLessEqual(abs(named["tracked"] - visit["tracked"]), 2)
        # each list and each int of keep, once
        self.assertGreaterEqual(named["named"], visit["tracked"] + 5000 - 300)
        self.assertLessEqual(named["named"], visit["tracked"] + visit["referents"])
        del keep

    def test_5000_instances_with_sizes_and_edges(self):
        holders = [Holder(i) for i in range(5000)]
        path = asyncsnap.take(self.path("h.snap"), fsync=False)
        nodes = dump(path)
        by_addr = {int(n["addr"], 16): n for n in nodes}

        type_name = __name__ + ".Holder"
        found = [n for n in nodes if n["type"] == type_name]
        self.assertEqual(len(found), 5000)
        for h in holders:
            node = by_addr[id(h)]
            self.assertEqual(node["type"], type_name)
            self.assertEqual(node["size"], sys.getsizeof(h))
            self.assertTrue(node["gc"])
            targets = {int(e["to"], 16) for e in node["edges"]}
            # the instance references its bytes object, which is recorded
            # with its real size although the collector does not track it;
            # before 3.11 the reference goes through the instance's __dict__
            if id(h.payload) not in targets:
                d = by_addr[id(h.__dict__)]
                self.assertIn(id(h.__dict__), targets)
                targets = {int(e["to"], 16) for e in d["edges"]}
            self.assertIn(id(h.payload), targets)
            payload = by_addr[id(h.payload)]
            self.assertEqual(payload["type"], "builtins.bytes")
            self.assertEqual(payload["size"], sys.getsizeof(h.payload))
            self.assertFalse(payload["gc"])
        # the list holds every instance
        lst = by_addr[id(holders)]
        self.assertEqual(len(lst["edges"]), 5000)
        self.assertEqual({int(e["to"], 16) for e in lst["edges"]}, {id(h) for h in holders})

        summary = info(path)
        counts = {t["type"]: t for t in summary["types"]}
        self.assertEqual(counts[type_name]["count"], 5000)
        self.assertEqual(counts[type_name]["bytes"], 5000 * sys.getsizeof(holders[0]))
        self.assertEqual(summary["objects"], len(nodes))

    def test_collector_tracked_objects_match_gc_get_objects(self):
        was = gc.isenabled()
        gc.disable()
        self.addCleanup(lambda: gc.enable() if was else None)
        path = self.path("gc.snap")
        header = "{}"
        objs = gc.get_objects()
        _agent.snapshot(path, header, fsync=False)
        nodes = dump(path)
        tracked = {int(n["addr"], 16): n["type"] for n in nodes if n["gc"]}
        # everything the collector lists is there, with its type
        for o in objs:
            self.assertIn(id(o), tracked)
        # and whatever else is there was made by the call itself (the result
        # list of gc.get_objects, the call's arguments) or is frozen
        listed = {id(o) for o in objs}
        extra = [t for a, t in tracked.items() if a not in listed]
        frozen = gc.get_freeze_count() if hasattr(gc, "get_freeze_count") else 0
        unexplained = [t for t in extra
                       if t not in ("builtins.list", "builtins.tuple", "builtins.dict",
                                    "builtins.frame")]
        self.assertLessEqual(len(unexplained), frozen, unexplained[:10])
        self.assertLessEqual(len(extra) - frozen, 4, extra[:10])

    def test_file_is_0600_and_nothing_else_is_left(self):
        old = os.umask(0)
        try:
            path = asyncsnap.take(self.path("m.snap"), fsync=False)
        finally:
            os.umask(old)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(os.listdir(self.dir), ["m.snap"])

    def test_default_path_uses_asyncsnap_dir_program_pid_and_sequence(self):
        os.environ["ASYNCSNAP_DIR"] = self.dir
        self.addCleanup(os.environ.pop, "ASYNCSNAP_DIR")
        first = asyncsnap.take(fsync=False)
        second = asyncsnap.take(fsync=False)
        self.assertEqual(os.path.dirname(first), self.dir)
        name1, name2 = os.path.basename(first), os.path.basename(second)
        self.assertRegex(name1, r"^[A-Za-z0-9_.-]+-%d-\d+\.snap$" % os.getpid())
        seq1 = int(name1.rsplit("-", 1)[1][:-5])
        seq2 = int(name2.rsplit("-", 1)[1][:-5])
        self.assertEqual(seq2, seq1 + 1)
        self.assertEqual(info(first)["header"]["seq"], seq1)

    def test_header_describes_the_process(self):
        path = asyncsnap.take(self.path("h.snap"), fsync=False)
        summary = info(path)
        h = summary["header"]
        self.assertEqual(h["pid"], os.getpid())
        self.assertEqual(h["python"]["version"], "%d.%d.%d" % sys.version_info[:3])
        self.assertEqual(h["python"]["implementation"], "CPython")
        self.assertGreater(h["rss"], 1 << 20)
        self.assertGreater(summary["objects"], 1000)
        # the counts are known at the end of the walk: the trailer has them
        self.assertEqual(summary["trailer"]["objects"], summary["objects"])
        self.assertEqual(summary["trailer"]["edges"], summary["edges"])
        self.assertGreater(summary["trailer"]["pause_ms"], 0)
        self.assertGreater(summary["edges"], summary["objects"])
        self.assertIn("counts", h["gc"])
        self.assertLessEqual(h["process_start"], h["time"])

    def test_the_running_frames_are_thread_roots(self):
        # on 3.9/3.10 a running frame is an object the collector does not
        # track: only the thread's stack leads to it and its locals
        only_here = [object() for _ in range(7)]
        path = asyncsnap.take(self.path("r.snap"), fsync=False)
        nodes = dump(path)
        mine = [n for n in nodes if n.get("frame", {}).get("qualname", "").rpartition(".")[2]
                == "test_the_running_frames_are_thread_roots"]
        self.assertEqual(len(mine), 1, mine)
        self.assertEqual([r["kind"] for r in mine[0]["roots"]], ["thread"])
        held = {e["to"] for e in mine[0]["edges"] if e.get("label") == "only_here"}
        self.assertEqual(held, {"0x%x" % id(only_here)})

    def test_snapshot_is_a_standard_zstd_stream(self):
        path = asyncsnap.take(self.path("z.snap"), fsync=False)
        body = zstd_decompress(path)
        self.assertGreater(len(body), os.path.getsize(path))
        self.assertEqual(body[0], 0x01)  # the header chunk comes first

    def test_string_contents_are_left_out_unless_values_is_set(self):
        secret = "".join(["s3cr3t-", "marker-", "4f1d2a"])  # never a constant
        secret_bytes = ("bytes-" + secret).encode()
        # held by a tracked object: locals of running frames come with the
        # thread-stack roots, not yet recorded
        self.holder = [{"field": secret, "raw": secret_bytes}]
        path = asyncsnap.take(self.path("s.snap"), fsync=False)
        body = zstd_decompress(path)
        self.assertNotIn(secret.encode(), body)
        self.assertNotIn(secret_bytes, body)

        path = asyncsnap.take(self.path("v.snap"), values=True, fsync=False)
        nodes = {int(n["addr"], 16): n for n in dump(path)}
        self.assertEqual(nodes[id(secret)]["value"], {"text": secret, "length": len(secret)})
        self.assertEqual(nodes[id(secret_bytes)]["value"]["length"], len(secret_bytes))

    def test_values_keep_at_most_64_bytes(self):
        long_text = "x" * 1000 + "-tail"
        self.holder = [long_text]
        path = asyncsnap.take(self.path("l.snap"), values=True, fsync=False)
        node = {int(n["addr"], 16): n for n in dump(path)}[id(long_text)]
        self.assertEqual(node["value"]["text"], "x" * 64)
        self.assertEqual(node["value"]["length"], 1005)

    def test_collector_state_is_restored(self):
        was = gc.isenabled()
        try:
            gc.enable()
            asyncsnap.take(self.path("a.snap"), fsync=False)
            self.assertTrue(gc.isenabled())
            gc.disable()
            asyncsnap.take(self.path("b.snap"), fsync=False)
            self.assertFalse(gc.isenabled())
        finally:
            (gc.enable if was else gc.disable)()

    def test_missing_directory_raises_and_leaves_nothing(self):
        with self.assertRaises(asyncsnap.SnapshotError) as cm:
            asyncsnap.take(self.path("no/such/dir/a.snap"))
        self.assertIn("No such file or directory", str(cm.exception))
        self.assertEqual(os.listdir(self.dir), [])

    def test_path_naming_a_directory_raises(self):
        with self.assertRaises(asyncsnap.SnapshotError):
            asyncsnap.take(self.dir + "/")
        self.assertEqual(os.listdir(self.dir), [])

    def test_full_disk_raises_leaves_nothing_and_the_program_goes_on(self):
        # A file size limit makes write() fail the way a full disk does.
        script = textwrap.dedent("""
            import os, resource, signal, sys
            import asyncsnap
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))
            junk = [bytes(100) + os.urandom(64) for _ in range(20000)]
            try:
                asyncsnap.take(sys.argv[1])
            except asyncsnap.SnapshotError as e:
                print("error:", e)
            print("still running")
        """)
        out = subprocess.run([sys.executable, "-c", script, self.path("full.snap")],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("error: cannot write", out.stdout)
        self.assertIn("still running", out.stdout)
        self.assertEqual(os.listdir(self.dir), [])

    def test_heaps_that_outgrow_the_walks_estimate_are_walked_whole(self):
        # The walk sizes its address map before it starts: the first time
        # for what the collector tracks and the allocator's blocks (here
        # 3 objects in 4 are untracked strings), later for the last take's
        # count. A heap grown since (the second take here) outgrows it: the
        # map grows during the walk, and nothing is lost or written twice.
        # Strings of two characters and more, all new: str(i) of one digit
        # may be the interpreter's cached one-character string (3.15), the
        # same object in both snapshots.
        script = textwrap.dedent("""
            import sys
            import asyncsnap
            first = ["a%d" % i for i in range(300000)]
            asyncsnap.take(sys.argv[1], fsync=False)
            second = ["b%d" % i for i in range(600000)]
            asyncsnap.take(sys.argv[2], fsync=False)
        """)
        p1, p2 = self.path("g1.snap"), self.path("g2.snap")
        out = subprocess.run([sys.executable, "-c", script, p1, p2],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr)
        i1, i2 = info(p1), info(p2)
        strs = lambda i: next(t["count"] for t in i["types"] if t["type"] == "builtins.str")
        # every string of both lists in the second (nothing lost), and
        # not many more than the first had besides its list's (a string
        # walked twice would be counted twice); the program's other
        # objects come and go a little between the takes
        others = strs(i1) - 300000
        self.assertGreaterEqual(others, 0)
        self.assertGreaterEqual(strs(i2), 900000)
        self.assertLess(strs(i2), 900000 + others + 1000)
        self.assertGreater(i2["objects"] - i1["objects"], 600001 - 1000)
        self.assertLess(i2["objects"] - i1["objects"], 600001 + 1000)

    def test_a_replaced_sys_getallocatedblocks_is_not_called(self):
        # A process's first walk asks the allocator how many blocks it has
        # (sys.getallocatedblocks), but only of the interpreter's own
        # function: a program's replacement, even a built-in, is program
        # code and is not run (a list's pop here: each call would shorten it).
        script = textwrap.dedent("""
            import sys
            import asyncsnap
            stack = [0] * 5
            sys.getallocatedblocks = stack.pop
            asyncsnap.take(sys.argv[1], fsync=False)
            print("calls:", 5 - len(stack))
        """)
        out = subprocess.run([sys.executable, "-c", script, self.path("b.snap")],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("calls: 0", out.stdout)
        self.assertGreater(info(self.path("b.snap"))["objects"], 1000)

    def test_many_snapshots_leak_no_objects(self):
        path = self.path("r.snap")
        for _ in range(3):
            asyncsnap.take(path, fsync=False)
        gc.collect()
        before = len(gc.get_objects())
        for _ in range(50):
            asyncsnap.take(path, fsync=False)
        gc.collect()
        self.assertLessEqual(len(gc.get_objects()) - before, 5)


if __name__ == "__main__":
    import unittest
    unittest.main()
