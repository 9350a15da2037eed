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
