"""Sweeps: a failed job does not stop the others, is reported, and a re-run with resume=auto finishes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.kill_runs import cli_args, run_cli


@pytest.mark.slow
@pytest.mark.e2e
def test_failed_job_is_reported_and_resumed_by_a_rerun(sample_root: Path, tiny_weights: Path, tmp_path):
    log_dir = tmp_path / "outputs"
    args = [
        "-m",
        *cli_args(sample_root, tiny_weights, log_dir, "seed=1,2", "+callbacks.kill.tag=${seed}"),
    ]
    first = run_cli(args, kill_at=1, crash_tag="2")
    assert first.returncode == 1, first.stderr[-3000:]
    (sweep_dir,) = (log_dir / "multiruns").iterdir()
    failures = json.loads((sweep_dir / "failures.json").read_text())
    assert [f["job"] for f in failures] == [1]
    assert "simulated crash at step 1" in failures[0]["error"]
    assert Path(failures[0]["log"]).is_file() and "simulated crash" in Path(failures[0]["log"]).read_text()
    assert "1 job(s) failed" in first.stderr and failures[0]["log"] in first.stderr
    assert (sweep_dir / "0_finetune_resnet50" / "metrics.json").is_file()  # the other job ran
    finished = (sweep_dir / "0_finetune_resnet50" / "metrics.json").stat().st_mtime_ns

    second = run_cli([*args, "resume=auto"])
    assert second.returncode == 0, second.stderr[-3000:]
    assert list((log_dir / "multiruns").iterdir()) == [sweep_dir]  # the same sweep folder
    assert (sweep_dir / "0_finetune_resnet50" / "metrics.json").stat().st_mtime_ns == finished  # skipped
    job1 = sweep_dir / "1_finetune_resnet50"
    assert (job1 / "metrics.json").is_file() and not (job1 / "failure.json").exists()
    assert "Restoring states from the checkpoint" in (job1 / "train.log").read_text() + second.stderr
