"""`asyncsnap tasks`: every task explained, the suspicious first."""

import importlib.util
import json
import os
import re
import sys
import textwrap

from e2e import ROOT, TempDirTest, findings, fixture_snapshots, run, run_json, run_program, run_source

# Tasks on two loops, the second on a thread of its own (3.14+ keeps native
# tasks on per-thread lists, no longer in asyncio's WeakSet); one task with
# two cancel() requests. Prints what asyncio itself says, taken in the same
# process right before the snapshot.
TWO_LOOPS = textwrap.dedent(r'''
    import asyncio, json, sys, threading
    import asyncsnap

    async def waiter(fut):
        await fut

    def other(ready, box):
        async def run():
            loop = asyncio.get_running_loop()
            box["fut"] = loop.create_future()
            box["tasks"] = [asyncio.create_task(waiter(box["fut"]), name="other-%d" % i)
                            for i in range(3)]
            await asyncio.sleep(0)
            box["names"] = [t.get_name() for t in asyncio.all_tasks()]
            box["loop"] = loop
            ready.set()
            await box["fut"]
        asyncio.run(run())

    async def main(path):
        ready, box = threading.Event(), {}
        th = threading.Thread(target=other, args=(ready, box))
        th.start()
        ready.wait()
        loop = asyncio.get_running_loop()
        mine = [asyncio.create_task(waiter(loop.create_future()), name="main-%d" % i)
                for i in range(4)]
        await asyncio.sleep(0)
        mine[0].cancel()
        mine[0].cancel()
        names = [t.get_name() for t in asyncio.all_tasks()] + box["names"]
        # (Task.cancelling() is 3.11+; before, no count is kept)
        cancelling = {t.get_name(): [t.cancelling() if hasattr(t, "cancelling") else 0,
                                     t._must_cancel] for t in mine}
        asyncsnap.take(path, fsync=False, values=True)
        print(json.dumps({"names": names, "cancelling": cancelling}))
        box["loop"].call_soon_threadsafe(box["fut"].set_result, None)
        th.join()
        for t in mine:
            t.cancel()
        await asyncio.gather(*mine, return_exceptions=True)

    asyncio.run(main(sys.argv[1]))
''')

# Tasks alike and not: six in a list and four in a set waiting in the same
# place, two in the list waiting elsewhere, one alone; three that each
# await a task of their own (as a server's connection tasks await their
# request's handler task), and those three.
ALIKE = textwrap.dedent(r'''
    import asyncio, sys
    import asyncsnap

    async def wait(event):
        await event.wait()

    async def other(event):
        await event.wait()

    async def alone(event):
        await event.wait()

    async def parent(event, i):
        await asyncio.create_task(wait(event), name="child-%d" % i)

    async def main(path):
        event = asyncio.Event()
        in_list = [asyncio.create_task(wait(event), name="list-%d" % i) for i in range(6)]
        in_list += [asyncio.create_task(other(event), name="other-%d" % i) for i in range(2)]
        in_set = {asyncio.create_task(wait(event), name="set-%d" % i) for i in range(4)}
        lone = asyncio.create_task(alone(event), name="lone")
        parents = [asyncio.create_task(parent(event, i), name="parent-%d" % i) for i in range(3)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        asyncsnap.take(path, fsync=False, values=True)
        event.set()
        await asyncio.gather(*in_list, *in_set, lone, *parents)

    asyncio.run(main(sys.argv[1]))
''')

# Tasks awaiting futures that nothing else holds: the unguarded one can
# never finish (orphaned); one guarded by a timeout, or whose cancel() a
# timer will call, is not: the live timer reaches it.
GUARDED = textwrap.dedent(r'''
    import asyncio, sys
    import asyncsnap

    async def bare(fut):
        await fut

    async def later(fut):
        await fut

    async def timed(fut):
        try:
            async with asyncio.timeout(60):
                await fut
        except TimeoutError:
            pass

    async def main(out):
        loop = asyncio.get_running_loop()
        guarded = [asyncio.create_task(bare(loop.create_future())),
                   asyncio.create_task(later(loop.create_future())),
                   asyncio.create_task(asyncio.wait_for(loop.create_future(), 60))]
        loop.call_later(60, guarded[1].cancel)
        if hasattr(asyncio, "timeout"):
            guarded.append(asyncio.create_task(timed(loop.create_future())))
        await asyncio.sleep(0.05)
        asyncsnap.take(out)
        for t in guarded:
            t.cancel()
        await asyncio.gather(*guarded, return_exceptions=True)

    asyncio.run(main(sys.argv[1]))
''')


# "Run until cancelled": a task that awaits a future of its own forever
# (websockets' serve idiom), held in a local of the code that made it -
# main(), or a fixture-like async generator suspended at its yield - which
# cancels it when it resumes. The same task dropped in a module list has
# nobody to end it: orphaned.
HELD = textwrap.dedent(r'''
    import asyncio, sys
    import asyncsnap

    DROPPED = []

    async def serve_forever():
        await asyncio.Future()

    async def forgotten():
        await asyncio.Future()

    async def fixture():
        task = asyncio.create_task(serve_forever())
        yield
        task.cancel()

    async def main(out):
        server = asyncio.create_task(serve_forever())
        fx = fixture()
        await fx.__anext__()
        DROPPED.append(asyncio.create_task(forgotten()))
        await asyncio.sleep(0.05)
        asyncsnap.take(out)
        server.cancel()
        await fx.aclose()
        DROPPED[0].cancel()
        await asyncio.sleep(0)

    asyncio.run(main(sys.argv[1]))
''')


def blocks(text):
    """The blocks of `tasks` text after its summary line, as lists of lines."""
    return [b.splitlines() for b in text.split("\n\n")[1:]]


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
        self.assertIn("await chain:", text.stdout)
        # the 150 watchers are one block, the main task another
        self.assertEqual([b[0].split()[:2] for b in blocks(text.stdout)],
                         [["orphaned", "150"], ["main", "_asyncio.Task"]])

    def test_one_object_shape_in_every_command(self):
        """The same object prints the same fields from tasks, path, leaks and
        dominators (docs/ANALYZE.md, "An object"): one snapshot handle, so
        the asyncio fields too, whichever command loads it."""
        paths = run_program("leaky_service.py", "--dir", self.dir, "--rounds", "1")
        core = ("addr", "type", "size", "name", "retained", "garbage", "root", "idom",
                "state", "qualname", "site")
        task = run_json("tasks", "--json", paths[-1])["tasks"][0]
        target = run_json("path", "--json", paths[-1], task["addr"])["target"]
        for k in core:
            self.assertIn(k, task)
            self.assertEqual(task[k], target[k], k)
        self.assertEqual(task["state"], "pending")
        self.assertIs(task["garbage"], False)
        # leaks (the three snapshots) knows the task too, with the same shape
        status, found = findings(*paths)
        self.assertEqual(status, 1)
        seen = [o for f in found for o in f["objects"] if o["addr"] == task["addr"]]
        self.assertTrue(seen, "the orphaned task is not among the findings' objects")
        for k in core:
            self.assertEqual(seen[0][k], task[k], k)
        # and dominators' top retainer reads the same through path
        top = run_json("dominators", "--json", "--top", "1", paths[-1])["top"][0]
        again = run_json("path", "--json", paths[-1], top["addr"])["target"]
        for k in core:
            self.assertEqual(top.get(k), again.get(k), k)

    def test_tasks_alike_are_one_block(self):
        snap = self.path("alike.snap")
        run_source(self, "alike.py", ALIKE, snap)
        every = run_json("tasks", "--json", snap)["tasks"]
        self.assertEqual(len(every), 20)  # --json lists each: 6 + 2 + 4 + 1 + 3 + 3 and main
        text = run("tasks", snap)
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertTrue(text.stdout.startswith("20 tasks: 20 pending"), text.stdout)
        groups = {}
        for b in blocks(text.stdout):
            head = b[0].split()
            if "alike" in b[0]:
                names = re.findall(r"'([^']*)' 0x[0-9a-f]+", b[-1])
                groups[tuple(sorted({n.split("-")[0] for n in names}))] = (int(head[1]), b)
            else:
                groups[(head[2].strip("'"),)] = (1, b)
        # the list's index does not split a group; the place and the holder do
        self.assertEqual({k: n for k, (n, _) in groups.items()},
                         {("list",): 6, ("other",): 2, ("set",): 4, ("lone",): 1, ("Task-1",): 1,
                          ("parent",): 3, ("child",): 3})
        # the task each parent awaits, and each child's parent, go unnamed
        self.assertRegex(groups[("parent",)][1][2], r"-> _asyncio\.Task '\.\.\.'$")
        self.assertIn("_asyncio.Task '...'._fut_waiter", groups[("child",)][1][3])
        n, b = groups[("list",)]
        # (3.9 and 3.10: the frame holds the locals)
        self.assertRegex("\n".join(b),
                         r"referenced by: list\.\[i\] \((coroutine|frame) main\.in_list\)")
        self.assertIn("in wait", b[1])
        # the first three in the order of --json (the most suspicious first)
        first = [t["name"] for t in every if t["name"].startswith("list-")][:3]
        self.assertEqual(re.findall(r"'([^']*)' 0x", b[-1]), first)
        self.assertTrue(b[-1].endswith("and 3 more (--each: one block per task)"), b[-1])
        self.assertRegex("\n".join(groups[("set",)][1]), r"set \((coroutine|frame) main\.in_set\)")
        self.assertIn("in other", groups[("other",)][1][1])
        self.assertNotIn("alike", groups[("lone",)][1][0])
        # --each: one block per task, with each one's own index
        each = blocks(run("tasks", "--each", snap).stdout)
        self.assertEqual(len(each), 20)
        self.assertFalse([b for b in each if "alike" in b[0]])
        indexes = re.findall(r"list\.\[(\d+)\] \((?:coroutine|frame) main\.in_list\)",
                             "\n".join(l for b in each for l in b))
        self.assertEqual(sorted(map(int, indexes)), list(range(8)))

    def test_a_live_timer_that_reaches_a_task_can_wake_it(self):
        snap = self.path("guarded.snap")
        run_source(self, "guarded.py", GUARDED, snap)
        # (task names are not in a default snapshot: their coroutines tell them apart)
        verdicts = {t["qualname"].split(".")[-1]: t["orphaned"]
                    for t in run_json("tasks", "--json", snap)["tasks"]
                    if t.get("qualname", "").split(".")[-1] in ("bare", "later", "wait_for", "timed")}
        want = {"bare": True, "later": False, "wait_for": False}
        if "timed" in verdicts:  # 3.11+
            want["timed"] = False
        self.assertEqual(verdicts, want)
        _, found = findings(snap)
        self.assertEqual([(f["check"], f["count"]) for f in found], [("pending-task", 1)])

    def test_a_task_held_in_a_local_of_live_code_can_be_cancelled(self):
        snap = self.path("held.snap")
        run_source(self, "held.py", HELD, snap)
        verdicts = sorted((t.get("qualname", "").split(".")[-1], t["orphaned"])
                          for t in run_json("tasks", "--json", snap)["tasks"]
                          if t.get("qualname", "").split(".")[-1] in ("serve_forever", "forgotten"))
        self.assertEqual(verdicts, [("forgotten", True), ("serve_forever", False),
                                    ("serve_forever", False)])
        _, found = findings(snap)
        self.assertEqual([(f["check"], f["group"]) for f in found],
                         [("pending-task", "forgotten")])

    def test_fixed_service_has_only_its_main_task(self):
        paths = run_program("leaky_service.py", "--dir", self.dir, "--rounds", "1", "--fixed")
        t = run_json("tasks", "--json", paths[-1])["tasks"]
        self.assertEqual([x["verdict"] for x in t], ["main"])

    def test_agrees_with_all_tasks_on_two_threads(self):
        snap = self.path("t.snap")
        truth = json.loads(run_source(self, "two_loops.py", TWO_LOOPS, snap))
        tasks = run_json("tasks", "--json", snap)["tasks"]
        self.assertEqual(sorted(t["name"] for t in tasks), sorted(truth["names"]))
        self.assertEqual(len(truth["names"]), 9)  # 4 + 3 and each loop's main task
        by_name = {t["name"]: t for t in tasks}
        for i in range(3):
            t = by_name["other-%d" % i]
            self.assertEqual((t["state"], t["qualname"]), ("pending", "waiter"))
            self.assertEqual(t["await_chain"][-1]["state"], "pending")
        # the records themselves: coroutine, what it waits on, cancel count
        d = run("dump", "--json", snap)
        self.assertEqual(d.returncode, 0, d.stderr)
        nodes = {}
        for line in d.stdout.splitlines():
            n = json.loads(line)
            nodes[n["addr"]] = n
        records = {n["task"]["name"]: n["task"] for n in nodes.values() if "task" in n}
        self.assertEqual(sorted(records), sorted(truth["names"]))
        for name, (count, must_cancel) in truth["cancelling"].items():
            r = records[name]
            self.assertEqual(nodes[r["coro"]]["coroutine"]["qualname"], "waiter")
            self.assertEqual(nodes[r["waiting_on"]]["type"], "_asyncio.Future")
            self.assertEqual(r.get("cancel_requested", 0), count, name)
            self.assertEqual(r["must_cancel"], must_cancel, name)
        if sys.version_info >= (3, 11):
            self.assertEqual(truth["cancelling"]["main-0"][0], 2)

    def test_agent_warnings_are_shown_escaped(self):
        # the agent says in the trailer what it could not record (an
        # _asyncio.Task layout this build does not mirror: no task records);
        # every command that reads tasks repeats it, one escaped line
        spec = importlib.util.spec_from_file_location(
            "make_corpus", os.path.join(ROOT, "tests", "corrupt", "make-corpus.py"))
        corpus = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(corpus)
        s = corpus.Snap()
        s.trailer = (b'{"objects": 5, "warnings": ["_asyncio.Task is 999 bytes, not the 208'
                     b' \\u001b[31m this agent reads\\nasyncsnap: forged line"]}')
        snap = self.write("warned.snap", s.file())
        for args in (("tasks", snap), ("leaks", snap), ("diff", snap, snap)):
            p = run(*args)
            self.assertIn(p.returncode, (0, 1), p.stderr)
            lines = p.stderr.splitlines()
            warned = [l for l in lines if l.startswith("asyncsnap: warning: %s: _asyncio.Task is 999"
                                                        % snap)]
            self.assertGreaterEqual(len(warned), 1, p.stderr)
            self.assertNotIn("\x1b", p.stderr)
            self.assertIn("\\x1b[31m", warned[0])  # shown, escaped
            self.assertFalse(any(l.startswith("asyncsnap: forged") for l in lines), p.stderr)
        info = run("info", snap)
        self.assertEqual(info.returncode, 0, info.stderr)
        self.assertIn("warning    _asyncio.Task is 999 bytes", info.stdout)
        self.assertNotIn("\x1b", info.stdout)

    def test_errors(self):
        snap = next(iter(fixture_snapshots().values()), None)
        if snap is None:
            self.skipTest("no fixture snapshots")
        self.assertEqual(run("tasks").returncode, 2)
        self.assertEqual(run("tasks", snap, snap).returncode, 2)
        self.assertEqual(run("tasks", "--json", snap).returncode, 0)
        self.assertInputError(run("tasks", self.path("none.snap")), self.path("none.snap"))
