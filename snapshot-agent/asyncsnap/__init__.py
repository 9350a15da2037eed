"""asyncsnap agent: snapshots of a running Python program's object graph.

    import asyncsnap
    path = asyncsnap.take()             # ./<prog>-<pid>-<seq>.snap
    path = asyncsnap.take(fork=True)    # the parent pauses for the fork alone
    asyncsnap.install()                 # a snapshot on every SIGUSR1

or, without touching the program:

    python -m asyncsnap run [--dir D] [--signal SIG] [--every S] script.py [args...]
    asyncsnap run [--dir D] [--signal SIG] [--every S] -- python app.py ...

The snapshot holds every object the cycle collector tracks and everything
they reference, with types, sizes, reference counts and edges; never the
contents of strings or bytes unless values=True. Analyze it offline with the
`asyncsnap` command (`asyncsnap info FILE`). docs/AGENT.md has the details.
"""

# The engine is in _core, the triggers in _trigger (which builds on it):
# this module only gathers the public names, and the private ones that the
# attach payload (asyncsnap._take), `python -m asyncsnap` and the tests use.
from ._core import SnapshotError, __version__, take  # noqa: F401
from ._core import _agent, _children, _process_start_ticks, _rss, _seq, _take  # noqa: F401
from . import _trigger  # noqa: F401
from ._trigger import install, uninstall  # noqa: F401

__all__ = ["take", "install", "uninstall", "SnapshotError", "__version__"]
