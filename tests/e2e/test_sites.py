"""The user's line: a task stuck inside asyncio (Event.wait in locks.py) is
placed at the program's own `await`, every step of its await chain has a
file:line, and a finished task shows where its coroutine is, never :0."""

import os
import re
import subprocess

from e2e import PROGRAMS, TempDirTest, agent_python, findings, run, run_json

PROGRAM = os.path.join(PROGRAMS, "user_sites.py")


def user_line():
    with open(PROGRAM) as f:
        for n, line in enumerate(f, 1):
            if "# USER-LINE" in line:
                return "%s:%d" % (PROGRAM, n)
    raise AssertionError("no USER-LINE marker")


class UserSitesTest(TempDirTest):
    def setUp(self):
        super().setUp()
        python, env = agent_python()
        self.snap = self.path("sites.snap")
        subprocess.run([python, PROGRAM, self.snap], env=env, check=True, timeout=120)

    def test_pending_task_finding_is_at_the_users_await(self):
        status, found = findings(self.snap)
        self.assertEqual(status, 1)
        self.assertEqual(len(found), 1, [f["summary"] for f in found])
        f = found[0]
        self.assertEqual((f["check"], f["group"]), ("pending-task", "notify_on_settlement"))
        self.assertEqual(f["site"], user_line())
        self.assertTrue(f["in_user_code"])
        self.assertNotIn("locks.py", f["summary"])
        text = run("leaks", self.snap).stdout
        self.assertIn("at " + user_line(), text)
        self.assertIn("module __main__ -[background]-> set", text)

    def test_tasks_shows_the_users_line_then_asyncios(self):
        text = run("tasks", self.snap).stdout
        self.assertIn("suspended at %s in notify_on_settlement, waiting in Event.wait at " % user_line(),
                      text)
        # every coroutine step of an await chain has its file:line
        for chain in re.findall(r"await chain: (.*)", text):
            for step in chain.split(" -> "):
                if step.startswith("coroutine "):
                    self.assertRegex(step, r"\(.+:\d+\)$", chain)
        # a module global is named by its module
        self.assertIn("set (__main__.background)", text)
        self.assertNotIn("dict.background", text)
        # the finished task: where its coroutine is defined, not line 0
        ended = re.search(r"ended at (\S+) in quick", text)
        self.assertIsNotNone(ended, text)
        self.assertFalse(ended.group(1).endswith(":0"), ended.group(1))
