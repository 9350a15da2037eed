"""The agent's snapshot engine: take() and what it shares with the
triggers (_trigger.py), the leak checker (_leakcheck.py) and the attach
payload: the extension, the sequence, the fork-mode children and their
reaping, the status answers to `asyncsnap take`, the header. The package
(__init__.py) is its public face; nothing here imports the triggers: they
register their hooks (_on_idle, _on_written) when they are imported."""

import _thread
import gc
import io
import itertools
import json
import os
import platform
import re
import signal
import sys
import threading
import time
import types
from importlib.machinery import ModuleSpec as _ModuleSpec
from typing import Optional, Union

def _unsupported():
    """Why this interpreter cannot run the agent, or None."""
    if sys.implementation.name != "cpython":
        return "it is %s; the agent reads CPython's internals" % sys.implementation.name
    if "t" in getattr(sys, "abiflags", ""):  # never imports sysconfig: objects of its own
        return "it is a free-threaded build (Py_GIL_DISABLED), which the agent does not support"
    if not (3, 9) <= sys.version_info[:2] <= (3, 15):
        return "the agent supports CPython 3.9 to 3.15"
    return None


try:
    from . import _agent
except ImportError as _e:
    if str(_e).startswith("asyncsnap"):  # the extension's own refusal (a too old micro release)
        raise ImportError(str(_e)) from None
    _why = _unsupported()
    if _why is None:
        # a supported version, but the extension here is another's
        _here = os.path.dirname(os.path.abspath(__file__))
        _built = sorted(n[len("_agent."):-len(".so")] for n in os.listdir(_here)
                        if n.startswith("_agent.") and n.endswith(".so"))
        if not _built:
            raise
        from importlib.machinery import EXTENSION_SUFFIXES as _suffixes
        if any(".%s.so" % b in _suffixes for b in _built):
            # built for this interpreter's ABI, and still not loadable
            _why = "its extension does not load (%s)" % _e
        else:
            _why = "this agent was built for %s (build it for this interpreter: meson setup " \
                   "-Dpython=%s)" % (", ".join(_built), sys.executable)
    raise ImportError("asyncsnap: cannot run under Python %s (%s): %s"
                      % (sys.version.split()[0], sys.executable, _why)) from None
if _unsupported() is not None:  # an extension built for this version, but not supported
    raise ImportError("asyncsnap: cannot run under Python %s: %s"
                      % (sys.version.split()[0], _unsupported()))
del _unsupported

__version__ = _agent.VERSION
SnapshotError = _agent.SnapshotError

_seq = itertools.count(1)
# Serializes take() between threads. Reentrant so that a take() reached from
# inside another one on the same thread (a finalizer run by collect=True, an
# application signal handler) cannot deadlock; the C walk itself runs no
# Python code, so walks never nest.
_lock = threading.RLock()
# How many take() calls are in progress (on any thread). The signal handler
# drops a signal that arrives while this is non-zero instead of nesting.
_active = 0
# Snapshot children of fork mode that have not been reaped yet: pid -> path.
_children = {}

# Exit status of a fork-mode child that failed and said why on stderr.
_EXIT_REPORTED = 3


# --------------------------------------------------------------------------
# Reading the process without running application code


# The module object's own __dict__ slot. Reading it through the descriptor
# runs C only, even for a ModuleType subclass that overrides __getattribute__
# (lazy loaders do), where vars(mod) or getattr would run that override.
_module_dict = types.ModuleType.__dict__["__dict__"].__get__


def _mod_dict(mod):
    """The __dict__ of a module object, or None for anything else."""
    if not issubclass(type(mod), types.ModuleType):
        return None
    d = _module_dict(mod)
    return d if type(d) is dict else None


def _program():
    """The program's name as used in file names: script or module name."""
    argv0 = sys.argv[0] if sys.argv and type(sys.argv[0]) is str else ""
    if argv0 in ("", "-c", "-m"):
        d = _mod_dict(sys.modules.get("__main__")) or {}
        spec = d.get("__spec__")
        name = spec.name if issubclass(type(spec), _ModuleSpec) else None
        argv0 = name if type(name) is str and name else "python"
    name = os.path.basename(argv0)
    if name.endswith(".py"):
        name = name[:-3]
    if name == "__main__":
        name = os.path.basename(os.path.dirname(os.path.abspath(argv0))) or "python"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "python"


def _stdlib_dir():
    d = _mod_dict(os) or {}
    f = d.get("__file__")
    return os.path.dirname(f) if type(f) is str else None


_STDLIB = _stdlib_dir()
_SITE_DIRS = ("site-packages", "dist-packages")


def _is_stdlib(file):
    if _STDLIB is None or not file.startswith(_STDLIB + os.sep):
        return False
    return file[len(_STDLIB) + 1:].split(os.sep, 1)[0] not in _SITE_DIRS


def _packages():
    """{top-level module name: version} of the imported non-stdlib modules
    that declare a version.

    Only a __version__ that is a plain str in the module's own __dict__
    counts: no getattr (a module __getattr__ would run), no
    importlib.metadata (file IO and imports, in a signal handler)."""
    found = {}
    for name, mod in list(sys.modules.items()):
        if type(name) is not str or "." in name or name in ("__main__", "__mp_main__"):
            continue
        d = _mod_dict(mod)
        if d is None:
            continue
        version = d.get("__version__")
        file = d.get("__file__")
        if type(version) is not str or type(file) is not str or _is_stdlib(file):
            continue
        found[name] = version[:64]
    return dict(sorted(found.items()))


def _library_modules():
    """Top-level names of the imported modules that are not the program's
    own code: built in, in the standard library, in site-packages or
    dist-packages, and asyncsnap itself. The analyzer ranks findings in
    the program's own code first with it. Reads module dicts only."""
    found = {__name__.partition(".")[0]}
    for name, mod in list(sys.modules.items()):
        if type(name) is not str or name in ("__main__", "__mp_main__"):
            continue
        top = name.partition(".")[0]
        if top in found:
            continue
        d = _mod_dict(mod)
        if d is None or "." in name:
            continue
        file = d.get("__file__")
        if (type(file) is not str or _is_stdlib(file)
                or any(os.sep + s + os.sep in file for s in _SITE_DIRS)):
            found.add(top)
    return sorted(found)


_modules_seen = (-1, None)


def _modules():
    """(_packages(), _library_modules()), made again when the number of
    loaded modules changes."""
    global _modules_seen
    n = len(sys.modules)
    if _modules_seen[0] != n:
        _modules_seen = (n, (_packages(), _library_modules()))
    return _modules_seen[1]


def _process_start(pid=None):
    """Process start time in seconds since the epoch, or None."""
    try:
        with open("/proc/%s/stat" % (pid or "self"), "rb") as f:
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


_own_start_seen = (None, None)


def _own_start():
    """_process_start() of this process, read once per pid."""
    global _own_start_seen
    pid = os.getpid()
    if _own_start_seen[0] != pid:
        _own_start_seen = (pid, _process_start())
    return _own_start_seen[1]


def _process_start_ticks(pid=None):
    """Field 22 of /proc/PID/stat: the start time in clock ticks since boot,
    exact, which `asyncsnap take` compares to tell a reused pid; or None."""
    try:
        with open("/proc/%s/stat" % (pid or "self"), "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _rss(pid=None):
    try:
        with open("/proc/%s/statm" % (pid or "self"), "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _gc_state(enabled):
    state = {
        "enabled": enabled,
        "counts": list(gc.get_count()),
        "thresholds": list(gc.get_threshold()),
        "generations": gc.get_stats(),
        "garbage": len(gc.garbage),
    }
    if hasattr(gc, "get_freeze_count"):
        state["frozen"] = gc.get_freeze_count()
    return state


def _cwd():
    try:
        return os.getcwd()
    except OSError:
        return None


def _header(seq, values, *, gc_enabled, fork=False):
    """The JSON header (SPEC section 3). A fork-mode child adds "fork_ms"
    itself. Made in the paused path: what comes from the loaded modules is
    kept while their number stays the same."""
    argv = [a if type(a) is str else repr(type(a)) for a in sys.argv]
    if not values:
        # the program name stays; its arguments may carry secrets
        argv = argv[:1] + ["<redacted>"] * (len(argv) - 1)
    modules = _modules()
    header = {
        "producer": "asyncsnap-agent " + __version__,
        "python": {
            "implementation": platform.python_implementation(),
            "version": platform.python_version(),
            "hexversion": sys.hexversion,
        },
        "platform": sys.platform,
        "pid": os.getpid(),
        "process_start": _own_start(),
        "program": _program(),
        "argv": argv,
        "executable": sys.executable or None,
        "cwd": _cwd(),
        # never the values: they are where secrets live
        "environ": {"count": len(os.environ)},
        "time": time.time(),
        # the clock of asyncio's loop.time(): when a timer fires, in seconds from now
        "monotonic": time.monotonic(),
        "seq": seq,
        "gc": _gc_state(gc_enabled),
        "rss": _rss(),
        "values": bool(values),
        "fork": fork,
        "packages": modules[0],
        # what is library code, for the analyzer to tell it from the program's
        "code": {"stdlib": _STDLIB, "library_modules": modules[1]},
    }
    return header


def _default_path(seq, directory=None):
    directory = directory or os.environ.get("ASYNCSNAP_DIR") or os.getcwd()
    return os.path.join(directory, "%s-%d-%d.snap" % (_program(), os.getpid(), seq))


def _say_failed(exc):
    """One line on stderr, written past sys.stderr: safe in a signal handler
    that interrupted a write to it, and in a fork child (no buffers)."""
    if isinstance(exc, SnapshotError):
        reason = str(exc) or "unknown error"
    else:
        reason = ("%s: %s" % (type(exc).__name__, exc)).rstrip(": ")
    line = "asyncsnap: snapshot failed: %s\n" % " ".join(reason.split())
    try:
        os.write(2, line.encode("utf-8", "replace"))
    except OSError:
        pass


# --------------------------------------------------------------------------
# take()


def take(path: "Optional[Union[str, os.PathLike[str]]]" = None, *, fork: bool = False,
         values: bool = False, collect: bool = False, level: int = 0,
         fsync: bool = True) -> str:
    """Write a snapshot of the heap and return its path.

    path    -- where to write; default $ASYNCSNAP_DIR (else the current
               directory) / <prog>-<pid>-<seq>.snap
    fork    -- fork, and let the child walk the heap and write the file while
               this process goes on: the pause here is the fork alone. The
               path is returned at once; the file appears there, complete,
               when the child is done (it is renamed into place), or not at
               all, and a failure is reported by the child as one line on
               stderr instead of an exception
    values  -- also record what the program computed: the first 64 bytes of
               every str and bytes object, argv, the numbers in instance
               attributes, task names as given (not hashed); off by default
               so that snapshots hold no secrets (docs/AGENT.md, "What a
               default snapshot holds")
    collect -- run gc.collect() first (in this process, also in fork mode);
               by default no collection is ever run, so that garbage cycles
               show up in the snapshot
    level   -- zstd compression level (0: default)
    fsync   -- flush the file to disk before it appears under its name

    The file appears complete or not at all: it is written to a temporary
    name beside path (mode 0600) and renamed. Raises SnapshotError with
    the reason when the snapshot cannot be written (or, with fork=True,
    when the process cannot fork).
    """
    return _take(path, None, fork, values, collect, level, fsync)


def _take(path, directory, fork, values, collect, level, fsync, status=None):
    """take(), and the signal handler's snapshot. status: the path of the
    file that tells `asyncsnap take` how its request ended (written here,
    by the fork-mode child, or by the reaper), or None."""
    global _active
    with _lock:
        _active += 1
        try:
            if isinstance(level, bool) or not isinstance(level, int):
                raise TypeError("level must be an int, not %s" % type(level).__name__)
            seq = next(_seq)
            if path is None:
                path = _default_path(seq, directory)
            path = os.fspath(path)
            if collect:
                gc.collect()
            if fork:
                _take_forked(path, seq, values, level, fsync, status)
            else:
                result = _take_here(path, seq, values, level, fsync)
                _write_status(status, _written(path, result))
        except BaseException as e:
            _write_status(status, _failed(e))
            raise
        finally:
            _active -= 1
            if _active == 0 and _on_idle is not None:
                _on_idle()
    return path


# Called when no take() is in progress any more and no fork-mode child is
# left, to serve the `asyncsnap take` requests that came meanwhile (set by
# install()); None when nothing is installed.
_on_idle = None     # set by _trigger: serve requests waiting for a snapshot
_on_written = None  # set by _trigger: a fork child wrote a snapshot (--keep)


def _take_here(path, seq, values, level, fsync, tag=None):
    # No collection may run between here and the walk (the C walk pauses the
    # collector itself; this covers building the header): a collection would
    # free the very garbage cycles a snapshot is taken to find.
    was = gc.isenabled()
    gc.disable()
    try:
        header = json.dumps(_header(seq, values, gc_enabled=was))
        return _agent.snapshot(path, header, values=values, level=level, fsync=fsync, tag=tag)
    finally:
        if was:
            gc.enable()


# --------------------------------------------------------------------------
# the answer to `asyncsnap take`: a status file in the private runtime
# directory, beside the request it answers (docs/AGENT.md "Taking a
# snapshot from outside")


def _written(path, result):
    return {"state": "written", "path": os.path.abspath(os.fsdecode(path)),
            "dev": result["dev"], "ino": result["ino"]}


def _failed(exc):
    if isinstance(exc, SnapshotError):
        reason = str(exc) or "unknown error"
    else:
        reason = ("%s: %s" % (type(exc).__name__, exc)).rstrip(": ")
    return {"state": "failed", "reason": " ".join(reason.split())}


def _write_status(status, record):
    """Write record to the file status (through a temporary name and a
    rename, so the reader sees all of it or nothing); never raises."""
    if status is None:
        return
    tmp = "%s.%d.tmp" % (status, os.getpid())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            os.write(fd, json.dumps(record).encode())
        finally:
            os.close(fd)
        os.replace(tmp, status)
    except (OSError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:
            pass


# --------------------------------------------------------------------------
# fork mode

def _take_forked(path, seq, values, level, fsync, status=None):
    """Fork a child that walks the heap and writes the file in C alone
    (walk/forked.c: none of CPython's after-fork work runs in it, so every
    thread's stack is in the snapshot and no code of the program's runs)."""
    if not hasattr(os, "fork"):
        raise SnapshotError("fork mode needs os.fork(), which this platform lacks")
    # names the child's temporary file, for the reaper to find it if the
    # child dies before it is renamed
    tag = os.urandom(8).hex()
    shown = json.dumps(os.path.abspath(os.fsdecode(path)))
    _flush_stdio()
    # The child starts with the collector off: nothing it allocates can
    # collect (and run a finalizer) during the walk.
    was = gc.isenabled()
    gc.disable()
    try:
        header = json.dumps(_header(seq, values, gc_enabled=was, fork=True))
        pid = _agent.fork_snapshot(path, header, shown, status, values=values, level=level,
                                   fsync=fsync, tag=tag)
    except OSError as e:
        raise SnapshotError("cannot fork: %s" % e) from None
    finally:
        if was:
            gc.enable()
    _reap_later(pid, path, tag, status)


def _flush_stdio():
    """Flush the standard streams before forking, so that nothing buffered
    is ever written twice. Only the interpreter's own stream types are
    flushed: a replacement object's flush() would be application code."""
    for stream in (sys.stdout, sys.stderr):
        if type(stream) in (io.TextIOWrapper, io.BufferedWriter):
            try:
                stream.flush()
            except Exception:  # a closed or broken stream, a reentrant call
                pass


def _reap_later(pid, path, tag, status):
    """Reap a snapshot child without blocking the application.

    A small thread waits for that one pid (os.waitpid(pid, 0) sleeps
    without the GIL) and ends with it. The alternatives are worse: a
    SIGCHLD handler would take the signal from the application (asyncio
    child watchers, subprocess); a double fork makes the parent wait for
    the intermediate child, i.e. pay for a second fork of the whole
    address space, and leaves the grandchild to PID 1, which in a container
    is often the application itself, which then never reaps it; waitpid(-1)
    would steal the application's children. The thread exists only while a
    child runs, and is started with _thread, not threading, so it appears
    in no threading.enumerate() of the application."""
    _children[pid] = path
    try:
        _thread.start_new_thread(_reap, (pid, path, tag, status))
    except RuntimeError:  # at interpreter shutdown: no new threads
        _reap(pid, path, tag, status)


def _reap(pid, path, tag, status):
    try:
        _reap_status(pid, path, tag, status)
    finally:
        # only once it is reported: whoever waits for _children to empty
        # (a program about to exit) then has the report on stderr
        _children.pop(pid, None)
        if not _children and not _active and _on_idle is not None:
            try:
                _on_idle()
            except BaseException:
                pass


def _reap_status(pid, path, tag, answer):
    try:
        wstatus = None
        try:
            _, wstatus = os.waitpid(pid, 0)
        except ChildProcessError:  # reaped by the application's waitpid(-1)
            pass
        if wstatus is not None and os.WIFEXITED(wstatus) and os.WEXITSTATUS(wstatus) == 0:
            if _on_written is not None:
                _on_written(path)
            return
        if (wstatus is None
                or os.WIFEXITED(wstatus) and os.WEXITSTATUS(wstatus) == _EXIT_REPORTED):
            return
        # The child died without reporting (killed, crashed): say so, and
        # take away its temporary file, which nobody else will.
        if os.WIFSIGNALED(wstatus):
            sig = os.WTERMSIG(wstatus)
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = "signal %d" % sig
            reason = "the snapshot process (pid %d) was killed by %s" % (pid, name)
        else:
            reason = "the snapshot process (pid %d) exited with status %d" % (
                pid, os.WEXITSTATUS(wstatus))
        _remove_partial(path, tag)
        _say_failed(SnapshotError(reason))
        _write_status(answer, _failed(SnapshotError(reason)))
    except BaseException:
        pass


def _remove_partial(path, tag):
    """Remove the temporary file of a snapshot to path: the writer names it
    '.asyncsnap-<tag>-XXXXXX.tmp', beside path."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    directory = os.path.dirname(path)
    pattern = re.compile(r"\.asyncsnap-%s-[A-Za-z0-9]{6}\.tmp\Z" % re.escape(tag))
    try:
        for name in os.listdir(directory or "."):
            if pattern.match(name):
                try:
                    os.unlink(os.path.join(directory, name))
                except OSError:
                    pass
    except OSError:
        pass


def _after_fork_in_child():
    """A child forked by the program (or by us) keeps none of the parent's
    snapshot bookkeeping: not its children, which it cannot reap, nor a
    count or a lock held by a thread that does not exist in it."""
    global _active, _lock
    _children.clear()
    _active = 0
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

