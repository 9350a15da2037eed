"""asyncsnap agent: snapshots of a running Python program's object graph.

    import asyncsnap
    path = asyncsnap.take()          # ./<prog>-<pid>-<seq>.snap

The snapshot holds every object the cycle collector tracks and everything
they reference, with types, sizes, reference counts and edges; never the
contents of strings or bytes unless values=True. Analyze it offline with the
`asyncsnap` command (`asyncsnap info FILE`).
"""

import itertools
import json
import os
import re
import sys
import threading
import time

from . import _agent

__all__ = ["take", "SnapshotError", "__version__"]

__version__ = _agent.VERSION
SnapshotError = _agent.SnapshotError

_seq = itertools.count(1)
_lock = threading.Lock()


def _program():
    """The program's name as used in file names: script or module name."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if argv0 in ("", "-c", "-m"):
        main = sys.modules.get("__main__")
        spec = getattr(main, "__spec__", None)
        argv0 = spec.name if spec is not None and spec.name else "python"
    name = os.path.basename(argv0)
    if name.endswith(".py"):
        name = name[:-3]
    if name == "__main__":
        name = os.path.basename(os.path.dirname(os.path.abspath(argv0))) or "python"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "python"


def _process_start():
    """Process start time in seconds since the epoch, or None."""
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        # field 22 (starttime, in clock ticks since boot) comes after the
        # parenthesised command name, which may itself contain spaces
        ticks = int(stat[stat.rindex(b")") + 2:].split()[19])
        with open("/proc/stat", "rb") as f:
            for line in f:
                if line.startswith(b"btime "):
                    return int(line.split()[1]) + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    return None


def _rss():
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _gc_state():
    import gc
    state = {
        "enabled": gc.isenabled(),
        "counts": list(gc.get_count()),
        "thresholds": list(gc.get_threshold()),
        "generations": gc.get_stats(),
        "garbage": len(gc.garbage),
    }
    if hasattr(gc, "get_freeze_count"):
        state["frozen"] = gc.get_freeze_count()
    return state


def _header(seq, values):
    import platform
    argv = list(sys.argv)
    if not values:
        # the program name stays; its arguments may carry secrets
        argv = argv[:1] + ["<redacted>"] * (len(argv) - 1)
    return {
        "producer": "asyncsnap-agent " + __version__,
        "python": {
            "implementation": platform.python_implementation(),
            "version": platform.python_version(),
            "hexversion": sys.hexversion,
        },
        "platform": sys.platform,
        "pid": os.getpid(),
        "process_start": _process_start(),
        "program": _program(),
        "argv": argv,
        "time": time.time(),
        "seq": seq,
        "gc": _gc_state(),
        "rss": _rss(),
        "values": bool(values),
    }


def _default_path(seq):
    directory = os.environ.get("ASYNCSNAP_DIR") or os.getcwd()
    return os.path.join(directory, "%s-%d-%d.snap" % (_program(), os.getpid(), seq))


def take(path=None, *, fork=False, values=False, level=0, fsync=True):
    """Write a snapshot of the heap and return its path.

    path   -- where to write; default $ASYNCSNAP_DIR (else the current
              directory) / <prog>-<pid>-<seq>.snap
    fork   -- not supported yet: raises SnapshotError
    values -- also record the first 64 bytes of every str and bytes object
              (and argv); off by default so that snapshots hold no secrets
    level  -- zstd compression level (0: default)
    fsync  -- flush the file to disk before it appears under its name

    The file appears complete or not at all: it is written to a temporary
    name beside path (mode 0600) and renamed. Raises SnapshotError with
    the reason when the snapshot cannot be written.
    """
    if fork:
        raise SnapshotError("fork mode is not available yet")
    with _lock:
        seq = next(_seq)
    if path is None:
        path = _default_path(seq)
    path = os.fspath(path)
    header = json.dumps(_header(seq, values))
    _agent.snapshot(path, header, values=values, level=level, fsync=fsync)
    return path
