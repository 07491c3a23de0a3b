"""Named crash points: ``ARTWORKS_CRASH_AT=<name>[:n]`` SIGKILLs this process group at the n-th pass.

The crash tests (``tests/storage/test_crash.py``) kill a run *inside* a write, deterministically: a kill
timed by sleeping lands wherever the machine happens to be, a named point lands exactly between two steps
of a write (temporary file complete but not yet renamed, renamed but folder not yet synced). A name may
carry ``@<glob>`` to pick one file: ``before-replace@metrics.json``, ``after-replace@*.npy:2``. The whole
process group is killed, as a scheduler or the OOM killer of a container would, so worker processes die too.
``ARTWORKS_CRASH_TRACE=<file>`` appends every point passed (``point<TAB>file``) to that file instead: the
crash tests read an uninterrupted run's trace to learn where its writes are. Unset (always, outside tests),
a point costs two dictionary lookups.
"""

from __future__ import annotations

import fnmatch
import os
import signal

CRASH_ENV = "ARTWORKS_CRASH_AT"
TRACE_ENV = "ARTWORKS_CRASH_TRACE"
_passes: dict[str, int] = {}


def _wanted() -> tuple[str, str, int] | None:
    """(point, file glob, n) from the environment, or None."""
    value = os.environ.get(CRASH_ENV, "")
    if not value:
        return None
    name, _, count = value.rpartition(":") if value.rpartition(":")[2].isdigit() else (value, "", "1")
    point, _, pattern = name.partition("@")
    return point, pattern, int(count)


def crash_point(point: str, file_name: str = "") -> None:
    """SIGKILL this process group when ``ARTWORKS_CRASH_AT`` names this point (and file) the n-th time."""
    trace = os.environ.get(TRACE_ENV)
    if trace:
        with open(trace, "a", encoding="utf-8") as f:  # a test's log, appended line by line: never state
            f.write(f"{point}\t{file_name}\n")
    wanted = _wanted()
    if wanted is None or wanted[0] != point or (wanted[1] and not fnmatch.fnmatch(file_name, wanted[1])):
        return
    _passes[point] = _passes.get(point, 0) + 1
    if _passes[point] == wanted[2]:
        os.killpg(os.getpgrp(), signal.SIGKILL)
