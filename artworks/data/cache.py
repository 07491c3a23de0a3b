"""A one-time preprocessing cache: every image decoded once, resized, and kept in one memory-mapped array.

Decoding a ~1 MP JPEG costs ~5 ms per core, so a loader that decodes every epoch starves a GPU. The cache
stores the uint8 N×S×S×3 array as a ``.npy`` file (``np.load(mmap_mode="r")`` opens it without reading it)
named after a hash of the file list (paths and sizes) and the preprocessing settings: it is rebuilt when
either changes and reused otherwise. Worker processes decode their share of rows and write them straight into
the memory-mapped file, so peak memory does not grow with the number of images. A lock file makes concurrent
builders (DDP ranks, parallel jobs) wait for one build instead of repeating it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from artworks.data.images import DEFAULT_MAX_PIXELS, load_image
from artworks.errors import ArtworksError

CACHE_VERSION = 1  # bump when load_image's output changes
ROWS_PER_TASK = 32


def cache_key(root: Path, paths: list[str], image_size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> str:
    """Hash of the file list (path and byte size of each file) and the preprocessing settings."""
    digest = hashlib.sha1(repr((CACHE_VERSION, image_size, max_pixels, len(paths))).encode())
    for rel in paths:
        digest.update(f"{rel}\t{(Path(root) / rel).stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def cache_path(cache_dir: Path, root: Path, paths: list[str], image_size: int, max_pixels: int) -> Path:
    """Where the cache of these files and settings lives."""
    key = cache_key(root, paths, image_size, max_pixels)
    return Path(cache_dir) / f"images-{image_size}px-{key}.npy"


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# Per worker process: where to read from and write into (set by _init_worker).
_job: dict = {}


def _init_worker(array_path: str, root: str, paths: list[str], image_size: int, max_pixels: int) -> None:
    # A forked worker inherits the parent's Python signal handlers; under SLURM (submitit) SIGTERM is
    # ignored there, and the pool, which ends its workers with SIGTERM, would wait for them forever.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _job.update(
        out=np.load(array_path, mmap_mode="r+"), root=Path(root), paths=paths, size=image_size, max=max_pixels
    )


def _fill_rows(rows: range) -> int:
    out = _job["out"]
    for i in rows:
        try:
            out[i] = load_image(_job["root"] / _job["paths"][i], _job["size"], _job["max"])
        except (OSError, ValueError) as err:
            raise ArtworksError(
                f"{_job['paths'][i]} could not be decoded while building the image cache ({err}), although "
                f"it passed the check while indexing. Delete the cache folder's file-checks-*.csv and retry."
            ) from err
    out.flush()
    return len(rows)


def build_cache(
    root: Path,
    paths: list[str],
    image_size: int,
    cache_dir: Path,
    workers: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Path:
    """The cache file of ``paths`` at ``image_size``: reused when present, otherwise built (in parallel)."""
    target = cache_path(cache_dir, root, paths, image_size, max_pixels)
    with _locked(target.with_suffix(".lock")):
        if target.is_file():
            return target
        tmp = target.with_name(f"{target.stem}.tmp{os.getpid()}.npy")
        shape = (len(paths), image_size, image_size, 3)
        np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape).flush()
        tasks = [range(s, min(s + ROWS_PER_TASK, len(paths))) for s in range(0, len(paths), ROWS_PER_TASK)]
        init_args = (str(tmp), str(root), paths, image_size, max_pixels)
        progress = tqdm(total=len(paths), desc=f"caching images at {image_size}px", unit="img")
        try:
            if workers > 1 and len(tasks) > 1:
                context = multiprocessing.get_context("fork")
                with context.Pool(workers, initializer=_init_worker, initargs=init_args) as pool:
                    for done in pool.imap_unordered(_fill_rows, tasks):
                        progress.update(done)
            else:
                _init_worker(*init_args)
                for rows in tasks:
                    progress.update(_fill_rows(rows))
                _job.clear()
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            progress.close()
        os.replace(tmp, target)
        target.with_suffix(".json").write_text(
            json.dumps({"root": str(root), "image_size": image_size, "paths": paths}, ensure_ascii=False)
        )
    return target


def keep_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``collate_fn`` for :class:`CachedImageDataset`, whose ``__getitems__`` already returns a batch."""
    return batch


class CachedImageDataset(Dataset):
    """(uint8 CHW tensor, label) pairs read from rows of the cache array.

    ``__getitems__`` serves a whole batch with one fancy-indexing copy, as an NCHW view of NHWC memory
    (``channels_last``); use it with ``collate_fn=keep_batch``. The memory map is opened lazily in each
    process, so a worker never receives a pickled copy of the array.
    """

    def __init__(self, array_path: Path, rows: list[int], paths: list[str], labels: list[int]) -> None:
        self.array_path = Path(array_path)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.paths = paths
        self.labels = labels
        self._labels = torch.as_tensor(labels, dtype=torch.long)
        self._array: np.ndarray | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_array": None}

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.load(self.array_path, mmap_mode="r")
        return self._array

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(np.array(self.array[self.rows[i]])).permute(2, 0, 1), self.labels[i]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.array[self.rows[indices]]
        return torch.from_numpy(batch).permute(0, 3, 1, 2), self._labels[indices]
