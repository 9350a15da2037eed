"""The triggers: install(), uninstall(), the signal handler, the timed and
threshold triggers (every, on_tasks, on_rss) with their --keep pruning, and
the registration file that lets `asyncsnap ps` and `asyncsnap take` find
the processes that have the agent installed."""

import _thread
import atexit
import json
import os
import re
import signal
import stat
import sys
import time
from typing import Optional

from . import _core


class _State:
    __slots__ = ("signum", "directory", "fork", "previous", "pid", "registration", "dropped",
                 "every", "on_tasks", "on_rss", "keep", "poll", "request", "next_tasks",
                 "next_rss", "last", "stop", "program", "main_thread", "deferred", "kicked",
                 "wake", "ended")

    def __init__(self, signum, directory, fork, previous):
        self.signum = signum
        self.directory = directory
        self.fork = fork
        self.previous = previous
        self.pid = os.getpid()
        self.registration = None
        self.dropped = 0
        self.every = self.on_tasks = self.on_rss = self.keep = None
        self.poll = 1.0
        # what the trigger thread asked the handler for: None (the signal
        # came from outside: snapshot), "snapshot", or "count-tasks"
        self.request = None
        self.next_tasks = self.next_rss = None  # the next threshold to pass
        self.last = time.monotonic()            # time of the last snapshot
        self.stop = False                       # tells the thread to end
        self.wake = None                        # held while the thread may sleep
        self.ended = None                       # held until the thread has ended
        self.program = None
        self.main_thread = _thread.get_ident()  # install() runs on it
        self.deferred = 0                       # signals put off while collecting
        self.kicked = -1e9                      # when _serve_waiting last signalled


_state = None


def install(signum: int = signal.SIGUSR1, directory: "Optional[str]" = None, fork: bool = True,
            *, every: "Optional[float]" = None, on_tasks: "Optional[int]" = None,
            on_rss: "Optional[float]" = None, keep: "Optional[int]" = None,
            poll: float = 1.0) -> None:
    """Take a snapshot each time signal signum arrives.

    directory -- where the snapshots go (<prog>-<pid>-<seq>.snap); default
                 $ASYNCSNAP_DIR, else the current directory, as they are now
    fork      -- take them in fork mode (the default): the process pauses
                 for the fork only
    every     -- also take one every `every` seconds
    on_tasks  -- also take one when the number of pending asyncio tasks
                 passes on_tasks, then 2*on_tasks, 3*on_tasks, ...
    on_rss    -- also take one when the resident memory passes on_rss
                 megabytes (MiB), then 2*on_rss, 3*on_rss, ...
    keep      -- after each snapshot, remove this process's oldest
                 snapshots in directory beyond the newest `keep`
    poll      -- seconds between two checks of the thresholds

    The timed and threshold triggers are decided by a small daemon thread
    that never touches the program's objects: it reads the clock and
    /proc/self/statm, and sends signum to the main thread, whose handler
    takes the snapshot (and counts the tasks, for on_tasks) exactly as for
    a signal from outside.

    The handler replaces whatever handler signum had (it is restored by
    uninstall()) and never raises into the program: a failure is reported
    as one line on stderr ("asyncsnap: snapshot failed: ..."). A signal that
    arrives while a snapshot is being taken -- or, in fork mode, while the
    previous child is still writing -- is dropped, never nested.

    Also writes a registration file, $XDG_RUNTIME_DIR/asyncsnap/<pid>.json
    (else /tmp/asyncsnap-<uid>/<pid>.json), removed at exit and by
    uninstall(). Must be called from the main thread, like signal.signal().
    Calling it again replaces the previous installation.
    """
    global _state
    signum = _check_signal(signum)
    every = _check_number("every", every, float)
    on_tasks = _check_number("on_tasks", on_tasks, int)
    on_rss = _check_number("on_rss", on_rss, float)
    keep = _check_number("keep", keep, int)
    poll = _check_number("poll", poll, float)
    if directory is None:
        directory = os.environ.get("ASYNCSNAP_DIR") or os.getcwd()
    directory = os.path.abspath(os.fsdecode(os.fspath(directory)))
    old = _state
    previous = signal.signal(signum, _on_signal)  # raises off the main thread
    if old is not None:
        _stop_watch(old)
        if old.signum == signum:
            previous = old.previous
        else:
            _restore(old)
        _unregister(old)
    st = _State(signum, directory, bool(fork), previous)
    st.every, st.on_tasks, st.on_rss, st.keep, st.poll = every, on_tasks, on_rss, keep, poll
    st.next_tasks = on_tasks
    st.next_rss = on_rss
    _state = st
    st.registration = _register(st)
    _core._on_idle = _serve_waiting
    if every or on_tasks or on_rss:
        _start_watch(st)
    atexit.unregister(_at_exit)
    atexit.register(_at_exit)


def uninstall() -> None:
    """Undo install(): restore the signal's previous handler (unless the
    program has put its own there since) and remove the registration file.
    Does nothing when nothing is installed."""
    global _state
    st = _state
    if st is None:
        return
    _stop_watch(st)
    _restore(st)
    _state = None
    _core._on_idle = None
    _unregister(st)
    atexit.unregister(_at_exit)


def _check_number(name, value, kind):
    """None, or value as a positive kind (int or float)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise TypeError("%s must be a%s number, not %s"
                        % (name, "n integer" if kind is int else "", type(value).__name__))
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError("%s must be greater than 0, not %r" % (name, value))
    return kind(value)


def _check_signal(signum):
    if isinstance(signum, bool) or not isinstance(signum, int):
        raise TypeError("signum must be a signal number, not %s" % type(signum).__name__)
    signum = int(signum)
    if signum not in signal.valid_signals():
        raise ValueError("%d is not a valid signal number" % signum)
    if signum in (signal.SIGKILL, signal.SIGSTOP):
        raise ValueError("signal %d cannot be caught" % signum)
    return signum


def _restore(st):
    if signal.getsignal(st.signum) is _on_signal:
        signal.signal(st.signum, st.previous if st.previous is not None else signal.SIG_DFL)


def _on_signal(signum, frame):
    st = _state
    if st is None:
        return
    # Never nest: drop the signal while a snapshot is in progress here, or
    # while the previous fork-mode child is still writing (a storm of
    # signals must not become a storm of processes).
    request, st.request = st.request, None
    if request == "count-tasks":
        if not _tasks_passed(st):
            return
    if _core._active or (st.fork and _core._children):
        # an `asyncsnap take` request stays where it is, and is served
        # when this snapshot is done (_serve_waiting)
        st.dropped += 1
        return
    # Python code the collector called (a __del__, a weakref callback)
    # is where a signal handler runs mid-collection: the walk cannot pause
    # the collector from inside it. Try again once it is done.
    if _core._agent.gc_collecting():
        if st.deferred < _DEFER_MAX:
            st.deferred += 1
            _signal_later(st)
            return
        # nothing has let go of it: give up on this one, and say why
        st.deferred = 0
        e = _core.SnapshotError("a garbage collection has been running finalizers for %g "
                               "seconds" % (_DEFER_MAX * _DEFER_S))
        _core._say_failed(e)
        _core._write_status(_claim_request(st), _core._failed(e))
        return
    st.deferred = 0
    status = _claim_request(st)
    if status is None and request is None and time.monotonic() - st.kicked < _KICK_S:
        # the signal _serve_waiting sent for a request whose own signal
        # came first and took it: nothing is left to do (a snapshot here
        # would be one nobody asked for)
        return
    st.last = time.monotonic()
    try:
        path = _core._take(None, st.directory, st.fork, False, False, 0, True, status)
    except Exception as e:  # never into the program; its own exceptions pass
        _core._say_failed(e)
        return
    if st.keep and not st.fork:
        _prune(st, path)


# --------------------------------------------------------------------------
# `asyncsnap take`: its request is a file <pid>-<nonce>.request in the
# private runtime directory, made before it sends the signal; the answer is
# <pid>-<nonce>.status beside it, {"state": "taking"}, then "written" (with
# the file's path, device and inode) or "failed" (with the reason). Only
# this user can write there, so the answer cannot be forged, and the
# snapshot it names is told from a planted file by its inode.

_REQUEST_MAX_AGE = 600  # seconds; an older request's `take` has given up


def _requests(st):
    """The waiting requests for this process: [(mtime, name)], oldest first."""
    if st.registration is None or st.pid != os.getpid():
        return []
    directory = os.path.dirname(st.registration)
    prefix = "%d-" % st.pid
    found = []
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    for name in names:
        if name.startswith(prefix) and name.endswith(".request"):
            try:
                found.append((os.lstat(os.path.join(directory, name)).st_mtime, name))
            except OSError:
                pass
    found.sort()
    return found


def _claim_request(st):
    """Take the oldest waiting request: remove it and answer "taking".
    The path of its status file, or None when no request waits (the signal
    came from somebody else: a plain snapshot, answered to nobody)."""
    directory = os.path.dirname(st.registration) if st.registration else None
    now = time.time()
    for mtime, name in _requests(st):
        path = os.path.join(directory, name)
        try:
            os.unlink(path)
        except OSError:
            continue  # gone: its `take` gave up
        if now - mtime > _REQUEST_MAX_AGE:
            continue
        status = path[:-len(".request")] + ".status"
        _core._write_status(status, {"state": "taking", "pid": st.pid})
        return status
    return None


def _serve_waiting():
    """No snapshot is under way any more: if a request came meanwhile,
    signal the main thread again, whose handler serves it. Runs on any
    thread (the reaper's, or whichever ran take())."""
    st = _state
    if st is None or st.stop or st.pid != os.getpid():
        return
    if _core._active or (st.fork and _core._children) or not _requests(st):
        return
    st.kicked = time.monotonic()
    try:
        signal.pthread_kill(st.main_thread, st.signum)
    except (OSError, ValueError):
        pass


# How long a snapshot is put off while forking would block, or while the
# collector runs finalizers: 20 ms at a time, 10 seconds in all.
_DEFER_S = 0.02
_DEFER_MAX = 500
# A signal with no request to serve within this many seconds of one that
# _serve_waiting sent is that one: ignored.
_KICK_S = 2.0


def _signal_later(st):
    """Send the signal again in _DEFER_S seconds, from a short-lived thread
    (the request, if any, stays where it is until then)."""
    def later():
        time.sleep(_DEFER_S)
        if _state is st and not st.stop:
            if st.request is None:
                st.request = "snapshot"  # wanted, even with no request to serve
            try:
                signal.pthread_kill(st.main_thread, st.signum)
            except (OSError, ValueError):
                pass
    try:
        _thread.start_new_thread(later, ())
    except RuntimeError:  # interpreter shutdown
        pass


def _tasks_passed(st):
    """Whether the number of pending tasks of the loop running on this (the
    main) thread has passed the next threshold; moves the threshold on.

    asyncio.all_tasks() reads the loop's task set and each task's state in
    C: no application code runs. Without asyncio imported or a running
    loop there is nothing to count, and asyncio is never imported here."""
    aio = sys.modules.get("asyncio")
    if aio is None:
        return False
    try:
        loop = aio.events._get_running_loop()
        if loop is None:
            return False
        n = len(aio.all_tasks(loop))
    except Exception:
        return False
    if n <= st.next_tasks:
        if n < st.on_tasks:
            st.next_tasks = st.on_tasks  # back under the first: re-arm it
        return False
    st.next_tasks = (n // st.on_tasks + 1) * st.on_tasks
    return True


# --------------------------------------------------------------------------
# timed and threshold triggers


def _start_watch(st):
    """Start the trigger thread and return once it runs: a thread still
    starting when the program ends can crash CPython's finalization (seen
    on 3.12), so install() never returns before it is parked."""
    started = _thread.allocate_lock()
    started.acquire()
    st.wake = _thread.allocate_lock()
    st.wake.acquire()
    st.ended = _thread.allocate_lock()
    st.ended.acquire()
    try:
        _thread.start_new_thread(_watch, (st, _thread.get_ident(), started))
    except RuntimeError:  # at interpreter shutdown
        st.wake = st.ended = None
        return
    started.acquire(timeout=10)


def _stop_watch(st):
    """Tell the trigger thread to end and, in the process that started it,
    wait (briefly) until it has: at exit no thread of ours is left for
    CPython's finalization to stop."""
    st.stop = True
    wake, ended = st.wake, st.ended
    if wake is None or st.pid != os.getpid():
        return  # no thread, or a forked child that has none
    try:
        wake.release()
    except RuntimeError:  # already released
        pass
    if ended.acquire(timeout=2):
        ended.release()


def _watch(st, main_thread, started):
    """The trigger thread: decides when, and asks the main thread's handler
    by a signal. Reads nothing but the clock and /proc/self/statm. It
    sleeps on st.wake, which _stop_watch() releases to end it at once."""
    tick = min(x for x in (st.poll, st.every) if x)
    started.release()
    try:
        while not st.stop:
            if st.wake.acquire(timeout=tick):
                return  # released by _stop_watch()
            if st.stop or _state is not st or st.pid != os.getpid():
                return
            if _core._active or (st.fork and _core._children):
                continue  # a snapshot is under way; decide after it
            request = None
            if st.every and time.monotonic() - st.last >= st.every:
                request = "snapshot"
            if request is None and st.on_rss:
                rss = _core._rss()
                if rss is not None:
                    mb = rss / (1 << 20)
                    if mb > st.next_rss:
                        st.next_rss = (mb // st.on_rss + 1) * st.on_rss
                        request = "snapshot"
                    elif mb < st.on_rss:
                        st.next_rss = st.on_rss
            if request is None and st.on_tasks:
                request = "count-tasks"
            if request is None or st.request is not None:
                continue
            st.request = request
            # to the main thread: a blocking call there returns with EINTR
            # and the handler runs at once
            signal.pthread_kill(main_thread, st.signum)
    except BaseException:  # interpreter shutdown, or the thread is gone
        pass
    finally:
        st.ended.release()


def _prune(st, written):
    """Remove this process's snapshots in st.directory beyond the newest
    st.keep (by sequence number); the one just written always stays."""
    prefix = "%s-%d-" % (_core._program(), os.getpid())
    found = []
    try:
        names = os.listdir(st.directory)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and name.endswith(".snap"):
            seq = name[len(prefix):-5]
            if seq.isdigit():
                found.append((int(seq), name))
    found.sort()
    keep_name = os.path.basename(written)
    for _, name in found[:max(0, len(found) - st.keep)]:
        if name == keep_name:
            continue
        try:
            os.unlink(os.path.join(st.directory, name))
        except OSError:
            pass


def _on_written(path):
    """Called when a fork-mode child has renamed its snapshot into place."""
    st = _state
    if st is not None and st.keep and os.path.dirname(path) == st.directory:
        _prune(st, path)


_core._on_written = _on_written


# --------------------------------------------------------------------------
# registration: <runtime dir>/<pid>.json


def runtime_dir() -> str:
    """Where registration files go: $XDG_RUNTIME_DIR/asyncsnap when that is
    set to an existing directory, else /tmp/asyncsnap-<uid>."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg) and os.path.isdir(xdg):
        return os.path.join(xdg, "asyncsnap")
    return "/tmp/asyncsnap-%d" % os.getuid()


def _private_dir(path):
    """Create path (mode 0700) or check that it is a directory only we own
    and only we can use: in /tmp, anyone could have made it first."""
    try:
        os.mkdir(path, 0o700)
        os.chmod(path, 0o700)  # whatever the umask
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise OSError("%s is not a private directory (a directory of uid %d, mode 0700)"
                      % (path, os.getuid()))


def _register(st):
    """Write the registration file; its path, or None (with one line on
    stderr) when it cannot be written. The handler works either way."""
    record = {
        "pid": st.pid,
        "process_start": _core._process_start(),
        "process_start_ticks": _core._process_start_ticks(),
        "signal": st.signum,
        "signal_name": _signal_name(st.signum),
        "directory": st.directory,
        "fork": st.fork,
        "program": _registered_program(),
        "executable": sys.executable or None,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "agent": _core.__version__,
        "installed": time.time(),
        "triggers": {"every": st.every, "on_tasks": st.on_tasks, "on_rss": st.on_rss,
                     "keep": st.keep},
    }
    directory = runtime_dir()
    path = os.path.join(directory, "%d.json" % st.pid)
    tmp = os.path.join(directory, ".%d.json.tmp" % st.pid)
    try:
        _private_dir(directory)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (json.dumps(record, indent=1) + "\n").encode())
        finally:
            os.close(fd)
        os.replace(tmp, path)
        # killed by SIGTERM (or SIGHUP) with no handler of the program's,
        # the process runs no atexit: remove the file from a C handler
        # that then lets the signal do what it would have done
        _core._agent.remove_on_termination(path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        try:
            os.write(2, ("asyncsnap: cannot register for `asyncsnap ps`: %s\n" % e).encode(
                "utf-8", "replace"))
        except OSError:
            pass
        return None
    return path


def _registered_program():
    """The program's name, as its snapshots will be named. Installed from
    sitecustomize (asyncsnap run), `python -m module` has sys.argv[0] "-m"
    and no __main__ yet: the module name is read from the command line."""
    if sys.argv and sys.argv[0] == "-m":
        try:
            with open("/proc/self/cmdline", "rb") as f:
                args = [os.fsdecode(a) for a in f.read().split(b"\0")]
        except OSError:
            args = []
        i = 1
        while i < len(args):
            a = args[i]
            if a.startswith("-m"):
                name = a[2:] or (args[i + 1] if i + 1 < len(args) else "")
                if name:
                    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)
                break
            if a in ("-W", "-X", "--check-hash-based-pycs"):
                i += 1
            elif not a.startswith("-") or a in ("-c", "-", "--"):
                break
            i += 1
    return _core._program()


def _unregister(st):
    # a child forked by the program inherits the state, not the file
    if st.registration and st.pid == os.getpid():
        _core._agent.remove_on_termination(None)
        # and the requests nobody will answer, and answers nobody read
        directory = os.path.dirname(st.registration)
        prefix = "%d-" % st.pid
        try:
            names = os.listdir(directory)
        except OSError:
            names = []
        for name in names:
            if name.startswith(prefix) and name.endswith((".request", ".status")):
                try:
                    os.unlink(os.path.join(directory, name))
                except OSError:
                    pass
        try:
            os.unlink(st.registration)
        except OSError:
            pass
        st.registration = None


def _at_exit():
    st = _state
    if st is not None:
        _stop_watch(st)
        _unregister(st)


def _signal_name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        if signal.SIGRTMIN <= signum <= signal.SIGRTMAX:
            return "SIGRTMIN+%d" % (signum - signal.SIGRTMIN)
        return str(signum)
