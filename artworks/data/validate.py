"""Check every candidate file once while indexing, so a bad file is left out instead of crashing an epoch.

Each file is opened and fully decoded at a small JPEG draft scale (libjpeg still reads the whole stream, so a
truncated file is caught at a fraction of a full decode's cost). The same pass records what duplicate
detection needs: a SHA-1 of the bytes and a difference hash ("dHash") of the picture. Results are kept in a
CSV in the cache folder keyed by file size and mtime, so later runs only check new or changed files.
"""

from __future__ import annotations

import csv
import hashlib
import multiprocessing
import os
import signal
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from artworks.data.images import DEFAULT_MAX_PIXELS, ImageTooLarge, open_image, to_rgb

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
    path = root / rel
    stat = path.stat()
    base = {"path": rel, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    reason = rejected_by_name(path.name)
    if reason:
        return FileCheck(**base, reason=reason)
    if stat.st_size == 0:
        return FileCheck(**base, reason="empty file (0 bytes)")
    try:
        img = open_image(path, max_pixels)
    except ImageTooLarge as err:
        return FileCheck(**base, reason=f"too large: {err}")
    except (UnidentifiedImageError, Image.DecompressionBombError) as err:
        return FileCheck(**base, reason=f"not a readable image ({type(err).__name__})")
    except OSError as err:
        return FileCheck(**base, reason=f"cannot be opened: {err}")
    width, height, mode = *img.size, img.mode
    try:
        img.draft("RGB", (hash_size * 8, hash_size * 8))
        img.load()
        fingerprint = dhash(to_rgb(img), hash_size)
    except (OSError, ValueError, SyntaxError) as err:
        return FileCheck(**base, reason=f"truncated or corrupt: {err}", width=width, height=height, mode=mode)
    finally:
        img.close()
    sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
    return FileCheck(**base, sha1=sha1, dhash=fingerprint, width=width, height=height, mode=mode)


def _check_star(args: tuple) -> FileCheck:
    return check_file(*args)


def _read_checks(path: Path) -> dict[str, FileCheck]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    ints = {"size", "mtime_ns", "width", "height"}
    return {r["path"]: FileCheck(**{k: int(v) if k in ints else v for k, v in r.items()}) for r in rows}


def _write_checks(path: Path, checks: list[FileCheck]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[fl.name for fl in fields(FileCheck)])
        writer.writeheader()
        writer.writerows(asdict(c) for c in checks)
    os.replace(tmp, path)


def check_files(
    root: Path,
    rels: list[str],
    cache_dir: Path,
    workers: int = 0,
    hash_size: int = 8,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[FileCheck]:
    """A :class:`FileCheck` per file of ``rels`` (same order), reusing earlier results for unchanged files."""
    settings = hashlib.sha1(repr((CHECKS_VERSION, hash_size, max_pixels)).encode()).hexdigest()[:8]
    store = Path(cache_dir) / f"file-checks-{settings}.csv"
    known = _read_checks(store)
    results: dict[str, FileCheck] = {}
    todo = []
    for rel in rels:
        stat = (root / rel).stat()
        old = known.get(rel)
        if old is not None and (old.size, old.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            results[rel] = old
        else:
            todo.append(rel)
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
        _write_checks(store, [results[r] for r in rels])
    return [results[r] for r in rels]
