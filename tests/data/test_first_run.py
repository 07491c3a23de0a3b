"""The first run's preparation: one decode per file where the cache's draft scale is the fingerprint's.

The fingerprint (dHash) always comes from the JPEG draft for ``FINGERPRINT_SIZE`` (224 px), so a file's
checks, and with them the duplicate groups and the split, are the same whatever the image size of the first
run, and the same without a cache. At 224 px the cache row comes from that same decode; at a size whose
draft scale differs the file is decoded a second time for its row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from artworks.data.cache import prepare_images
from artworks.data.images import load_image
from artworks.data.sample import _style, render
from artworks.data.validate import FINGERPRINT_SIZE, check_files, inspect_file

# name: (width, height); the draft scale for 64 px differs from the one for 224 px for all but the small
# JPEG and the PNG (draft is a no-op for non-JPEG files)
JPEGS = {"wide.jpg": (1000, 700), "mid.jpg": (600, 450), "small.jpg": (300, 200), "tiny.jpg": (120, 90)}
OTHER_SCALE = 64
SAME_SCALE_FOR_64 = {"tiny.jpg", "rotated.png"}


def _picture(seed: int, size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(seed)
    return render(_style(rng, seed % 3, 3), 96, rng).resize(size, Image.Resampling.BICUBIC)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("first-run")
    for seed, (name, size) in enumerate(JPEGS.items()):
        _picture(seed, size).save(folder / name, quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: the row is turned upright, the fingerprint is not
    _picture(7, (640, 480)).save(folder / "sideways.jpg", quality=90, exif=exif)
    _picture(8, (500, 300)).save(folder / "rotated.png")
    return folder


def _rels(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def test_checks_are_the_same_at_any_cache_size_and_without_a_cache(root, tmp_path):
    rels = _rels(root)
    no_cache = check_files(root, rels, tmp_path / "none")
    assert all(c.ok and c.dhash and c.sha1 for c in no_cache)
    for size in (FINGERPRINT_SIZE, OTHER_SCALE):
        checks, array_path = prepare_images(root, rels, tmp_path / f"cache-{size}", size)
        assert checks == no_cache  # path, size, mtime, sha1, dhash, width, height and mode alike
        rows = np.load(array_path)
        for rel, row in zip(rels, rows, strict=True):
            assert np.array_equal(row, load_image(root / rel, size)), (rel, size)  # as the uncached loader


@pytest.fixture
def decodes(monkeypatch) -> list[tuple[int, int]]:
    """The size of every image decoded from here on (an ``ImageFile.load`` call with tiles left to read)."""
    seen: list[tuple[int, int]] = []
    real = ImageFile.ImageFile.load

    def load(self):
        if self.tile:
            seen.append(self.size)
        return real(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return seen


def test_one_decode_per_file_at_224_two_where_the_draft_scales_differ(root, decodes):
    for rel in _rels(root):
        for size in (FINGERPRINT_SIZE, OTHER_SCALE):
            decodes.clear()
            check, row = inspect_file(root, rel, row_size=size)
            assert check.ok and row is not None and row.shape == (size, size, 3)
            expected = 1 if size == FINGERPRINT_SIZE or rel in SAME_SCALE_FOR_64 else 2
            assert len(decodes) == expected, (rel, size, decodes)
        decodes.clear()
        inspect_file(root, rel)  # the check alone (no cache): the fingerprint's decode only
        assert len(decodes) == 1


def test_a_first_run_at_224_decodes_each_file_once(root, tmp_path, decodes):
    rels = _rels(root)
    checks, _ = prepare_images(root, rels, tmp_path, FINGERPRINT_SIZE, workers=0)
    assert all(c.ok for c in checks) and len(decodes) == len(rels)
