"""Shared helpers of the end-to-end tests: the command under test, the agent,
the fixture programs and committed fixture snapshots."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "fixtures")
PROGRAMS = os.path.join(FIXTURES, "programs")
SNAPSHOTS = os.path.join(FIXTURES, "snapshots")


def cli():
    path = os.environ.get("ASYNCSNAP_CLI") or shutil.which("asyncsnap")
    if not path:
        raise unittest.SkipTest("the asyncsnap command is not built")
    return path


def run(*args, stdin=None):
    """Run asyncsnap with ARGS; returns the CompletedProcess (text mode)."""
    return subprocess.run([cli(), *args], capture_output=True, text=True,
                          input=stdin, timeout=120)


def run_json(*args):
    p = run(*args)
    if p.returncode != 0:
        raise AssertionError("asyncsnap %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
    return json.loads(p.stdout)


def agent_python():
    """The interpreter with the built agent importable, or SkipTest."""
    path = os.environ.get("ASYNCSNAP_AGENT_PATH")
    if not path or not os.path.isdir(os.path.join(path, "asyncsnap")):
        raise unittest.SkipTest("the agent is not built")
    env = dict(os.environ)
    env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return sys.executable, env


def run_program(name, *args):
    """Run fixtures/programs/NAME with the agent; returns its stdout lines."""
    python, env = agent_python()
    p = subprocess.run([python, os.path.join(PROGRAMS, name), *args],
                       capture_output=True, text=True, env=env, timeout=300)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (name, p.returncode, p.stderr))
    return p.stdout.splitlines()


def run_source(test, name, source, *args):
    """Write SOURCE (a program using the agent) to TEST.dir/NAME and run it
    with ARGS; its stdout once it exits 0 (else the test fails)."""
    python, env = agent_python()
    prog = test.path(name)
    with open(prog, "w") as f:
        f.write(source)
    p = subprocess.run([python, prog, *args], capture_output=True, text=True, env=env,
                       timeout=120)
    test.assertEqual(p.returncode, 0, p.stderr)
    return p.stdout


def fixture_snapshots():
    """The committed snapshots, one per Python version: {version: path}."""
    out = {}
    if os.path.isdir(SNAPSHOTS):
        for name in sorted(os.listdir(SNAPSHOTS)):
            if name.endswith(".snap"):
                out[name[:-5]] = os.path.join(SNAPSHOTS, name)
    return out


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="asnap-e2e-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assertInputError(self, proc, path, *words):
        """Exit 2 and exactly one line on stderr naming PATH and WORDS."""
        self.assertEqual(proc.returncode, 2, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn(path, lines[0])
        for w in words:
            self.assertIn(w, lines[0])
        self.assertEqual(proc.stdout, "")


def run_fixture(test, program, *args):
    """Run fixtures/programs/PROGRAM (a leak fixture driven by _harness.py)
    with the agent, its snapshots in test.dir; returns their paths."""
    paths = run_program(program, "--dir", test.dir, *args)
    test.assertEqual(len(paths), 3, paths)
    return paths


def findings(*args):
    """`asyncsnap leaks --json ARGS`: (exit status, findings list)."""
    p = run("leaks", "--json", *args)
    if p.returncode not in (0, 1):
        raise AssertionError("asyncsnap leaks %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
    return p.returncode, json.loads(p.stdout)["findings"]
