"""What a snapshot says about objects: labelled edges, coroutines and their
locals, asyncio records, scalar attributes, roots, and no secrets."""

import asyncio
import gc
import sys
import weakref

import asyncsnap

from support import TempDirTest, dump, zstd_decompress

PY311 = sys.version_info >= (3, 11)
SECRET = "hunter2-7f3a9c-marker"


class Conn:
    def __init__(self):
        self._closed = False
        self.retries = 3
        self.timeout = 2.5
        self.peer = None
        self.name = "conn"


class Slotted:
    __slots__ = ("_open", "payload")

    def __init__(self):
        self._open = True
        self.payload = bytearray(10)


def snapshot(test, name="s.snap", **kw):
    path = asyncsnap.take(test.path(name), fsync=False, **kw)
    nodes = dump(path)
    return path, nodes, {int(n["addr"], 16): n for n in nodes}


def labels_to(node, target_id):
    return [e.get("label") for e in node["edges"] if int(e["to"], 16) == target_id]


def locals_holder(by, coro_node):
    """Where a coroutine's locals hang: the coroutine itself on 3.11+
    (its frame lives inside it), its frame object on 3.9/3.10."""
    if PY311:
        return coro_node
    frame = [e for e in coro_node["edges"] if e.get("label") == "cr_frame"]
    return by[int(frame[0]["to"], 16)]


class CoroutineTest(TempDirTest):
    def run_async(self, coro):
        return asyncio.run(coro)

    def test_suspended_coroutine_locals_state_line_and_awaited_future(self):
        result = {}

        async def child(fut):
            bar_conn = Conn()
            result["conn"] = bar_conn
            await fut  # SUSPENDED HERE

        async def main():
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            task = loop.create_task(child(fut), name="kid-1")
            await asyncio.sleep(0)
            result["snap"] = snapshot(self)
            result.update(task=task, fut=fut, coro=task.get_coro())
            task.cancel()

        self.run_async(main())
        _, nodes, by = result["snap"]
        coro = by[id(result["coro"])]
        rec = coro["coroutine"]
        self.assertEqual(rec["state"], "suspended")
        self.assertEqual(rec["qualname"], child_qualname(self))
        self.assertEqual(rec["file"], __file__)
        with open(__file__) as f:
            line = [i for i, text in enumerate(f, 1) if "# SUSPENDED HERE" in text][0]
        self.assertEqual(rec["line"], line)
        holder = locals_holder(by, coro)
        self.assertIn("bar_conn", labels_to(holder, id(result["conn"])))
        self.assertIn("fut", labels_to(holder, id(result["fut"])))

        task = by[id(result["task"])]
        self.assertEqual(task["task"]["state"], "pending")
        # a name the program chose: its keyed hash unless values=True
        self.assertEqual(task["task"]["name"], "name#%016x" % (hash("kid-1") & (2**64 - 1)))
        self.assertEqual(int(task["task"]["coro"], 16), id(result["coro"]))
        self.assertEqual(int(task["task"]["waiting_on"], 16), id(result["fut"]))
        self.assertIn("_coro", labels_to(task, id(result["coro"])))
        self.assertIn("_fut_waiter", labels_to(task, id(result["fut"])))
        fut = by[id(result["fut"])]
        self.assertEqual(fut["future"]["state"], "pending")
        self.assertGreaterEqual(fut["future"]["callbacks"], 1)  # the task's wakeup
        # the scalar attributes of the local's object
        attrs = by[id(result["conn"])]["attrs"]
        self.assertIs(attrs["_closed"], False)
        self.assertIsNone(attrs["peer"])
        self.assertNotIn("name", attrs)  # a str is not a scalar fact
        # numbers are the program's data: only with values=True
        self.assertNotIn("retries", attrs)
        self.assertNotIn("timeout", attrs)

    def test_created_and_closed_coroutines(self):
        async def never():
            return 1

        created = never()
        done = never()
        try:
            done.send(None)
        except StopIteration:
            pass
        _, _, by = snapshot(self)
        self.assertEqual(by[id(created)]["coroutine"]["state"], "created")
        self.assertEqual(by[id(done)]["coroutine"]["state"], "closed")
        created.close()

    def test_taking_a_snapshot_creates_no_frame_object(self):
        async def waiter(fut):
            await fut

        async def main():
            fut = asyncio.get_running_loop().create_future()
            coro = waiter(fut)
            task = asyncio.ensure_future(coro)
            await asyncio.sleep(0)
            # (keep only the answer: the parsed dump would swell the heap)
            first = "frame" in snapshot(self, "a.snap")[2][id(coro)]["coroutine"]
            second = "frame" in snapshot(self, "b.snap")[2][id(coro)]["coroutine"]
            task.cancel()
            return first, second

        first, second = asyncio.run(main())
        if PY311:
            # a frame object, once created, would be in the second snapshot
            self.assertFalse(first)
            self.assertFalse(second)
        else:
            self.assertTrue(second)

    def test_executing_coroutine_is_a_thread_root_with_its_locals(self):
        out = {}

        async def main():
            here_local = Conn()
            out["local"] = here_local
            out["snap"] = snapshot(self)
            out["coro"] = asyncio.current_task().get_coro()

        asyncio.run(main())
        _, nodes, by = out["snap"]
        coro = by[id(out["coro"])]
        self.assertEqual(coro["coroutine"]["state"], "running")
        self.assertIn("thread", [r["kind"] for r in coro.get("roots", [])])
        holder = locals_holder(by, coro)
        self.assertIn("here_local", labels_to(holder, id(out["local"])))
        kinds = {r["kind"] for n in nodes for r in n.get("roots", [])}
        self.assertIn("sys.modules", kinds)
        modules = [n for n in nodes if any(r["kind"] == "sys.modules" for r in n.get("roots", []))]
        self.assertEqual(int(modules[0]["addr"], 16), id(sys.modules))

    def test_call_later_handle_records_callback_and_due_time(self):
        out = {}

        def on_timeout():
            pass

        async def main():
            loop = asyncio.get_running_loop()
            out["h"] = loop.call_later(3600, on_timeout)
            out["snap"] = snapshot(self)
            out["h"].cancel()
            out["loop"] = loop

        asyncio.run(main())
        _, _, by = out["snap"]
        h = by[id(out["h"])]["handle"]
        self.assertEqual(h["callback_name"], on_timeout.__qualname__)
        self.assertAlmostEqual(h["when"], out["h"].when(), places=6)
        self.assertIs(h["cancelled"], False)
        loop = by[id(out["loop"])]["loop"]
        self.assertGreaterEqual(loop["scheduled_count"], 1)
        self.assertIs(loop["running"], True)

    def test_builtin_callbacks_are_named_by_type_and_name(self):
        out = {}

        async def main():
            loop = asyncio.get_running_loop()
            cache = {}
            out["method"] = loop.call_later(3600, cache.pop, "key", None)
            out["function"] = loop.call_later(3600, print, "x")
            out["snap"] = snapshot(self)
            out["method"].cancel()
            out["function"].cancel()

        asyncio.run(main())
        _, _, by = out["snap"]
        self.assertEqual(by[id(out["method"])]["handle"]["callback_name"], "dict.pop")
        self.assertEqual(by[id(out["function"])]["handle"]["callback_name"], "print")


    def test_pure_python_task_and_future_are_recorded_like_the_c_ones(self):
        import asyncio.futures
        import asyncio.tasks
        out = {}

        async def child(fut):
            await fut

        async def main():
            loop = asyncio.get_running_loop()
            fut = asyncio.futures._PyFuture(loop=loop)
            task = asyncio.tasks._PyTask(child(fut), loop=loop, name="py-kid")
            await asyncio.sleep(0)
            path = asyncsnap.take(self.path("py.snap"), fsync=False)
            out.update(task=task, fut=fut, coro=task.get_coro(), path=path)
            task.cancel()

        asyncio.run(main())
        by = {int(n["addr"], 16): n for n in dump(out["path"])}
        task = by[id(out["task"])]["task"]
        self.assertEqual(task["state"], "pending")
        self.assertEqual(task["name"], "name#%016x" % (hash("py-kid") & (2**64 - 1)))
        self.assertEqual(int(task["coro"], 16), id(out["coro"]))
        self.assertEqual(int(task["waiting_on"], 16), id(out["fut"]))
        self.assertEqual(by[id(out["fut"])]["future"]["state"], "pending")


def child_qualname(test):
    return "CoroutineTest.test_suspended_coroutine_locals_state_line_and_awaited_future.<locals>.child"


class LabelTest(TempDirTest):
    def test_attributes_dict_keys_and_indices(self):
        target = Conn()
        holder = Conn()
        holder.link = target
        d = {"alpha": target, "not an identifier": target, 42: target}
        lst = [None, target]
        tup = (target,)
        _, _, by = snapshot(self)
        if PY311:
            self.assertIn("link", labels_to(by[id(holder)], id(target)))
        else:
            hd = by[id(holder.__dict__)]
            self.assertIn("__dict__", labels_to(by[id(holder)], id(holder.__dict__)))
            self.assertIn("link", labels_to(hd, id(target)))
        self.assertEqual(sorted(labels_to(by[id(d)], id(target))), ["alpha", "value", "value"])
        self.assertEqual(labels_to(by[id(lst)], id(target)), ["[1]"])
        self.assertEqual(labels_to(by[id(tup)], id(target)), ["[0]"])

    def test_big_containers_keep_every_reference_in_order(self):
        # more references than the walk's batch and lag hold, and than one
        # chunk of the file (65,536): every one written, to the right node
        lst = [10 ** 9 + i for i in range(100_000)]
        d = {"k%d" % i: 10 ** 10 + i for i in range(70_000)}
        _, nodes, by = snapshot(self)
        edges = by[id(lst)]["edges"]
        self.assertEqual(len(edges), len(lst))
        self.assertEqual([int(e["to"], 16) for e in edges], [id(x) for x in lst])
        self.assertEqual([e.get("label") for e in edges[:3] + edges[-1:]],
                         ["[0]", "[1]", "[2]", "[99999]"])
        targets = {int(e["to"], 16) for e in by[id(d)]["edges"]}
        self.assertTrue(all(id(v) in targets for v in d.values()))
        self.assertTrue(all(id(v) in by for v in lst), "every referent is a node")
        self.assertEqual(len(by), len(nodes), "no object written twice")

    def test_slots_closures_and_functions(self):
        s = Slotted()
        captured = Conn()

        def outer():
            def inner():
                return captured
            return inner

        fn = outer()
        _, _, by = snapshot(self)
        self.assertIn("payload", labels_to(by[id(s)], id(s.payload)))
        self.assertIs(by[id(s)]["attrs"]["_open"], True)
        cell = fn.__closure__[0]
        self.assertIn("__closure__", labels_to(by[id(fn)], id(fn.__closure__)))
        self.assertIn("cell_contents", labels_to(by[id(cell)], id(captured)))
        self.assertIn("__code__", labels_to(by[id(fn)], id(fn.__code__)))

    def test_weakset_members_are_weak_edges(self):
        members = [Conn() for _ in range(5)]
        ws = weakref.WeakSet(members)
        _, nodes, by = snapshot(self)
        for m in members:
            incoming = [(n, e) for n in nodes for e in n["edges"] if int(e["to"], 16) == id(m)]
            from_refs = [(n, e) for n, e in incoming if "weakref" in n["type"] or "ReferenceType" in n["type"]]
            self.assertTrue(from_refs, "a weak reference to the member is recorded")
            for n, e in from_refs:
                self.assertTrue(e.get("weak"), e)
                self.assertEqual(e.get("label"), "weak")
        del ws

    def test_exception_kept_by_its_own_frame_is_a_cycle_of_labelled_edges(self):
        keep = []

        def fail():
            try:
                raise ValueError("x")
            except ValueError as exc:
                error = exc
                keep.append(error)

        fail()
        exc = keep[0]
        tb = exc.__traceback__
        _, _, by = snapshot(self)
        self.assertIn("__traceback__", labels_to(by[id(exc)], id(tb)))
        self.assertIn("tb_frame", labels_to(by[id(tb)], id(tb.tb_frame)))
        frame = by[id(tb.tb_frame)]
        self.assertIn("error", labels_to(frame, id(exc)))
        self.assertEqual(frame["frame"]["qualname"].split(".")[-1], "fail")
        keep.clear()
        gc.collect()


class SecretTest(TempDirTest):
    def test_marker_in_locals_attributes_and_dict_values_never_written(self):
        secret = SECRET + "-local"
        c = Conn()
        c.token = SECRET + "-attr"
        d = {"password": SECRET + "-value", SECRET + "-key": 1}
        b = (SECRET + "-bytes").encode()
        path, _, _ = snapshot(self)
        data = zstd_decompress(path)
        self.assertNotIn(SECRET.encode(), data)
        # with values=True the prefix is there: the marker test can fail
        path2 = asyncsnap.take(self.path("v.snap"), fsync=False, values=True)
        self.assertIn(SECRET.encode(), zstd_decompress(path2))
        del secret, c, d, b


class SitesTest(TempDirTest):
    def test_coroutine_origin_and_task_creation_sites(self):
        out = {}

        async def sleeper():
            await asyncio.sleep(60)

        async def main():
            loop = asyncio.get_running_loop()
            loop.set_debug(True)  # keeps each task's creation stack
            out["task"] = loop.create_task(sleeper())  # TASK CREATED
            out["coro"] = sleeper()  # CORO CREATED
            await asyncio.sleep(0)
            out["snap"] = snapshot(self)
            out["coro"].close()
            out["task"].cancel()

        old = sys.get_coroutine_origin_tracking_depth()
        sys.set_coroutine_origin_tracking_depth(2)
        self.addCleanup(sys.set_coroutine_origin_tracking_depth, old)
        with open(__file__) as f:
            text = f.read().splitlines()
        task_line = [i for i, t in enumerate(text, 1) if "# TASK CREATED" in t][0]
        coro_line = [i for i, t in enumerate(text, 1) if "# CORO CREATED" in t][0]
        asyncio.run(main())
        _, _, by = out["snap"]
        created = by[id(out["task"])]["task"]["created"]
        self.assertEqual(created[-1], [__file__, task_line, "main"])
        origin = by[id(out["coro"])]["coroutine"]["origin"]
        self.assertEqual(origin[0], [__file__, coro_line, "main"])

    def test_tracemalloc_allocation_site_when_tracing(self):
        import tracemalloc

        def make():
            return [Conn() for _ in range(3)]  # ALLOCATED HERE

        with open(__file__) as f:
            line = [i for i, t in enumerate(f, 1) if "# ALLOCATED HERE" in t][0]
        objs = make()
        # (only the answer is kept: a parsed dump would swell the next one)
        untraced = snapshot(self, "off.snap")[2][id(objs[0])]
        self.assertNotIn("alloc", untraced)  # not tracing: nothing
        del untraced
        tracemalloc.start(4)
        try:
            objs = make()
            path = asyncsnap.take(self.path("on.snap"), fsync=False)
        finally:
            tracemalloc.stop()  # before reading the dump: tracing is slow
        by = {int(n["addr"], 16): n for n in dump(path)}
        sites = by[id(objs[0])]["alloc"]["traceback"]
        self.assertEqual(sites[-1][:2], [__file__, line])
