"""Loaded by `asyncsnap run -- CMD...` in every Python it starts: the C
command puts this directory first on PYTHONPATH and says in environment
variables what to install. Not part of the program: it installs the agent,
then hands over to the sitecustomize the program would have had.

    ASYNCSNAP_RUN_SIGNAL    the signal number (its presence turns this on)
    ASYNCSNAP_DIR           the snapshot directory
    ASYNCSNAP_RUN_FORK      "0" for in-process snapshots
    ASYNCSNAP_RUN_EVERY, ASYNCSNAP_RUN_ON_TASKS, ASYNCSNAP_RUN_ON_RSS,
    ASYNCSNAP_RUN_KEEP      the timed and threshold triggers
"""

import os
import sys


def _install():
    env = os.environ
    if not env.get("ASYNCSNAP_RUN_SIGNAL"):
        return
    try:
        import asyncsnap

        def number(name, kind):
            v = env.get(name)
            return kind(v) if v else None

        asyncsnap.install(int(env["ASYNCSNAP_RUN_SIGNAL"]), env.get("ASYNCSNAP_DIR") or None,
                          fork=env.get("ASYNCSNAP_RUN_FORK") != "0",
                          every=number("ASYNCSNAP_RUN_EVERY", float),
                          on_tasks=number("ASYNCSNAP_RUN_ON_TASKS", int),
                          on_rss=number("ASYNCSNAP_RUN_ON_RSS", float),
                          keep=number("ASYNCSNAP_RUN_KEEP", int))
    except Exception as e:  # the program runs all the same
        try:
            os.write(2, ("asyncsnap: agent not loaded in %s (Python %d.%d): %s: %s\n"
                         % (sys.executable, sys.version_info[0], sys.version_info[1],
                            type(e).__name__, e)).encode("utf-8", "replace"))
        except OSError:
            pass


def _chain():
    """Import the sitecustomize that this one hides, if there is one, and
    take this directory off sys.path: the program never sees it."""
    here = os.path.dirname(os.path.abspath(__file__))
    me = sys.modules.pop(__name__, None)

    def without_here():
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]

    without_here()
    try:
        import importlib.util
        if importlib.util.find_spec("sitecustomize") is not None:
            import sitecustomize  # noqa: F401  the program's own
    finally:
        if "sitecustomize" not in sys.modules and me is not None:
            sys.modules[__name__] = me
        without_here()


_install()
_chain()
