"""Frames read right on every CPython: the locals of a suspended and of a
running coroutine, by name, from the raw frame slots. From 3.14 on a slot is
a tagged stack reference (a NULL local is the bit pattern 1, a tagged int is
no object): read as a pointer it would give an edge to an odd or tiny
address, or a crash. Checked here through `asyncsnap dump --json`, under
whichever Python the suite runs (CPYTHON-INTERNALS §2, §9; docs/PORTING.md)."""

import json
import sys
import textwrap

from e2e import TempDirTest, findings, run, run_program, run_source

PROGRAM = textwrap.dedent(r'''
    import asyncio, sys
    import asyncsnap

    async def suspended(fut, items):
        none_local = None
        small = 7
        big = 10 ** 20
        def inner():
            return cell_never_bound
        if not items:
            never_bound = 1
            cell_never_bound = 2
        # a loop over a list: 3.14+ keeps the loop index on the value stack
        # as a tagged int while the coroutine is suspended in the body
        for counter in items:
            await fut

    async def running(path, fut):
        here = fut
        number = 5
        asyncsnap.take(path, fsync=False)

    async def main(path):
        fut = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(suspended(fut, [1, 2, 3]))
        await asyncio.sleep(0)
        await running(path, fut)
        fut.set_result(None)
        await task

    asyncio.run(main(sys.argv[1]))
''')


class FrameSlotsTest(TempDirTest):
    def setUp(self):
        super().setUp()
        snap = self.path("f.snap")
        run_source(self, "frames.py", PROGRAM, snap)
        d = run("dump", "--json", snap)
        self.assertEqual(d.returncode, 0, d.stderr)
        self.nodes = [json.loads(line) for line in d.stdout.splitlines()]
        self.by_addr = {n["addr"]: n for n in self.nodes}

    def coroutine(self, qualname):
        found = [n for n in self.nodes
                 if n.get("coroutine", {}).get("qualname") == qualname]
        self.assertEqual(len(found), 1, qualname)
        return found[0]

    def local_edges(self, coro):
        """{label: target node} of the coroutine's locals: its own edges
        (3.11+, the frame is inside it) and its frame object's (3.9/3.10)."""
        out = {}
        nodes = [coro]
        frame = coro["coroutine"].get("frame")
        if frame:
            nodes.append(self.by_addr[frame])
        for n in nodes:
            for e in n["edges"]:
                if e["label"] is not None:
                    out.setdefault(e["label"], self.by_addr[e["to"]])
        return out

    def test_suspended_coroutine_locals(self):
        c = self.coroutine("suspended")
        self.assertEqual(c["coroutine"]["state"], "suspended")
        locals_ = self.local_edges(c)
        for name in ("fut", "items", "none_local", "small", "big", "inner", "counter",
                     "cell_never_bound"):
            self.assertIn(name, locals_, sorted(locals_))
        # an unbound local has no edge: not NULL read as an object
        self.assertNotIn("never_bound", locals_)
        # locals bound to immortals and small ints are those objects
        self.assertEqual(locals_["none_local"]["type"], "builtins.NoneType")
        self.assertEqual(locals_["small"]["type"], "builtins.int")
        self.assertEqual(locals_["counter"]["type"], "builtins.int")
        self.assertEqual(locals_["big"]["type"], "builtins.int")
        self.assertEqual(locals_["inner"]["type"], "builtins.function")
        self.assertEqual(locals_["fut"]["type"], "_asyncio.Future")
        self.assertEqual(locals_["items"]["type"], "builtins.list")
        # an unbound cell variable is its cell, with nothing in it
        cell = locals_["cell_never_bound"]
        self.assertEqual(cell["type"], "builtins.cell")
        self.assertEqual([e for e in cell["edges"] if e["label"] == "cell_contents"], [])
        # what it awaits: the future (or its iterator), read from the top of
        # the value stack, not the tagged loop index below it
        awaiting = self.by_addr[c["coroutine"]["awaiting"]]
        self.assertIn(awaiting["type"], ("_asyncio.FutureIter", "_asyncio.Future"))
        if awaiting["type"] == "_asyncio.FutureIter":
            self.assertIn(locals_["fut"]["addr"], [e["to"] for e in awaiting["edges"]])

    def test_running_coroutine_locals(self):
        c = self.coroutine("running")
        self.assertEqual(c["coroutine"]["state"], "running")
        locals_ = self.local_edges(c)
        self.assertEqual(locals_["here"]["type"], "_asyncio.Future")
        self.assertEqual(locals_["number"]["type"], "builtins.int")
        self.assertEqual(locals_["path"]["type"], "builtins.str")

    def test_no_bogus_addresses(self):
        # every node the walk reached is a real object: aligned and above the
        # first page (small ints, without values=True, are written under a
        # hashed address with the top bit set)
        for n in self.nodes:
            if n.get("synthetic"):
                continue
            a = int(n["addr"], 16)
            if a >= 1 << 63:
                self.assertEqual(n["type"], "builtins.int", n)
                continue
            self.assertEqual(a % 8, 0, n)
            self.assertGreaterEqual(a, 4096, n)
            for e in n["edges"]:
                self.assertIn(e["to"], self.by_addr)


class CallerFramesTest(TempDirTest):
    """Why 3.13 reports more frame-cycle groups than 3.14 on the bundled
    service (fixtures/programs/leaky_service.py keeps the exception a
    coroutine caught, whose traceback holds that coroutine's frame): on 3.12
    and 3.13, a coroutine's frame object that outlives the coroutine is
    linked to its callers' frames (f_back), so the kept exceptions also keep
    the callers' frames (Service.handle, Handle._run,
    BaseEventLoop._run_once) on cycles; before 3.12 and from 3.14 on it is
    not, and only the coroutine's own frame stays. The expectation is per
    version, and the mechanism is checked here, in this interpreter."""

    @staticmethod
    def kept_chain():
        import asyncio

        async def inner():
            try:
                raise ValueError
            except ValueError as e:
                return e

        async def outer():
            return await inner()

        async def main():
            return await asyncio.ensure_future(outer())

        frame = asyncio.run(main()).__traceback__.tb_frame
        chain = []
        while frame is not None:
            chain.append(frame.f_code.co_name)
            frame = frame.f_back
        return chain

    def test_frame_cycle_groups_follow_the_caller_links(self):
        chain = self.kept_chain()
        keeps_callers = len(chain) > 1
        self.assertEqual(chain[0], "inner")
        self.assertEqual(keeps_callers, (3, 12) <= sys.version_info < (3, 14), chain)
        if keeps_callers:
            self.assertEqual(chain[1], "outer")
        paths = run_program("leaky_service.py", "--dir", self.dir, "--rounds", "1")
        _, found = findings(paths[-1])
        groups = set()
        for f in found:
            for g in [f] + f.get("also", []):
                if g["check"] == "frame-cycle":
                    # (3.9/3.10 code objects have no qualified name)
                    groups.add(g["group"].replace("Service.", ""))
        self.assertIn("failing_step", groups)
        callers = groups - {"failing_step"}
        if keeps_callers:
            self.assertIn("handle", callers)
        else:
            self.assertEqual(callers, set())


if __name__ == "__main__":
    import unittest
    unittest.main()
