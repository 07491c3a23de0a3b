"""A stratified train/val/test split that depends only on the file list and the seed.

Each class's files are ordered by a hash of (seed, path), so the split is the same whatever order the
file system lists them in, and adding a class never reshuffles the others. Per class, ``round(n * f)``
files go to val and to test, with at least one each when the class has three or more images (a class with
fewer keeps them all in train). The split is written once to a CSV named after a hash of its inputs and
read back on later runs, so every experiment on the same data sees the same test set.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections import defaultdict
from pathlib import Path

from artworks.data.index import ImageIndex

SPLITS = ("train", "val", "test")


def _order_key(seed: int, path: str) -> str:
    return hashlib.sha1(f"{seed}:{path}".encode()).hexdigest()


def assign_splits(
    paths: list[str], labels: list[int], fractions: tuple[float, float, float], seed: int
) -> list[str]:
    """The split name of each file, stratified by label."""
    if abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {fractions}")
    by_class: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_class[label].append(i)
    assigned = [""] * len(paths)
    for members in by_class.values():
        members.sort(key=lambda i: _order_key(seed, paths[i]))
        n = len(members)
        n_val, n_test = (round(n * f) for f in fractions[1:])
        if n >= 3:
            n_val, n_test = max(n_val, 1 if fractions[1] else 0), max(n_test, 1 if fractions[2] else 0)
        else:
            n_val = n_test = 0
        for rank, i in enumerate(members):
            assigned[i] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return assigned


def split_file_name(index: ImageIndex, fractions: tuple[float, float, float], seed: int) -> str:
    digest = hashlib.sha1()
    digest.update(repr((seed, tuple(fractions), index.classes)).encode())
    for path, label in zip(index.paths, index.labels, strict=True):
        digest.update(f"{path}\t{label}\n".encode())
    return f"split-{digest.hexdigest()[:12]}.csv"


def load_or_create_split(
    index: ImageIndex, cache_dir: Path, fractions: tuple[float, float, float], seed: int
) -> tuple[list[str], Path]:
    """The split of ``index``: read from ``cache_dir`` when it was made before, else made and saved."""
    split_path = Path(cache_dir) / split_file_name(index, fractions, seed)
    if split_path.is_file():
        with open(split_path, newline="", encoding="utf-8") as f:
            rows = {row["path"]: row["split"] for row in csv.DictReader(f)}
        if set(rows) == set(index.paths):
            return [rows[p] for p in index.paths], split_path
    assigned = assign_splits(index.paths, index.labels, fractions, seed)
    split_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = split_path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "artist", "label", "split"])
        for path, label, split in zip(index.paths, index.labels, assigned, strict=True):
            writer.writerow([path, index.classes[label], label, split])
    os.replace(tmp, split_path)
    return assigned, split_path
