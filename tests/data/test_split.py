"""The split: stratified, disjoint, complete, independent of listing order, shared by experiments."""

from __future__ import annotations

import csv
import logging
import random
from collections import Counter

import pytest
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


@pytest.mark.parametrize("fractions", [(0.8, 0.1, 0.2), (0.7, 0.1, 0.1), (1.2, -0.1, -0.1)])
def test_fractions_that_do_not_sum_to_one_or_are_negative_are_refused(fractions):
    with pytest.raises(ValueError, match="must be >= 0 and sum to 1"):
        assign_splits(["a.jpg"], [0], fractions, seed=0)


def test_split_file_is_written_once_and_reused(tmp_path):
    paths, labels = _labels([20, 10])
    index = ImageIndex(root=tmp_path, paths=paths, labels=labels, classes=["a0", "a1"])
    first, path = load_or_create_split(index, tmp_path, (0.8, 0.1, 0.1), seed=42)
    mtime = path.stat().st_mtime_ns
    again, path_again = load_or_create_split(index, tmp_path, (0.8, 0.1, 0.1), seed=42)
    assert (again, path_again, path.stat().st_mtime_ns) == (first, path, mtime)
    header = path.read_text().splitlines()[0]
    assert header == "path,artist,label,split,group"


def test_the_saved_split_is_the_split_of_all_its_inputs_and_names_tiny_artists(tmp_path, caplog):
    paths, labels = _labels([30, 20, 2, 1])
    groups = [0, 0, 0, *range(3, len(paths))]  # files 0-2: copies of one painting
    index = ImageIndex(tmp_path, paths, labels, classes=["a0", "a1", "a2", "a3"], groups=groups)
    with caplog.at_level(logging.WARNING, logger="artworks.data.split"):
        first, path = load_or_create_split(index, tmp_path, (0.8, 0.1, 0.1), seed=1)
    assert first == assign_splits(paths, labels, (0.8, 0.1, 0.1), 1, groups)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "are in train: a2, a3. " in warning  # exactly the artists too small for val/test
    with path.open(newline="") as f:
        assert [row["group"] for row in csv.DictReader(f)] == [paths[g] for g in groups]

    # another seed, other fractions or other class names: another file, and the split of those inputs
    second, second_path = load_or_create_split(index, tmp_path, (0.8, 0.1, 0.1), seed=2)
    assert second_path != path and second == assign_splits(paths, labels, (0.8, 0.1, 0.1), 2, groups)
    assert load_or_create_split(index, tmp_path, (0.6, 0.2, 0.2), seed=1)[1] != path
    renamed = ImageIndex(tmp_path, paths, labels, classes=["b0", "b1", "b2", "b3"], groups=groups)
    assert load_or_create_split(renamed, tmp_path, (0.8, 0.1, 0.1), seed=1)[1] != path
    caplog.clear()
    load_or_create_split(index, tmp_path, (1.0, 0.0, 0.0), seed=1)  # no val/test asked for: nothing to warn
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="artworks.data.split"):
        load_or_create_split(index, tmp_path, (0.9, 0.1, 0.0), seed=1)  # val alone is measured too
    assert len(caplog.records) == 1


def test_every_experiment_sees_the_same_test_set(make_cfg):
    test_sets = set()
    for model in ("scratch_resnet50", "finetune_resnet50", "cbam_resnet50"):
        datamodule = instantiate(make_cfg(f"model={model}").data)
        datamodule.setup("fit")
        split_sizes = {s: len(d) for s, d in datamodule.datasets.items()}
        assert sum(split_sizes.values()) == len(datamodule.index) and split_sizes["test"] > 0
        test_sets.add((datamodule.split_path, tuple(datamodule.datasets["test"].paths)))
    assert len(test_sets) == 1
