"""The asyncsnap command: conventions, and bad input of every kind."""

import json
import os
import stat
import struct
import subprocess
import sys
import threading

from e2e import TempDirTest, agent_python, cli, fixture_snapshots, run, run_json

import unittest


def any_snapshot():
    snaps = fixture_snapshots()
    if not snaps:
        raise unittest.SkipTest("no fixture snapshots")
    return next(iter(snaps.values()))


class ConventionsTest(TempDirTest):
    def test_help_and_version(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: asyncsnap", p.stdout)
        for cmd in ("info", "dump"):
            self.assertIn(cmd, p.stdout)
            q = run(cmd, "--help")
            self.assertEqual(q.returncode, 0, q.stderr)
            self.assertIn("usage: asyncsnap " + cmd, q.stdout)
        v = run("--version")
        self.assertEqual(v.returncode, 0)
        self.assertRegex(v.stdout, r"^asyncsnap \d+\.\d+\.\d+")

    def test_options_anywhere_among_operands_and_double_dash_ends_them(self):
        snap = any_snapshot()
        out = self.path("page.html")
        # after the operands, as git, zstd and GNU tools accept them
        p = run("report", snap, snap, "-o", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.getsize(out) > 0)
        for args in (["info", snap, "--json"], ["tasks", snap, "--json"],
                     ["dominators", snap, "--json", "--top", "3"],
                     ["leaks", snap, "--json"], ["leaks", snap, snap, "--check", "pending-task"]):
            p = run(*args)
            self.assertIn(p.returncode, (0, 1), (args, p.stderr))
            if "--json" in args:
                json.loads(p.stdout)
        # after --, what looks like an option is a file name
        os.symlink(snap, self.path("-j.snap"))
        here = dict(capture_output=True, text=True, cwd=self.dir, timeout=120)
        p = subprocess.run([cli(), "info", "--json", "--", "-j.snap"], **here)
        self.assertEqual(p.returncode, 0, p.stderr)
        json.loads(p.stdout)
        p = subprocess.run([cli(), "info", "-j.snap"], **here)
        self.assertEqual(p.returncode, 2)  # without --, -j.snap is options

    def test_usage_errors_exit_2_and_point_to_help(self):
        for args in ([], ["frobnicate"], ["info"], ["info", "--bogus", "x"],
                     ["info", "--top", "many", "x"], ["dump", "a", "b"]):
            p = run(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("asyncsnap", p.stderr)
            self.assertIn("--help", p.stderr, args)
            self.assertEqual(p.stdout, "")

    def test_option_values_are_checked_alike_by_every_command(self):
        # one parser for counts and one for getopt's complaints: the same
        # message whichever command, naming the option, its range and the value
        snap = next(iter(fixture_snapshots().values()), "x.snap")
        bad_numbers = [
            (["info", "--top", "0", snap], "--top needs a number from 1 to 1000000, not '0'"),
            (["diff", "--top", "x", snap, snap], "--top needs a number from 1 to 1000000, not 'x'"),
            (["dominators", "--depth", "65", snap], "--depth needs a number from 0 to 64, not '65'"),
            (["dominators", "--top", "-1", snap], "--top needs a number from 1 to 100000, not '-1'"),
            (["leaks", "--show", "2x", snap], "--show needs a number from 0 to 1000000, not '2x'"),
            (["export", "--format", "collapsed", "--depth", "0", snap],
             "--depth needs a number from 1 to 10000, not '0'"),
            (["report", "--nodes", " 5", "-o", self.path("r.html"), snap],
             "--nodes needs a number from 0 to 1000000, not ' 5'"),
        ]
        missing = [["info", "--top"], ["diff", "--top"], ["dominators", "--depth"],
                   ["leaks", "--show"], ["path", "--type"], ["export", "--format"],
                   ["report", "--nodes"], ["take", "--timeout"], ["run", "--dir"]]
        unknown = [["info", "--bogus", snap], ["ps", "-q"], ["cycles", "--x", snap],
                   ["dominators", "-x", snap]]
        cases = [(a, m) for a, m in bad_numbers] + \
            [(a, "option '%s' needs a value" % a[-1]) for a in missing] + \
            [(a, "unknown option '%s'" % a[1]) for a in unknown]
        for args, message in cases:
            p = run(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertEqual(p.stdout, "", args)
            first = p.stderr.splitlines()[0]
            self.assertEqual(first, "asyncsnap %s: %s" % (args[0], message), args)
        self.assertFalse(os.path.exists(self.path("r.html")))


class BadInputTest(TempDirTest):
    def test_missing_file(self):
        path = self.path("nope.snap")
        self.assertInputError(run("info", path), path, "No such file")

    def test_directory(self):
        self.assertInputError(run("info", self.dir), self.dir)

    def test_not_a_snapshot(self):
        for data in (b"", b"hello world\n" * 100, bytes(range(256)) * 4):
            path = self.write("junk.snap", data)
            self.assertInputError(run("info", path), path, "not a snapshot")

    def test_plain_zstd_stream_is_not_a_snapshot(self):
        # a valid zstd frame without asyncsnap's preamble
        path = self.write("plain.zst", bytes.fromhex("28b52ffd2000010000"))
        self.assertInputError(run("dump", path), path, "not a snapshot")

    def test_cut_anywhere_is_truncated(self):
        with open(any_snapshot(), "rb") as f:
            data = f.read()
        for frac in (0.5, 0.1, 0.9, 0.999):
            cut = int(len(data) * frac)
            path = self.write("cut.snap", data[:cut])
            for cmd in ("info", "dump"):
                p = run(cmd, path)
                self.assertInputError(p, path, "truncated")

    def test_flipped_byte_is_corrupt(self):
        with open(any_snapshot(), "rb") as f:
            data = bytearray(f.read())
        for pos in (len(data) // 3, len(data) // 2, len(data) - 2):
            bad = bytearray(data)
            bad[pos] ^= 0x5A
            path = self.write("flip.snap", bytes(bad))
            p = run("info", path)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(path, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_newer_format_version_is_refused(self):
        with open(any_snapshot(), "rb") as f:
            data = bytearray(f.read())
        # preamble: skippable frame magic, size, "ASYNCSNP", version, needs-version
        self.assertEqual(data[8:16], b"ASYNCSNP")
        struct.pack_into("<II", data, 16, 7, 7)
        path = self.write("future.snap", bytes(data))
        self.assertInputError(run("info", path), path, "newer")


class Drain(threading.Thread):
    """Reads a FIFO to its end, as a program waiting on it would."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.data = path, None
        self.start()

    def run(self):
        with open(self.path, "rb") as f:
            self.data = f.read()

    def result(self):
        self.join(60)
        if self.is_alive():  # the writer never opened it: let the open return
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            self.join(10)
        return self.data


class InPlaceOutputTest(TempDirTest):
    """-o naming what exists and is not a regular file (/dev/null, a FIFO,
    a link such as /dev/stdout) is written into, never renamed over: as
    root, a rename over /dev/null replaced the device with a file."""

    def outputs(self, snap):
        """(command args with OUT for the output, what its output starts with)"""
        return [(("report", "-o", "OUT", snap), b"<!DOCTYPE html>"),
                (("export", "--format", "heapsnapshot", "-o", "OUT", snap), b'{"snapshot":')]

    def have_agent(self, what):
        """Whether the agent is built; if not, a printed line says what is skipped."""
        try:
            agent_python()
            return True
        except unittest.SkipTest as e:
            print("\n(the agent %s skipped: %s)" % (what, e), file=sys.stderr)
            return False

    def take_in_agent(self, target):
        python, env = agent_python()
        return subprocess.run([python, "-c", "import asyncsnap, sys; asyncsnap.take(sys.argv[1])",
                               target], capture_output=True, text=True, env=env, timeout=120)

    def test_a_fifo_gets_the_output_and_stays_a_fifo(self):
        snap = any_snapshot()
        fifo = self.path("out.fifo")
        os.mkfifo(fifo)
        for args, head in self.outputs(snap):
            with self.subTest(args[0]):
                reader = Drain(fifo)
                p = run(*[fifo if a == "OUT" else a for a in args])
                self.assertEqual(p.returncode, 0, p.stderr)
                data = reader.result()
                self.assertTrue(data and data.startswith(head), (data or b"")[:80])
                self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        # a snapshot written by the agent into it, then read back
        if not self.have_agent("into a FIFO"):
            return
        reader = Drain(fifo)
        p = self.take_in_agent(fifo)
        self.assertEqual(p.returncode, 0, p.stderr)
        snap = self.write("from-fifo.snap", reader.result())
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))
        self.assertEqual(run("info", snap).returncode, 0)
        self.assertEqual(sorted(os.listdir(self.dir)), ["from-fifo.snap", "out.fifo"])

    def test_a_link_is_written_through_and_stays_a_link(self):
        snap = any_snapshot()
        target, link = self.path("target.html"), self.path("link.html")
        os.symlink("target.html", link)
        # to nothing: the target is created; then to that file, which is
        # replaced whole (a new file renamed over it, never truncated first)
        for _ in range(2):
            p = run("report", "-o", link, snap)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(os.path.islink(link))
            self.assertEqual(stat.S_IMODE(os.stat(target).st_mode), 0o600)
            with open(target, "rb") as f:
                self.assertTrue(f.read().startswith(b"<!DOCTYPE html>"))
            self.assertEqual(sorted(os.listdir(self.dir)), ["link.html", "target.html"])
        before = os.stat(target).st_ino
        p = run("export", "--format", "heapsnapshot", "-o", link, snap)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotEqual(os.stat(target).st_ino, before)  # renamed into place
        self.assertTrue(os.path.islink(link))
        # an error leaves the file the link names as it was
        with open(target, "rb") as f:
            data = f.read()
        bad = self.write("bad.snap", b"not a snapshot")
        self.assertEqual(run("export", "--format", "heapsnapshot", "-o", link, bad).returncode, 2)
        with open(target, "rb") as f:
            self.assertEqual(f.read(), data)

    def test_the_agent_writes_through_a_link(self):
        if not self.have_agent("through a link"):
            return
        link, target = self.path("latest.snap"), self.path("t.snap")
        os.symlink("t.snap", link)
        for _ in range(2):  # to nothing, then to the snapshot written
            p = self.take_in_agent(link)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(os.path.islink(link))
            self.assertEqual(run("info", target).returncode, 0)
            self.assertEqual(stat.S_IMODE(os.stat(target).st_mode), 0o600)
            self.assertEqual(sorted(os.listdir(self.dir)), ["latest.snap", "t.snap"])

    def test_an_output_naming_its_input_is_refused(self):
        with open(any_snapshot(), "rb") as f:
            data = f.read()
        snap = self.write("a.snap", data)
        os.link(snap, self.path("same.snap"))  # the same file by another name
        for args in (("report", "-o", "OUT", snap, snap), ("export", "--format", "heapsnapshot",
                                                          "-o", "OUT", snap)):
            for out in (snap, self.path("same.snap")):
                with self.subTest(args[0], out=out):
                    p = run(*[out if a == "OUT" else a for a in args])
                    self.assertEqual(p.returncode, 2, p.stderr)
                    self.assertIn("is the snapshot '%s' it reads" % snap, p.stderr)
                    with open(snap, "rb") as f:
                        self.assertEqual(f.read(), data)

    def test_a_device_stays_a_device(self):
        if os.geteuid() != 0:
            self.skipTest("making a device node needs root")
        snap = any_snapshot()
        null = self.path("null")  # what /dev/null is, made here
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        for args, _ in self.outputs(snap):
            with self.subTest(args[0]):
                p = run(*[null if a == "OUT" else a for a in args])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertTrue(stat.S_ISCHR(os.lstat(null).st_mode))
        if not self.have_agent("into a device"):
            return
        p = self.take_in_agent(null)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(stat.S_ISCHR(os.lstat(null).st_mode))
        self.assertEqual(os.listdir(self.dir), ["null"])


class FixtureSnapshotsTest(TempDirTest):
    """Snapshots committed from every supported Python stay readable."""

    def test_every_committed_snapshot_reads(self):
        snaps = fixture_snapshots()
        if not snaps:
            self.skipTest("no fixture snapshots")
        for name, path in snaps.items():
            with self.subTest(name):
                info = run_json("info", "--json", path)
                self.assertGreater(info["objects"], 1000)
                self.assertGreater(info["edges"], info["objects"])
                self.assertEqual(info["header"]["python"]["implementation"], "CPython")
                self.assertTrue(name.startswith("py" + info["header"]["python"]["version"].rsplit(".", 1)[0]))
                types = {t["type"]: t["count"] for t in info["types"]}
                self.assertEqual(types.get("__main__.Session"), 50)
                self.assertEqual(sum(types.values()), info["objects"])
                p = run("dump", "--json", path)
                self.assertEqual(p.returncode, 0, p.stderr)
                lines = p.stdout.splitlines()
                self.assertEqual(len(lines), info["objects"])
                first = json.loads(lines[0])
                for key in ("addr", "type", "size", "refcnt", "edges"):
                    self.assertIn(key, first)


if __name__ == "__main__":
    unittest.main()
