"""Helpers for the agent tests: run the analyzer on a snapshot, read it back."""

import gc
import json
import os
import shutil
import subprocess
import tempfile
import unittest


def cli():
    """The asyncsnap command under test (set by meson, else from PATH)."""
    path = os.environ.get("ASYNCSNAP_CLI") or shutil.which("asyncsnap")
    if not path:
        raise unittest.SkipTest("the asyncsnap command is not built")
    return path


def run_cli(*args, check=True):
    return subprocess.run([cli(), *args], capture_output=True, text=True, check=check)


def dump(path):
    """Every node of a snapshot, as dicts (asyncsnap dump --json)."""
    out = run_cli("dump", "--json", path).stdout
    return [json.loads(line) for line in out.splitlines()]


def info(path):
    return json.loads(run_cli("info", "--json", path).stdout)


def zstd_decompress(path):
    """The decompressed bytes of a snapshot, by the standard zstd tool."""
    if not shutil.which("zstd"):
        raise unittest.SkipTest("zstd is not installed")
    return subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout


class TempDirTest(unittest.TestCase):
    def setUp(self):
        # what an earlier test parsed lingers in cycles (tasks, closures)
        # until a full collection; a snapshot would carry it along
        gc.collect()
        self.dir = tempfile.mkdtemp(prefix="asnap-agent-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)


# Under AddressSanitizer (scripts/test.sh's build-asan run) freed memory is
# quarantined and every call is slower: tests of RSS or of timing races say
# nothing there; the plain run has them.
SANITIZED = bool(os.environ.get("ASYNCSNAP_SANITIZED"))
skip_if_sanitized = unittest.skipIf(SANITIZED, "not meaningful under AddressSanitizer")
