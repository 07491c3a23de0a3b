"""Indexing, checking, de-duplicating, splitting and caching a Kaggle-layout tree with every real-world quirk.

The tree (made by ``quirk_tree``) holds: a truncated JPEG, a zero-byte file, ``.DS_Store``, ``Thumbs.db``, a
text file named ``.jpg``, CMYK, 16-bit, palette (with transparency), RGBA and greyscale images, a 6 MP image,
both mojibake Dürer folders with the same files, an exact copy, a re-scanned (resized and recompressed) copy,
a tiny artist folder, and a flat ``resized/resized/`` folder.
"""

from __future__ import annotations

import csv
import errno
import logging
import os
import shutil
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artworks.data.cache import CachedImageDataset, build_cache, keep_batch
from artworks.data.datamodule import ArtworksDataModule
from artworks.data.images import ImageFileDataset, decode, load_image
from artworks.data.index import scan_images
from artworks.data.sample import _style, render
from artworks.data.split import load_or_create_split
from artworks.errors import ArtworksError

DURER = ["Albrecht_Du╠êrer", "Albrecht_DuΓòá├¬rer"]
ARTISTS = {"Vincent_van_Gogh": 8, "Edgar_Degas": 6, DURER[0]: 4, "Jackson_Pollock": 2}
GOGH = "images/images/Vincent_van_Gogh"
SIZE = 32


def _paint(artist: int, n: int, size: int = 64) -> Image.Image:
    rng = np.random.default_rng([artist, n])
    return render(_style(rng, artist, len(ARTISTS)), size, rng)


def make_quirk_tree(root: Path) -> Path:
    """Write the quirky tree under ``root`` and return it."""
    with open(root / "artists.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "years", "genre", "nationality", "bio", "wikipedia", "paintings"])
        names = ["Vincent van Gogh", "Edgar Degas", "Albrecht Dürer", "Jackson Pollock"]
        writer.writerows([i, name, "", "", "", "", "", 0] for i, name in enumerate(names))
    for a, (folder, count) in enumerate(ARTISTS.items()):
        (root / "images" / "images" / folder).mkdir(parents=True)
        for n in range(1, count + 1):
            _paint(a, n).save(root / "images" / "images" / folder / f"{folder}_{n}.jpg", quality=90)
    # The second Dürer folder repeats the first (same bytes, its own mangled names).
    second = root / "images" / "images" / DURER[1]
    second.mkdir()
    for n in range(1, ARTISTS[DURER[0]] + 1):
        source = root / "images" / "images" / DURER[0] / f"{DURER[0]}_{n}.jpg"
        shutil.copy(source, second / f"{DURER[1]}_{n}.jpg")

    gogh = root / GOGH
    big = _paint(0, 100, 256)
    big.resize((768, 768)).save(gogh / "Vincent_van_Gogh_20.jpg", quality=95)
    data = (gogh / "Vincent_van_Gogh_20.jpg").read_bytes()
    (gogh / "Vincent_van_Gogh_20.jpg").write_bytes(data[: len(data) // 2])  # truncated
    (gogh / "Vincent_van_Gogh_21.jpg").write_bytes(b"")
    (gogh / "Vincent_van_Gogh_22.jpg").write_text("<html>404 not found</html>")
    (gogh / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (gogh / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    _paint(0, 30).convert("CMYK").save(gogh / "Vincent_van_Gogh_30.jpg")
    grey16 = (np.asarray(_paint(0, 31).convert("L"), np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16).save(gogh / "Vincent_van_Gogh_31.png")
    assert Image.open(gogh / "Vincent_van_Gogh_31.png").mode.startswith("I")
    palette = _paint(0, 32).convert("P", palette=Image.Palette.ADAPTIVE)
    palette.save(gogh / "Vincent_van_Gogh_32.png", transparency=0)
    rgba = _paint(0, 33).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    rgba.save(gogh / "Vincent_van_Gogh_33.png")
    _paint(0, 34).convert("L").save(gogh / "Vincent_van_Gogh_34.jpg")
    _paint(0, 35, 256).resize((3000, 2000)).save(gogh / "Vincent_van_Gogh_35.jpg", quality=80)  # 6 MP
    shutil.copy(gogh / "Vincent_van_Gogh_1.jpg", gogh / "Vincent_van_Gogh_40.jpg")  # exact copy
    _paint(0, 2).resize((45, 45)).save(gogh / "Vincent_van_Gogh_41.jpg", quality=60)  # re-scan of _2

    flat = root / "resized" / "resized"
    flat.mkdir(parents=True)
    for a, (folder, _) in enumerate(ARTISTS.items()):
        for n in (1, 2, 3):
            _paint(a, n).resize((48, 48)).save(flat / f"{folder}_{n}.jpg")
    (flat / ".DS_Store").write_bytes(b"\x00")
    return root


@pytest.fixture(scope="module")
def quirk_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_quirk_tree(tmp_path_factory.mktemp("quirks"))


@pytest.fixture(scope="module")
def index(quirk_root: Path):
    return scan_images(quirk_root, layout="images", cache_dir=quirk_root.parent / "index-cache")


def test_bad_files_are_left_out_and_reported_with_a_reason(index, quirk_root):
    skipped = dict(index.skipped)
    assert "truncated" in skipped[f"{GOGH}/Vincent_van_Gogh_20.jpg"]
    assert "empty" in skipped[f"{GOGH}/Vincent_van_Gogh_21.jpg"]
    assert "not a readable image" in skipped[f"{GOGH}/Vincent_van_Gogh_22.jpg"]
    assert skipped[f"{GOGH}/.DS_Store"] == skipped[f"{GOGH}/Thumbs.db"] == "stray system file"
    durer_copies = [p for p in skipped if "Albrecht" in p]  # one folder is kept, the other skipped
    assert len(durer_copies) == 4 and len({Path(p).parent for p in durer_copies}) == 1
    assert all("duplicated artist folder" in skipped[p] for p in durer_copies)
    assert len(skipped) == 9
    report = quirk_root.parent / "index-cache" / "skipped-files-images.csv"
    with open(report, newline="", encoding="utf-8") as f:
        assert {r["path"]: r["reason"] for r in csv.DictReader(f)} == skipped
    assert not set(skipped) & set(index.paths)


def test_classes_merge_durer_and_keep_every_mode(index):
    assert index.classes == ["Albrecht Dürer", "Edgar Degas", "Jackson Pollock", "Vincent van Gogh"]
    assert Counter(index.labels) == {0: 4, 1: 6, 2: 2, 3: 8 + 8}  # Gogh: 8 + CMYK..6 MP + two copies
    for suffix in ("30.jpg", "31.png", "32.png", "33.png", "34.jpg", "35.jpg"):
        assert f"{GOGH}/Vincent_van_Gogh_{suffix}" in index.paths


def test_every_mode_becomes_plausible_rgb(quirk_root):
    gogh = quirk_root / GOGH
    reference = np.asarray(_paint(0, 30).resize((SIZE, SIZE), Image.Resampling.BILINEAR), np.float64)
    cmyk = load_image(gogh / "Vincent_van_Gogh_30.jpg", SIZE).astype(np.float64)
    assert np.abs(cmyk - reference).mean() < 12  # colours survive CMYK (not inverted)
    grey16 = load_image(gogh / "Vincent_van_Gogh_31.png", SIZE)
    expected = np.asarray(_paint(0, 31).convert("L").resize((SIZE, SIZE), Image.Resampling.BILINEAR))
    assert np.abs(grey16[..., 0].astype(int) - expected).mean() < 3  # scaled, not clipped to white
    rgba = load_image(gogh / "Vincent_van_Gogh_33.png", SIZE)
    assert rgba[0].min() > 240  # the fully transparent top row is laid on white
    for name in ("Vincent_van_Gogh_32.png", "Vincent_van_Gogh_34.jpg"):
        array = load_image(gogh / name, SIZE)
        assert array.shape == (SIZE, SIZE, 3) and array.dtype == np.uint8


def test_large_image_decodes_in_draft_mode_and_a_limit_skips_it(quirk_root, tmp_path):
    big = quirk_root / GOGH / "Vincent_van_Gogh_35.jpg"
    assert max(decode(big, SIZE).size) <= 3000 // 8 + 1  # libjpeg decoded at 1/8 scale
    limited = scan_images(quirk_root, layout="images", cache_dir=tmp_path, max_pixels=1_000_000)
    assert "too large" in dict(limited.skipped)[f"{GOGH}/Vincent_van_Gogh_35.jpg"]


def test_copies_are_grouped_and_never_split(index, tmp_path, caplog):
    groups = {frozenset(g) for g in index.duplicate_sets()}
    assert frozenset({f"{GOGH}/Vincent_van_Gogh_1.jpg", f"{GOGH}/Vincent_van_Gogh_40.jpg"}) in groups
    assert frozenset({f"{GOGH}/Vincent_van_Gogh_2.jpg", f"{GOGH}/Vincent_van_Gogh_41.jpg"}) in groups
    assert len(groups) == 2  # distinct paintings are not merged
    with caplog.at_level(logging.WARNING):
        for seed in range(8):
            assigned, split_path = load_or_create_split(index, tmp_path, (0.5, 0.25, 0.25), seed)
            split_of = dict(zip(index.paths, assigned, strict=True))
            assert all(len({split_of[p] for p in g}) == 1 for g in groups)
    assert "Jackson Pollock" in caplog.text  # too few to split: named, all in train
    with open(split_path, newline="", encoding="utf-8") as f:
        rows = {r["path"]: r for r in csv.DictReader(f)}
    assert rows[f"{GOGH}/Vincent_van_Gogh_40.jpg"]["group"] == f"{GOGH}/Vincent_van_Gogh_1.jpg"
    assert {rows[p]["split"] for p in rows if "Pollock" in p} == {"train"}


def test_flat_resized_layout_and_kagglehub_path(quirk_root, tmp_path):
    flat = scan_images(quirk_root, layout="resized", cache_dir=tmp_path)
    assert flat.layout == "resized" and len(flat) == 12 and len(flat.classes) == 4
    assert dict(flat.skipped) == {"resized/resized/.DS_Store": "stray system file"}
    versions = tmp_path / "kagglehub" / "datasets" / "ikarus777" / "best-artworks-of-all-time" / "versions"
    versions.mkdir(parents=True)
    (versions / "1").symlink_to(quirk_root, target_is_directory=True)
    via_cache = scan_images(tmp_path / "kagglehub", cache_dir=tmp_path / "c")
    assert via_cache.layout == "images" and via_cache.classes == flat.classes


def test_file_checks_are_reused_and_redone_for_changed_files(quirk_root, tmp_path, monkeypatch):
    root = tmp_path / "copy"
    shutil.copytree(quirk_root, root, symlinks=True)
    scan_images(root, layout="resized")
    opened = []
    import artworks.data.validate as validate

    real = validate.inspect_file
    monkeypatch.setattr(validate, "inspect_file", lambda r, rel, *a: opened.append(rel) or real(r, rel, *a))
    scan_images(root, layout="resized")
    assert opened == []
    _paint(3, 9).save(root / "resized" / "resized" / "Edgar_Degas_1.jpg")
    scan_images(root, layout="resized")
    assert [Path(p).name for p in opened] == ["Edgar_Degas_1.jpg"]


# -- the cache -----------------------------------------------------------------------------------


def test_cache_is_built_once_reused_and_rebuilt_when_inputs_change(index, tmp_path):
    first = build_cache(index.root, index.paths, SIZE, tmp_path)
    mtime = first.stat().st_mtime_ns
    assert build_cache(index.root, index.paths, SIZE, tmp_path) == first
    assert first.stat().st_mtime_ns == mtime
    assert build_cache(index.root, index.paths, SIZE + 8, tmp_path) != first
    assert build_cache(index.root, index.paths[1:], SIZE, tmp_path) != first
    array = np.load(first, mmap_mode="r")
    assert array.shape == (len(index), SIZE, SIZE, 3) and array.dtype == np.uint8


def test_parallel_build_matches_uncached_images_without_holding_the_array(index, tmp_path):
    peaks = []
    for repeat in (1, 4):
        tracemalloc.start()
        serial = build_cache(index.root, index.paths * repeat, SIZE, tmp_path / f"serial{repeat}")
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    array_bytes = len(index) * SIZE * SIZE * 3
    assert peaks[1] < peaks[0] + array_bytes  # 3 arrays more rows, < 1 array more memory: rows go to disk
    parallel = build_cache(index.root, index.paths, SIZE, tmp_path / "parallel", workers=2)
    assert np.array_equal(np.load(serial)[: len(index)], np.load(parallel))
    rows = list(range(0, len(index), 3))
    cached = CachedImageDataset(serial, rows, [index.paths[i] for i in rows], [index.labels[i] for i in rows])
    uncached = ImageFileDataset(index.root, cached.paths, cached.labels, SIZE)
    images, labels = keep_batch(cached.__getitems__(list(range(len(rows)))))
    assert images.dtype == torch.uint8 and images.shape == (len(rows), 3, SIZE, SIZE)
    for i in range(len(rows)):
        assert torch.equal(images[i], uncached[i][0]) and int(labels[i]) == uncached[i][1]
        assert torch.equal(cached[i][0], uncached[i][0])


def test_datamodule_serves_equal_uint8_batches_cached_and_uncached(quirk_root, tmp_path):
    batches = {}
    for cache in (True, False):
        dm = ArtworksDataModule(
            str(quirk_root), image_size=SIZE, batch_size=4, num_workers=1, cache=cache,
            cache_dir=str(tmp_path), split_fractions=(0.5, 0.25, 0.25), build_workers=1,
        )  # fmt: skip
        dm.setup("fit")
        assert (dm.cache_path is not None) == cache
        batches[cache] = list(dm.val_dataloader())
        train_images, _ = next(iter(dm.train_dataloader()))
        assert train_images.dtype == torch.uint8 and train_images.shape == (4, 3, SIZE, SIZE)
    assert len(batches[True]) == len(batches[False]) > 0
    for (a, la), (b, lb) in zip(batches[True], batches[False], strict=True):
        assert torch.equal(a, b) and torch.equal(la, lb)


# -- the first run: one decode per file ----------------------------------------------------------


def test_first_run_checks_and_caches_every_file_in_one_decode_as_two_passes_would(
    index, quirk_root, tmp_path, monkeypatch
):
    import artworks.data.cache as cache
    import artworks.data.validate as validate

    inspected, row_decodes = [], []
    real_inspect, real_load = validate.inspect_file, cache.load_image
    monkeypatch.setattr(
        cache, "inspect_file", lambda r, rel, *a: inspected.append(rel) or real_inspect(r, rel, *a)
    )
    monkeypatch.setattr(cache, "load_image", lambda *a: row_decodes.append(a[0]) or real_load(*a))
    fused = scan_images(quirk_root, layout="images", cache_dir=tmp_path / "fused", cache_size=SIZE)
    assert len(inspected) == len(set(inspected)) and row_decodes == []  # each file read and decoded once
    # the same index as the check-only pass (these files are small: the same draft scale either way) ...
    assert (fused.paths, fused.labels, fused.groups, fused.skipped) == (
        index.paths, index.labels, index.groups, index.skipped
    )  # fmt: skip
    # ... and the same rows as caching the files that passed, bad files (truncated, empty, HTML) left out
    two_pass = build_cache(index.root, index.paths, SIZE, tmp_path / "two-pass")
    assert fused.cache_path.name == two_pass.name
    assert np.array_equal(np.load(fused.cache_path), np.load(two_pass))

    inspected.clear(), row_decodes.clear()
    other = scan_images(quirk_root, layout="images", cache_dir=tmp_path / "fused", cache_size=SIZE + 8)
    assert inspected == [] and len(row_decodes) == len(index)  # a new size: checks reused, rows decoded
    assert np.array_equal(
        np.load(other.cache_path), np.load(build_cache(index.root, index.paths, SIZE + 8, tmp_path))
    )
    assert [p.name for p in (tmp_path / "fused").glob("*.tmp*")] == []


def test_disk_full_during_a_cache_build_is_one_paragraph_and_leaves_nothing(index, tmp_path, monkeypatch):
    earlier = build_cache(index.root, index.paths, SIZE, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())

    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(ArtworksError) as err:
        build_cache(index.root, index.paths, SIZE + 8, tmp_path)
    message = " ".join(err.value.render().split())
    assert message.startswith(
        f"The disk is full: the {SIZE + 8} px image cache of {len(index)} images needs "
    )
    assert "data.cache_dir=DIR" in message and "Nothing was left behind" in message
    leftover = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith((".lock", ".json")))
    assert leftover == [n for n in before if not n.endswith((".lock", ".json"))]  # no temporary, no new array
    assert np.array_equal(np.load(earlier), np.load(build_cache(index.root, index.paths, SIZE, tmp_path)))
