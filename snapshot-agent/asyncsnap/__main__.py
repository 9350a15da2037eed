"""python -m asyncsnap: run a program with the agent installed; list them."""

import json
import os
import re
import runpy
import signal
import stat
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

# The options of run: parse_run() and RUN_HELP both come from this table,
# so that what --help lists and what is accepted cannot drift apart.
# (option, metavar or None for a flag, key in the options, kind, help)
RUN_OPTIONS = (
    ("--dir", "DIR", "dir", str,
     "where the snapshots go: DIR/<prog>-<pid>-<seq>.snap (default: $ASYNCSNAP_DIR, else the "
     "current directory)"),
    ("--signal", "SIG", "signal", "signal",
     "the signal: a name (USR1, SIGUSR2, RTMIN+1) or a number (default: USR1)"),
    ("--no-fork", None, "fork", False,
     "walk the heap in the process itself; the program pauses for the whole walk (default: "
     "fork, and the program pauses for the fork alone)"),
    ("--every", "S", "every", float, "also take a snapshot every S seconds"),
    ("--on-tasks", "N", "on_tasks", int,
     "also take one when the number of pending asyncio tasks passes N, then 2N, 3N, ..."),
    ("--on-rss", "MB", "on_rss", float,
     "also take one when the resident memory passes MB megabytes, then 2MB, 3MB, ..."),
    ("--keep", "K", "keep", int, "keep only the newest K snapshots of this process in DIR"),
)


def _option_lines(rows):
    """An options section: names in a column, help wrapped beside them."""
    import textwrap
    width = max(len(name) for name, _ in rows) + 2
    out = []
    for name, text in rows:
        lines = textwrap.wrap(text, 78 - 2 - width) or [""]
        out.append("  " + name.ljust(width) + lines[0])
        out.extend(" " * (2 + width) + line for line in lines[1:])
    return "\n".join(out) + "\n"


RUN_HELP = """\
usage: python -m asyncsnap run [options] script.py [args...]
       python -m asyncsnap run [options] -m module [args...]

Run script.py (or module, as `python -m module`) with sys.argv set to the
script and its arguments, and a snapshot taken each time SIG arrives:

    python -m asyncsnap run --dir /tmp/snaps server.py --port 8080 &
    kill -USR1 $!          # /tmp/snaps/server-<pid>-1.snap

options:
""" + _option_lines([(o + (" " + m if m else ""), h) for o, m, _, _, h in RUN_OPTIONS] + [
    ("-m module", "run a module as a script, as `python -m module`"),
    ("--", "end of options: the next argument is the script"),
    ("-h, --help", "this help")]) + """
The exit status is the program's. Options go before the script: everything
after it is the program's own argv.
"""

PS_HELP = """\
usage: python -m asyncsnap ps [--all] [--json]

List the processes of this user that run with the asyncsnap signal handler
installed (asyncsnap.install() or python -m asyncsnap run), from their
registration files in $XDG_RUNTIME_DIR/asyncsnap (else /tmp/asyncsnap-UID).

With --all: every CPython process you may attach to, with or without the
agent, as `asyncsnap ps --all` lists them (this runs that command: found in
$ASYNCSNAP_CLI, beside this package, this interpreter's scripts directory
or PATH).

options:
  --all       every CPython process you may attach to (see above)
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
    """(options, target kind 'script' or 'module', target, argv of the
    program), or None for --help. Options (RUN_OPTIONS) end at the script,
    at -m module, or after --."""
    opts = {"dir": None, "signal": signal.SIGUSR1, "fork": True, "every": None,
            "on_tasks": None, "on_rss": None, "keep": None}
    table = {o[0]: o for o in RUN_OPTIONS}
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-h", "--help"):
            return None
        if a == "--":
            i += 1
            break
        if a == "-m" or (a.startswith("-m") and not a.startswith("--")):
            module = a[2:] or (args[i + 1] if i + 1 < len(args) else None)
            if not module:
                raise UsageError("-m needs a module name")
            rest = args[i + 1:] if a[2:] else args[i + 2:]
            return opts, "module", module, rest
        key, eq, value = a.partition("=")
        option = table.get(key)
        if option is None:
            if a.startswith("-") and a != "-":
                raise UsageError("unknown option '%s'" % a)
            break
        _, metavar, name, kind, _ = option
        if metavar is None:
            if eq:
                raise UsageError("%s takes no value" % key)
            opts[name] = kind
            i += 1
            continue
        if not eq:
            if i + 1 >= len(args):
                raise UsageError("%s needs a value" % key)
            value = args[i + 1]
            i += 1
        if kind is str:
            if not value:
                raise UsageError("%s needs a directory" % key)
            opts[name] = value
        elif kind == "signal":
            opts[name] = parse_signal(value)
        else:
            opts[name] = parse_number(key, value, kind)
        i += 1
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


def _ps_all(as_json):
    """`ps --all` is the command's: finding CPython processes means reading
    their ELF symbols and memory maps, which the command does (attach.c)."""
    from asyncsnap import _leakcheck
    try:
        cli = _leakcheck.find_cli()
    except _leakcheck.CheckError as e:
        sys.stderr.write("asyncsnap ps: --all needs the asyncsnap command: %s\n" % e)
        return 2
    sys.stdout.flush()
    try:
        os.execv(cli, [cli, "ps", "--all"] + (["--json"] if as_json else []))
    except OSError as e:
        sys.stderr.write("asyncsnap ps: cannot run '%s': %s\n" % (cli, e.strerror))
        return 2


def ps(args):
    """The same listing as the analyzer's `asyncsnap ps` (src/cli/cmd-ps.c):
    the same columns and JSON fields, the same liveness test (the start
    time in clock ticks, exactly), stale entries removed, control
    characters escaped."""
    as_json = every = False
    for a in args:
        if a in ("-h", "--help"):
            sys.stdout.write(PS_HELP)
            return 0
        if a == "--json":
            as_json = True
        elif a == "--all":
            every = True
        else:
            return usage_error("ps", UsageError("unknown argument '%s'" % a))
    if every:
        return _ps_all(as_json)
    directory = _trigger.runtime_dir()
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        names = []
    except OSError as e:
        sys.stderr.write("asyncsnap ps: cannot read '%s': %s\n" % (directory, e.strerror))
        return 2
    if names:
        st = os.lstat(directory)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            sys.stderr.write("asyncsnap ps: cannot use '%s': not a private directory of uid %d "
                             "with mode 0700: someone else may have made it; do not trust it, "
                             "remove it\n" % (directory, os.getuid()))
            return 2
    rows = []
    for name in names:
        if not re.fullmatch(r"\d+\.json", name):
            continue
        rec = _read_registration(os.path.join(directory, name))
        if rec is None:
            continue  # being written, or not ours
        ticks = asyncsnap._process_start_ticks(rec["pid"])
        if ticks is None or ticks != rec.get("process_start_ticks", ticks):
            _remove_stale(directory, int(name[:-5]))  # ended without cleaning up
            continue
        rows.append((_uptime(ticks), rec))
    rows.sort(key=lambda r: (-(r[0] if r[0] is not None else -1), r[1]["pid"]))
    if as_json:
        out = []
        for up, rec in rows:
            out.append({"pid": rec["pid"], "program": rec.get("program") or "-",
                        "python": rec.get("python") or "-",
                        "uptime": int(up) if up is not None else 0,
                        "signal": rec["signal"], "signal_name": rec.get("signal_name") or "-",
                        "directory": rec.get("directory"), "fork": rec.get("fork") is True,
                        "executable": rec.get("executable"), "agent": rec.get("agent") or "-",
                        "triggers": rec.get("triggers") or {}})
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    table = [("PID", "PROGRAM", "PYTHON", "UPTIME", "SIGNAL", "DIRECTORY")]
    for up, rec in rows:
        table.append((str(rec["pid"]), _safe(rec.get("program") or "-"),
                      _safe(rec.get("python") or "-"), _format_uptime(up),
                      _safe(rec.get("signal_name") or "-"), _safe(str(rec.get("directory")))))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        cells = [c.rjust(w) if k in (0, 3) and row is not table[0] else c.ljust(w)
                 for k, (c, w) in enumerate(zip(row, widths))]
        sys.stdout.write("  ".join(cells) + "  " + row[-1] + "\n")
    return 0


def _read_registration(path):
    """A registration file's record, or None: it must be a regular file of
    this user, not a link, and hold a pid and a signal."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_size > 1 << 20:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            rec = json.loads(f.read())
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    if (type(rec) is not dict or type(rec.get("pid")) is not int or rec["pid"] < 1
            or type(rec.get("signal")) is not int):
        return None
    return rec


def _remove_stale(directory, pid):
    for name in os.listdir(directory):
        if name == "%d.json" % pid or (name.startswith("%d-" % pid)
                                       and name.endswith((".request", ".status"))):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _uptime(ticks):
    try:
        with open("/proc/uptime", "rb") as f:
            up = float(f.read().split()[0])
        return max(0.0, up - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def _format_uptime(s):
    if s is None:
        return "?"
    t = int(s)
    if t < 60:
        return "%ds" % t
    if t < 3600:
        return "%dm%02ds" % (t // 60, t % 60)
    if t < 86400:
        return "%dh%02dm" % (t // 3600, t // 60 % 60)
    return "%dd%02dh" % (t // 86400, t // 3600 % 24)


def _safe(text):
    """text with control characters (C0, DEL, C1) escaped, as the analyzer
    prints what comes from files: never raw to a terminal."""
    return "".join(c if c.isprintable() or c == " " else "\\x%02x" % ord(c)
                   if ord(c) < 0x100 else "\\u%04x" % ord(c) for c in text)


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
