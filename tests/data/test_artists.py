"""Artist folders are matched to artists.csv names, whatever their spelling."""

from __future__ import annotations

import csv
import unicodedata

from PIL import Image

from artworks.data.artists import artist_key, match_folders
from artworks.data.index import scan_images

MOJIBAKE_DURER = ["Albrecht_Du╠êrer", "Albrecht_DuΓòá├¬rer"]


def _write_tree(root, folders: dict[str, int], names: list[str]) -> None:
    with open(root / "artists.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "years", "genre", "nationality", "bio", "wikipedia", "paintings"])
        writer.writerows([i, n, "", "", "", "", "", 0] for i, n in enumerate(names))
    for folder, count in folders.items():
        (root / "images" / "images" / folder).mkdir(parents=True)
        for n in range(1, count + 1):
            Image.new("RGB", (8, 8), (n, 0, 0)).save(
                root / "images" / "images" / folder / f"{folder}_{n}.jpg"
            )


def test_spellings_reduce_to_one_key():
    names = [
        "Albrecht Dürer",
        unicodedata.normalize("NFD", "Albrecht_Dürer"),
        *MOJIBAKE_DURER,
        "Albrecht_DuÔòá├¬rer",
    ]
    matched = match_folders(names, ["Albrecht Dürer", "Vincent van Gogh", "Albrecht Altdorfer"])
    assert set(matched.values()) == {"Albrecht Dürer"}
    assert artist_key("Vincent_van_Gogh") == artist_key("Vincent van Gogh")
    assert match_folders(["Somebody_Else"], ["Albrecht Dürer"]) == {"Somebody_Else": None}


def test_two_mojibake_durer_folders_make_one_class_without_duplicates(tmp_path):
    _write_tree(
        tmp_path,
        {MOJIBAKE_DURER[0]: 5, MOJIBAKE_DURER[1]: 5, "Vincent_van_Gogh": 4, "Pierre-Auguste_Renoir": 3},
        ["Albrecht Dürer", "Vincent van Gogh", "Pierre-Auguste Renoir"],
    )
    index = scan_images(tmp_path)
    assert index.classes == ["Albrecht Dürer", "Pierre-Auguste Renoir", "Vincent van Gogh"]
    counts = [index.labels.count(i) for i in range(3)]
    assert counts == [5, 3, 4]  # the duplicated Dürer folder's files are kept once
