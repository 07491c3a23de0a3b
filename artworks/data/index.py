"""Find the images of a Kaggle-layout root and give each one its artist.

Layout (after unzip): ``artists.csv`` and ``images/images/<Artist_Name>/<Artist_Name>_<n>.jpg``.
Folders that name the same artist (the two mojibake Dürer folders) are merged into one class, and a file
present in both (same artist, same number) is kept once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from artworks.data.artists import folder_to_name, match_folders, read_artist_names
from artworks.errors import ArtworksError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
IMAGE_DIRS = ("images/images", "images")
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
    """Every usable image under a root: relative paths, integer labels and the class names."""

    root: Path
    paths: list[str]
    labels: list[int]
    classes: list[str]

    def __len__(self) -> int:
        return len(self.paths)


def find_image_dir(root: Path) -> Path:
    """The folder whose sub-folders are the artists, or a clear error."""
    if not root.is_dir():
        raise ArtworksError(f"The data root {root} does not exist. {DOWNLOAD_HELP}")
    for rel in IMAGE_DIRS:
        candidate = root / rel
        if candidate.is_dir() and any(p.is_dir() for p in candidate.iterdir()):
            return candidate
    raise ArtworksError(
        f"The data root {root} is not in the Kaggle layout: expected artist folders under "
        f"{root / 'images' / 'images'}. {DOWNLOAD_HELP}"
    )


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _dedup_key(path: Path) -> str:
    """Files of one artist with the same trailing number are copies (the duplicated Dürer folder)."""
    number = _NUMBER.search(path.stem)
    return number.group(1) if number else path.stem


def scan_images(root: Path | str) -> ImageIndex:
    """Index ``root``: classes come from ``artists.csv`` names (folder names when the CSV is absent)."""
    root = Path(root).expanduser().resolve()
    image_dir = find_image_dir(root)
    folders = sorted(p.name for p in image_dir.iterdir() if p.is_dir())
    csv_path = root / "artists.csv"
    if csv_path.is_file():
        try:
            names = read_artist_names(csv_path)
        except (OSError, ValueError, UnicodeDecodeError) as err:
            raise ArtworksError(
                f"{csv_path} could not be read ({err}). It should be Kaggle's artists.csv with a 'name' "
                f"column; restore it from the dataset zip, or delete it to name classes after the folders."
            ) from err
        matched = match_folders(folders, names)
    else:
        log.warning("No artists.csv in %s: class names are taken from the folder names.", root)
        matched = {f: folder_to_name(f) for f in folders}

    files_by_artist: dict[str, dict[str, Path]] = {}
    for folder in folders:
        artist = matched[folder]
        if artist is None:
            log.warning("Folder %r matches no artist in artists.csv; it is left out.", folder)
            continue
        seen = files_by_artist.setdefault(artist, {})
        for path in sorted((image_dir / folder).iterdir()):
            if _is_image(path):
                seen.setdefault(_dedup_key(path), path)

    classes = sorted(a for a, files in files_by_artist.items() if files)
    if not classes:
        raise ArtworksError(f"No images were found under {image_dir}. {DOWNLOAD_HELP}")
    empty = sorted(a for a, files in files_by_artist.items() if not files)
    if empty:
        log.warning("Artist folders with no images are left out: %s", ", ".join(empty))
    paths, labels = [], []
    for label, artist in enumerate(classes):
        for path in sorted(files_by_artist[artist].values()):
            paths.append(path.relative_to(root).as_posix())
            labels.append(label)
    return ImageIndex(root=root, paths=paths, labels=labels, classes=classes)
