"""Fault injection: the agent under conditions that must never break the
application. Whatever happens, the program goes on, the caller gets a
SnapshotError that says why, and no partial or temporary file survives.
Also the privacy and permission guarantees of a default snapshot.

Cases covered elsewhere: a missing directory, a path naming a directory, a
full disk by RLIMIT_FSIZE (test_take.py); signal storms, a signal during a
snapshot, a fork child killed midway, argv and environment values, a
thousand snapshots with flat memory (test_triggers.py); markers in locals,
attributes and dict values (test_labels.py)."""

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
import unittest

import asyncsnap

from support import TempDirTest, cli, run_cli, zstd_decompress


def python(*args, env=None, timeout=300, **kw):
    """This interpreter with the agent importable (PYTHONPATH from meson)."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env=env or os.environ, timeout=timeout, **kw)


def leftovers(directory):
    """Temporary or partial files a snapshot could leave behind."""
    return [n for n in os.listdir(directory) if n.endswith(".tmp") or n.startswith(".")]


def nobody_can_import_agent():
    """Whether a child running as uid 65534 can import the agent."""
    out = python("-c", "import os; os.setgid(65534); os.setuid(65534); import asyncsnap")
    return out.returncode == 0


def in_mount_namespace(test, mount_opts, mnt, script, *args):
    """Run `python -c script mnt args...` in a user and mount namespace
    where mnt is a fresh tmpfs mounted with mount_opts; SkipTest when the
    system does not allow that."""
    if not shutil.which("unshare"):
        test.skipTest("no unshare(1)")
    probe = subprocess.run(["unshare", "-r", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        test.skipTest("cannot make a mount namespace: %s" % probe.stderr.decode().strip())
    out = subprocess.run(
        ["unshare", "-r", "-m", "sh", "-c",
         'mount -t tmpfs -o "$1" none "$2" && shift 2 && exec "$@"', "sh",
         mount_opts, mnt, sys.executable, "-c", script, mnt, *args],
        capture_output=True, text=True, timeout=120)
    if "mount:" in out.stderr:
        test.skipTest("cannot mount a tmpfs: " + out.stderr.strip())
    return out


class TargetFaultTest(TempDirTest):

    def test_read_only_file_system(self):
        mnt = self.path("mnt")
        os.mkdir(mnt)
        script = textwrap.dedent("""
            import os, sys, asyncsnap
            import time
            try:
                asyncsnap.take(os.path.join(sys.argv[1], "a.snap"))
            except asyncsnap.SnapshotError as e:
                print("error:", e)
            # fork mode: the child reports on stderr, the caller goes on
            asyncsnap.take(os.path.join(sys.argv[1], "b.snap"), fork=True)
            while asyncsnap._children:
                time.sleep(0.01)
            print("still running")
            print("left:", os.listdir(sys.argv[1]))
        """)
        out = in_mount_namespace(self, "ro,size=64k", mnt, script)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("error: cannot create a file in the directory of", out.stdout)
        self.assertIn("Read-only file system", out.stdout)
        self.assertRegex(out.stderr, r"^asyncsnap: snapshot failed: .*Read-only file system\n$")
        self.assertIn("still running", out.stdout)
        self.assertIn("left: []", out.stdout)

    def test_directory_not_writable(self):
        ro = self.path("ro")
        os.mkdir(ro, 0o555)
        script = textwrap.dedent("""
            import os, sys, asyncsnap
            if os.getuid() == 0:  # root writes anywhere: be somebody else
                os.setgid(65534); os.setuid(65534)
            try:
                asyncsnap.take(os.path.join(sys.argv[1], "a.snap"))
            except asyncsnap.SnapshotError as e:
                print("error:", e)
            print("still running")
        """)
        if os.getuid() == 0 and not nobody_can_import_agent():
            self.skipTest("uid 65534 cannot read the built agent")
        os.chmod(self.dir, 0o755)
        out = python("-c", script, ro)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("error: ", out.stdout)
        self.assertIn("Permission denied", out.stdout)
        self.assertIn("still running", out.stdout)
        self.assertEqual(os.listdir(ro), [])

    def test_disk_full_on_a_small_tmpfs(self):
        mnt = self.path("mnt")
        os.mkdir(mnt)
        script = textwrap.dedent("""
            import os, sys, asyncsnap
            junk = [bytes(100) + os.urandom(64) for _ in range(20000)]
            for fork in (False, True):
                try:
                    path = asyncsnap.take(os.path.join(sys.argv[1], "full.snap"), fork=fork)
                    while asyncsnap._children:
                        import time; time.sleep(0.01)
                except asyncsnap.SnapshotError as e:
                    print("error:", e)
            print("still running")
            print("left:", sorted(os.listdir(sys.argv[1])))
        """)
        out = in_mount_namespace(self, "size=64k", mnt, script)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("error: cannot write", out.stdout)
        self.assertIn("No space left on device", out.stdout)
        # the fork child says so on stderr, one line, and removes its file
        self.assertIn("asyncsnap: snapshot failed: ", out.stderr)
        self.assertIn("still running", out.stdout)
        self.assertIn("left: []", out.stdout)

    def test_existing_file_is_replaced_whole(self):
        path = self.path("a.snap")
        with open(path, "wb") as f:
            f.write(b"an older file under the same name" * 100)
        self.assertEqual(asyncsnap.take(path, fsync=False), path)
        self.assertEqual(run_cli("info", path, check=False).returncode, 0)
        self.assertEqual(leftovers(self.dir), [])

    def test_existing_directory_of_that_name(self):
        path = self.path("a.snap")
        os.mkdir(path)
        with open(os.path.join(path, "keep"), "w") as f:
            f.write("x")
        with self.assertRaises(asyncsnap.SnapshotError) as cm:
            asyncsnap.take(path, fsync=False)
        self.assertIn("a.snap", str(cm.exception) + path)
        self.assertTrue(str(cm.exception))
        self.assertEqual(os.listdir(path), ["keep"])
        self.assertEqual(leftovers(self.dir), [])

    def test_parent_is_a_file(self):
        with open(self.path("file"), "w") as f:
            f.write("x")
        with self.assertRaises(asyncsnap.SnapshotError) as cm:
            asyncsnap.take(self.path("file/a.snap"), fsync=False)
        self.assertIn("Not a directory", str(cm.exception))
        self.assertEqual(os.listdir(self.dir), ["file"])


class ConcurrencyTest(TempDirTest):

    def test_snapshots_asked_for_from_many_threads_at_once(self):
        errors, paths = [], []
        start = threading.Barrier(4)

        def worker(i):
            try:
                start.wait()
                for k in range(3):
                    paths.append(asyncsnap.take(self.path("t%d-%d.snap" % (i, k)), fsync=False))
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(paths), 12)
        seqs = set()
        for p in paths:
            h = json.loads(run_cli("info", "--json", p).stdout)["header"]
            seqs.add(h["seq"])
        self.assertEqual(len(seqs), 12)
        self.assertEqual(leftovers(self.dir), [])

    def test_threads_allocating_during_the_walk(self):
        stop = threading.Event()

        def churn(seed):
            d, lst = {}, []
            i = seed
            while not stop.is_set():
                i += 1
                d[i % 5000] = [i, str(i), {"k": (i,)}]
                lst.append(bytearray(i % 300))
                if len(lst) > 3000:
                    del lst[:1500]
                if i % 7 == 0:
                    d.pop((i * 31) % 5000, None)

        threads = [threading.Thread(target=churn, args=(k * 100000,), daemon=True)
                   for k in range(3)]
        for t in threads:
            t.start()
        try:
            paths = [asyncsnap.take(self.path("c%d.snap" % k), fsync=False) for k in range(6)]
            paths.append(asyncsnap.take(self.path("fork.snap"), fork=True, fsync=False))
            while asyncsnap._children:
                stop.wait(0.01)
        finally:
            stop.set()
            for t in threads:
                t.join()
        for p in paths:
            for cmd in ("info", "leaks"):
                out = run_cli(cmd, p, check=False)
                self.assertIn(out.returncode, (0, 1), out.stderr)
        self.assertEqual(leftovers(self.dir), [])


class BigHeapTest(TempDirTest):

    def test_a_1gb_bytes_object_is_not_copied(self):
        script = textwrap.dedent("""
            import json, os, resource, sys, time, asyncsnap
            big = bytes(1 << 30)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            t = time.monotonic()
            asyncsnap.take(os.path.join(sys.argv[1], "big.snap"), fsync=False)
            asyncsnap.take(os.path.join(sys.argv[1], "values.snap"), fsync=False, values=True)
            grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
            print(json.dumps({"grown_kb": grown, "s": time.monotonic() - t, "len": len(big)}))
        """)
        out = python("-c", script, self.dir)
        self.assertEqual(out.returncode, 0, out.stderr)
        r = json.loads(out.stdout)
        self.assertEqual(r["len"], 1 << 30)
        self.assertLess(r["grown_kb"], 200 << 10, r)  # nothing near 1 GB was copied
        for name in ("big.snap", "values.snap"):
            p = self.path(name)
            self.assertLess(os.path.getsize(p), 8 << 20)
            top = json.loads(run_cli("dominators", "--json", "--type", "bytes", "--top", "1",
                                     "--depth", "0", p).stdout)["top"]
            self.assertGreaterEqual(top[0]["size"], 1 << 30)

    def test_a_million_deep_linked_list(self):
        # a recursive walk (or analysis) overflows the C stack long before
        script = textwrap.dedent("""
            import os, sys, asyncsnap
            class Node:
                __slots__ = ("next",)
            head = None
            for _ in range(1000000):
                n = Node(); n.next = head; head = n
            nested = None
            for _ in range(200000):
                nested = [nested]
            asyncsnap.take(os.path.join(sys.argv[1], "deep.snap"), fsync=False)
            print("still running", flush=True)
            os._exit(0)  # tearing down a million objects is not the test
        """)
        out = python("-c", script, self.dir)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("still running", out.stdout)
        p = self.path("deep.snap")
        for args in (("info",), ("dominators", "--depth", "64"), ("cycles",), ("leaks",)):
            r = subprocess.run([cli(), *args, p], capture_output=True, text=True, timeout=300)
            self.assertIn(r.returncode, (0, 1), "%s: %s" % (args, r.stderr))
            self.assertEqual(r.stderr, "")


MARKER_SCRIPT = """
import asyncio, os, sys, asyncsnap
MARKER = sys.argv[2]

class Conn:
    def __init__(self):
        # (attribute *names* are interned identifiers and are written as
        # edge labels, by design: only values are secret)
        self.token = MARKER + "attr"

class Boom(Exception):
    pass

def keep_exception():
    try:
        raise Boom("failed with " + MARKER + "exc")
    except Boom as e:
        return e

async def holds_secret():
    secret = MARKER + "local"
    await asyncio.sleep(3600)
    return secret

async def main():
    kept = {
        "conn": Conn(),
        "dict_value": {"password": MARKER + "value"},
        "dict_key": {MARKER + "key": [1], (MARKER + "tuplekey",): [2], (MARKER + "bkey").encode(): [3]},
        "exc": keep_exception(),
        "bytes": (MARKER + "bytes").encode(),
        "bytearray": bytearray((MARKER + "bytearray").encode()),
        "set": {MARKER + "set"},
        "tuple": (MARKER + "tuple",),
        "env": dict(os.environ),
    }
    task = asyncio.ensure_future(holds_secret())
    await asyncio.sleep(0)
    d = sys.argv[1]
    asyncsnap.take(os.path.join(d, "here.snap"), fsync=False)
    asyncsnap.take(os.path.join(d, "forked.snap"), fork=True)
    while asyncsnap._children:
        await asyncio.sleep(0.01)
    asyncsnap.take(os.path.join(d, "values.snap"), fsync=False, values=True)
    task.cancel()
    return kept

asyncio.run(main())
"""


class GuaranteeTest(TempDirTest):

    def test_marker_secrets_never_reach_a_default_snapshot(self):
        marker = "S3cr3t" + os.urandom(6).hex()
        script = self.path("secrets.py")
        with open(script, "w") as f:
            f.write(MARKER_SCRIPT)
        env = dict(os.environ, ASNAP_TEST_SECRET=marker + "environ")
        out = python(script, self.dir, marker, marker + "argv", env=env)
        self.assertEqual(out.returncode, 0, out.stderr)
        for name in ("here.snap", "forked.snap"):
            p = self.path(name)
            with open(p, "rb") as f:
                raw = f.read()
            body = zstd_decompress(p)
            self.assertNotIn(marker.encode(), raw, name)
            self.assertNotIn(marker.encode(), body, name)
            self.assertNotIn(marker.encode(), run_cli("dump", "--json", p).stdout.encode())
        # the test can fail: with values=True the bytes are there
        self.assertIn(marker.encode(), zstd_decompress(self.path("values.snap")))

    def test_file_is_0600_and_directory_0700_whatever_the_umask(self):
        script = textwrap.dedent("""
            import os, sys, asyncsnap
            os.umask(0)
            asyncsnap.take(os.path.join(sys.argv[1], "u.snap"), fsync=False)
            asyncsnap.take(os.path.join(sys.argv[1], "f.snap"), fork=True)
            import time
            while asyncsnap._children:
                time.sleep(0.01)
            asyncsnap.install(directory=sys.argv[1])
            print(os.getpid())
            asyncsnap.uninstall()
        """)
        run_dir = self.path("run")
        os.mkdir(run_dir, 0o700)
        env = dict(os.environ, XDG_RUNTIME_DIR=run_dir)
        out = python("-c", script, self.dir, env=env)
        self.assertEqual(out.returncode, 0, out.stderr)
        for name in ("u.snap", "f.snap"):
            self.assertEqual(stat.S_IMODE(os.stat(self.path(name)).st_mode), 0o600, name)
        adv = os.path.join(run_dir, "asyncsnap")
        self.assertEqual(stat.S_IMODE(os.stat(adv).st_mode), 0o700)

    def test_take_refuses_a_process_of_another_user(self):
        if os.getuid() == 0:
            victim = subprocess.Popen(
                [sys.executable, "-c", "import os, time; os.setgid(65534); os.setuid(65534); "
                 "print('ready', flush=True); time.sleep(60)"],
                stdout=subprocess.PIPE, text=True)
            self.addCleanup(victim.stdout.close)
            self.addCleanup(victim.wait)
            self.addCleanup(victim.kill)
            self.assertEqual(victim.stdout.readline().strip(), "ready")
            pid = victim.pid
        else:
            pid = 1
            if os.stat("/proc/1").st_uid == os.getuid():
                self.skipTest("process 1 is ours")
        r = run_cli("take", "--timeout", "2", str(pid), check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("belongs to another user", r.stderr)
        self.assertEqual(r.stdout, "")


if __name__ == "__main__":
    unittest.main()


class UnsupportedInterpreterTest(unittest.TestCase):
    """Importing the agent where it cannot run says why, in one ImportError."""

    def other_pythons(self):
        root = os.path.expanduser("~/.pyenv/versions")
        mine = "%d.%d" % sys.version_info[:2]
        found = {}
        for d in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            exe = os.path.join(root, d, "bin", "python3")
            minor = ".".join(d.split(".")[:2])
            if os.access(exe, os.X_OK) and minor != mine and minor not in found:
                found[minor] = exe
        return found

    def test_unsupported_version_and_an_extension_built_for_another(self):
        pkg = os.path.dirname(os.path.dirname(asyncsnap.__file__))
        tried = 0
        for minor, exe in sorted(self.other_pythons().items()):
            major, low = (int(x) for x in minor.split("."))
            if major != 3:
                continue
            p = subprocess.run([exe, "-c", "import asyncsnap"], capture_output=True, text=True,
                               env=dict(os.environ, PYTHONPATH=pkg), timeout=60)
            self.assertNotEqual(p.returncode, 0)
            last = p.stderr.strip().splitlines()[-1]
            self.assertTrue(last.startswith("ImportError: asyncsnap: cannot run under Python "
                                            + minor), last)
            if (3, 9) <= (major, low) <= (3, 15):
                self.assertIn("this agent was built for cpython-%d%d" % sys.version_info[:2],
                              last)
                self.assertIn("-Dpython=" + exe, last)
            else:
                self.assertIn("the agent supports CPython 3.9 to 3.15", last)
            tried += 1
        if not tried:
            self.skipTest("no other Python 3 in ~/.pyenv/versions")
