"""Check every candidate file once while indexing, so a bad file is left out instead of crashing an epoch.

Each file is read once and fully decoded (libjpeg reads the whole stream, so a truncated file is caught).
The same decode records what duplicate detection needs: a SHA-1 of the bytes and a difference hash
("dHash") of the picture, and, when the image cache is being built, the cache row as well
(:func:`inspect_file`; :mod:`artworks.data.cache` runs it in parallel): on a first run every file is decoded
once, not once to check and again to cache. Without a cache the decode uses a small JPEG draft scale (1/8
where the file allows); with one, the cache's scale, and the dHash is taken from that decode (its bits can
differ from the 1/8-scale one's in a bit or two, well below the near-duplicate threshold). Results are kept
in a CSV in the cache folder keyed by file size and mtime, so later runs, of any image size, only check new
or changed files: a root's checks, duplicate groups and split are fixed by its first run.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import multiprocessing
import signal
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from artworks.data.images import DEFAULT_MAX_PIXELS, ImageTooLarge, open_image, rgb_row, to_rgb
from artworks.storage import atomic_open

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
STRAY_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
PARALLEL_FROM = 64  # fewer files than this are checked in-process
CHECKS_VERSION = 1


@dataclass(frozen=True)
class FileCheck:
    """What one file is: ``reason`` is empty when it is a usable image."""

    path: str
    size: int
    mtime_ns: int
    reason: str = ""
    sha1: str = ""
    dhash: str = ""
    width: int = 0
    height: int = 0
    mode: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


def rejected_by_name(name: str) -> str:
    """Why a file is not even opened ("" when its name looks like an image)."""
    if name.lower() in STRAY_NAMES or name.startswith("._"):
        return "stray system file"
    if name.startswith("."):
        return "hidden file"
    suffix = Path(name).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        return f"not an image file name ({suffix or 'no suffix'})"
    return ""


def dhash(img: Image.Image, hash_size: int) -> str:
    """Difference hash: signs of horizontal brightness steps on a (size+1)×size thumbnail, as hex."""
    grey = np.asarray(img.convert("L").resize((hash_size + 1, hash_size), Image.Resampling.LANCZOS), np.int16)
    return np.packbits(grey[:, 1:] > grey[:, :-1]).tobytes().hex()


def check_file(root: Path, rel: str, hash_size: int = 8, max_pixels: int = DEFAULT_MAX_PIXELS) -> FileCheck:
    """Open, decode and fingerprint ``root / rel``; never raises for a bad file."""
    return inspect_file(root, rel, hash_size, max_pixels)[0]


def _rejected(path: Path, base: dict) -> FileCheck | None:
    """The check of a file refused before decoding (by name or size), else None."""
    reason = rejected_by_name(path.name)
    if not reason and base["size"] == 0:
        reason = "empty file (0 bytes)"
    return FileCheck(**base, reason=reason) if reason else None


def _row(data: bytes, size: int, max_pixels: int) -> np.ndarray:
    """The cache row of an image file's bytes, decoded (in draft mode) as ``load_image`` decodes it."""
    with open_image(io.BytesIO(data), max_pixels) as img:
        img.draft("RGB", (size, size))
        img.load()
        return rgb_row(img, size)


def inspect_file(
    root: Path,
    rel: str,
    hash_size: int = 8,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    row_size: int | None = None,
) -> tuple[FileCheck, np.ndarray | None]:
    """Check and fingerprint ``root / rel`` from one read and one decode; never raises for a bad file.

    With ``row_size`` the same decode also gives the file's cache row (``row_size``² × 3 uint8, exactly
    what :func:`artworks.data.images.load_image` returns), None for a bad file.
    """
    path = root / rel
    stat = path.stat()
    base = {"path": rel, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    refused = _rejected(path, base)
    if refused is not None:
        return refused, None
    data = path.read_bytes()
    try:
        img = open_image(io.BytesIO(data), max_pixels)
    except ImageTooLarge as err:
        return FileCheck(**base, reason=f"too large: {err}"), None
    except (UnidentifiedImageError, Image.DecompressionBombError) as err:
        return FileCheck(**base, reason=f"not a readable image ({type(err).__name__})"), None
    except OSError as err:
        return FileCheck(**base, reason=f"cannot be opened: {err}"), None
    shape = {"width": img.size[0], "height": img.size[1], "mode": img.mode}
    try:
        # The fingerprint always comes from the same small draft decode, whatever size the cache row has:
        # a fingerprint taken at the row's scale would move by a bit or two with the image size of the first
        # run, and with it the duplicate groups and so the split. The row is a second decode of the bytes
        # already in memory (no second read); the draft one costs a fraction of it.
        img.draft("RGB", (hash_size * 8,) * 2)
        img.load()
        fingerprint = dhash(to_rgb(img), hash_size)
        row = _row(data, row_size, max_pixels) if row_size else None
    except (OSError, ValueError, SyntaxError) as err:
        return FileCheck(**base, reason=f"truncated or corrupt: {err}", **shape), None
    finally:
        img.close()
    sha1 = hashlib.sha1(data).hexdigest()
    return FileCheck(**base, sha1=sha1, dhash=fingerprint, **shape), row


def _check_star(args: tuple) -> FileCheck:
    return check_file(*args)


def checks_store(cache_dir: Path, hash_size: int = 8, max_pixels: int = DEFAULT_MAX_PIXELS) -> Path:
    """The CSV that keeps the checks made with these settings."""
    settings = hashlib.sha1(repr((CHECKS_VERSION, hash_size, max_pixels)).encode()).hexdigest()[:8]
    return Path(cache_dir) / f"file-checks-{settings}.csv"


def _read_checks(path: Path) -> dict[str, FileCheck]:
    if not path.is_file():
        return {}
    ints = {"size", "mtime_ns", "width", "height"}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return {r["path"]: FileCheck(**{k: int(v) if k in ints else v for k, v in r.items()}) for r in rows}
    except (ValueError, TypeError, KeyError) as err:  # not ours, or torn by an older version: check again
        log.warning("%s cannot be read (%s); every file is checked again.", path, err)
        return {}


def write_checks(path: Path, checks: list[FileCheck]) -> None:
    """Keep ``checks`` for later runs (atomically: a run trusts this file)."""
    with atomic_open(path, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[fl.name for fl in fields(FileCheck)])
        writer.writeheader()
        writer.writerows(asdict(c) for c in checks)


def known_checks(root: Path, rels: list[str], store: Path) -> dict[str, FileCheck]:
    """The stored checks of the files of ``rels`` that have not changed since (same size and mtime)."""
    known = _read_checks(store)
    results: dict[str, FileCheck] = {}
    for rel in rels:
        stat = (root / rel).stat()
        old = known.get(rel)
        if old is not None and (old.size, old.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            results[rel] = old
    return results


def check_files(
    root: Path,
    rels: list[str],
    cache_dir: Path,
    workers: int = 0,
    hash_size: int = 8,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[FileCheck]:
    """A :class:`FileCheck` per file of ``rels`` (same order), reusing earlier results for unchanged files."""
    store = checks_store(cache_dir, hash_size, max_pixels)
    results = known_checks(root, rels, store)
    todo = [rel for rel in rels if rel not in results]
    if todo:
        jobs = [(root, rel, hash_size, max_pixels) for rel in todo]
        progress = {"total": len(todo), "desc": "checking images", "unit": "img", "disable": len(todo) < 500}
        if workers > 1 and len(todo) >= PARALLEL_FROM:
            # default SIGTERM in the workers: the pool ends them with it (see cache._init_worker)
            init = (signal.SIGTERM, signal.SIG_DFL)
            with multiprocessing.get_context("fork").Pool(workers, signal.signal, init) as pool:
                checked = list(tqdm(pool.imap(_check_star, jobs, chunksize=16), **progress))
        else:
            checked = [check_file(*job) for job in tqdm(jobs, **progress)]
        results.update((c.path, c) for c in checked)
        write_checks(store, [results[r] for r in rels])
    return [results[r] for r in rels]
