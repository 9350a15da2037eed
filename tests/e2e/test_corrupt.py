"""The corrupt corpus (fixtures/corrupt/, made by tests/corrupt/make-corpus.py):
every damaged file is refused with exit status 2 and a message that names
the problem; every valid file of a hostile shape (deep chains, cycles that
break naive dominator code, lying size hints) is analyzed without error."""

import os
import unittest

from e2e import FIXTURES, run

CORRUPT = os.path.join(FIXTURES, "corrupt")


def manifest():
    """[(path, message fragment or None for a valid file)]"""
    out = []
    with open(os.path.join(CORRUPT, "MANIFEST")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if fields[1] == "ok":
                out.append((os.path.join(CORRUPT, fields[0]), None))
            else:
                assert fields[1] == "2", line
                out.append((os.path.join(CORRUPT, fields[0]), fields[2]))
    return out


class CorruptCorpusTest(unittest.TestCase):

    def test_manifest_lists_every_file(self):
        listed = {os.path.basename(p) for p, _ in manifest()}
        present = set(os.listdir(CORRUPT)) - {"MANIFEST"}
        self.assertEqual(listed, present)
        self.assertGreater(len(listed), 80)

    def test_damaged_files_exit_2_naming_the_problem(self):
        for path, fragment in manifest():
            if fragment is None:
                continue
            for cmd in ("info", "leaks"):
                with self.subTest(file=os.path.basename(path), cmd=cmd):
                    p = run(cmd, path)
                    self.assertEqual(p.returncode, 2, p.stderr)
                    self.assertEqual(p.stdout, "")
                    self.assertIn("cannot read '%s': " % path, p.stderr)
                    self.assertIn(fragment, p.stderr)
                    self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)

    def test_a_damaged_one_among_several_snapshots_stops_the_command(self):
        # several snapshots load one after another, each one's asyncio
        # facts computed in a second thread while the next is read: a
        # damaged one, first or after a good one, is still one line and
        # exit 2, with nothing on standard output
        good = os.path.join(FIXTURES, "snapshots", "py3.11.snap")
        damaged = [(p, f) for p, f in manifest() if f is not None][:6]
        self.assertTrue(damaged)
        for path, fragment in damaged:
            for args in (("leaks", good, path), ("leaks", path, good), ("diff", good, good, path),
                         ("report", "-o", os.devnull, good, path)):
                with self.subTest(file=os.path.basename(path), cmd=" ".join(args[:1])):
                    p = run(*args)
                    self.assertEqual(p.returncode, 2, p.stderr)
                    self.assertEqual(p.stdout, "")
                    self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
                    self.assertIn("cannot read '%s': " % path, p.stderr)
                    self.assertIn(fragment, p.stderr)

    def test_hostile_valid_shapes_are_analyzed(self):
        for path, fragment in manifest():
            if fragment is not None:
                continue
            for args in (("info",), ("leaks",), ("dominators",), ("cycles",), ("tasks",),
                         ("leaks", "--json"), ("dominators", "--json", "--depth", "64")):
                with self.subTest(file=os.path.basename(path), cmd=" ".join(args)):
                    p = run(*args, path)
                    self.assertIn(p.returncode, (0, 1), p.stderr)
                    self.assertEqual(p.stderr, "")


if __name__ == "__main__":
    unittest.main()
