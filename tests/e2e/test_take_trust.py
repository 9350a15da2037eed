"""`asyncsnap take` among strangers and failures: it hands out only the
snapshot its own request produced (never a file another user plants in a
shared snapshot directory), refuses a directory others can write in,
makes exactly one snapshot attempt per request (a full disk gives one
attempt and the agent's reason), says so at once when the target is
stopped, names a planted runtime directory, and the registration goes
with a SIGTERM. The target is the real leaky_server under `asyncsnap run`."""

import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from e2e import PROGRAMS, cli
from test_live import LiveTest, request

SERVER = os.path.join(PROGRAMS, "leaky_server.py")
NOBODY = 65534
# a Python that a second user can run (pyenv's live under /root)
PLAIN_PYTHON = "/usr/bin/python3"
AS_SECOND_USER = os.getuid() == 0 and os.access(PLAIN_PYTHON, os.X_OK)


def as_nobody():
    os.setgid(NOBODY)
    os.setuid(NOBODY)


class TrustTest(LiveTest):
    def server(self, directory, preexec_fn=None):
        p = subprocess.Popen([cli(), "run", "--dir", directory, "--", self.python, SERVER],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.env,
                             preexec_fn=preexec_fn)
        self.addCleanup(self.stop, p)
        line = p.stdout.readline()
        if not line.startswith("listening "):
            p.kill()
            self.fail("the server did not start: %r %s" % (line, p.stderr.read()))
        return p, int(line.split()[1])

    def quit(self, p):
        """Stop the server; what it wrote on stderr."""
        p.stdin.write("quit\n")
        p.stdin.flush()
        self.assertEqual(p.wait(timeout=60), 0)
        return p.stderr.read()

    def shared_dir(self, mode):
        """A directory in /tmp (the test's own is private: another user
        could not reach one inside it)."""
        d = tempfile.mkdtemp(prefix="asnap-shared-")
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        os.chmod(d, mode)
        return d

    def plant(self, path, data=b"", link=None):
        """Create path as another user (a file, or a symbolic link)."""
        code = ("import os, sys\n"
                "if sys.argv[2]: os.symlink(sys.argv[2], sys.argv[1])\n"
                "else:\n"
                "    with open(sys.argv[1], 'wb') as f: f.write(bytes.fromhex(sys.argv[3]))\n")
        subprocess.run([PLAIN_PYTHON, "-c", code, path, link or "", data.hex()], check=True,
                       preexec_fn=as_nobody)

    def mine(self, directory):
        """This user's snapshots in directory."""
        return sorted(n for n in os.listdir(directory) if n.endswith(".snap")
                      and os.lstat(os.path.join(directory, n)).st_uid == os.getuid())

    @unittest.skipUnless(AS_SECOND_USER, "needs root and /usr/bin/python3, to act as a "
                         "second user")
    def test_planted_files_and_links_are_never_handed_out(self):
        shared = self.shared_dir(0o1777)  # like /tmp: everyone writes, sticky
        p, port = self.server(shared)
        with open(self.path("forged.snap"), "wb") as f:
            f.write(b"not a snapshot")
        forged = b"not a snapshot"
        # what a second user can plant: later sequence numbers, as a file
        # and as a link to one of ours, and a visible name with the pid
        self.plant(os.path.join(shared, "leaky_server-%d-99999.snap" % p.pid), forged)
        self.plant(os.path.join(shared, "x-%d-7.snap" % p.pid), forged)
        self.plant(os.path.join(shared, "leaky_server-%d-50.snap" % p.pid),
                   link=self.path("forged.snap"))
        planted = set(os.listdir(shared))
        request(port, 3, "a")
        t = self.asnap("take", "--timeout", "60", str(p.pid))
        self.assertEqual(t.returncode, 0, t.stderr)
        path = t.stdout.strip()
        self.assertNotIn(os.path.basename(path), planted)
        st = os.lstat(path)
        self.assertEqual((st.st_uid, st.st_mode & 0o7777), (os.getuid(), 0o600))
        self.assertEqual(subprocess.run([cli(), "info", path], capture_output=True).returncode,
                         0)
        # -o moves the checked file, not a planted one
        out = self.path("out.snap")
        self.plant(os.path.join(shared, "leaky_server-%d-2.snap.planted" % p.pid), forged)
        t = self.asnap("take", "-o", out, "--timeout", "60", str(p.pid))
        self.assertEqual((t.returncode, t.stdout.strip()), (0, out), t.stderr)
        with open(out, "rb") as f:
            self.assertNotEqual(f.read(), forged)
        # one snapshot per request, none for what was planted
        self.assertEqual(self.mine(shared), [os.path.basename(path)])
        self.assertEqual(self.quit(p), "")

    @unittest.skipUnless(AS_SECOND_USER, "needs root and /usr/bin/python3, to act as a "
                         "second user")
    def test_a_planted_final_name_is_not_handed_out(self):
        # the very name the agent will use next, planted by another user
        # before the request: what take returns is the agent's file
        shared = self.shared_dir(0o1777)
        p, port = self.server(shared)
        name = os.path.join(shared, "leaky_server-%d-1.snap" % p.pid)
        self.plant(name, b"forged")
        t = self.asnap("take", "--timeout", "60", str(p.pid))
        if t.returncode == 0:  # root may replace it (a user could not: sticky)
            self.assertEqual(t.stdout.strip(), name)
            st = os.lstat(name)
            self.assertEqual((st.st_uid, st.st_mode & 0o7777), (os.getuid(), 0o600))
            with open(name, "rb") as f:
                self.assertNotEqual(f.read(), b"forged")
        else:
            self.assertTakeFails(t, "the agent could not write it")
        self.assertEqual(self.quit(p).count("snapshot failed"), 0 if t.returncode == 0 else 1)

    def test_a_directory_others_can_write_in_is_refused(self):
        shared = self.shared_dir(0o777)  # no sticky bit: anyone can replace a file
        p, port = self.server(shared)
        t = self.asnap("take", "--timeout", "60", str(p.pid))
        self.assertTakeFails(t, "cannot use its snapshot directory", "other users can write",
                             "0777")
        time.sleep(0.3)
        self.assertEqual(os.listdir(shared), [])  # not signalled
        self.assertEqual(self.quit(p), "")

    def test_a_full_disk_gives_one_attempt_and_one_clear_error(self):
        # RLIMIT_FSIZE makes every write past 64 KiB fail as a full disk
        # would (Python ignores SIGXFSZ): the snapshot, not the small files
        limit = 64 << 10

        def small_files():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        p, port = self.server(self.path("snaps"), preexec_fn=small_files)
        request(port, 3, "a")
        t0 = time.monotonic()
        t = self.asnap("take", "--timeout", "60", str(p.pid))
        self.assertTakeFails(t, "the agent could not write it", "File too large")
        self.assertLess(time.monotonic() - t0, 30)
        time.sleep(1)
        self.assertEqual(os.listdir(self.path("snaps")), [])  # no partial file
        err = self.quit(p)
        self.assertEqual(err.count("asyncsnap: snapshot failed"), 1, err)

    def test_a_stopped_process_is_named_at_once(self):
        p, port = self.server(self.path("snaps"))
        os.kill(p.pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            t = self.asnap("take", "--timeout", "60", str(p.pid))
            self.assertTakeFails(t, "it is stopped", "kill -CONT %d" % p.pid)
            self.assertLess(time.monotonic() - t0, 20)
        finally:
            os.kill(p.pid, signal.SIGCONT)
        self.assertEqual(len(request(port, 2, "b")), 2)
        self.quit(p)

    @unittest.skipIf(os.environ.get("ASYNCSNAP_SANITIZED"),
                     "GCC 12's AddressSanitizer allocator is not fork-safe: a fork while "
                     "another thread frees (a reaper thread exiting) can leave the "
                     "snapshot child's zstd worker waiting on its lock forever")
    def test_a_busy_agent_serves_every_request_once(self):
        # takes at once: a request waits for the snapshot under way (fork
        # mode drops the signal while its child writes) and is served after
        # it, without another signal from take; no snapshot nobody asked for
        p, port = self.server(self.path("snaps"))
        paths = []
        for _ in range(3):
            takes = [subprocess.Popen([cli(), "take", "--timeout", "60", str(p.pid)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=self.env) for _ in range(3)]
            outs = [t.communicate(timeout=120) for t in takes]
            for t, (out, err) in zip(takes, outs):
                self.assertEqual(t.returncode, 0, err)
            paths += [o.strip() for o, _ in outs]
        self.assertEqual(len(set(paths)), 9, paths)
        time.sleep(2.5)  # a stray snapshot would be written by now
        self.assertEqual(sorted(os.path.join(self.path("snaps"), n)
                                for n in self.mine(self.path("snaps"))), sorted(paths))
        self.assertEqual(self.quit(p), "")

    def test_a_planted_runtime_directory_is_named(self):
        other = self.path("elsewhere")
        os.mkdir(other, 0o700)
        os.symlink(other, os.path.join(self.path("run"), "asyncsnap"))
        p = subprocess.Popen(["sleep", "60"])
        self.addCleanup(self.stop, p)
        t = self.asnap("take", str(p.pid))
        self.assertTakeFails(t, "cannot use '%s'" % os.path.join(self.path("run"), "asyncsnap"),
                             "symbolic link", "do not trust it")
        ps = self.asnap("ps")
        self.assertEqual(ps.returncode, 2)
        self.assertIn("symbolic link", ps.stderr)

    def test_ps_sweeps_what_a_killed_process_left(self):
        p = subprocess.Popen(["true"])
        p.wait()
        run = os.path.join(self.path("run"), "asyncsnap")
        os.makedirs(run, mode=0o700)
        left = ["%d.json" % p.pid, "%d-%s.request" % (p.pid, "0" * 32),
                "%d-%s.status" % (p.pid, "1" * 32)]
        for name in left:
            with open(os.path.join(run, name), "w") as f:
                json.dump({"pid": p.pid, "process_start_ticks": 1, "signal": 10,
                           "signal_name": "SIGUSR1", "directory": self.path("snaps"),
                           "fork": True, "program": "x", "python": "3"}, f)
            os.chmod(os.path.join(run, name), 0o600)
        self.assertEqual(json.loads(self.asnap("ps", "--json").stdout), [])
        self.assertEqual(os.listdir(run), [])

    def test_registration_goes_with_sigterm(self):
        p, port = self.server(self.path("snaps"))
        reg = self.registration(p.pid)
        self.assertTrue(os.path.exists(reg))
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=30), -signal.SIGTERM)  # still killed by it
        self.assertFalse(os.path.exists(reg))
        self.assertEqual(json.loads(self.asnap("ps", "--json").stdout), [])


if __name__ == "__main__":
    unittest.main()
