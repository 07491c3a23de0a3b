"""Crash consistency, tested like a database: SIGKILL a run anywhere, resume, and nothing is lost or left.

A small run (the tiny timm network, the tiny sample copied to a fresh data root, image cache on, a
checkpoint after every step) is killed at points spread over its whole life, from the first write of its
run folder through the file checks, the cache build, training steps, checkpoint writes, validation and
testing to the last report, and continued with ``resume=auto`` after each kill. Kills inside a write land
exactly there through named crash points (``ARTWORKS_CRASH_AT``): between finishing the temporary file and
syncing it, between syncing and renaming, and after the rename. Then (a) the final metrics equal an
uninterrupted run's exactly, (b) no temporary file is left under the cache or the run folder, (c) every
JSON and CSV left behind parses. The default suite kills at 5 points drawn (seeded) from the catalog;
``make test-slow`` kills at every catalog point and then at random moments.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

import pytest

from artworks.storage import temp_files
from tests.storage.crash_runs import KILLED, kill_env, leftovers, run_forked, unparsable

# Kill points in the order a run's life passes them. ``<stage>:<n>``: before batch n (the global step for
# train) of a loop; anything else: a named point of artworks.storage, ``<point>@<file glob>``, counted from
# the start of the run it is set for. Each fires in a run resumed after any earlier entry.
CATALOG = [
    "before-replace@resume.json",
    "after-replace@provenance.json",
    "cache-rows",  # after the first rows of the first-run pass (check + hash + cache row)
    "before-replace@file-checks-*.csv",
    "before-replace@images-*px-*.json",
    "before-sync@images-*px-*.npy",
    "before-replace@images-*px-*.npy",
    "after-replace@images-*px-*.npy",
    "before-replace@skipped-files-*.csv",
    "before-replace@split-*.csv",
    "after-replace@stats-*.json",
    "train:0",
    "before-sync@last.ckpt",
    "train:1",
    "before-replace@last.ckpt",
    "validate:0",
    "before-replace@epoch_000.ckpt",
    "after-replace@last.ckpt",
    "train:2",
    "before-sync@last.ckpt",
    "train:3",
    "validate:0",
    "before-replace@epoch_001.ckpt",
    "before-replace@history.csv",  # the last epoch's row, when training ends
    "test:0",
    "after-replace@epoch_001.ckpt",  # the temperature fitted after testing, stored in the best checkpoint
    "before-sync@test_predictions.csv",
    "before-replace@test_predictions.csv",
    "before-replace@metrics.json",
    "after-replace@metrics.json",
]
VOLATILE = ("wall_time_s", "train_img_per_s", "best_ckpt")  # timings, and paths that name the run folder
DEFAULT_KILLS, SEED = 5, 15


@pytest.fixture
def crash_cfg(sample_root: Path, make_cfg, tmp_path: Path):
    """``crash_cfg(name)``: the config of run ``name`` with a fresh copy of the sample as its data root."""

    def _make(name: str):
        root = tmp_path / name / "data"
        shutil.copytree(sample_root, root, ignore=shutil.ignore_patterns(".artworks"))  # fresh: no cache
        return make_cfg(
            "model=scratch_resnet50",
            "model.net.arch=timm/test_resnet",
            f"data.root={root}",
            "data.cache=true",
            "data.build_workers=2",
            "trainer.max_epochs=2",
            "trainer.deterministic=true",
            "callbacks.last_checkpoint.every_n_train_steps=1",
            "+callbacks.kill._target_=tests.storage.crash_runs.KillInLoop",
            "report.resamples=20",  # the report is still written whole; fewer bootstrap draws, less time
            "report.misclassified=4",
            "resume=auto",
            output_dir=tmp_path / name / "run",
        )

    return _make


def _metrics(run_dir: Path) -> dict:
    return {k: v for k, v in json.loads((run_dir / "metrics.json").read_text()).items() if k not in VOLATILE}


def _temp_bytes(*folders: Path) -> int:
    return sum(t.path.stat().st_size for f in folders for t in temp_files(f, recursive=True))


def kill_and_resume(cfg, kills: list[dict[str, str]]) -> tuple[int, int]:
    """Run ``cfg`` with each kill in turn, resuming each time, then to the end.

    Returns the number of kills that landed and the most orphaned bytes seen right after one.
    """
    folders = (Path(cfg.data.root) / ".artworks", Path(cfg.paths.output_dir))
    landed, orphan_bytes = 0, 0
    for env in kills:
        code = run_forked(cfg, env)
        assert code in (KILLED, 0), f"run with {env} failed with exit code {code}"
        if code == 0:
            break
        landed += 1
        orphan_bytes = max(orphan_bytes, _temp_bytes(*folders))
        assert not unparsable(*folders), unparsable(*folders)  # also right after a kill: no torn file
    else:
        assert run_forked(cfg, {}) == 0
    return landed, orphan_bytes


def check_consistent(straight: Path, cfg, landed: int, wanted: int, orphan_bytes: int) -> None:
    folders = (Path(cfg.data.root) / ".artworks", Path(cfg.paths.output_dir))
    print(
        f"{landed} kills landed; orphan bytes: up to {orphan_bytes} after a kill, {_temp_bytes(*folders)} now"
    )
    assert landed >= wanted
    assert _metrics(Path(cfg.paths.output_dir)) == _metrics(straight)  # (a)
    assert leftovers(*folders) == []  # (b)
    assert unparsable(*folders) == []  # (c)


@pytest.mark.e2e
def test_killed_at_seeded_points_over_its_life_resumes_to_identical_metrics(crash_cfg) -> None:
    straight = crash_cfg("straight")
    assert run_forked(straight, {}) == 0
    chosen = sorted(random.Random(SEED).sample(range(len(CATALOG)), DEFAULT_KILLS))
    cfg = crash_cfg("killed")
    landed, orphans = kill_and_resume(cfg, [kill_env(CATALOG[i]) for i in chosen])
    check_consistent(Path(straight.paths.output_dir), cfg, landed, DEFAULT_KILLS, orphans)


@pytest.mark.slow
def test_killed_at_every_catalog_point_and_at_random_moments(crash_cfg) -> None:
    straight = crash_cfg("straight")
    started = time.monotonic()
    assert run_forked(straight, {}) == 0
    duration = time.monotonic() - started
    cfg = crash_cfg("every-point")
    landed, orphans = kill_and_resume(cfg, [kill_env(p) for p in CATALOG])
    check_consistent(Path(straight.paths.output_dir), cfg, landed, len(CATALOG), orphans)

    rng = random.Random(SEED)
    cfg = crash_cfg("random-moments")
    timed = 0
    for _ in range(12):  # a kill at a random moment of what is left; a run that finishes first ends it
        code = run_forked(cfg, {}, kill_after=rng.uniform(0.05, 0.6) * duration)
        if code == 0:
            break
        timed += 1
        assert not unparsable(Path(cfg.data.root) / ".artworks", Path(cfg.paths.output_dir))
    else:
        assert run_forked(cfg, {}) == 0
    check_consistent(Path(straight.paths.output_dir), cfg, timed, 1, 0)
