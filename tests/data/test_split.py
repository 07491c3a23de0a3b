"""The split: stratified, disjoint, complete, independent of listing order, shared by experiments."""

from __future__ import annotations

import random
from collections import Counter

from hydra.utils import instantiate

from artworks.data.index import ImageIndex
from artworks.data.split import assign_splits, load_or_create_split


def _labels(counts: list[int]) -> tuple[list[str], list[int]]:
    paths, labels = [], []
    for label, n in enumerate(counts):
        paths += [f"images/images/a{label}/a{label}_{i}.jpg" for i in range(n)]
        labels += [label] * n
    return paths, labels


def test_split_is_stratified_disjoint_and_complete():
    paths, labels = _labels([877, 120, 31, 24, 3, 2])
    assigned = assign_splits(paths, labels, (0.8, 0.1, 0.1), seed=42)
    assert len(assigned) == len(paths) and set(assigned) <= {"train", "val", "test"}
    per_class = Counter(zip(labels, assigned, strict=True))
    for label, n in enumerate([877, 120, 31, 24]):
        assert per_class[label, "val"] == round(n * 0.1)
        assert per_class[label, "test"] == round(n * 0.1)
        assert per_class[label, "train"] == n - 2 * round(n * 0.1)
    assert per_class[4, "val"] == per_class[4, "test"] == 1  # 3 images: one in each split
    assert per_class[5, "train"] == 2  # too few to split: documented rule keeps them in train


def test_split_ignores_listing_order_and_depends_on_seed():
    paths, labels = _labels([50, 40, 30])
    reference = dict(zip(paths, assign_splits(paths, labels, (0.8, 0.1, 0.1), seed=1), strict=True))
    order = list(range(len(paths)))
    random.Random(0).shuffle(order)
    shuffled = assign_splits([paths[i] for i in order], [labels[i] for i in order], (0.8, 0.1, 0.1), seed=1)
    assert dict(zip([paths[i] for i in order], shuffled, strict=True)) == reference
    other_seed = dict(zip(paths, assign_splits(paths, labels, (0.8, 0.1, 0.1), seed=2), strict=True))
    assert other_seed != reference


def test_split_file_is_written_once_and_reused(tmp_path):
    paths, labels = _labels([20, 10])
    index = ImageIndex(root=tmp_path, paths=paths, labels=labels, classes=["a0", "a1"])
    first, path = load_or_create_split(index, tmp_path, (0.8, 0.1, 0.1), seed=42)
    mtime = path.stat().st_mtime_ns
    again, path_again = load_or_create_split(index, tmp_path, (0.8, 0.1, 0.1), seed=42)
    assert (again, path_again, path.stat().st_mtime_ns) == (first, path, mtime)
    header = path.read_text().splitlines()[0]
    assert header == "path,artist,label,split,group"


def test_every_experiment_sees_the_same_test_set(make_cfg):
    test_sets = set()
    for model in ("scratch_resnet50", "finetune_resnet50", "cbam_resnet50"):
        datamodule = instantiate(make_cfg(f"model={model}").data)
        datamodule.setup("fit")
        split_sizes = {s: len(d) for s, d in datamodule.datasets.items()}
        assert sum(split_sizes.values()) == len(datamodule.index) and split_sizes["test"] > 0
        test_sets.add((datamodule.split_path, tuple(datamodule.datasets["test"].paths)))
    assert len(test_sets) == 1
