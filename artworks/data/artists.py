"""Artist names as they appear in ``artists.csv`` and as (mis)spelled in folder and file names.

The CSV says ``Vincent van Gogh`` while folders say ``Vincent_van_Gogh``; Albrecht Dürer's folder arrives
as mojibake (``Albrecht_Du╠êrer``, ``Albrecht_DuΓòá├¬rer``...) and twice. Every spelling is reduced to
an ASCII key, and keys that still differ are matched to the closest CSV name.
"""

from __future__ import annotations

import csv
import difflib
import unicodedata
from pathlib import Path

FUZZY_CUTOFF = 0.8


def artist_key(name: str) -> str:
    """A spelling-independent key: accents, separators, case and stray bytes removed."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


def folder_to_name(folder: str) -> str:
    """A readable name for a folder when no CSV name matches it."""
    return unicodedata.normalize("NFC", folder).replace("_", " ").strip()


def read_artist_names(csv_path: Path) -> list[str]:
    """The ``name`` column of Kaggle's ``artists.csv``."""
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "name" not in reader.fieldnames:
            raise ValueError(f"{csv_path} has no 'name' column (columns: {reader.fieldnames})")
        return [unicodedata.normalize("NFC", row["name"].strip()) for row in reader if row["name"].strip()]


def match_folders(folders: list[str], names: list[str]) -> dict[str, str | None]:
    """Map each folder to its CSV artist name, or ``None`` when nothing is close enough."""
    by_key = {artist_key(n): n for n in names}
    keys = sorted(by_key)
    matched: dict[str, str | None] = {}
    for folder in folders:
        key = artist_key(folder)
        if key not in by_key:
            close = difflib.get_close_matches(key, keys, n=1, cutoff=FUZZY_CUTOFF)
            key = close[0] if close else None
        matched[folder] = by_key[key] if key else None
    return matched
