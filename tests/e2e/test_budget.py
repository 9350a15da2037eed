"""The memory budget (docs/ANALYZE.md "Memory budget"): files made to claim
far more memory than they take on disk are refused, with exit status 2 and
one line that says how much they need, before the analyzer holds much more
than the budget; --max-memory and ASYNCSNAP_MAX_MEMORY set it; dump --json
streams, so one object with millions of references costs no more than the
graph.

The bombs are made here, the way tests/corrupt/make-corpus.py makes its
files: chunks by hand, in a zstd frame of hand-made blocks. A zstd RLE
block is 4 bytes that inflate to 128 KiB, so a bomb of a few hundred KiB
claims gigabytes. Those frames end with a checksum that is not computed
(XXH64 over gigabytes, in Python, would take minutes): the analyzer must
refuse them long before it reaches it. The edge bomb, which must be read
to the end, goes through the zstd command instead.

Memory is checked from outside: the command runs under RLIMIT_AS (it
cannot allocate past it at all) and its peak RSS (ru_maxrss) must stay
within the budget plus a margin for the program itself. Not under the
sanitizers (ASYNCSNAP_SANITIZED), whose shadow memory has nothing to do
with the budget; the exit status and message are checked there too."""

import os
import resource
import struct
import subprocess
import tempfile
import unittest

from e2e import SNAPSHOTS, cli, run

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
SANITIZED = bool(os.environ.get("ASYNCSNAP_SANITIZED"))

HEADER, STRINGS, NODES, ROOTS, EDGES, END = 1, 2, 3, 5, 6, 0x7F
BLOCK = 128 * KiB


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def chunk_head(kind, length):
    return bytes([kind]) + varint(length)


def chunk(kind, payload):
    return chunk_head(kind, len(payload)) + payload


PREAMBLE = struct.pack("<II", 0x184D2A5A, 16) + b"ASYNCSNP" + struct.pack("<II", 1, 1)


class Frame:
    """A zstd frame (with the checksum flag) built from raw and RLE blocks."""

    def __init__(self):
        self.blocks = []  # (header without the last-block bit, content)

    def raw(self, data):
        for i in range(0, len(data), BLOCK):
            part = data[i:i + BLOCK]
            self.blocks.append((len(part) << 3, part))

    def rle(self, byte, n):
        while n:
            k = min(n, BLOCK)
            self.blocks.append((1 << 1 | k << 3, bytes([byte])))
            n -= k

    def bytes(self):
        out = [struct.pack("<I", 0xFD2FB528), b"\x04", b"\x58"]  # checksum; 2 MiB window
        for i, (hdr, content) in enumerate(self.blocks):
            last = 1 if i == len(self.blocks) - 1 else 0
            out.append(struct.pack("<I", hdr | last)[:3] + content)
        out.append(b"\0\0\0\0")  # a checksum nobody reaches
        return b"".join(out)


def header_chunk(objects=None):
    text = b'{"producer": "test_budget"' + (b', "objects": %d' % objects if objects else b"") + b"}"
    return chunk(HEADER, text)


def string_bomb(inflated):
    """STRINGS chunks of 1 MiB strings of one byte repeated: `inflated`
    bytes of string table from a file about 30000 times smaller."""
    f = Frame()
    f.raw(header_chunk())
    per_chunk = 63  # 63 strings of 1 MiB and their lengths stay under 64 MiB
    left = inflated // MiB
    while left:
        n = min(per_chunk, left)
        length = len(varint(n)) + n * (3 + MiB)
        f.raw(chunk_head(STRINGS, length) + varint(n))
        for _ in range(n):
            f.raw(varint(MiB))
            f.rle(ord("a"), MiB)
        left -= n
    f.raw(chunk(END, varint(inflated // MiB) + b"\0\0\0\0\0"))
    return PREAMBLE + f.bytes()


def node_bomb(chunks=65535, objects=1 << 32):
    """`chunks` NODES chunks of 65536 objects whose every field is 0 (six
    bytes an object, all zeros), under a header that claims `objects`, and
    an END that claims them all: 2^32 - 2^16 objects by default, from a file
    of a few MiB."""
    per = 65536
    col = varint(per)  # each of the six node columns: 65536 zero bytes
    tail_len = 6 * (len(col) + per) + 3  # and three empty edge columns
    f = Frame()
    f.raw(header_chunk(objects))
    for k in range(chunks):
        first = varint(k * per)
        head = first + varint(per)
        f.raw(chunk_head(NODES, len(head) + tail_len) + head)
        for c in range(6):
            f.raw(col)
            f.rle(0, per)
        f.raw(b"\0\0\0")
    f.raw(chunk(END, b"\0" + varint(chunks * per) + b"\0\0\0\0"))
    return PREAMBLE + f.bytes()


def edge_bomb(edges):
    """One object with `edges` references to itself, as the writer splits
    them: NEDGES = 65536 in its NODES chunk, the rest in EDGES chunks of
    65536. Three zero bytes an edge; compressed by the zstd command (with
    a real checksum: this file is valid and is read to the end)."""
    per = 65536
    body = [header_chunk()]
    first = min(edges, per)
    cols = [varint(0x1000 << 1), b"\0", varint(64), b"\1", b"\1", varint(first)]
    payload = varint(0) + varint(1) + b"".join(varint(len(c)) + c for c in cols)
    payload += (varint(first) + b"\0" * first) * 3
    body.append(chunk(NODES, payload))
    done = first
    while done < edges:
        n = min(per, edges - done)
        body.append(chunk(EDGES, varint(0) + varint(n) + (varint(n) + b"\0" * n) * 3))
        done += n
    body.append(chunk(ROOTS, b"\x01\x00\x00\x00"))
    body.append(chunk(END, b"\0\x01" + varint(edges) + b"\0\x01\0"))
    p = subprocess.run(["zstd", "-q", "-c", "--check", "-3", "--no-content-size"],
                       input=b"".join(body), capture_output=True, check=True)
    return PREAMBLE + p.stdout


def measured(args, as_limit, env=None):
    """Run asyncsnap ARGS under RLIMIT_AS = as_limit (not when sanitized):
    (exit status, stderr, peak RSS in bytes). Output is discarded."""
    def limit():
        if not SANITIZED:
            resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen([cli(), *args], stdout=subprocess.DEVNULL, stderr=err,
                             preexec_fn=limit, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return p.returncode, err.read().decode("utf-8", "replace"), usage.ru_maxrss * KiB


class BudgetBombTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.files = {}

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def bomb(self, name, make):
        if name not in self.files:
            path = os.path.join(self.dir.name, name)
            with open(path, "wb") as f:
                f.write(make())
            self.files[name] = path
        return self.files[name]

    def assert_refused(self, path, args, budget, as_limit=1 * GiB):
        code, err, rss = measured([*args, "--max-memory", str(budget), path], as_limit)
        self.assertEqual(code, 2, err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertRegex(err, r"^asyncsnap: cannot read '%s': it needs about [0-9.]+ [KMGTP]iB, "
                         r"more than the memory budget of [0-9.]+ [KMG]iB \(--max-memory\)$"
                         % path.replace(".", r"\."))
        if not SANITIZED:
            self.assertLess(rss, budget + 64 * MiB, "peak RSS %d MiB" % (rss // MiB))
        return err

    def test_string_table_bomb_is_refused_within_the_budget(self):
        # 8 GiB of string table from a file of about 270 KiB
        path = self.bomb("strings.snap", lambda: string_bomb(8 * GiB))
        self.assertLess(os.path.getsize(path), 400 * KiB)
        for cmd in ("info", "leaks", "dump"):
            with self.subTest(cmd=cmd):
                err = self.assert_refused(path, [cmd], 128 * MiB)
                # the estimate comes from the part read: about the 8 GiB
                need = float(err.split("needs about ")[1].split()[0])
                self.assertIn(" GiB,", err)
                self.assertGreater(need, 4)
                self.assertLess(need, 16)

    def test_node_bomb_claiming_2_32_objects_is_refused_within_the_budget(self):
        # the header's 2^32 is ignored (more than 64 objects a byte is not
        # a hint worth believing): the objects themselves are counted
        path = self.bomb("nodes.snap", node_bomb)
        self.assertLess(os.path.getsize(path), 8 * MiB)
        for cmd in ("info", "dominators"):
            with self.subTest(cmd=cmd):
                err = self.assert_refused(path, [cmd], 64 * MiB)
                # 2^32 - 2^16 objects: 100 GiB for info, about 300 for dominators
                need = float(err.split("needs about ")[1].split()[0])
                self.assertIn(" GiB,", err)
                self.assertGreater(need, 90)
                self.assertLess(need, 400)

    def test_declared_count_over_the_budget_is_refused_before_reading_on(self):
        # a header whose object count is plausible for the file's size (less
        # than 64 a byte): what it declares is estimated, and refused, before
        # any object is read. The file's 65 million objects would need
        # about 1.5 GiB; the header's 60 a byte about 260 MiB.
        objects = 60 * len(node_bomb(chunks=1000))
        data = node_bomb(chunks=1000, objects=objects)
        path = self.bomb("declared.snap", lambda: data)
        code, err, rss = measured(["info", "--max-memory", "128M", path], 1 * GiB)
        self.assertEqual(code, 2, err)
        self.assertRegex(err, r"it needs about 2[0-9][0-9]\.[0-9] MiB, more than the memory "
                         r"budget of 128\.0 MiB \(--max-memory\)\n$")
        if not SANITIZED:
            self.assertLess(rss, 48 * MiB)

    def test_one_object_with_20m_edges(self):
        path = self.bomb("edges.snap", lambda: edge_bomb(20_000_000))
        self.assertLess(os.path.getsize(path), 4 * MiB)
        # within a budget that holds the graph, dump --json streams it:
        # about 170 MiB of graph, not gigabytes of JSON tree
        code, err, rss = measured(["dump", "--json", "--max-memory", "1G", path], 2 * GiB)
        self.assertEqual(code, 0, err)
        self.assertEqual(err, "")
        if not SANITIZED:
            self.assertLess(rss, 400 * MiB, "peak RSS %d MiB" % (rss // MiB))
        # under a smaller one, refused
        for cmd in (["dump", "--json"], ["info"], ["leaks"]):
            with self.subTest(cmd=cmd):
                self.assert_refused(path, cmd, 64 * MiB)

    def test_dump_json_of_many_edges_is_complete(self):
        path = self.bomb("edges-small.snap", lambda: edge_bomb(200_000))
        p = run("dump", "--json", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 1)
        self.assertTrue(lines[0].startswith('{"id":0,"addr":"0x1000","type":"","size":64,'
                                            '"refcnt":1,"gc":true,"edges":[{"to":"0x1000",'
                                            '"label":null},'))
        self.assertEqual(lines[0].count('{"to":"0x1000","label":null}'), 200_000)
        self.assertTrue(lines[0].endswith('}],"roots":[{"kind":""}]}'))


class MaxMemoryOptionTest(unittest.TestCase):

    def out(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        return os.path.join(d.name, "report.html")

    def snapshot(self):
        path = os.path.join(SNAPSHOTS, "py3.11.snap")
        if not os.path.exists(path):
            self.skipTest("no fixture snapshot")
        return path

    def test_small_budget_refuses_and_large_one_accepts(self):
        path = self.snapshot()
        for args in (("info",), ("leaks",), ("dump", "--json"), ("tasks",), ("cycles",),
                     ("dominators",), ("path", "--type", "builtins.dict"), ("diff", path),
                     ("export", "--format", "collapsed"), ("report", "-o", self.out())):
            with self.subTest(args=args):
                p = run(args[0], "--max-memory", "4M", *args[1:], path)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertEqual(p.stdout, "")
                self.assertRegex(p.stderr, r"^asyncsnap: cannot read '.*py3\.11\.snap': it needs "
                                 r"about [0-9.]+ MiB, more than the memory budget of 4\.0 MiB "
                                 r"\(--max-memory\)\n$")
                p = run(args[0], "--max-memory", "1GiB", *args[1:], path)
                self.assertIn(p.returncode, (0, 1), p.stderr)

    def test_global_option_and_environment(self):
        path = self.snapshot()
        self.assertEqual(run("--max-memory", "4M", "info", path).returncode, 2)
        self.assertEqual(run("--max-memory=1.5GiB", "info", path).returncode, 0)
        env = dict(os.environ, ASYNCSNAP_MAX_MEMORY="4M")
        p = subprocess.run([cli(), "info", path], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn("more than the memory budget of 4.0 MiB (--max-memory)", p.stderr)
        # the option wins over the environment, wherever it is
        for args in (["info", "--max-memory", "512M", path], ["--max-memory", "512M", "info", path]):
            p = subprocess.run([cli(), *args], capture_output=True, text=True, env=env)
            self.assertEqual(p.returncode, 0, (args, p.stderr))

    def test_sizes(self):
        path = self.snapshot()
        for size in ("536870912", "512M", "512m", "512MB", "512MiB", "0.5G", "1.5GiB", "1T"):
            with self.subTest(size=size):
                p = run("info", "--max-memory", size, path)
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_bad_values_are_usage_errors(self):
        path = self.snapshot()
        for size in ("abc", "0", "0.1", "", "-1", "1X", "1.G", "2 G", "1e9", "99999999999T"):
            with self.subTest(size=size):
                p = run("info", "--max-memory", size, path)
                self.assertEqual(p.returncode, 2)
                self.assertEqual(p.stderr, "asyncsnap info: --max-memory needs a size such as 512M, "
                                 "2G, 1.5GiB or a number of bytes, not '%s'\n"
                                 "Try 'asyncsnap info --help'.\n" % size)
        p = run("info", path, "--max-memory")
        self.assertEqual(p.returncode, 2)
        p = run("--max-memory", "abc", "info", path)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--max-memory needs a size", p.stderr)
        env = dict(os.environ, ASYNCSNAP_MAX_MEMORY="lots")
        p = subprocess.run([cli(), "info", path], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stderr, "asyncsnap: ASYNCSNAP_MAX_MEMORY needs a size such as 512M, "
                         "2G, 1.5GiB or a number of bytes, not 'lots'\n")

    def test_commands_that_read_no_snapshot_ignore_the_environment(self):
        env = dict(os.environ, ASYNCSNAP_MAX_MEMORY="lots")
        p = subprocess.run([cli(), "ps"], capture_output=True, text=True, env=env)
        self.assertNotIn("ASYNCSNAP_MAX_MEMORY", p.stderr)


if __name__ == "__main__":
    unittest.main()
