"""pytest plugin: fail the test that leaks (docs/PYTEST.md).

    pytest --asyncsnap                        # installed asyncsnap: entry point pytest11
    pytest -p asyncsnap.pytest --asyncsnap    # a build tree (PYTHONPATH=build/snapshot-agent)
    [pytest] asyncsnap = true                 # or in the ini file

Around each test (or each module, or the session: --asyncsnap-scope) the
plugin takes a heap snapshot of the process and runs `asyncsnap leaks` on
the snapshot from before and the one from after, setup and teardown of the
test's fixtures included. A finding with objects that were not there
before fails the test (--asyncsnap-action=warn: a warning instead), and the
failure text is the finding: what leaked, where, the chain of references
that keeps it, the fix.

The test's reports are held back until the check is done and then logged,
the call report turned into a failure when the test leaked: the plugin
runs pytest's own runtestprotocol(log=False) and logs the reports itself.
"""

import collections
import inspect
import os
import time

import pytest
from _pytest.runner import runtestprotocol

from ._leakcheck import (CHECKS, Checker, CheckError, allowed, in_baseline, read_baseline,
                         write_baseline)


class AsyncsnapLeakWarning(UserWarning):
    """A leak found with --asyncsnap-action=warn."""


_SCOPES = ("test", "module", "session")
_ACTIONS = ("fail", "warn")


def pytest_addoption(parser):
    g = parser.getgroup("asyncsnap", "asyncsnap: fail the test that leaks (docs/PYTEST.md)")
    g.addoption("--asyncsnap", action="store_true", default=None,
                help="snapshot the heap around each test and fail the tests that leave "
                     "leaks behind (ini: asyncsnap = true)")
    g.addoption("--asyncsnap-scope", choices=_SCOPES, default=None,
                help="the window between two snapshots: test (default), module, session "
                     "(ini: asyncsnap_scope)")
    g.addoption("--asyncsnap-action", choices=_ACTIONS, default=None,
                help="fail the test (default) or warn (ini: asyncsnap_action)")
    g.addoption("--asyncsnap-check", metavar="CHECK[,CHECK...]", default=None,
                help="run only these checks (ini: asyncsnap_checks)")
    g.addoption("--asyncsnap-rules", metavar="FILE", default=None,
                help="rules file for `leaks --rules`: resources, pools, registries "
                     "(ini: asyncsnap_rules)")
    g.addoption("--asyncsnap-baseline", metavar="FILE", default=None,
                help="findings recorded in FILE do not fail their tests "
                     "(ini: asyncsnap_baseline)")
    g.addoption("--asyncsnap-update-baseline", action="store_true", default=False,
                help="record every finding of this run in the baseline file instead of "
                     "failing")
    g.addoption("--asyncsnap-keep", metavar="DIR", default=None,
                help="keep the snapshots before and after each leaking test in DIR")
    g.addoption("--asyncsnap-cli", metavar="PATH", default=None,
                help="the asyncsnap command (default: $ASYNCSNAP_CLI, beside the package, "
                     "PATH)")
    parser.addini("asyncsnap", type="bool", default=False,
                  help="asyncsnap: check every test for leaks")
    parser.addini("asyncsnap_scope", default="test", help="asyncsnap: test, module or session")
    parser.addini("asyncsnap_action", default="fail", help="asyncsnap: fail or warn")
    parser.addini("asyncsnap_checks", type="args", default=[],
                  help="asyncsnap: the checks to run (default: all)")
    parser.addini("asyncsnap_rules", default="", help="asyncsnap: rules file (leaks --rules)")
    parser.addini("asyncsnap_baseline", default="", help="asyncsnap: baseline file")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "asyncsnap(allow=[...], skip=False): the leak checks this test may fail "
        "(check names, 'check:group' or 'all'), or no check at all")
    enabled = config.getoption("asyncsnap") or config.getini("asyncsnap")
    if enabled and not config.pluginmanager.has_plugin("asyncsnap-leaks"):
        config.pluginmanager.register(LeakPlugin(config), "asyncsnap-leaks")


def _ini_path(config, value):
    """An ini path relative to the ini file's directory."""
    if not value:
        return None
    base = os.path.dirname(str(config.inipath)) if config.inipath else str(config.rootpath)
    return os.path.join(base, os.path.expanduser(value))


def _source_range(func):
    """(real file, first line, last line) of a function's source, or None."""
    try:
        func = inspect.unwrap(func)
        lines, start = inspect.getsourcelines(func)
        src = inspect.getsourcefile(func)
    except (TypeError, OSError, ValueError):
        return None
    if not src:
        return None
    return os.path.realpath(src), start, start + len(lines) - 1


def _split_site(site):
    f, sep, line = site.rpartition(":")
    if not sep or not line.isdigit():
        return None
    return os.path.realpath(f), int(line)


class LeakPlugin:
    def __init__(self, config):
        self.config = config
        opt = config.getoption
        self.scope = opt("asyncsnap_scope") or config.getini("asyncsnap_scope") or "test"
        self.action = opt("asyncsnap_action") or config.getini("asyncsnap_action") or "fail"
        if self.scope not in _SCOPES:
            raise pytest.UsageError("asyncsnap_scope: '%s' is not one of %s"
                                    % (self.scope, ", ".join(_SCOPES)))
        if self.action not in _ACTIONS:
            raise pytest.UsageError("asyncsnap_action: '%s' is not one of %s"
                                    % (self.action, ", ".join(_ACTIONS)))
        checks = opt("asyncsnap_check")
        checks = checks.split(",") if checks else config.getini("asyncsnap_checks")
        checks = [c.strip() for c in checks if c.strip()]
        bad = [c for c in checks if c not in CHECKS]
        if bad:
            raise pytest.UsageError("--asyncsnap-check: unknown check '%s' (the checks: %s)"
                                    % (bad[0], ", ".join(CHECKS)))
        self.checks = checks or None
        self.rules = opt("asyncsnap_rules") or _ini_path(config, config.getini("asyncsnap_rules"))
        self.baseline_path = (opt("asyncsnap_baseline")
                              or _ini_path(config, config.getini("asyncsnap_baseline")))
        self.update_baseline = opt("asyncsnap_update_baseline")
        if self.update_baseline and not self.baseline_path:
            raise pytest.UsageError("--asyncsnap-update-baseline needs --asyncsnap-baseline FILE")
        self.baseline = {}
        if self.baseline_path and not self.update_baseline:
            try:
                self.baseline = read_baseline(self.baseline_path)
            except CheckError as e:
                raise pytest.UsageError(str(e)) from None
        self.new_baseline = {}
        try:
            self.checker = Checker(cli=opt("asyncsnap_cli"), checks=self.checks,
                                   rules=self.rules, keep_dir=opt("asyncsnap_keep"),
                                   cli_option="--asyncsnap-cli")
        except CheckError as e:
            raise pytest.UsageError("asyncsnap: %s" % e) from None
        self.before = None       # the snapshot the current window starts from
        self.before_collections = 0
        # (window, before, after, job, error) of the windows being analysed,
        # oldest first: as many at once as there are cores (at most 4)
        self.pending = collections.deque()
        self.depth = max(1, min(4, os.cpu_count() or 1))
        self.window = []         # [(item, reports)] held back until the window closes
        self.seconds = 0.0       # spent in snapshots and analyses
        self.windows = 0
        self.tests = 0
        self.failed = []         # node ids of the tests that leaked
        self._ranges = {}

    # ---------------------------------------------------------------- hooks

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        error = None
        if (not self.window and self.before is not None
                and self.checker.collections != self.before_collections):
            # a collection ran since: an object freed there may have left
            # its address to one the test makes, which would then pass for
            # the old one; the snapshot after the last window would not do
            self._drop_unused(self.before, forget=True)
        if self.before is None:
            t = time.perf_counter()
            try:
                self.before = self.checker.snapshot()
            except CheckError as e:
                error = e
            self.seconds += time.perf_counter() - t
        if self.scope == "test":
            self.checker.hold_gc()
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        self.window.append((item, reports))
        self.tests += 1
        if error is not None:
            self.checker.release_gc()
            self._finish_pending()
            window, self.window = self.window, []
            self._flush(window, {item: [_error_text(error)]})
        elif self._window_ends(item, nextitem):
            self._close_window()
            if nextitem is None:
                self._finish_pending()
        return True

    @pytest.hookimpl(tryfirst=True)   # before junitxml writes its file
    def pytest_sessionfinish(self, session):
        self._finish_pending()
        if self.window:   # an interrupted run: log what was held back, unchecked
            window, self.window = self.window, []
            self._flush(window, {})
        self.checker.release_gc()
        self.checker.close()
        if self.update_baseline:
            write_baseline(self.baseline_path, self.new_baseline)

    def pytest_terminal_summary(self, terminalreporter):
        tr = terminalreporter
        per = self.seconds / self.tests * 1e3 if self.tests else 0.0
        line = ("asyncsnap: %d test%s checked in %d window%s (scope %s): %d snapshots, %d "
                "analyses, %.2f s (%.0f ms per test)"
                % (self.tests, "" if self.tests == 1 else "s", self.windows,
                   "" if self.windows == 1 else "s", self.scope, self.checker.snapshots,
                   self.checker.analyses, self.seconds, per))
        tr.write_sep("-", "asyncsnap")
        tr.write_line(line)
        if self.failed:
            verb = "warned about" if self.action == "warn" else "failed"
            tr.write_line("asyncsnap: %s %d leaking test%s" % (
                verb, len(self.failed), "" if len(self.failed) == 1 else "s"))
        if self.update_baseline:
            tr.write_line("asyncsnap: baseline written to %s" % self.baseline_path)

    @pytest.hookimpl(trylast=True)   # after the marks other plugins add
    def pytest_collection_modifyitems(self, session, config, items):
        """A mark that allows a check that does not exist allows nothing:
        said before any test runs."""
        for item in items:
            for a in _mark_allow(item.get_closest_marker("asyncsnap")):
                check = a.partition(":")[0] if isinstance(a, str) else None
                if a != "all" and check not in CHECKS:
                    raise pytest.UsageError(
                        "%s: @pytest.mark.asyncsnap(allow=...): unknown check %r (the checks: "
                        "%s, or all)" % (item.nodeid, a, ", ".join(CHECKS)))

    # --------------------------------------------------------------- windows

    def _window_ends(self, item, nextitem):
        if nextitem is None or self.scope == "test":
            return True
        if self.scope == "module":
            return _module_of(item) != _module_of(nextitem)
        return False

    def _close_window(self):
        """The snapshot after, and the analysis started; the window's
        reports are held until it is done. It runs while the next tests
        do (in another process, on another core): its verdict, and the
        reports, come once as many windows as there are cores have closed
        since (or at the last test)."""
        self.windows += 1
        t = time.perf_counter()
        window, self.window = self.window, []
        before, after, job, error = self.before, None, None, None
        try:
            after = self.checker.snapshot()
            if any(_checkable(it, reps) for it, reps in window):
                job = self.checker.start(before, after)
        except CheckError as e:
            error = e
        finally:
            self.checker.release_gc()   # the test's garbage is in the snapshot now
            self.before = after
            self.before_collections = self.checker.collections
        self.seconds += time.perf_counter() - t
        self.pending.append((window, before, after, job, error))
        while len(self.pending) > self.depth:
            self._finish(self.pending.popleft())

    def _finish_pending(self):
        while self.pending:
            self._finish(self.pending.popleft())

    def _finish(self, pending):
        """Wait for the analysis of a window, judge, log its reports."""
        t = time.perf_counter()
        window, before, after, job, error = pending
        checked = [it for it, reps in window if _checkable(it, reps)]
        verdicts = {}
        try:
            if error is not None:
                raise error
            if job is not None:
                findings = self.checker.finish(job)
                verdicts = self._judge(findings, checked, window)
                if verdicts and self.checker.keep_dir:
                    kept = self.checker.keep(before, after, next(iter(verdicts)).nodeid)
                    for lines in verdicts.values():
                        lines.append("snapshots kept: %s %s" % kept)
        except CheckError as e:
            verdicts = {it: [_error_text(e)] for it in checked}
        finally:
            self._drop_unused(before)
            self._drop_unused(after)
            self.seconds += time.perf_counter() - t
        self._flush(window, verdicts)

    def _drop_unused(self, path, forget=False):
        """Remove a snapshot no window needs any more: not the start of
        the current window, not one of the analysis still running."""
        if forget and path == self.before:
            self.before = None
        if path is None or path == self.before:
            return
        if any(path in p[1:3] for p in self.pending):
            return
        self.checker.drop(path)

    def _judge(self, findings, checked, window):
        """{item: [finding text, ...]} for what fails (or warns about) a
        test: attributed to a test, not allowed by its mark, not in the
        baseline."""
        verdicts = {}
        for f in findings:
            item, context = self._attribute(f, checked, window)
            if item is None:
                continue
            mark = item.get_closest_marker("asyncsnap")
            allow = _mark_allow(mark)
            if allowed(f, allow):
                continue
            if in_baseline(f, self.baseline.get(item.nodeid)):
                continue
            if self.update_baseline:
                self.new_baseline.setdefault(item.nodeid, []).append(f.key())
                continue
            f.context.extend(context)
            verdicts.setdefault(item, []).append(f.render())
        return verdicts

    def _attribute(self, finding, checked, window):
        """The test a finding is blamed on, and lines that say why: the
        test, or the first test using the fixture, whose source holds one
        of its sites; else the window's last test checked. None when that
        test is not checked (it failed, or its mark says skip=True)."""
        items = [it for it, reps in window]
        for site in finding.sites():
            where = _split_site(site)
            if where is None:
                continue
            for it in items:
                r = self._range(getattr(it, "obj", None))
                if r and r[0] == where[0] and r[1] <= where[1] <= r[2]:
                    return (it if it in checked else None), []
            for it in items:
                for name, r in self._fixture_ranges(it):
                    if r[0] == where[0] and r[1] <= where[1] <= r[2]:
                        return (it if it in checked else None), [
                            "in fixture '%s' (%s:%d)" % (name, r[0], r[1])]
        it = checked[-1]
        if len(window) > 1:
            return it, ["found after the %d tests of this %s (the last one checked is "
                        "blamed); --asyncsnap-scope=test finds which"
                        % (len(window), self.scope)]
        return it, []

    def _range(self, func):
        if func is None:
            return None
        key = id(func)
        if key not in self._ranges:
            self._ranges[key] = (func, _source_range(func))
        return self._ranges[key][1]

    def _fixture_ranges(self, item):
        info = getattr(item, "_fixtureinfo", None)
        for name, defs in sorted(getattr(info, "name2fixturedefs", {}).items()):
            for d in defs:
                r = self._range(getattr(d, "func", None))
                if r:
                    yield name, r

    def _flush(self, window, verdicts):
        """Log the held reports, turned into failures (or warned about)
        where verdicts says."""
        for item, reports in window:
            lines = verdicts.get(item)
            if lines:
                self.failed.append(item.nodeid)
                text = "asyncsnap: this test left behind what the leak checks prove:\n\n" + \
                    "\n\n".join(lines)
                if self.action == "warn" and not _is_error(lines):
                    # (pytest files it under the test running now, which may
                    # be a later one: the text names the test)
                    try:
                        item.warn(AsyncsnapLeakWarning(
                            text.replace("this test", item.nodeid, 1)))
                    except Warning:   # -W error: the warning is a failure
                        _fail(reports, text)
                else:
                    _fail(reports, text)
            ihook = item.ihook
            ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            for rep in reports:
                ihook.pytest_runtest_logreport(report=rep)
            ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)


_ERROR_PREFIX = "asyncsnap could not check this test: "


def _error_text(e):
    return _ERROR_PREFIX + str(e)


def _is_error(lines):
    return any(l.startswith(_ERROR_PREFIX) for l in lines)


def _module_of(item):
    mod = item.getparent(pytest.Module)
    return mod.nodeid if mod is not None else item.nodeid.split("::")[0]


def _checkable(item, reports):
    """Only a test that ran and passed is checked: a failed one already
    fails (and its exception keeps its frames), a skipped one ran nothing."""
    if _mark_skip(item):
        return False
    calls = [r for r in reports if r.when == "call"]
    if not calls or not calls[0].passed or hasattr(calls[0], "wasxfail"):
        return False
    return all(not r.failed for r in reports)


def _mark_allow(mark):
    if mark is None:
        return ()
    allow = mark.kwargs.get("allow", ())
    if isinstance(allow, str):
        allow = [allow]
    return list(allow)


def _mark_skip(item):
    mark = item.get_closest_marker("asyncsnap")
    return bool(mark is not None and mark.kwargs.get("skip"))


def _fail(reports, text):
    call = [r for r in reports if r.when == "call"]
    if not call:
        return
    rep = call[0]
    rep.outcome = "failed"
    rep.longrepr = text
