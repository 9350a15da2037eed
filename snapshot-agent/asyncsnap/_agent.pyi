# The C half of the agent (snapshot-agent/walk/agent.c). Private: the
# package's take(), install() and uninstall() are the API.
import os
from typing import Any, Dict, Optional, Union

_Path = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

VERSION: str
FORMAT_VERSION: int

class SnapshotError(Exception): ...

def snapshot(path: _Path, header: str, values: bool = ..., level: int = ...,
             fsync: bool = ..., tag: Optional[str] = ...) -> Dict[str, Any]: ...
def remove_on_termination(path: Optional[_Path]) -> None: ...
def gc_collecting() -> bool: ...
def fork_snapshot(path: _Path, header: str, shown: str, status: Optional[_Path] = ...,
                  values: bool = ..., level: int = ..., fsync: bool = ...,
                  tag: Optional[str] = ...) -> int: ...
