"""Temporary files left by killed writers: recognise them and remove them, never one still being written.

A temporary file is named ``<target>.tmp<pid>-<host>-<n>`` (see :mod:`artworks.storage.atomic`). It is an
orphan when its writer is gone: the pid is not alive on this host. A file written under a lock is also an
orphan when the caller holds that lock (only a holder writes it, and the holder is us), whatever host wrote
it; this is what cleans up after a job preempted on another node of a cluster. Files of the previous
naming (``images-64px-<key>.tmp<pid>.npy``, ``<name>.tmp<pid>``) are recognised as well, so an upgrade
also frees what older versions left behind.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from artworks.storage.atomic import host_tag

log = logging.getLogger(__name__)

_TEMP = re.compile(
    r"^(?P<stem>.+?)\.tmp(?P<pid>\d+)(?:-(?P<host>[0-9a-f]{6})-\d+)?(?P<suffix>\.[A-Za-z]\w*)?$"
)


@dataclass(frozen=True)
class TempFile:
    """A temporary file's target name and writer."""

    path: Path
    target: str
    pid: int
    host: str  # "" for the previous naming, which carried no host


def parse_temp(path: Path) -> TempFile | None:
    """The temporary file ``path`` stands for, or None when it is not one of ours."""
    match = _TEMP.match(path.name)
    if match is None:
        return None
    target = match["stem"] + (match["suffix"] or "")
    return TempFile(path, target, int(match["pid"]), match["host"] or "")


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a recycled pid counts as alive: we keep)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_orphan(temp: TempFile, guarded: Callable[[str], bool]) -> bool:
    """Whether ``temp``'s writer is gone (``guarded(target)``: the caller holds the target's lock)."""
    ours = temp.host in ("", host_tag())
    if ours and pid_alive(temp.pid):
        return False  # a write in progress here: this process, or another rank of the same DDP job
    return guarded(temp.target) or ours


def temp_files(folder: Path, recursive: bool = False) -> Iterable[TempFile]:
    """Every temporary file in ``folder`` (and below it with ``recursive``)."""
    if not folder.is_dir():
        return []
    paths = folder.rglob("*.tmp*") if recursive else folder.glob("*.tmp*")
    return [t for p in paths if (t := parse_temp(p)) is not None and p.is_file()]


def remove_orphans(
    folder: Path | str, guarded: Callable[[str], bool] = lambda target: False, recursive: bool = False
) -> int:
    """Remove the orphaned temporary files in ``folder``; returns the bytes freed."""
    freed = 0
    for temp in temp_files(Path(folder), recursive):
        if not is_orphan(temp, guarded):
            continue
        try:
            size = temp.path.stat().st_size
            temp.path.unlink()
        except FileNotFoundError:
            continue  # its writer finished or another cleaner was first
        freed += size
        log.info("Removed %s (%d bytes), left by a killed writer (pid %d).", temp.path, size, temp.pid)
    return freed
