"""Nothing from a snapshot reaches the terminal raw: a program whose task
names, type names, coroutine names, file names and module names carry
terminal escapes (request data becomes a task name in real services) is
snapshotted by the real agent, and every text output of every command
holds no control character but newline and tab, no C1 control and only
valid UTF-8 - the escapes are shown as \\xHH / \\u00HH."""

import subprocess
import sys

from e2e import TempDirTest, agent_python, run

EVIL = "\x1b]0;pwned\x07\x1b[2J\x9b31m"

PROGRAM = r'''
import asyncio, sys, types, asyncsnap
EVIL = %r
Evil = type("Evil" + EVIL, (), {})
keep = [Evil() for _ in range(50)]
mod = types.ModuleType("m" + EVIL)
sys.modules["m" + EVIL] = mod
src = "async def waiter(fut):\n    await fut\n"
ns = {}
exec(compile(src, "/tmp/" + EVIL + ".py", "exec"), ns)
waiter = ns["waiter"]
waiter.__qualname__ = "waiter" + EVIL

async def main():
    fut = asyncio.get_running_loop().create_future()
    tasks = [asyncio.create_task(waiter(asyncio.get_running_loop().create_future()),
                                 name="req-" + EVIL + str(i)) for i in range(5)]
    await asyncio.sleep(0)
    for i in (1, 2, 3):
        # the last with values=True: the task names as the program gave them
        asyncsnap.take(sys.argv[i], values=i == 3)
        tasks += [asyncio.create_task(waiter(asyncio.get_running_loop().create_future()),
                                      name="req-" + EVIL + str(10 * i + k)) for k in range(5)]
        await asyncio.sleep(0)
asyncio.run(main())
''' % EVIL


def raw_controls(data):
    """The offending bytes of data: C0 but \\n \\t, DEL, C1, invalid UTF-8."""
    bad = [b for b in data if (b < 0x20 and b not in (0x0a, 0x09)) or b == 0x7f]
    text = data.decode("utf-8", errors="replace")
    bad += [c for c in text if 0x80 <= ord(c) <= 0x9f or c == "\ufffd"]
    return bad


class EscapesTest(TempDirTest):
    def test_no_command_prints_a_raw_escape(self):
        python, env = agent_python()
        snaps = [self.path("e%d.snap" % i) for i in (1, 2, 3)]
        subprocess.run([python, "-c", PROGRAM, *snaps], env=env, check=True, timeout=120)
        commands = [["info", snap] for snap in snaps] + [["dump", snaps[0]]]
        commands += [[cmd, snap] for snap in snaps[1:] for cmd in ("dominators", "cycles", "tasks")]
        commands += [["path", "--type", "__main__.Evil" + EVIL, snaps[-1]],
                     ["leaks", *snaps], ["diff", *snaps]]
        # the last snapshot's `dump` shows str and bytes values too: bytes
        # that are no UTF-8 as U+FFFD (lossy, but no escape reaches the
        # terminal); it is checked for control characters below
        for args in commands:
            p = subprocess.run([sys.executable, "-c", "import sys,subprocess;"
                                "sys.exit(subprocess.run(sys.argv[1:]).returncode)",
                                run.__globals__["cli"](), *args],
                               capture_output=True, timeout=120)
            self.assertIn(p.returncode, (0, 1), (args[0], p.stderr))
            self.assertTrue(p.stdout, args[0])
            self.assertEqual(raw_controls(p.stdout), [], args[0])
        dump = run("dump", snaps[-1]).stdout
        self.assertEqual([c for c in raw_controls(dump.encode()) if c != "\ufffd"], [])
        # without values=True the names are hashes; with it the escapes are
        # there, shown harmlessly
        self.assertNotIn("req-", run("tasks", snaps[1]).stdout)
        tasks = run("tasks", snaps[-1]).stdout
        self.assertIn("req-\\x1b]0;pwned\\x07\\x1b[2J\\u009b31m", tasks)
        dump = run("dump", snaps[-1]).stdout
        self.assertIn("Evil\\x1b]0;pwned", dump)
