"""A stratified train/val/test split that depends only on the file list and the seed.

Copies of one painting (a duplicate group, see :mod:`artworks.data.dedup`) move together: the unit of the
split is the group, which belongs to the class of its first file. Each class's groups are ordered by a hash
of (seed, first path), so the split is the same whatever order the file system lists them in, and adding a
class never reshuffles the others. Per class, ``round(n * f)`` of its n groups go to val and to test, with
at least one each when the class has three or more groups; a class with fewer (a tiny artist folder) keeps
all its images in train, and is logged. The split is written once to a CSV (with each file's group) named
after a hash of its inputs and read back on later runs, so every experiment on the same data sees the same
test set.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections import defaultdict
from pathlib import Path

from artworks.data.index import ImageIndex
from artworks.storage import atomic_open

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


def _order_key(seed: int, path: str) -> str:
    return hashlib.sha1(f"{seed}:{path}".encode()).hexdigest()


def assign_splits(
    paths: list[str],
    labels: list[int],
    fractions: tuple[float, float, float],
    seed: int,
    groups: list[int] | None = None,
) -> list[str]:
    """The split name of each file, stratified by label; files of one group always share a split.

    ``groups[i]`` is the index of the first file of file i's group (default: every file alone).
    """
    if abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {fractions}")
    groups = list(range(len(paths))) if groups is None else groups
    members_of: dict[int, list[int]] = defaultdict(list)
    for i, group in enumerate(groups):
        members_of[group].append(i)
    by_class: dict[int, list[int]] = defaultdict(list)
    for group in members_of:
        by_class[labels[group]].append(group)
    assigned = [""] * len(paths)
    for class_groups in by_class.values():
        class_groups.sort(key=lambda g: _order_key(seed, paths[g]))
        n = len(class_groups)
        n_val, n_test = (round(n * f) for f in fractions[1:])
        if n >= 3:
            n_val, n_test = max(n_val, 1 if fractions[1] else 0), max(n_test, 1 if fractions[2] else 0)
        else:
            n_val = n_test = 0
        for rank, group in enumerate(class_groups):
            split = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
            for i in members_of[group]:
                assigned[i] = split
    return assigned


def split_file_name(index: ImageIndex, fractions: tuple[float, float, float], seed: int) -> str:
    digest = hashlib.sha1()
    digest.update(repr((seed, tuple(fractions), index.classes)).encode())
    for path, label, group in zip(index.paths, index.labels, index.groups, strict=True):
        digest.update(f"{path}\t{label}\t{index.paths[group]}\n".encode())
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
    assigned = assign_splits(index.paths, index.labels, fractions, seed, index.groups)
    train_only = sorted(
        {index.classes[lb] for lb in index.labels}
        - {index.classes[lb] for lb, s in zip(index.labels, assigned, strict=True) if s != "train"}
    )
    if train_only and any(fractions[1:]):
        log.warning(
            "Too few paintings (fewer than 3 after grouping duplicates) to put in val/test, so all of them "
            "are in train: %s. Their val/test accuracy is not measured.",
            ", ".join(train_only),
        )
    with atomic_open(split_path, newline="") as f:  # every experiment on this data trusts it: whole or absent
        writer = csv.writer(f)
        writer.writerow(["path", "artist", "label", "split", "group"])
        for path, label, split, group in zip(index.paths, index.labels, assigned, index.groups, strict=True):
            writer.writerow([path, index.classes[label], label, split, index.paths[group]])
    return assigned, split_path
