"""python -m asyncsnap: run a program with the agent installed; list them."""

import json
import os
import re
import runpy
import signal
import sys

import asyncsnap
from asyncsnap import _trigger

USAGE = """\
usage: python -m asyncsnap run [options] script.py [args...]
       python -m asyncsnap run [options] -m module [args...]
       python -m asyncsnap ps [--json]
       python -m asyncsnap --help | --version
"""

HELP = USAGE + """
Snapshots of a running Python program's object graph, for the `asyncsnap`
analyzer (asyncsnap info FILE, asyncsnap leaks FILE, ...).

commands:
  run   run a program the way `python script.py` or `python -m module` would,
        with a signal handler installed that writes a snapshot each time the
        signal arrives: kill -USR1 PID
  ps    list the running processes that have the handler installed (this
        user's), with their pid, signal and snapshot directory

`python -m asyncsnap run --help` describes the options of run.
"""

RUN_HELP = """\
usage: python -m asyncsnap run [options] script.py [args...]
       python -m asyncsnap run [options] -m module [args...]

Run script.py (or module, as `python -m module`) with sys.argv set to the
script and its arguments, and a snapshot taken each time SIG arrives:

    python -m asyncsnap run --dir /tmp/snaps server.py --port 8080 &
    kill -USR1 $!          # /tmp/snaps/server-<pid>-1.snap

options:
  --dir DIR      where the snapshots go (default: $ASYNCSNAP_DIR, else the
                 current directory): DIR/<prog>-<pid>-<seq>.snap
  --signal SIG   the signal: a name (USR1, SIGUSR2, RTMIN+1) or a number
                 (default: USR1)
  --no-fork      walk the heap in the process itself; the program pauses for
                 the whole walk (default: fork, and the program pauses for the
                 fork alone)
  -m module      run a module as a script, as `python -m module`
  --             end of options: the next argument is the script
  -h, --help     this help

The exit status is the program's. Options go before the script: everything
after it is the program's own argv.
"""

PS_HELP = """\
usage: python -m asyncsnap ps [--json]

List the processes of this user that run with the asyncsnap signal handler
installed (asyncsnap.install() or python -m asyncsnap run), from their
registration files in $XDG_RUNTIME_DIR/asyncsnap (else /tmp/asyncsnap-UID).

options:
  --json      one JSON array of the registration records
  -h, --help  this help
"""


class UsageError(Exception):
    pass


def parse_signal(text):
    """A signal number from a name (USR1, SIGUSR1, usr1, RTMIN+2) or a number."""
    t = text.strip()
    if re.fullmatch(r"\d+", t):
        signum = int(t)
    else:
        name = t.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        m = re.fullmatch(r"SIGRT(MIN|MAX)([+-]\d+)?", name)
        if m:
            base = signal.SIGRTMIN if m.group(1) == "MIN" else signal.SIGRTMAX
            signum = int(base) + int(m.group(2) or 0)
        else:
            try:
                signum = int(signal.Signals[name])
            except KeyError:
                raise UsageError("unknown signal '%s'" % text) from None
    try:
        return _trigger._check_signal(signum)
    except (TypeError, ValueError) as e:
        raise UsageError("bad signal '%s': %s" % (text, e)) from None


NUMBERS = {"--every": float, "--on-tasks": int, "--on-rss": float, "--keep": int}


def parse_number(option, text, kind):
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not value > 0 or value == float("inf"):
        raise UsageError("%s needs a%s number greater than 0, not '%s'"
                         % (option, "n integer" if kind is int else "", text))
    return value


def parse_run(args):
    """(options, target kind 'script' or 'module', target, argv of the program)."""
    opts = {"dir": None, "signal": signal.SIGUSR1, "fork": True, "every": None,
            "on_tasks": None, "on_rss": None, "keep": None}
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-h", "--help"):
            return None
        if a == "--":
            i += 1
            break
        if a == "--no-fork":
            opts["fork"] = False
            i += 1
            continue
        if a == "-m" or (a.startswith("-m") and not a.startswith("--")):
            module = a[2:] or (args[i + 1] if i + 1 < len(args) else None)
            if not module:
                raise UsageError("-m needs a module name")
            rest = args[i + 1:] if a[2:] else args[i + 2:]
            return opts, "module", module, rest
        key, eq, value = a.partition("=")
        if key in ("--dir", "--signal") + tuple(NUMBERS):
            if not eq:
                if i + 1 >= len(args):
                    raise UsageError("%s needs a value" % key)
                value = args[i + 1]
                i += 1
            if key in NUMBERS:
                opts[key[2:].replace("-", "_")] = parse_number(key, value, NUMBERS[key])
            elif key == "--dir":
                if not value:
                    raise UsageError("--dir needs a directory")
                opts["dir"] = value
            else:
                opts["signal"] = parse_signal(value)
            i += 1
            continue
        if a.startswith("-") and a != "-":
            raise UsageError("unknown option '%s'" % a)
        break
    if i >= len(args):
        raise UsageError("no script to run (a script, or -m module)")
    return opts, "script", args[i], args[i + 1:]


def _skip_own_frames(tb):
    """Start a traceback at the program's own code, as `python script.py`
    shows it: drop the frames of this module and of runpy."""
    own = (globals(), vars(runpy))
    while tb is not None and any(tb.tb_frame.f_globals is g for g in own):
        tb = tb.tb_next
    return tb


def run(args):
    try:
        parsed = parse_run(args)
    except UsageError as e:
        return usage_error("run", e)
    if parsed is None:
        sys.stdout.write(RUN_HELP)
        return 0
    opts, kind, target, rest = parsed

    if kind == "script":
        if not os.path.exists(target):
            sys.stderr.write("asyncsnap run: can't open file '%s': No such file or directory\n"
                             % target)
            return 2
    else:
        import importlib.util
        try:
            found = importlib.util.find_spec(target) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            sys.stderr.write("asyncsnap run: No module named %s\n" % target)
            return 1

    # argv first: the program's name (in file names and in the
    # registration) comes from it
    sys.argv = [target] + rest
    try:
        asyncsnap.install(opts["signal"], opts["dir"], fork=opts["fork"], every=opts["every"],
                          on_tasks=opts["on_tasks"], on_rss=opts["on_rss"], keep=opts["keep"])
    except (OSError, ValueError) as e:
        sys.stderr.write("asyncsnap run: cannot install the signal handler: %s\n" % e)
        return 1

    try:
        if kind == "script":
            if not getattr(sys.flags, "safe_path", False):
                # python script.py puts the script's directory first; python
                # -m asyncsnap put the current directory there
                script_dir = os.path.dirname(os.path.realpath(target))
                if sys.path:
                    sys.path[0] = script_dir
                else:
                    sys.path.insert(0, script_dir)
            runpy.run_path(target, run_name="__main__")
        else:
            # runpy makes argv[0] the module's file, as python -m does
            runpy.run_module(target, run_name="__main__", alter_sys=True)
    except SystemExit:
        raise
    except Exception as e:
        tb = _skip_own_frames(e.__traceback__)
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        return 1
    return 0


def ps(args):
    as_json = False
    for a in args:
        if a in ("-h", "--help"):
            sys.stdout.write(PS_HELP)
            return 0
        if a == "--json":
            as_json = True
        else:
            return usage_error("ps", UsageError("unknown argument '%s'" % a))
    records = []
    directory = _trigger.runtime_dir()
    try:
        names = sorted(os.listdir(directory), key=lambda n: (len(n), n))
    except FileNotFoundError:
        names = []
    except OSError as e:
        sys.stderr.write("asyncsnap ps: %s: %s\n" % (directory, e.strerror))
        return 2
    for name in names:
        if not re.fullmatch(r"\d+\.json", name):
            continue
        try:
            with open(os.path.join(directory, name), "rb") as f:
                rec = json.loads(f.read())
            pid = int(rec["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not _alive(pid, rec.get("process_start")):
            continue  # exited without cleaning up (killed), or pid reused
        records.append(rec)
    if as_json:
        json.dump(records, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    rows = [("PID", "SIGNAL", "MODE", "PYTHON", "PROGRAM", "DIRECTORY")]
    for r in records:
        rows.append((str(r.get("pid")), str(r.get("signal_name") or r.get("signal")),
                     "fork" if r.get("fork") else "in-process", str(r.get("python")),
                     str(r.get("program")), str(r.get("directory"))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] + "\n")
    return 0


def _alive(pid, started):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now_started = asyncsnap._process_start(pid)
    if isinstance(started, (int, float)) and now_started is not None:
        return abs(now_started - started) < 2
    return True


def usage_error(command, e):
    sys.stderr.write("asyncsnap %s: %s\nTry 'python -m asyncsnap %s --help'.\n"
                     % (command, e, command))
    return 2


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:
        sys.stderr.write(USAGE)
        return 2
    cmd, rest = args[0], args[1:]
    if cmd in ("-h", "--help", "help"):
        sys.stdout.write(HELP)
        return 0
    if cmd in ("-V", "--version"):
        sys.stdout.write("asyncsnap %s (agent, snapshot format %d, Python %s)\n"
                         % (asyncsnap.__version__, asyncsnap._agent.FORMAT_VERSION,
                            sys.version.split()[0]))
        return 0
    if cmd == "run":
        return run(rest)
    if cmd == "ps":
        return ps(rest)
    sys.stderr.write("asyncsnap: unknown command '%s'\n%s" % (cmd, USAGE))
    return 2


if __name__ == "__main__":
    sys.exit(main())
