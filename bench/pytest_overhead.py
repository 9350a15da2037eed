"""The pytest plugin's cost (docs/PYTEST.md, "What it costs"): a suite of
N small async tests (pytest-asyncio, each test a few awaits on its own
event loop) run with and without --asyncsnap, on the bare heap of pytest
and on a heap made larger by the suite itself (a module of the suite that
keeps ~100k objects alive, as a big application's imports do).

    ASYNCSNAP_AGENT_PATH=build-sys/snapshot-agent ASYNCSNAP_CLI=build-sys/src/cli/asyncsnap \\
        /usr/bin/python3 bench/pytest_overhead.py [TESTS] [RUNS]

Prints, for each heap and scope, the wall time of the run without the
plugin, with it, and the overhead per test (the difference over TESTS);
the best of RUNS runs each (default 200 tests, 1 run).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

TEST = '''
@pytest.mark.asyncio
async def test_{i}():
    q = asyncio.Queue()
    t = asyncio.create_task(q.get())
    await q.put({i})
    assert await t == {i}
'''

HEAP = '''
# ~100k objects kept for the whole run: lists, dicts, instances
class Row:
    def __init__(self, i):
        self.i = i
        self.tags = [i, str(i)]
KEEP = [Row(i) for i in range(30000)] + [{"k": [i]} for i in range(15000)]
'''


def write_suite(d, tests, big):
    per_file = 50
    for f in range(0, tests, per_file):
        with open(os.path.join(d, "test_bench_%03d.py" % f), "w") as out:
            out.write("import asyncio\nimport pytest\n")
            if big:
                out.write("import heap  # noqa: F401\n")
            for i in range(f, min(f + per_file, tests)):
                out.write(TEST.format(i=i))
    with open(os.path.join(d, "heap.py"), "w") as out:
        out.write(HEAP)
    with open(os.path.join(d, "pytest.ini"), "w") as out:
        out.write("[pytest]\nasyncio_mode = strict\n")


def run(d, args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.abspath(os.environ["ASYNCSNAP_AGENT_PATH"]), d])
    if env.get("ASYNCSNAP_CLI"):
        env["ASYNCSNAP_CLI"] = os.path.abspath(env["ASYNCSNAP_CLI"])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "-p", "asyncsnap.pytest"] + args
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        sys.exit("bench: pytest failed (%d):\n%s" % (p.returncode, out[-3000:]))
    line = [l for l in out.splitlines() if l.startswith("asyncsnap: ") and "checked" in l]
    return wall, line[0] if line else ""


def main():
    tests = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    for big in (False, True):
        d = tempfile.mkdtemp(prefix="asyncsnap-bench-")
        try:
            write_suite(d, tests, big)
            base = min(run(d, [])[0] for _ in range(runs))
            print("%s heap, %d tests: without the plugin %.2f s"
                  % ("~100k-object" if big else "bare pytest", tests, base))
            for scope in ("test", "module"):
                results = [run(d, ["--asyncsnap", "--asyncsnap-scope", scope])
                           for _ in range(runs)]
                wall, summary = min(results)
                print("  --asyncsnap-scope=%-6s %.2f s: +%.0f ms per test   [%s]"
                      % (scope, wall, (wall - base) / tests * 1e3, summary))
            sys.stdout.flush()
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
