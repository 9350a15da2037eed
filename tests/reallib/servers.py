"""Real servers for the real-library corpus, on 127.0.0.1 and free ports,
stopped by pid however the run ends: redis-server, and a throwaway
PostgreSQL cluster (initdb + postgres; as root, run as the user postgres).
Works alike on the host (Debian 12) and inside the sid root
(scripts/sid-root.sh), whose PostgreSQL and postgres user are its own."""

import atexit
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with status %s" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not listen on 127.0.0.1:%d in %d s" % (what, port, timeout))


_stoppers = []


def _stop_all(*_):
    while _stoppers:
        try:
            _stoppers.pop()()
        except Exception:
            pass


atexit.register(_stop_all)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, lambda signum, frame: (_stop_all(), os._exit(128 + signum)))


class Redis:
    def __init__(self):
        exe = shutil.which("redis-server")
        if not exe:
            raise FileNotFoundError("redis-server is not installed")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="asnap-redis-")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        _stoppers.append(self.stop)
        wait_port(self.port, self.proc, "redis-server")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Postgres:
    def __init__(self):
        # the newest major version (numerically: 9.6 < 15 < 18)
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                      key=lambda b: [int(x) for x in b.split("/")[-2].split(".") if x.isdigit()])
        if not bins:
            raise FileNotFoundError("PostgreSQL is not installed")
        self.bin = bins[-1]
        self.port = free_port()
        # PostgreSQL refuses to run as root: as root, run it as the user
        # postgres (Debian's package makes it; its uid differs from root to
        # root, so it is looked up here); as anyone else, as oneself
        as_pg = []
        if os.getuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise FileNotFoundError("no user postgres to run PostgreSQL as (it refuses root)")
            runuser = shutil.which("runuser")
            if not runuser:
                raise FileNotFoundError("runuser (util-linux) is not installed")
            as_pg = [runuser, "-u", "postgres", "--"]
        self.dir = tempfile.mkdtemp(prefix="asnap-pg-")
        if as_pg:
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        data = os.path.join(self.dir, "data")
        init = subprocess.run(as_pg + [os.path.join(self.bin, "initdb"), "-D", data, "-A",
                                       "trust", "-U", "postgres", "--no-sync"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if init.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError("initdb failed (%d): %s" % (
                init.returncode, (init.stderr.strip().splitlines() or [""])[-1]))
        self.proc = subprocess.Popen(
            as_pg + [os.path.join(self.bin, "postgres"), "-D", data, "-p", str(self.port),
                     "-h", "127.0.0.1", "-k", self.dir, "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        _stoppers.append(self.stop)
        wait_port(self.port, self.proc, "postgres")
        self.dsn = "postgresql://postgres@127.0.0.1:%d/postgres" % self.port

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # the server's own children (checkpointer, ...) die with it; their
        # files go
        shutil.rmtree(self.dir, ignore_errors=True)
