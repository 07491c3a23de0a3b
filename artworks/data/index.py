"""Find the usable images of a Kaggle-layout root, give each its artist and group copies of one painting.

Two layouts ship in the dataset (``data.layout``):

- ``images``: ``images/images/<Artist_Name>/<Artist_Name>_<n>.jpg``, one folder per artist;
- ``resized``: ``resized/resized/<Artist_Name>_<n>.jpg``, one flat folder, the artist read from the file name;
- ``auto`` takes ``images`` when present, else ``resized``.

The root may be the unzipped folder or a kagglehub cache (``.../datasets/ikarus777/best-artworks-of-all-time/
versions/1``, or any folder above it). Folders that name the same artist (the two mojibake Dürer folders) are
merged into one class, a file present in both (same artist, same number) is kept once, and every file that
is left out is listed with its reason (see :mod:`artworks.data.validate`).
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from artworks.data.artists import folder_to_name, match_folders, read_artist_names
from artworks.data.cache import DEFAULT_LOCK_TIMEOUT, prepare_images
from artworks.data.dedup import duplicate_groups
from artworks.data.images import DEFAULT_MAX_PIXELS
from artworks.data.validate import check_files, rejected_by_name
from artworks.errors import ArtworksError
from artworks.storage import atomic_open, remove_orphans

log = logging.getLogger(__name__)

LAYOUT_DIRS = {"images": ("images/images", "images"), "resized": ("resized/resized", "resized")}
KAGGLE_HANDLE = "ikarus777/best-artworks-of-all-time"
_NUMBER = re.compile(r"_(\d+)$")

DOWNLOAD_HELP = (
    "Get the real data with `python -m artworks.data.download DIR` (needs a Kaggle account: "
    "KAGGLE_USERNAME/KAGGLE_KEY or ~/.kaggle/kaggle.json) or by hand from "
    "kaggle.com/datasets/ikarus777/best-artworks-of-all-time, unzip it and pass `data.root=DIR` "
    "(the folder holding artists.csv and images/images/). To try the project without it, use the "
    "synthetic sample: `data=sample`."
)


@dataclass(frozen=True)
class ImageIndex:
    """Every usable image under a root: relative paths, integer labels, class names and duplicate groups.

    ``groups[i]`` is the position of the first file of file i's duplicate group (``i`` itself when it has
    no copy); ``skipped`` lists (relative path, reason) for every file left out.
    """

    root: Path
    paths: list[str]
    labels: list[int]
    classes: list[str]
    groups: list[int] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    layout: str = "images"
    cache_path: Path | None = None  # the image cache of ``paths``, when scan_images built or found one

    def __post_init__(self) -> None:
        if not self.groups:
            object.__setattr__(self, "groups", list(range(len(self.paths))))

    def __len__(self) -> int:
        return len(self.paths)

    def duplicate_sets(self) -> list[list[str]]:
        """Paths of every group with more than one file."""
        members: dict[int, list[str]] = {}
        for path, group in zip(self.paths, self.groups, strict=True):
            members.setdefault(group, []).append(path)
        return [m for m in members.values() if len(m) > 1]


def resolve_root(root: Path | str) -> Path:
    """The dataset folder itself, also when ``root`` is a kagglehub cache folder above it."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise ArtworksError(f"The data root {root} does not exist. {DOWNLOAD_HELP}")
    if (root / "artists.csv").is_file() or any((root / d).is_dir() for d in ("images", "resized")):
        return root
    for above in (f"datasets/{KAGGLE_HANDLE}", KAGGLE_HANDLE, KAGGLE_HANDLE.split("/")[1], "."):
        versions = [p for p in (root / above / "versions").glob("*") if p.is_dir() and p.name.isdigit()]
        if versions:
            return max(versions, key=lambda p: int(p.name))
    return root


def find_image_dir(root: Path, layout: str = "auto") -> tuple[Path, str]:
    """The folder holding the images and the layout it has, or a clear error."""
    if layout not in ("auto", *LAYOUT_DIRS):
        raise ArtworksError(f"data.layout must be auto, images or resized, got {layout!r}.")
    for name in LAYOUT_DIRS if layout == "auto" else (layout,):
        for rel in LAYOUT_DIRS[name]:
            candidate = root / rel
            if not candidate.is_dir():
                continue
            entries = list(candidate.iterdir())
            if any(p.is_dir() for p in entries) if name == "images" else any(p.is_file() for p in entries):
                return candidate, name
    wanted = "images/images/<Artist>/" if layout != "resized" else "resized/resized/"
    raise ArtworksError(
        f"The data root {root} is not in the Kaggle layout: expected {root / wanted} "
        f"(data.layout={layout}). {DOWNLOAD_HELP}"
    )


def _number_key(stem: str) -> str:
    """Files of one artist with the same trailing number are copies (the duplicated Dürer folder)."""
    number = _NUMBER.search(stem)
    return number.group(1) if number else stem


def _artist_names(root: Path, spellings: list[str]) -> dict[str, str | None]:
    """Each folder (or file-name prefix) spelling -> its artist name (None when it matches nobody)."""
    csv_path = root / "artists.csv"
    if not csv_path.is_file():
        log.warning("No artists.csv in %s: class names are taken from the folder names.", root)
        return {s: folder_to_name(s) for s in spellings}
    try:
        names = read_artist_names(csv_path)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise ArtworksError(
            f"{csv_path} could not be read ({err}). It should be Kaggle's artists.csv with a 'name' "
            f"column; restore it from the dataset zip, or delete it to name classes after the folders."
        ) from err
    return match_folders(spellings, names)


def _candidates(image_dir: Path, layout: str) -> tuple[dict[str, list[Path]], list[tuple[Path, str]]]:
    """Files per artist spelling, and entries left out by their name or place (with the reason)."""
    by_spelling: dict[str, list[Path]] = {}
    stray: list[tuple[Path, str]] = []
    if layout == "images":
        for entry in sorted(image_dir.iterdir()):
            if entry.is_dir():
                files = by_spelling[entry.name] = []
                for path in sorted(entry.iterdir()):
                    reason = "folder in an artist folder" if path.is_dir() else rejected_by_name(path.name)
                    stray.append((path, reason)) if reason else files.append(path)
            else:
                stray.append((entry, "file outside the artist folders"))
    else:
        for entry in sorted(image_dir.iterdir()):
            reason = rejected_by_name(entry.name) if entry.is_file() else ""
            if reason:
                stray.append((entry, reason))
            elif entry.is_file():
                spelling = _NUMBER.sub("", entry.stem) if _NUMBER.search(entry.stem) else entry.stem
                by_spelling.setdefault(spelling, []).append(entry)
            else:
                stray.append((entry, "folder inside the flat resized folder"))
    return by_spelling, stray


def scan_images(
    root: Path | str,
    layout: str = "auto",
    cache_dir: Path | str | None = None,
    workers: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    hash_size: int = 8,
    near_duplicate_bits: int = 6,
    cache_size: int | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> ImageIndex:
    """Index ``root``: classes come from ``artists.csv`` names (folder names when the CSV is absent).

    Every file is checked (see :func:`artworks.data.validate.check_files`; results are kept in
    ``cache_dir``, default ``<root>/.artworks``) and bad ones are left out. Copies are grouped: same bytes,
    or difference hashes at most ``near_duplicate_bits`` apart (-1: exact copies only). With
    ``cache_size`` the usable images are also cached at that size, in the same decode as their check
    (:func:`artworks.data.cache.prepare_images`).
    """
    root = resolve_root(root)
    cache_dir = Path(cache_dir).expanduser() if cache_dir else root / ".artworks"
    remove_orphans(cache_dir)  # what killed writers left (a lock holder also removes its own kind's)
    image_dir, layout = find_image_dir(root, layout)
    by_spelling, stray = _candidates(image_dir, layout)
    matched = _artist_names(root, sorted(by_spelling))
    skipped = [(p.relative_to(root).as_posix(), reason) for p, reason in stray]

    files_by_artist: dict[str, dict[str, str]] = {}
    for spelling in sorted(by_spelling):
        artist = matched[spelling]
        rels = [p.relative_to(root).as_posix() for p in by_spelling[spelling]]
        if artist is None:
            log.warning(
                "%r matches no artist in artists.csv; its %d files are left out.", spelling, len(rels)
            )
            skipped += [(rel, f"artist {spelling!r} is not in artists.csv") for rel in rels]
            continue
        seen = files_by_artist.setdefault(artist, {})
        for rel in rels:
            key = _number_key(Path(rel).stem)
            if key in seen:
                skipped.append((rel, f"same artist and number as {seen[key]} (duplicated artist folder)"))
            else:
                seen[key] = rel

    candidates = [
        (artist, rel) for artist in sorted(files_by_artist) for rel in files_by_artist[artist].values()
    ]
    rels = [rel for _, rel in candidates]
    cached = None
    if cache_size:
        checks, cached = prepare_images(
            root, rels, cache_dir, cache_size, workers, hash_size, max_pixels, lock_timeout
        )
    else:
        checks = check_files(root, rels, cache_dir, workers, hash_size, max_pixels)
    usable: dict[str, list[int]] = {}
    for i, ((artist, rel), check) in enumerate(zip(candidates, checks, strict=True)):
        if check.ok:
            usable.setdefault(artist, []).append(i)
        else:
            skipped.append((rel, check.reason))

    classes = sorted(usable)
    if not classes:
        raise ArtworksError(f"No usable images were found under {image_dir}. {DOWNLOAD_HELP}")
    empty = sorted(set(files_by_artist) - set(usable))
    if empty:
        log.warning("Artists with no usable images are left out: %s", ", ".join(empty))
    chosen = [(label, i) for label, artist in enumerate(classes) for i in usable[artist]]
    paths = [candidates[i][1] for _, i in chosen]
    groups = duplicate_groups(
        [checks[i].sha1 for _, i in chosen], [checks[i].dhash for _, i in chosen], near_duplicate_bits
    )
    report = write_skipped(cache_dir, layout, skipped)
    if skipped:
        log.warning("%d files are left out; see %s", len(skipped), report)
    return ImageIndex(
        root=root,
        paths=paths,
        labels=[label for label, _ in chosen],
        classes=classes,
        groups=groups,
        skipped=sorted(skipped),
        layout=layout,
        cache_path=cached,
    )


def write_skipped(cache_dir: Path, layout: str, skipped: list[tuple[str, str]]) -> Path:
    """Write ``skipped-files-<layout>.csv`` (path, reason) into ``cache_dir``."""
    path = Path(cache_dir) / f"skipped-files-{layout}.csv"
    with atomic_open(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "reason"])
        writer.writerows(sorted(skipped))
    return path
