"""`asyncsnap take --attach` in a row on busy targets, and the pause each
attach costs them (issue 15):

- alloc: a main loop that allocates all the time;
- cpu:   an asyncio coroutine that computes for 2 s between two awaits;
- idle:  an asyncio server asleep in epoll_wait, asked by a client every
         20 ms (the attach finds its main thread parked: the wake route).

Every snapshot must be complete (`asyncsnap info` reads it) and no attach
may fail, hang or kill the target. The targets measure their own pauses:
every gap of more than 2 ms between two iterations of their main loop (for
idle: the client's request latency) is written with its end time on the
system-wide monotonic clock, and the pause of one attach is the largest gap
that overlaps it.

    python3 bench/attach_stress.py [--cli build/src/cli/asyncsnap]
        [--python python3] [-n 50] [--targets alloc,cpu,idle] [--no-fork]

The agent is the command's own (its build tree), or $ASYNCSNAP_AGENT_PATH.
Runs outside the test suite: 150 attaches take a few minutes.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

METER = r'''
import sys, time
def gap(last, now):
    if now - last > 0.002:
        sys.stdout.write("gap %.6f %.3f\n" % (now, (now - last) * 1e3))
        sys.stdout.flush()
'''

ALLOC = METER + r'''
print("ready", flush=True)
last = time.monotonic()
while True:
    junk = [{"k": [object() for _ in range(10)]} for _ in range(20)]
    now = time.monotonic()
    gap(last, now)
    last = now
'''

CPU = METER + r'''
import asyncio
async def cpu():
    last = time.monotonic()
    while True:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.0:   # 2 s without an await
            x = sum(i * i for i in range(200))
            now = time.monotonic()
            gap(last, now)
            last = now
        await asyncio.sleep(0)
        last = time.monotonic()
async def main():
    print("ready", flush=True)
    await cpu()
asyncio.run(main())
'''

IDLE = r'''
import asyncio, sys
async def handle(r, w):
    while True:
        line = await r.readline()
        if not line:
            return
        w.write(line)
        await w.drain()
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    print("ready %d" % srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(1e9)
asyncio.run(main())
'''


class Target:
    def __init__(self, python, name, source, workdir):
        path = os.path.join(workdir, name + ".py")
        with open(path, "w") as f:
            f.write(source)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        self.p = subprocess.Popen([python, path], stdout=subprocess.PIPE, text=True, env=env,
                                  cwd=workdir)
        line = self.p.stdout.readline()
        assert line.startswith("ready"), line
        self.port = int(line.split()[1]) if len(line.split()) > 1 else None
        self.gaps = []  # (end time, ms)
        self.stop = threading.Event()
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()
        if self.port:
            self.prober = threading.Thread(target=self.probe, daemon=True)
            self.prober.start()

    def read(self):
        for line in self.p.stdout:
            parts = line.split()
            if parts and parts[0] == "gap":
                self.gaps.append((float(parts[1]), float(parts[2])))

    def probe(self):
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            f = s.makefile("rwb")
            while not self.stop.is_set():
                t0 = time.monotonic()
                f.write(b"x\n")
                f.flush()
                f.readline()
                now = time.monotonic()
                self.gaps.append((now, (now - t0) * 1e3))
                time.sleep(0.02)

    def pause(self, t0, t1):
        """The largest gap that overlaps [t0, t1]."""
        return max([ms for end, ms in self.gaps if end >= t0 and end - ms / 1e3 <= t1] or [0.0])

    def close(self):
        self.stop.set()
        self.p.kill()
        self.p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "src", "cli", "asyncsnap"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("--targets", default="alloc,cpu,idle")
    ap.add_argument("--no-fork", action="store_true")
    args = ap.parse_args()
    sources = {"alloc": ALLOC, "cpu": CPU, "idle": IDLE}
    failures = 0
    with tempfile.TemporaryDirectory(prefix="asnap-attach-bench-") as work:
        for name in args.targets.split(","):
            t = Target(args.python, name, sources[name], work)
            pauses, walls = [], []
            try:
                time.sleep(1.0)
                for i in range(args.n):
                    out = os.path.join(work, "%s-%d.snap" % (name, i))
                    extra = ["--no-fork"] if args.no_fork else []
                    t0 = time.monotonic()
                    r = subprocess.run([args.cli, "take", "--attach", str(t.p.pid), "-o", out,
                                        "--timeout", "30"] + extra,
                                       capture_output=True, text=True, timeout=120)
                    t1 = time.monotonic()
                    if r.returncode != 0:
                        failures += 1
                        print("%s #%d: FAILED: %s" % (name, i, r.stderr.strip()))
                        continue
                    walls.append(t1 - t0)
                    info = subprocess.run([args.cli, "info", out], capture_output=True,
                                          text=True)
                    if info.returncode != 0:
                        failures += 1
                        print("%s #%d: incomplete snapshot: %s" % (name, i, info.stderr.strip()))
                    os.unlink(out)
                    if t.p.poll() is not None:
                        failures += 1
                        print("%s: the target died (%s)" % (name, t.p.returncode))
                        break
                    time.sleep(0.3)
                    pauses.append(t.pause(t0, t1))
            finally:
                t.close()
            if pauses:
                what = "client latency" if name == "idle" else "pause"
                print("%-5s %d attaches ok of %d; command %.2f s median; %s median %.0f ms, "
                      "worst %.0f ms" % (name, len(pauses), args.n, statistics.median(walls),
                                         what, statistics.median(pauses), max(pauses)))
    with open("/proc/loadavg") as f:
        print("load average: %s" % " ".join(f.read().split()[:3]))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
