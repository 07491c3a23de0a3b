"""Several runs on one data root: first runs at once, two image sizes side by side, a builder that hangs."""

from __future__ import annotations

import multiprocessing
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from artworks.data.datamodule import ArtworksDataModule
from artworks.errors import ArtworksError
from artworks.storage import file_lock
from artworks.storage.crash import TRACE_ENV


def _first_run(root: str, size: int, trace: str, start, results) -> None:
    """One run's data preparation on ``root``, started together with the others."""
    os.environ[TRACE_ENV] = trace
    dm = ArtworksDataModule(root, image_size=size, batch_size=4, num_workers=0, build_workers=2)
    start.wait(30)
    try:
        dm.setup("fit")
        results.put((trace, str(dm.cache_path), str(dm.split_path)))
    except BaseException as err:  # reported to the test, which fails with it
        results.put((trace, repr(err), ""))


def test_concurrent_first_runs_on_one_fresh_root_share_one_build_per_size(sample_root: Path, tmp_path: Path):
    root = tmp_path / "data"
    shutil.copytree(sample_root, root, ignore=shutil.ignore_patterns(".artworks"))  # images only: fresh
    runs = {"a": 32, "b": 32, "c": 48}  # two runs of one size, one of another, all on a fresh root
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(len(runs)), context.Queue()
    workers = [
        context.Process(
            target=_first_run, args=(str(root), size, str(tmp_path / f"{name}.trace"), start, results)
        )
        for name, size in runs.items()
    ]
    for w in workers:
        w.start()
    got = {
        Path(trace).stem: (cache, split)
        for trace, cache, split in (results.get(timeout=120) for _ in workers)
    }
    for w in workers:
        w.join(30)
    assert all(w.exitcode == 0 for w in workers) and all(c.endswith(".npy") for c, _ in got.values()), got
    assert got["a"] == got["b"] and got["a"][1] == got["c"][1]  # one cache per size, one split for all
    assert np.array_equal(np.load(got["a"][0]), np.load(got["b"][0]))
    assert np.load(got["c"][0]).shape[1:] == (48, 48, 3)
    built = {name for name in runs if "cache-rows" in (tmp_path / f"{name}.trace").read_text()}
    assert built in ({"a", "c"}, {"b", "c"})  # of the two 32 px runs one built, the other waited for it
    assert sorted(root.joinpath(".artworks").glob("*.tmp*")) == []


def _hold_lock(lock: str, ready, release) -> None:
    with file_lock(lock, "the test", timeout=5):
        ready.set()
        release.wait(60)


def test_a_run_waiting_longer_than_data_lock_timeout_is_told_who_builds(sample_root: Path, tmp_path: Path):
    cache_dir = tmp_path / "cache"
    context = multiprocessing.get_context("fork")
    ready, release = context.Event(), context.Event()
    builder = context.Process(target=_hold_lock, args=(str(cache_dir / "images-32px.lock"), ready, release))
    builder.start()
    assert ready.wait(30)
    try:
        dm = ArtworksDataModule(
            str(sample_root), image_size=32, batch_size=4, cache_dir=str(cache_dir), build_workers=1,
            lock_timeout=0.5,
        )  # fmt: skip
        with pytest.raises(ArtworksError) as err:
            dm.setup("fit")
    finally:
        release.set()
        builder.join(30)
    message = " ".join(err.value.render().split())
    assert "raise data.lock_timeout" in message
    assert (
        f"Waited 0.5 s for the 32 px image cache in {cache_dir}, which is locked by process {builder.pid}"
        in message
    )


def test_the_cache_size_can_exceed_the_training_size(sample_root: Path, tmp_path: Path):
    dm = ArtworksDataModule(
        str(sample_root), image_size=32, cache_image_size=40, batch_size=4, num_workers=0,
        cache_dir=str(tmp_path), build_workers=1,
    )  # fmt: skip
    dm.setup("fit")
    assert (dm.image_size, dm.cache_image_size) == (32, 40) and dm.cache_path.name.startswith("images-40px-")
    images, _ = next(iter(dm.train_dataloader()))
    assert images.shape[1:] == (3, 40, 40)  # served at the cached size: crops to 32 happen on the device
    with pytest.raises(ArtworksError, match="data.cache_image_size=24 is smaller than data.image_size=32"):
        ArtworksDataModule(str(sample_root), image_size=32, cache_image_size=24)
