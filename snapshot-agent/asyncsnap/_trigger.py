"""The signal trigger: install(), uninstall() and the registration file that
lets `asyncsnap ps` find the processes that have the agent installed."""

import atexit
import json
import os
import signal
import stat
import sys
import time

_pkg = sys.modules[__name__.rpartition(".")[0]]


class _State:
    __slots__ = ("signum", "directory", "fork", "previous", "pid", "registration", "dropped")

    def __init__(self, signum, directory, fork, previous):
        self.signum = signum
        self.directory = directory
        self.fork = fork
        self.previous = previous
        self.pid = os.getpid()
        self.registration = None
        self.dropped = 0


_state = None


def install(signum=signal.SIGUSR1, directory=None, fork=True):
    """Take a snapshot each time signal signum arrives.

    directory -- where the snapshots go (<prog>-<pid>-<seq>.snap); default
                 $ASYNCSNAP_DIR, else the current directory, as they are now
    fork      -- take them in fork mode (the default): the process pauses
                 for the fork only

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
    if directory is None:
        directory = os.environ.get("ASYNCSNAP_DIR") or os.getcwd()
    directory = os.path.abspath(os.fsdecode(os.fspath(directory)))
    old = _state
    previous = signal.signal(signum, _on_signal)  # raises off the main thread
    if old is not None:
        if old.signum == signum:
            previous = old.previous
        else:
            _restore(old)
        _unregister(old)
    st = _State(signum, directory, bool(fork), previous)
    _state = st
    st.registration = _register(st)
    atexit.unregister(_at_exit)
    atexit.register(_at_exit)


def uninstall():
    """Undo install(): restore the signal's previous handler (unless the
    program has put its own there since) and remove the registration file.
    Does nothing when nothing is installed."""
    global _state
    st = _state
    if st is None:
        return
    _restore(st)
    _state = None
    _unregister(st)
    atexit.unregister(_at_exit)


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
    if st is None or _pkg._in_snapshot_child:
        return
    # Never nest: drop the signal while a snapshot is in progress here, or
    # while the previous fork-mode child is still writing (a storm of
    # signals must not become a storm of processes).
    if _pkg._active or (st.fork and _pkg._children):
        st.dropped += 1
        return
    try:
        _pkg._take(None, st.directory, st.fork, False, False, 0, True)
    except Exception as e:  # never into the program; its own exceptions pass
        _pkg._say_failed(e)


# --------------------------------------------------------------------------
# registration: <runtime dir>/<pid>.json


def runtime_dir():
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
        "process_start": _pkg._process_start(),
        "signal": st.signum,
        "signal_name": _signal_name(st.signum),
        "directory": st.directory,
        "fork": st.fork,
        "program": _pkg._program(),
        "executable": sys.executable or None,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "agent": _pkg.__version__,
        "installed": time.time(),
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


def _unregister(st):
    # a child forked by the program inherits the state, not the file
    if st.registration and st.pid == os.getpid():
        try:
            os.unlink(st.registration)
        except OSError:
            pass
        st.registration = None


def _at_exit():
    st = _state
    if st is not None:
        _unregister(st)


def _signal_name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        if signal.SIGRTMIN <= signum <= signal.SIGRTMAX:
            return "SIGRTMIN+%d" % (signum - signal.SIGRTMIN)
        return str(signum)
