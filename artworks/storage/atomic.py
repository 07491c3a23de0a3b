"""Durable atomic writes: a file that later runs trust is complete, or it is the previous version.

Every write goes to a temporary file in the target's own folder (a rename across file systems is a copy,
which a kill can cut short), is flushed and ``fsync``-ed, renamed over the target with ``os.replace``
(atomic on POSIX and Windows), and then the folder is ``fsync``-ed so the rename itself survives a power
loss; without the two syncs a complete-looking file can hold zeros after one. The temporary name carries
the writer's pid and host (``metrics.json.tmp4711-ab12cd-0``), so whoever comes next can tell an orphan of
a killed writer from a file being written (see :mod:`artworks.storage.orphans`). Its suffix is ``.tmp...``
so that nothing looking for ``*.ckpt`` or ``*.json`` ever picks a half-written file up; writers that insist
on a suffix (``np.lib.format``, ``torch.onnx.export``) ask for ``keep_suffix=True``
(``images-64px-<key>.tmp4711-ab12cd-0.npy``). On any failure (a full disk, an exception, Ctrl-C) the
temporary file is removed and the previous target is left as it was.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import socket
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from artworks.storage.crash import crash_point

_counter = itertools.count()


def host_tag() -> str:
    """Six hex digits naming this machine: a pid means something only on the host that wrote it."""
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"[:6]


def temp_path_for(target: Path, keep_suffix: bool = False) -> Path:
    """A fresh temporary name beside ``target``: ``<name>.tmp<pid>-<host>-<n>`` (or ending in its suffix)."""
    tag = f".tmp{os.getpid()}-{host_tag()}-{next(_counter)}"
    if keep_suffix:
        return target.with_name(f"{target.stem}{tag}{target.suffix}")
    return target.with_name(f"{target.name}{tag}")


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (and all of Windows) refuse fsync on a folder; the rename stands
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: Path | str, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write ``target``'s content to (by any library); commit it on success.

    For writers that want a path, not a file object: ``np.lib.format.open_memmap``, ``torch.save``,
    ``torch.onnx.export``, ``torch.jit.save``. When the block raises, the temporary file is removed and
    the previous ``target`` stays; an ``OSError`` names ``target`` (not the temporary file), so a full
    disk reads as "while writing metrics.json". ``keep_suffix``: the temporary name ends in ``target``'s
    suffix, for writers that add or check one.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(target, keep_suffix)
    with _removed_on_error(tmp, target):
        yield tmp
    commit(tmp, target)


@contextmanager
def _removed_on_error(tmp: Path, target: Path) -> Iterator[None]:
    """On any failure inside, remove ``tmp``; an OSError is re-raised naming ``target``."""
    try:
        yield
    except OSError as err:
        tmp.unlink(missing_ok=True)
        _reraise_naming(err, tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _reraise_naming(err: OSError, tmp: Path, target: Path) -> None:
    """Raise ``err`` about ``target`` rather than the temporary file (the user never sees that name)."""
    if err.filename in (None, str(tmp)):
        raise OSError(err.errno, err.strerror, str(target)) from err
    raise err


def commit(tmp: Path, target: Path) -> None:
    """Make the finished temporary file ``tmp`` durable and rename it over ``target`` (same folder).

    For writers that learn the target's name only once the content is complete (the image cache, named
    after the files that passed their check). On failure ``tmp`` is removed and ``target`` untouched.
    """
    with _removed_on_error(tmp, target):
        crash_point("before-sync", target.name)
        _fsync_file(tmp)
        crash_point("before-replace", target.name)
        os.replace(tmp, target)
    crash_point("after-replace", target.name)
    fsync_dir(target.parent)


@contextmanager
def atomic_open(
    target: Path | str, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """``open(target, mode)`` made atomic: for ``csv.writer`` and other streaming writers."""
    binary = "b" in mode
    with (
        atomic_path(target) as tmp,
        open(tmp, mode, encoding=None if binary else encoding, newline=None if binary else newline) as f,
    ):
        yield f
        f.flush()


def atomic_write_bytes(target: Path | str, data: bytes | bytearray | memoryview) -> Path:
    """Write ``data`` to ``target`` durably and atomically; returns ``target``."""
    with atomic_open(target, "wb") as f:
        f.write(data)
    return Path(target)


def atomic_write_text(target: Path | str, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``target`` durably and atomically; returns ``target``."""
    return atomic_write_bytes(target, text.encode(encoding))


def atomic_write_json(target: Path | str, obj: Any, **dumps: Any) -> Path:
    """``json.dumps(obj, **dumps)`` written durably and atomically (a final newline added)."""
    return atomic_write_text(target, json.dumps(obj, **dumps) + "\n")


def atomic_save_torch(target: Path | str, obj: Any) -> Path:
    """``torch.save(obj)`` to ``target`` durably and atomically (serialised in memory first)."""
    import torch

    buffer = io.BytesIO()  # serialise first: a full disk then fails in write() with a clear OSError
    torch.save(obj, buffer)
    return atomic_write_bytes(target, buffer.getbuffer())
