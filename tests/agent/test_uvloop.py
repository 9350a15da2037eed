"""uvloop objects in a snapshot: records for uvloop's Handle and TimerHandle
(the fields of asyncio's handle record), its loop (ready queue, timers),
the _closing/_closed flags of its transports and the _closed flag of its
child processes (set once the child is reaped), all read from Cython structs
without running Python code; and no record at all for what the agent has
not checked (another uvloop version, a subclass)."""

import asyncio
import ctypes
import gc
import socket
import sys
import unittest

import asyncsnap

from support import TempDirTest, dump

try:
    import uvloop
    import uvloop.loop
    UVLOOP = None
except ImportError as e:  # only Debian's python3 has python3-uvloop here
    uvloop = None
    UVLOOP = "uvloop is not importable by %s: %s" % (sys.executable, e)
    print("test_uvloop: skipped: " + UVLOOP, file=sys.stderr)


def expire(key, payload):
    pass


class Handler:
    def on_tick(self, n):
        pass


def never_free(obj):
    # uvloop's Handle.__dealloc__ complains about a handle never given a
    # loop (as one made by Handle.__new__ is): keep it for good
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))


def records(nodes, kind):
    """{addr: record} of the nodes that have a record of KIND."""
    return {int(n["addr"], 16): n[kind] for n in nodes if kind in n}


@unittest.skipIf(uvloop is None, UVLOOP)
class UvloopRecordsTest(TempDirTest):
    def run_uvloop(self, coro):
        loop = uvloop.new_event_loop()
        try:
            return loop.run_until_complete(coro)
        finally:
            loop.close()

    def snapshot(self, name="s.snap"):
        path = asyncsnap.take(self.path(name), fsync=False)
        nodes = dump(path)
        return nodes, {int(n["addr"], 16): n for n in nodes}

    def test_handles_timer_handles_and_loop(self):
        out = {}

        async def main():
            loop = asyncio.get_running_loop()
            h = Handler()
            payload = bytearray(100)
            timers = [loop.call_later(100 + i, expire, i, payload) for i in range(5)]
            timers[0].cancel()
            soon = loop.call_soon(h.on_tick, 7)
            cancelled_soon = loop.call_soon(expire, 1, 2)
            cancelled_soon.cancel()
            now = loop.time()
            out["nodes"], out["by"] = self.snapshot()
            out.update(loop=loop, timers=timers, soon=soon, now=now,
                       cancelled_soon=cancelled_soon, payload=payload)
            for t in timers:
                t.cancel()
            soon.cancel()

        self.run_uvloop(main())
        nodes, by = out["nodes"], out["by"]
        handles = records(nodes, "handle")
        timers = out["timers"]
        for i, t in enumerate(timers):
            self.assertEqual(by[id(t)]["type"], "uvloop.loop.TimerHandle")
            rec = handles[id(t)]
            self.assertEqual(rec["cancelled"], i == 0)
            self.assertAlmostEqual(rec["when"], out["now"] + 100 + i, delta=0.5)
            self.assertAlmostEqual(rec["when"], t.when(), delta=0.001)
            self.assertEqual(rec["scheduled"], i != 0)
            self.assertEqual(int(rec["loop"], 16), id(out["loop"]))
            if i:
                self.assertEqual(rec["callback_name"], "expire")
                self.assertEqual(int(rec["callback"], 16), id(expire))
                args = by[int(rec["args"], 16)]
                self.assertEqual(args["type"], "builtins.tuple")
                # the payload is reached through the args
                self.assertIn(id(out["payload"]), [int(e["to"], 16) for e in args["edges"]])
            else:
                self.assertNotIn("callback_name", rec)
            labels = {e.get("label") for e in by[id(t)]["edges"]}
            self.assertLessEqual({"loop", "timer", "_when"}, labels)
        soon = handles[id(out["soon"])]
        self.assertEqual(by[id(out["soon"])]["type"], "uvloop.loop.Handle")
        self.assertEqual(soon["callback_name"], "Handler.on_tick")
        self.assertFalse(soon["cancelled"])
        self.assertNotIn("when", soon)
        self.assertNotIn("scheduled", soon)
        self.assertEqual(by[int(soon["callback"], 16)]["type"], "builtins.method")
        self.assertTrue(handles[id(out["cancelled_soon"])]["cancelled"])
        # the loop: its ready queue (the two call_soon handles) and timers
        loop = records(nodes, "loop")[id(out["loop"])]
        self.assertEqual(by[id(out["loop"])]["type"], "uvloop.Loop")
        self.assertTrue(loop["running"])
        self.assertFalse(loop["closed"])
        ready = by[int(loop["ready"], 16)]
        self.assertEqual(ready["type"], "collections.deque")
        self.assertEqual(loop["ready_count"], 2)
        ready_items = {int(e["to"], 16) for e in ready["edges"]}
        self.assertIn(id(out["soon"]), ready_items)
        self.assertEqual(by[int(loop["scheduled"], 16)]["type"], "builtins.set")
        self.assertEqual(loop["scheduled_count"], 4)
        sched = {int(e["to"], 16) for e in by[int(loop["scheduled"], 16)]["edges"]}
        self.assertEqual(sched, {id(t) for t in timers[1:]})

    def test_transports_closing_and_closed(self):
        out = {}

        async def serve(reader, writer):
            await reader.read()
            writer.close()

        async def main():
            loop = asyncio.get_running_loop()
            server = await asyncio.start_server(serve, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            _, open_w = await asyncio.open_connection("127.0.0.1", port)
            _, closing_w = await asyncio.open_connection("127.0.0.1", port)
            closing_w.close()
            udp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                         local_addr=("127.0.0.1", 0))
            a, b = socket.socketpair()
            _, unix_w = await asyncio.open_unix_connection(sock=a)
            out["nodes"], out["by"] = self.snapshot()
            out.update(open=open_w.transport, closing=closing_w.transport, udp=udp,
                       unix=unix_w.transport)
            out["protocol"] = open_w.transport.get_protocol()
            out["is_closing"] = {k: out[k].is_closing() for k in ("open", "closing", "udp", "unix")}
            for w in (open_w, unix_w):
                w.close()
            udp.close()
            b.close()
            await asyncio.sleep(0.01)
            server.close()
            await server.wait_closed()

        self.run_uvloop(main())
        nodes, by = out["nodes"], out["by"]
        attrs = records(nodes, "attrs")
        for key, type_ in (("open", "TCPTransport"), ("closing", "TCPTransport"),
                           ("udp", "UDPTransport"), ("unix", "UnixTransport")):
            t = out[key]
            self.assertEqual(by[id(t)]["type"], "uvloop.loop." + type_)
            self.assertEqual(attrs[id(t)]["_closing"], key == "closing", key)
            self.assertEqual(attrs[id(t)]["_closing"], out["is_closing"][key], key)
            self.assertIn("_closed", attrs[id(t)])
        self.assertFalse(attrs[id(out["open"])]["_closed"])
        edges = {e.get("label"): int(e["to"], 16) for e in by[id(out["open"])]["edges"]
                 if e.get("label")}
        self.assertEqual(edges["_protocol"], id(out["protocol"]))
        # the rules find the open ones
        self.assertTrue(any(n["type"] == "uvloop.loop.TCPTransport" for n in nodes))

    def test_child_process_closed_once_reaped(self):
        out = {}

        async def main():
            running = await asyncio.create_subprocess_exec(
                "cat", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            reaped = await asyncio.create_subprocess_exec("true")
            await reaped.wait()
            out["nodes"], out["by"] = self.snapshot()
            out["running"], out["reaped"] = running._transport, reaped._transport
            running.stdin.close()
            await running.wait()

        self.run_uvloop(main())
        by = out["by"]
        attrs = records(out["nodes"], "attrs")
        for key in ("running", "reaped"):
            self.assertEqual(by[id(out[key])]["type"], "uvloop.loop.UVProcessTransport")
            # the handle's flag alone: nothing of the process's own fields
            self.assertEqual(set(attrs[id(out[key])]), {"_closed"})
        self.assertFalse(attrs[id(out["running"])]["_closed"])
        self.assertTrue(attrs[id(out["reaped"])]["_closed"])

    def test_nothing_read_from_an_unchecked_version(self):
        saved = uvloop.__version__
        out = {}

        async def main():
            loop = asyncio.get_running_loop()
            out["timer"] = loop.call_later(100, expire, 1, 2)
            out["soon"] = loop.call_soon(expire, 1, 2)
            uvloop.__version__ = "0.99.0"
            try:
                out["nodes"], out["by"] = self.snapshot()
            finally:
                uvloop.__version__ = saved
            out["loop"] = loop
            out["timer"].cancel()

        self.run_uvloop(main())
        by = out["by"]
        self.assertEqual(by[id(out["timer"])]["type"], "uvloop.loop.TimerHandle")
        for key in ("timer", "soon", "loop"):
            self.assertNotIn("handle", by[id(out[key])])
            self.assertNotIn("loop", by[id(out[key])])
        out.clear()
        by = None
        gc.collect()  # the parsed dump would make the next snapshot slow
        # and with the version back, the records are back
        out2 = {}

        async def again():
            loop = asyncio.get_running_loop()
            out2["timer"] = loop.call_later(100, expire, 1, 2)
            out2["nodes"], out2["by"] = self.snapshot("again.snap")
            out2["timer"].cancel()

        self.run_uvloop(again())
        self.assertIn("handle", out2["by"][id(out2["timer"])])

    def test_no_record_for_a_subclass(self):
        class MyHandle(uvloop.loop.Handle):
            pass

        h = MyHandle.__new__(MyHandle)
        never_free(h)
        nodes, by = self.snapshot()
        self.assertIn(id(h), by)
        self.assertEqual(by[id(h)]["type"], "test_uvloop.UvloopRecordsTest.test_no_record_for_a_subclass.<locals>.MyHandle")
        self.assertNotIn("handle", by[id(h)])


if __name__ == "__main__":
    unittest.main()
