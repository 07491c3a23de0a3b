"""Cross-process locks (``filelock``) that say who holds them, and clean up after killed holders.

A lock is a ``<name>.lock`` file locked with the operating system's own file locks (``flock`` on POSIX),
which die with their process: a SIGKILLed holder never leaves a stale lock. Its holder writes
``<name>.lock.holder`` (pid, host, start time, command line), so a process that waits longer than the
timeout gets a message naming the holder instead of hanging silently. Whoever takes a lock first removes
the orphaned temporary files of what the lock guards (see :mod:`artworks.storage.orphans`).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from artworks.errors import ArtworksError
from artworks.storage.atomic import atomic_write_json
from artworks.storage.orphans import remove_orphans

log = logging.getLogger(__name__)

# Locks held by this process. A forked child (a cache-build or DataLoader worker) lets go of its copies of
# their files: a flock belongs to the open file, so a worker outliving a killed parent would otherwise hold
# the lock for ever. The descriptor is pointed at /dev/null rather than closed, so nothing the child opens
# later can take its number and be unlocked or closed by mistake.
_held: dict[int, FileLock] = {}
# The folder this process works in (a run folder), locked until the next hold_folder call or the exit.
_folder_lock: dict[Path, FileLock] = {}


def _let_go_in_child() -> None:
    if not _held:
        return
    null = os.open(os.devnull, os.O_RDONLY)
    for lock in _held.values():
        fd = getattr(getattr(lock, "_context", None), "lock_file_fd", None)
        if fd is not None:
            os.dup2(null, fd)
    os.close(null)
    _held.clear()
    _folder_lock.clear()


os.register_at_fork(after_in_child=_let_go_in_child)


def _holder_path(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".holder")


def read_holder(lock_path: Path | str) -> dict[str, Any]:
    """What the current holder of ``lock_path`` wrote about itself ({} when nothing readable)."""
    try:
        return json.loads(_holder_path(Path(lock_path)).read_text())
    except (OSError, ValueError):
        return {}


def describe_holder(holder: dict[str, Any]) -> str:
    """One phrase naming a holder: ``process 4711 on node3, started 2026-11-28 09:12:01 UTC (python ...)``."""
    if not holder:
        return "another process (it has not written its name yet)"
    command = f" ({holder['command']})" if holder.get("command") else ""
    return f"process {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}{command}"


def _timeout_error(lock_path: Path, what: str, timeout: float, setting: str) -> ArtworksError:
    holder = describe_holder(read_holder(lock_path))
    return ArtworksError(
        f"Waited {timeout:g} s for {what}, which is locked by {holder}. If that process is still working "
        f"(a long first build), wait for it or raise {setting}; if it hangs, end it. The lock frees itself "
        f"when its holder exits, also after a kill, so never delete {lock_path} by hand."
    )


@contextmanager
def file_lock(
    lock_path: Path | str,
    what: str,
    timeout: float,
    guarded: Callable[[str], bool] | None = None,
    setting: str = "the timeout",
) -> Iterator[None]:
    """Hold ``lock_path`` for the block; after ``timeout`` seconds of waiting raise an ArtworksError.

    ``what`` names the locked thing in messages ("the 224 px image cache"), ``setting`` the key that sets
    ``timeout``. Once the lock is held, orphaned temporaries in the lock's folder are removed: those of a
    dead writer, and with ``guarded`` every temporary whose target name it accepts (only holders write those).
    """
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("Waiting for %s, locked by %s.", what, describe_holder(read_holder(lock_path)))
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise _timeout_error(lock_path, what, timeout, setting) from None
    _held[id(lock)] = lock
    try:
        _write_holder(lock_path)
        remove_orphans(lock_path.parent, guarded or (lambda target: False))
        yield
    finally:
        _holder_path(lock_path).unlink(missing_ok=True)
        _held.pop(id(lock), None)
        lock.release()


def _write_holder(lock_path: Path) -> None:
    command = " ".join(sys.argv)[:200]
    atomic_write_json(
        _holder_path(lock_path),
        {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "command": command,
        },
    )


def hold_folder(folder: Path | str, in_use_hint: str) -> int:
    """Lock ``folder`` for this process until its next folder or its exit; clean what killed writers left.

    Only one process at a time writes a run folder: a second one gets an ArtworksError naming the first
    (``in_use_hint`` says what to do), not two runs mixing their checkpoints. Once held, every temporary
    file below ``folder`` whose writer is not a live process of this host is an orphan (the earlier writer
    is gone, from whichever host) and is removed; a live one is another rank of this same job (SLURM starts
    every DDP rank as a task of its own) and is left alone. Returns the bytes freed. A process trains one
    run at a time (multirun jobs run one after another), so taking a new folder lets go of the previous one.
    """
    folder = Path(folder).resolve()
    if folder in _folder_lock:
        return 0
    release_folder()
    lock_path = folder / ".lock"
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = describe_holder(read_holder(lock_path))
        raise ArtworksError(f"{folder} is in use by {holder}. {in_use_hint}") from None
    _folder_lock[folder] = _held[id(lock)] = lock
    _write_holder(lock_path)
    return remove_orphans(folder, guarded=lambda target: True, recursive=True)


@atexit.register
def release_folder() -> None:
    """Let go of the folder :func:`hold_folder` holds, if any (also at exit: no stale holder note stays)."""
    for folder, lock in list(_folder_lock.items()):
        _holder_path(folder / ".lock").unlink(missing_ok=True)
        _held.pop(id(lock), None)
        lock.release()
        del _folder_lock[folder]
