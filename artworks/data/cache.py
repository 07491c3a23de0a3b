"""A one-time preprocessing cache: every image decoded once, resized, and kept in one memory-mapped array.

Decoding a ~1 MP JPEG costs ~5 ms per core, so a loader that decodes every epoch starves a GPU. The cache
stores the uint8 N×S×S×3 array as a ``.npy`` file (``np.load(mmap_mode="r")`` opens it without reading it)
named after a hash of the file list (paths and sizes) and the preprocessing settings: it is rebuilt when
either changes and reused otherwise. S is ``data.cache_image_size`` (default: the training size).

On a first run, :func:`prepare_images` checks, fingerprints and caches every file from one read
(:func:`artworks.data.validate.inspect_file`) and one decode when the JPEG draft scale of the cache size is
the fingerprint's (``FINGERPRINT_SIZE``, 224 px: always at 224, for most files at 256, for non-JPEG files
always), two otherwise (the fingerprint keeps its own decode so that it, and the split, do not depend on the
image size of the first run); later runs, at any size, reuse the checks and only decode for the cache.
A new size is built from the JPEGs, not from a larger cache: resizing a resized image is not the same as
draft-decoding and resizing the file, and the cached and uncached loaders must serve identical images.
Worker processes (every core by default) decode their share of rows and write them straight into the
memory-mapped file, so memory does not grow with the number of images.

Files later runs trust are written whole or not at all (:mod:`artworks.storage`): the array is built in a
temporary file with the builder's pid in its name, space for it is reserved up front (a full disk is a
clear error at the start, not a SIGBUS half-way), and it is renamed into place after an ``fsync``. A lock
per image size makes concurrent builders of one size (DDP ranks, jobs of a sweep) wait for one build, lets
builds of different sizes run side by side, names the holder when a wait exceeds ``data.lock_timeout``, and
lets the next holder remove what a killed build left.
"""

from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import shutil
import signal
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from artworks.data.images import DEFAULT_MAX_PIXELS, load_image
from artworks.data.validate import FileCheck, checks_store, inspect_file, known_checks, write_checks
from artworks.errors import ArtworksError
from artworks.storage import atomic_path, atomic_write_json, crash_point, file_lock
from artworks.storage.atomic import commit, temp_path_for

CACHE_VERSION = 1  # bump when load_image's output changes
ROWS_PER_TASK = 32
DEFAULT_LOCK_TIMEOUT = 3600.0  # seconds; data.lock_timeout sets it for runs
SKIP, ROW, INSPECT = 0, 1, 2  # per file: known bad / known good, decode for its row / check and decode


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


def _cache_lock(cache_dir: Path, image_size: int, timeout: float) -> AbstractContextManager[None]:
    """The lock of the ``image_size`` caches in ``cache_dir``; its holder removes their orphans."""
    prefix = f"images-{image_size}px-"
    return file_lock(
        Path(cache_dir) / f"images-{image_size}px.lock",
        f"the {image_size} px image cache in {cache_dir}",
        timeout,
        guarded=lambda target: target.startswith(prefix),
        setting="data.lock_timeout",
    )


# Per worker process: where to read from and write into (set by _init_worker).
_job: dict = {}


def _init_worker(
    array_path: str, root: str, rels: list[str], modes: bytes, size: int, max_pixels: int, hash_size: int
) -> None:
    # A forked worker inherits the parent's Python signal handlers; under SLURM (submitit) SIGTERM is
    # ignored there, and the pool, which ends its workers with SIGTERM, would wait for them forever.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _job.update(
        out=np.load(array_path, mmap_mode="r+"),
        root=Path(root),
        rels=rels,
        modes=modes,
        size=size,
        max=max_pixels,
        hash_size=hash_size,
    )


def _fill_rows(rows: range) -> tuple[int, list[FileCheck]]:
    """Decode the files of ``rows`` into their rows (checking those not checked before)."""
    out, root, rels = _job["out"], _job["root"], _job["rels"]
    checks = []
    for i in rows:
        if _job["modes"][i] == INSPECT:
            check, row = inspect_file(root, rels[i], _job["hash_size"], _job["max"], _job["size"])
            checks.append(check)
            if row is not None:
                out[i] = row
        elif _job["modes"][i] == ROW:
            try:
                out[i] = load_image(root / rels[i], _job["size"], _job["max"])
            except (OSError, ValueError) as err:
                raise ArtworksError(
                    f"{rels[i]} could not be decoded while building the image cache ({err}), although it "
                    f"passed the check while indexing. Delete the cache folder's file-checks-*.csv and retry."
                ) from err
    out.flush()
    crash_point("cache-rows")
    return len(rows), checks


def _reserve(array_path: Path, what: str) -> None:
    """Claim the array's disk space now: a full disk fails here, not as a SIGBUS in a memory-mapped write."""
    size = array_path.stat().st_size
    fd = os.open(array_path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            return  # a file system without fallocate (tmpfs before 5.x, some network ones): sparse is fine
        array_path.unlink(missing_ok=True)
        free = shutil.disk_usage(array_path.parent).free
        raise ArtworksError(
            f"The disk is full: {what} needs {size / 1e9:.2f} GB in {array_path.parent} and "
            f"{free / 1e9:.2f} GB is free. Free some space, put the cache elsewhere with data.cache_dir=DIR, "
            "or read the images without a cache (data.cache=false, slower). Nothing was left behind and "
            "earlier caches are intact; the next run builds this one from the start."
        ) from err
    finally:
        os.close(fd)


def _fill(
    array_path: Path,
    root: Path,
    rels: list[str],
    modes: bytes,
    size: int,
    workers: int,
    max_pixels: int,
    hash_size: int = 8,
) -> list[FileCheck]:
    """Write every row of ``array_path`` (a fresh N×S×S×3 array) as ``modes`` says; the new checks."""
    np.lib.format.open_memmap(array_path, mode="w+", dtype=np.uint8, shape=(len(rels), size, size, 3)).flush()
    _reserve(array_path, f"the {size} px image cache of {len(rels)} images")
    tasks = [range(s, min(s + ROWS_PER_TASK, len(rels))) for s in range(0, len(rels), ROWS_PER_TASK)]
    init_args = (str(array_path), str(root), rels, modes, size, max_pixels, hash_size)
    checking = "checking and " if INSPECT in modes else ""
    progress = tqdm(total=len(rels), desc=f"{checking}caching images at {size}px", unit="img")
    checks: list[FileCheck] = []
    try:
        if workers > 1 and len(tasks) > 1:
            context = multiprocessing.get_context("fork")
            with context.Pool(workers, initializer=_init_worker, initargs=init_args) as pool:
                for done, new in pool.imap_unordered(_fill_rows, tasks):
                    checks += new
                    progress.update(done)
        else:
            _init_worker(*init_args)
            for rows in tasks:
                done, new = _fill_rows(rows)
                checks += new
                progress.update(done)
    finally:
        _job.clear()
        progress.close()
    return checks


def _write_sidecar(target: Path, root: Path, image_size: int, paths: list[str]) -> None:
    """What the array holds, for people and tools (written before the array, under the same lock)."""
    sidecar = {"root": str(root), "image_size": image_size, "paths": paths}
    atomic_write_json(target.with_suffix(".json"), sidecar, ensure_ascii=False)


def build_cache(
    root: Path,
    paths: list[str],
    image_size: int,
    cache_dir: Path,
    workers: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> Path:
    """The cache file of ``paths`` (files that passed their check) at ``image_size``: reused or built."""
    target = cache_path(cache_dir, root, paths, image_size, max_pixels)
    with _cache_lock(cache_dir, image_size, lock_timeout):
        if target.is_file():
            return target
        _write_sidecar(target, root, image_size, paths)
        with atomic_path(target, keep_suffix=True) as tmp:
            _fill(tmp, root, paths, bytes([ROW]) * len(paths), image_size, workers, max_pixels)
    return target


def prepare_images(
    root: Path,
    rels: list[str],
    cache_dir: Path,
    image_size: int,
    workers: int = 0,
    hash_size: int = 8,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> tuple[list[FileCheck], Path]:
    """Check every file of ``rels`` and cache the good ones at ``image_size``, one decode per file.

    Returns a :class:`FileCheck` per file (same order) and the cache of the files that passed, in order.
    Checks of unchanged files come from the cache folder's store; when they cover every file and the cache
    exists, nothing is decoded.
    """
    store = checks_store(cache_dir, hash_size, max_pixels)
    with _cache_lock(cache_dir, image_size, lock_timeout):
        known = known_checks(root, rels, store)
        if len(known) == len(rels):
            target = cache_path(cache_dir, root, [r for r in rels if known[r].ok], image_size, max_pixels)
            if target.is_file():
                return [known[r] for r in rels], target
        modes = bytes(INSPECT if r not in known else ROW if known[r].ok else SKIP for r in rels)
        staging = temp_path_for(Path(cache_dir) / f"images-{image_size}px-all.npy", keep_suffix=True)
        try:
            new = _fill(staging, root, rels, modes, image_size, workers, max_pixels, hash_size)
            if new:
                known.update((c.path, c) for c in new)
                write_checks(store, [known[r] for r in rels])
            keep = [i for i, r in enumerate(rels) if known[r].ok]
            target = cache_path(cache_dir, root, [rels[i] for i in keep], image_size, max_pixels)
            _write_sidecar(target, root, image_size, [rels[i] for i in keep])
            if len(keep) == len(rels):
                commit(staging, target)
            else:
                _compact(staging, target, keep)
        finally:
            staging.unlink(missing_ok=True)
    return [known[r] for r in rels], target


def _compact(staging: Path, target: Path, keep: list[int]) -> None:
    """Write the rows ``keep`` of ``staging`` as the array ``target`` (the bad files' rows left out)."""
    source = np.load(staging, mmap_mode="r")
    with atomic_path(target, keep_suffix=True) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(keep), *source.shape[1:]))
        _reserve(tmp, f"the {source.shape[1]} px image cache of {len(keep)} images")
        for start in range(0, len(keep), 1024):  # bounded memory: ~150 MB per chunk at 224 px
            out[start : start + 1024] = source[keep[start : start + 1024]]
        out.flush()
        del out


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
