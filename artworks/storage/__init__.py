"""Files that later runs trust: durable atomic writes, locks that name their holder, no orphans.

``atomic_write_text`` / ``atomic_write_json`` / ``atomic_write_bytes`` / ``atomic_save_torch`` write a whole
file or nothing; ``atomic_open`` and ``atomic_path`` do the same for streaming writers and for libraries
that want a path. ``file_lock`` serialises builders of one file across processes and hosts and removes
what killed writers left. ``crash_point`` is the hook the crash tests kill a run at.
"""

from artworks.storage.atomic import (
    atomic_open,
    atomic_path,
    atomic_save_torch,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    fsync_dir,
)
from artworks.storage.crash import CRASH_ENV, crash_point
from artworks.storage.locks import describe_holder, file_lock, hold_folder, read_holder, release_folder
from artworks.storage.orphans import parse_temp, remove_orphans, temp_files

__all__ = [
    "CRASH_ENV",
    "atomic_open",
    "atomic_path",
    "atomic_save_torch",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "crash_point",
    "describe_holder",
    "file_lock",
    "fsync_dir",
    "hold_folder",
    "parse_temp",
    "read_holder",
    "release_folder",
    "remove_orphans",
    "temp_files",
]
