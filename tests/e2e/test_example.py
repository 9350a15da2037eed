"""The bundled leaky service, snapshotted for real, read by the analyzer."""

import os
import shutil
import subprocess

from e2e import TempDirTest, run, run_json, run_program


class LeakyServiceTest(TempDirTest):
    def snapshots(self, *args):
        paths = run_program("leaky_service.py", "--dir", self.dir, "--rounds", "2", *args)
        self.assertEqual(len(paths), 3)
        for p in paths:
            self.assertTrue(os.path.isfile(p))
            self.assertEqual(os.stat(p).st_mode & 0o777, 0o600)
        return paths

    def session_counts(self, paths):
        out = []
        for p in paths:
            types = {t["type"]: t for t in run_json("info", "--json", p)["types"]}
            out.append(types.get("__main__.Session", {"count": 0})["count"])
        return out

    def test_leaky_version_keeps_every_session(self):
        # 50 requests a round; rounds: 1, then 2, then 2 more
        self.assertEqual(self.session_counts(self.snapshots()), [50, 150, 250])

    def test_fixed_version_keeps_none(self):
        self.assertEqual(self.session_counts(self.snapshots("--fixed")), [0, 0, 0])

    def test_zstd_decompresses_a_real_snapshot(self):
        if not shutil.which("zstd"):
            self.skipTest("zstd not installed")
        path = self.snapshots()[0]
        p = subprocess.run(["zstd", "-dc", path], capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertGreater(len(p.stdout), os.path.getsize(path))

    def test_info_text_names_the_program(self):
        path = self.snapshots()[0]
        p = run("info", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("leaky_service", p.stdout)
        self.assertIn("top types by count", p.stdout)
