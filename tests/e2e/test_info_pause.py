"""`asyncsnap info` reports the pause the program saw: in fork mode the
fork alone (not the child's walk), and says which mode it was."""

import os
import re
import subprocess

from e2e import TempDirTest, agent_python, run, run_json

PROGRAM = r"""
import os, sys, time, asyncsnap
keep = [[i] for i in range(20000)]   # a heap whose walk takes a while
path = asyncsnap.take(sys.argv[1], fork=sys.argv[2] == "fork")
deadline = time.monotonic() + 60     # in fork mode the child renames it into place later
while not os.path.exists(path) and time.monotonic() < deadline:
    time.sleep(0.01)
"""


class InfoPauseTest(TempDirTest):
    def snapshot(self, mode):
        python, env = agent_python()
        path = self.path(mode + ".snap")
        subprocess.run([python, "-c", PROGRAM, path, mode], env=env, check=True, timeout=120)
        return path

    def test_fork_mode_pause_is_the_fork(self):
        path = self.snapshot("fork")
        info = run_json("info", "--json", path)
        self.assertTrue(info["header"]["fork"])
        fork_ms = info["header"]["fork_ms"]
        self.assertEqual(info["pause"], {"mode": "fork", "ms": fork_ms})
        text = run("info", path).stdout
        line = next(l for l in text.splitlines() if l.startswith("pause"))
        self.assertIn("fork mode", line)
        shown = float(re.match(r"pause\s+([0-9.]+) ms", line).group(1))
        self.assertAlmostEqual(shown, fork_ms, delta=0.051)
        # the child's walk is shown as such, not as the program's pause
        self.assertIn("the child walked for", line)

    def test_in_process_pause_is_the_whole_call(self):
        path = self.snapshot("in-process")
        info = run_json("info", "--json", path)
        self.assertFalse(info["header"]["fork"])
        self.assertEqual(info["pause"]["mode"], "in-process")
        self.assertEqual(info["pause"]["ms"], info["trailer"]["pause_ms"])
        line = next(l for l in run("info", path).stdout.splitlines() if l.startswith("pause"))
        self.assertIn("in-process mode", line)
