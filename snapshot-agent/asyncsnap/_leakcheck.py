"""What a test left behind: a snapshot before, one after, and `asyncsnap
leaks` on the pair. Shared by the pytest plugin (asyncsnap.pytest) and the
unittest helpers (asyncsnap.testing); docs/PYTEST.md.

Only what is new counts: `leaks --json BEFORE AFTER` says of each finding
how many of its objects were already alive in BEFORE (`persistent`, by the
analyzer's identity rules, docs/CHECKS.md); a finding none of whose objects
is new was there before the test and is not its doing.
"""

import gc
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

from . import _core
from ._core import SnapshotError, _agent, _header, _seq

CHECKS = ("unawaited-coroutine", "pending-task", "retained-task", "unclosed-resource",
          "pending-future", "uncancelled-handle", "frame-cycle")


class CheckError(Exception):
    """The check itself could not run (no command, a snapshot failed, the
    analyzer refused the files): never a finding."""


def find_cli(explicit=None, option=None):
    """The `asyncsnap` command: explicit, $ASYNCSNAP_CLI, the build tree
    this package was built in (build/snapshot-agent/asyncsnap ->
    build/src/cli/asyncsnap), the scripts directory of this interpreter
    (where pip puts it), then PATH. Raises CheckError naming the places,
    and the caller's option that names the command (None: none)."""
    tried = []
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [explicit, os.environ.get("ASYNCSNAP_CLI"),
                  os.path.join(here, os.pardir, os.pardir, "src", "cli", "asyncsnap"),
                  os.path.join(sysconfig.get_path("scripts"), "asyncsnap"),
                  os.path.join(os.path.dirname(sys.executable or ""), "asyncsnap"),
                  shutil.which("asyncsnap")]
    for c in candidates:
        if not c:
            continue
        tried.append(c)
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
        if explicit and c == explicit:
            raise CheckError("the asyncsnap command '%s' is not an executable file" % c)
    raise CheckError("the asyncsnap command is not found (tried %s; set ASYNCSNAP_CLI%s)"
                     % (", ".join(tried), " or " + option if option else ""))


def _escape(text):
    """Control characters, C1 controls and lone surrogates escaped, as the
    command escapes what comes from a snapshot (text from --json is raw)."""
    out = []
    for ch in str(text):
        o = ord(ch)
        if o < 0x20 and ch not in "\n" or o == 0x7f:
            out.append("\\x%02x" % o)
        elif 0x80 <= o < 0xa0 or 0xd800 <= o < 0xe000:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    return "".join(out)


class Finding:
    """One finding of `leaks`, with how many of its objects are new."""

    def __init__(self, record, text=None):
        self.record = record
        self.check = record.get("check", "")
        self.group = record.get("group") or ""
        self.site = record.get("site")
        self.count = int(record.get("count") or 0)
        self.new = self.count - int(record.get("persistent") or 0)
        self.text = text          # the command's own rendering of it, or None
        self.context = []         # lines the caller adds (the fixture it is in, ...)

    def sites(self):
        """file:line of the finding, its objects and its chain, first the
        finding's own."""
        seen = []
        for s in [self.site] + [o.get("site") for o in self.record.get("objects") or []] \
                + [o.get("site") for o in self.record.get("path") or []]:
            if s and s not in seen:
                seen.append(s)
        return seen

    def key(self):
        return {"check": self.check, "group": self.group}

    def render(self):
        """The finding for a person: the command's text when there is
        one, else a rendering of the JSON, escaped."""
        if self.text:
            body = self.text.rstrip("\n")
        else:
            r = self.record
            lines = ["[%s] %s" % (self.check, r.get("summary", ""))]
            path = r.get("path") or []
            if path:
                steps = []
                for i, o in enumerate(path):
                    what = o.get("type", "?")
                    if o.get("qualname"):
                        what += " " + o["qualname"]
                    if i and o.get("label"):
                        steps.append("-[%s]-> %s" % (o["label"], what))
                    else:
                        steps.append(("-> " if i else "") + what)
                lines.append("  kept alive by%s:" % (" (root: %s)" % path[0]["root"]
                                                      if path[0].get("root") else ""))
                lines.append("    " + " ".join(steps))
            if r.get("fix"):
                lines.append("  fix: " + r["fix"])
            body = _escape("\n".join(lines))
        if self.new != self.count:
            body += "\n  (%d of its %d objects are new; the others were there before)" % (
                self.new, self.count)
        for c in self.context:
            body += "\n  " + _escape(c)
        return body


class Checker:
    """Snapshots into a private temporary directory and the analyzer.

    cli      -- the asyncsnap command (find_cli())
    checks   -- check names to run (None: all)
    rules    -- a resource rules file for `leaks --rules`, or None
    keep_dir -- where to copy the snapshot pair of a window with findings
    cli_option -- the caller's option that names the command, for the
                  error when it is not found (pytest: --asyncsnap-cli)
    """

    def __init__(self, cli=None, checks=None, rules=None, keep_dir=None, cli_option=None):
        self.cli = find_cli(cli, cli_option)
        self.checks = list(checks) if checks else None
        self.rules = rules
        self.keep_dir = keep_dir
        self.dir = tempfile.mkdtemp(prefix="asyncsnap-test-")
        self._n = 0
        self.snapshots = 0       # taken
        self.analyses = 0        # `leaks` runs
        self.collections = 0     # collections run since, any generation
        self._held = False
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase, info):
        if phase == "stop":
            self.collections += 1

    def close(self):
        try:
            gc.callbacks.remove(self._on_gc)
        except ValueError:
            pass
        self.release_gc()
        shutil.rmtree(self.dir, ignore_errors=True)

    def hold_gc(self):
        """Turn automatic collection off until release_gc(): garbage the
        test leaves (an unclosed transport in a cycle with its protocol) is
        still there, all of it, for the snapshot after, instead of being
        collected, or not, depending on when a collection happens to run.
        Returns whether it was on."""
        was = gc.isenabled()
        gc.disable()
        self._held = self._held or was
        return was

    def release_gc(self):
        if self._held:
            self._held = False
            gc.enable()

    def snapshot(self):
        """A snapshot of this process now, in-process (no fork: the test's
        objects, all threads' stacks, and no copy-on-write surprises); the
        path. Never runs a collection: garbage is part of the evidence.

        While the collector is held off by hold_gc(), the header still says
        it is enabled, as it is for the program: garbage is then what the
        collector will free once released, not a leak (docs/CHECKS.md,
        "Certainty")."""
        self._n += 1
        path = os.path.join(self.dir, "%d.snap" % self._n)
        with _core._lock:   # (replaced in a fork child: read it each time)
            was = gc.isenabled()
            gc.disable()   # no collection between here and the walk
            try:
                header = json.dumps(_header(next(_seq), False,
                                             gc_enabled=was or self._held))
                # level 1 and no fsync: scratch files, read once, at once
                _agent.snapshot(path, header, values=False, level=1, fsync=False)
            except (SnapshotError, OSError) as e:
                raise CheckError("cannot take a snapshot: %s" % e) from None
            finally:
                if was:
                    gc.enable()
        self.snapshots += 1
        return path

    def drop(self, path):
        if path:
            try:
                os.unlink(path)
            except OSError:
                pass

    def _command(self, before, after, json_out):
        cmd = [self.cli, "leaks"]
        if json_out:
            cmd.append("--json")
        if self.checks:
            cmd += ["--check", ",".join(self.checks)]
        if self.rules:
            cmd += ["--rules", self.rules]
        return cmd + [before, after]

    def _spawn(self, cmd):
        """The command started, its output going to files of the private
        directory (a pipe nobody reads before the test after it has run
        would stall it): (process, stdout file, stderr file)."""
        self._n += 1
        out = open(os.path.join(self.dir, "%d.out" % self._n), "w+b")
        err = open(os.path.join(self.dir, "%d.err" % self._n), "w+b")
        try:
            p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        except OSError as e:
            out.close()
            err.close()
            raise CheckError("cannot run %s: %s" % (self.cli, e)) from None
        self.analyses += 1
        return p, out, err

    def _collect(self, proc):
        """Wait for a spawned command; its standard output."""
        p, out, err = proc
        try:
            p.wait()
            out.seek(0)
            err.seek(0)
            data, msg = out.read(), err.read()
        finally:
            for f in (out, err):
                f.close()
                self.drop(f.name)
        if p.returncode not in (0, 1):
            msg = msg.decode("utf-8", "replace").strip() or "exit status %d" % p.returncode
            raise CheckError(_escape(msg))
        return data.decode("utf-8", "replace")

    def start(self, before, after):
        """Start `leaks --json BEFORE AFTER` and return at once; finish()
        gives its findings. The analysis runs beside whatever this process
        does meanwhile (the next test)."""
        return (before, after, self._spawn(self._command(before, after, True)))

    def finish(self, job):
        """The findings of a started analysis that have objects AFTER has
        and BEFORE had not: a list of Finding, the command's own text
        attached to each (a second, text run, only when there are any)."""
        before, after, proc = job
        out = self._collect(proc)
        try:
            records = json.loads(out).get("findings") or []
        except (ValueError, AttributeError):
            raise CheckError("cannot read the output of asyncsnap leaks --json") from None
        found = [Finding(r) for r in records]
        new = [f for f in found if f.new > 0]
        if new:
            text = self._collect(self._spawn(self._command(before, after, False)))
            blocks = _text_blocks(text)
            if len(blocks) == len(found):   # the same findings, in the same order
                for f, block in zip(found, blocks):
                    f.text = block
        return new

    def new_findings(self, before, after):
        """start() and finish() at once."""
        return self.finish(self.start(before, after))

    def keep(self, before, after, name):
        """Copy the pair into keep_dir as NAME-before.snap, NAME-after.snap;
        the paths, or () without keep_dir."""
        if not self.keep_dir:
            return ()
        os.makedirs(self.keep_dir, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:150]
        kept = []
        for src, tag in ((before, "before"), (after, "after")):
            dst = os.path.join(self.keep_dir, "%s-%s.snap" % (safe, tag))
            # mode 0600, like every snapshot the agent writes
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
            with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            kept.append(dst)
        return tuple(kept)


def _text_blocks(text):
    """The findings of `leaks` text output, one string each (a finding
    starts with '[check]' after a blank line)."""
    blocks, cur = [], None
    prev_blank = False
    for line in text.splitlines():
        if line.startswith("[") and prev_blank:
            if cur is not None:
                blocks.append("\n".join(cur).rstrip("\n"))
            cur = [line]
        elif cur is not None:
            cur.append(line)
        prev_blank = line.strip() == ""
    if cur is not None:
        blocks.append("\n".join(cur).rstrip("\n"))
    return blocks


def allowed(finding, allow):
    """allow: check names, "check:group" entries, or "all"."""
    if not allow:
        return False
    for a in allow:
        if a == "all" or a == finding.check or a == "%s:%s" % (finding.check, finding.group):
            return True
    return False


# --------------------------------------------------------------------------
# baseline files: the findings a suite already has, by test

BASELINE_VERSION = 1


def read_baseline(path):
    """{test id: [{"check", "group"}]}; raises CheckError on a bad file."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise CheckError("cannot read baseline '%s': %s" % (path, e.strerror)) from None
    except ValueError as e:
        raise CheckError("cannot read baseline '%s': %s" % (path, e)) from None
    if not isinstance(data, dict) or data.get("asyncsnap_baseline") != BASELINE_VERSION \
            or not isinstance(data.get("tests"), dict):
        raise CheckError("cannot read baseline '%s': not an asyncsnap baseline (version %d)"
                         % (path, BASELINE_VERSION))
    return {k: [e for e in v if isinstance(e, dict)] for k, v in data["tests"].items()
            if isinstance(v, list)}


def write_baseline(path, tests):
    data = {"asyncsnap_baseline": BASELINE_VERSION,
            "tests": {k: sorted(v, key=lambda e: (e["check"], e["group"]))
                      for k, v in sorted(tests.items()) if v}}
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def in_baseline(finding, entries):
    return any(e.get("check") == finding.check and e.get("group") == finding.group
               for e in entries or ())
