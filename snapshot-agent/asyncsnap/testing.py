"""Leak checks for unittest, without pytest (docs/PYTEST.md, "unittest").

    class MyTest(asyncsnap.testing.LeakCheckMixin, unittest.IsolatedAsyncioTestCase):
        asyncsnap_allow = ["pending-task"]      # optional, for the whole class
        ...

    with asyncsnap.testing.leak_check():      # anywhere: raises LeakError
        asyncio.run(main())

The mixin takes a snapshot before the test (before setUp) and one after
everything the test case does (tearDown, cleanups, and the event loop of
IsolatedAsyncioTestCase closed), runs `asyncsnap leaks` on the pair, and
turns a passing test that left a leak behind into a failure whose message
is the finding. The command is found as for the pytest plugin
($ASYNCSNAP_CLI, beside the package, PATH).
"""

import sys
from typing import Iterable, Optional

__unittest = True   # our frames stay out of the failure tracebacks unittest prints

from ._leakcheck import Checker, CheckError, allowed

__all__ = ["LeakError", "LeakCheckMixin", "leak_check"]


class LeakError(AssertionError):
    """A test left behind what the leak checks prove; the message is the
    findings."""


_checker = None


def _shared_checker():
    global _checker
    if _checker is None:
        import atexit
        _checker = Checker()
        atexit.register(_checker.close)
    return _checker


def _message(findings):
    return "asyncsnap: left behind what the leak checks prove:\n\n" + \
        "\n\n".join(f.render() for f in findings)


class leak_check:
    """Context manager: LeakError when the block leaves a leak behind.

    allow  -- check names (or "check:group", "all") that do not count
    checks -- run only these checks
    rules  -- a resource rules file for `leaks --rules`
    """

    def __init__(self, allow: "Iterable[str]" = (), checks: "Optional[Iterable[str]]" = None,
                 rules: "Optional[str]" = None) -> None:
        self.allow = list(allow)
        self.checks = checks
        self.rules = rules
        self.findings = []
        self._before = None

    def __enter__(self):
        self._checker = (_shared_checker() if self.checks is None and self.rules is None
                         else Checker(checks=self.checks, rules=self.rules))
        self._before = self._checker.snapshot()
        self._checker.hold_gc()
        return self

    def __exit__(self, exc_type, exc, tb):
        c = self._checker
        after = None
        try:
            if exc_type is not None:   # the block failed: that is the news
                return False
            after = c.snapshot()
            c.release_gc()
            self.findings = [f for f in c.new_findings(self._before, after)
                             if not allowed(f, self.allow)]
        finally:
            c.release_gc()
            c.drop(self._before)
            c.drop(after)
            if c is not _checker:
                c.close()
        if self.findings:
            raise LeakError(_message(self.findings))
        return False


class _HeldResult:
    """Stands for the test's result while it runs: its success is held
    back until the leak check has spoken, everything else goes through."""

    def __init__(self, result):
        self._result = result
        self.succeeded = False
        self.stop_held = False

    def addSuccess(self, test):
        self.succeeded = True

    def stopTest(self, test):
        self.stop_held = True

    def __getattr__(self, name):
        return getattr(self._result, name)


class LeakCheckMixin:
    """unittest.TestCase (or IsolatedAsyncioTestCase) mixin: a test that
    passes but leaves a leak behind fails with the finding. Put it first
    among the bases. Class attributes: asyncsnap_allow (check names that
    do not count), asyncsnap_skip (no check)."""

    asyncsnap_allow = ()
    asyncsnap_skip = False

    def run(self, result=None):
        if self.asyncsnap_skip or getattr(self, "__unittest_skip__", False) or \
                getattr(getattr(self, self._testMethodName, None), "__unittest_skip__", False):
            return super().run(result)
        own = result is None
        if own:
            result = self.defaultTestResult()
            result.startTestRun()
        held = _HeldResult(result)
        checker = _shared_checker()
        before = after = None
        try:
            try:
                before = checker.snapshot()
            except CheckError as e:
                return self._unchecked(super().run(result), e)
            checker.hold_gc()
            super().run(held)   # the loop of IsolatedAsyncioTestCase is closed on return
            if held.succeeded:
                try:
                    after = checker.snapshot()
                    checker.release_gc()
                    findings = [f for f in checker.new_findings(before, after)
                                if not allowed(f, self.asyncsnap_allow)]
                except CheckError as e:
                    findings = None
                    msg = "asyncsnap could not check this test: %s" % e
                if findings:
                    msg = _message(findings)
                if findings or findings is None:
                    try:
                        raise LeakError(msg)
                    except LeakError:
                        result.addFailure(self, sys.exc_info())
                else:
                    result.addSuccess(self)
            if held.stop_held:
                result.stopTest(self)
        finally:
            checker.release_gc()
            checker.drop(before)
            checker.drop(after)
            if own:
                result.stopTestRun()
        return result

    def _unchecked(self, result, error):
        sys.stderr.write("asyncsnap: %s: not checked: %s\n" % (self.id(), error))
        return result
