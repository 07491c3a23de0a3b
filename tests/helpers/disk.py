"""How much disk the test session holds: sampled at every test's teardown, reported once at the end.

A training test that writes ResNet-50 checkpoints with Adam state adds ~280 MB each; a suite of them filled
13 GB per run before (issue 17). The closing line makes such a regression visible in every CI log.
"""

from __future__ import annotations

import os
from pathlib import Path

MB = 1024 * 1024


def disk_usage(path: Path) -> int:
    """Bytes ``path`` occupies on disk (allocated blocks, as ``du``), 0 when it does not exist."""
    total = 0
    stack = [path]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except FileNotFoundError:  # removed while we walked (a test's cleanup)
                continue
    return total


class DiskWatch:
    """Peak and final disk use of some folders: pytest's basetemp and the session's home (TORCH_HOME...)."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self.peak = 0
        self.peak_at = ""

    def watch(self, *paths: Path) -> None:
        self.paths = list(paths)

    def used(self) -> int:
        return sum(disk_usage(p) for p in self.paths)

    def sample(self, where: str) -> None:
        used = self.used()
        if used > self.peak:
            self.peak, self.peak_at = used, where

    def summary(self) -> str:
        where = ", ".join(str(p) for p in self.paths)
        left = f"test disk: {self.used() / MB:,.0f} MB left behind in {where}; "
        if not self.peak_at:  # pytest-xdist: the tests ran in worker processes, which sampled their own
            return left + "peak not sampled here (tests ran in pytest-xdist workers; run without -n for it)"
        return left + f"peak {self.peak / MB:,.0f} MB (sampled at test teardown, {self.peak_at})"
