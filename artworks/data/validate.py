"""Check every candidate file once while indexing, so a bad file is left out instead of crashing an epoch.

Each file is read once and fully decoded (libjpeg reads the whole stream, so a truncated file is caught).
The decode records what duplicate detection needs: a SHA-1 of the bytes and a difference hash ("dHash") of
the picture (:func:`inspect_file`; :mod:`artworks.data.cache` runs it in parallel, and with it writes the
cache row on a first run).

The fingerprint has one canonical decode, whatever the image size of the run: the JPEG draft for
``FINGERPRINT_SIZE`` (224) px, greyed and resized to the dHash thumbnail with Lanczos (deterministic).
It must not depend on the image size of the first run: a fingerprint taken at the cache's scale would move
by a bit or two with it, and with it the duplicate groups and so the split. When the cache row is wanted
too (``row_size``), the draft scale Pillow picks for ``row_size`` is compared, without decoding, with the
one it picks for ``FINGERPRINT_SIZE`` (a second ``Image`` opened on the same bytes and drafted; sizes,
modes and scales compared). When they are the same (at 224 always, at 256 for most images, for non-JPEG
files always, draft being a no-op there) the file is decoded ONCE and both the fingerprint and the row
come from that decode; otherwise it is decoded twice, once at each scale (from the bytes already in
memory: still one read). Without a cache (:func:`check_files`) there is only the fingerprint's decode.
Results are kept in a CSV in the cache folder keyed by file size and mtime, so later runs, of any image
size, only check new or changed files: a root's checks, duplicate groups and split are fixed by its first
run.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import multiprocessing
import operator
import signal
from dataclasses import dataclass, fields
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
CHECKS_VERSION = 2  # bump when a check's fields change for the same file (2: fingerprint at FINGERPRINT_SIZE)
# The draft size of the fingerprint's decode: fixed, so fingerprints (and duplicate groups, and the split) do
# not depend on the image size of the first run; 224 px, the study's image size, so that at the default size
# the fingerprint and the cache row come from one decode.
FINGERPRINT_SIZE = 224
# The dHash thumbnail is resized from that decode with plain Lanczos (~0.8 ms from a ~500x400 draft). Faster
# choices were measured and rejected: box reduction first (reducing_gap 2-3, ~0.2 ms) moved resized and
# recompressed copies of a painting up to 11-12 bits apart (past the 6-bit near-duplicate threshold), where
# plain Lanczos keeps them within 3; BOX/BILINEAR/HAMMING alone move every fingerprint by 5-8 bits from the
# earlier versions' Lanczos ones, plain Lanczos by ~1 (none for files small enough to be decoded whole).


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


def _drafted(img: Image.Image, size: int) -> tuple:
    """What ``img`` (opened, not loaded) decodes to after ``draft`` for ``size``: mode, size, JPEG scale."""
    img.draft("RGB", (size, size))
    return img.mode, img.size, getattr(img, "decoderconfig", ())


def inspect_file(
    root: Path,
    rel: str,
    hash_size: int = 8,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    row_size: int | None = None,
) -> tuple[FileCheck, np.ndarray | None]:
    """Check and fingerprint ``root / rel`` from one read; never raises for a bad file.

    With ``row_size`` it also gives the file's cache row (``row_size``² × 3 uint8, exactly what
    :func:`artworks.data.images.load_image` returns), None for a bad file: from the fingerprint's decode when
    the draft scale for ``row_size`` is the fingerprint's (one decode), else from a second decode.
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
    row_img = None  # the image the row is taken from: img itself when the draft scales agree
    try:
        drafted = _drafted(img, FINGERPRINT_SIZE)
        if row_size == FINGERPRINT_SIZE:
            row_img = img
        elif row_size:
            row_img = open_image(io.BytesIO(data), max_pixels)  # header only: no decode yet
            if _drafted(row_img, row_size) == drafted:
                row_img.close()
                row_img = img
        img.load()
        fingerprint = dhash(to_rgb(img), hash_size)
        if row_img is not None and row_img is not img:
            row_img.load()  # the second decode, at the row's scale
        row = rgb_row(row_img, row_size) if row_img is not None else None
    except (OSError, ValueError, SyntaxError) as err:
        return FileCheck(**base, reason=f"truncated or corrupt: {err}", **shape), None
    finally:
        img.close()
        if row_img is not None:
            row_img.close()
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
    names = [fl.name for fl in fields(FileCheck)]
    row = operator.attrgetter(*names)  # not dataclasses.asdict: its deep copy is most of the time at 8k rows
    with atomic_open(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        writer.writerows(map(row, checks))


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
