"""DDP on 2 CPU processes (gloo), through the real command line: exact evaluation, multirun + DDP.

Lightning starts rank 1 by re-running the command, so DDP runs are ``python -m artworks.train`` subprocesses.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from artworks.config import compose_job
from artworks.training.task import train
from tests.helpers.ddp import TEST_IMAGES, run_train, tiny_overrides

pytestmark = pytest.mark.e2e


def report_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "classification_report.csv") as f:
        return list(csv.DictReader(f))


def test_two_process_test_equals_single_process(ddp_root: Path, tmp_path: Path) -> None:
    common = [*tiny_overrides(ddp_root, tmp_path / "outputs"), "logger=none"]
    single_dir, ddp_dir = tmp_path / "single", tmp_path / "ddp"
    # the one-process reference runs in-process (the same overrides, composed as the command composes them)
    single = train(compose_job("train", [*common, "trainer=cpu"], single_dir))

    run_train(
        *common,
        "trainer=ddp_cpu",
        "train=false",
        f"ckpt_path={single['best_ckpt']}",
        f"hydra.run.dir={ddp_dir}",
        cwd=tmp_path,
    )
    ddp = json.loads((ddp_dir / "metrics.json").read_text())

    assert single["world_size"] == 1 and ddp["world_size"] == 2
    for key in ("test/macro_acc", "test/acc", "test/macro_f1", "test/top5_acc"):
        assert ddp[key] == single[key], key
    assert ddp["test/loss"] == pytest.approx(single["test/loss"], rel=1e-5)
    # the report is built from every rank's predictions, each test image exactly once
    rows = report_rows(ddp_dir)
    assert rows == report_rows(single_dir)
    supports = [
        int(r["support"]) for r in rows if r["artist"] not in ("macro avg", "weighted avg", "accuracy")
    ]
    assert sum(supports) == TEST_IMAGES


@pytest.mark.slow  # 36 s; the two-process exactness test above stays in the default suite
def test_multirun_with_ddp_gives_one_run_dir_and_one_wandb_run_per_job(
    ddp_root: Path, tmp_path: Path
) -> None:
    sweep_dir = tmp_path / "sweep"
    run_train(
        "-m",
        *tiny_overrides(ddp_root, tmp_path / "outputs"),
        "trainer=ddp_cpu",
        "logger=wandb",
        "trainer.limit_val_batches=1",
        "model.optimizer.lr=0.001,0.0003",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
    )
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [p.name for p in jobs] == ["0_scratch_resnet50", "1_scratch_resnet50"]
    for job in jobs:
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["world_size"] == 2 and 0 <= metrics["test/macro_acc"] <= 1
        assert len(list((job / "wandb").glob("offline-run-*"))) == 1, job
        assert (job / "train_ddp_process_1.log").is_file()  # rank 1 ran this job, in this directory
    assert "model.optimizer.lr=0.001" in (jobs[0] / ".hydra" / "overrides.yaml").read_text()
    assert "model.optimizer.lr=0.0003" in (jobs[1] / ".hydra" / "overrides.yaml").read_text()
    # rank 1 must start neither a sweep of its own nor a run directory elsewhere
    assert not (tmp_path / "outputs").exists()


def test_a_job_whose_rank_1_fails_is_recorded_and_the_sweep_goes_on(ddp_root: Path, tmp_path: Path) -> None:
    """Lightning's rank watcher used to SIGKILL the main process, i.e. the whole sweep, a few seconds after
    job 0's rank 1 died: job 1 was killed midway and no failure was reported (exit 137)."""
    sweep_dir = tmp_path / "sweep"
    repo = Path(__file__).resolve().parents[2]
    cmd = [
        sys.executable,
        "-m",
        "artworks.train",
        "-m",
        *tiny_overrides(ddp_root, tmp_path / "outputs"),
        "trainer=ddp_cpu",
        "logger=none",
        "trainer.limit_val_batches=1",
        "+callbacks.fail._target_=tests.helpers.ddp.FailOnRank",
        "+callbacks.fail.rank=1,5",  # job 0: rank 1 fails as training starts; job 1: no rank 5, no failure
        f"hydra.sweep.dir={sweep_dir}",
    ]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=150)
    output = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 1, output  # the sweep's own "some jobs failed" status, not a kill (137)
    failures = json.loads((sweep_dir / "failures.json").read_text())
    assert [f["job"] for f in failures] == [0], failures
    metrics = json.loads((sweep_dir / "1_scratch_resnet50" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and 0 <= metrics["test/macro_acc"] <= 1
