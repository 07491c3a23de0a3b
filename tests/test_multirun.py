"""All five experiments as one Hydra multirun: five runs, five metrics.json, five W&B runs in one group."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.helpers.compose import MODELS, ONLY_BEST_WEIGHTS, multirun_command


@pytest.mark.e2e
def test_multirun_of_the_five_experiments(sample_root, resnet50_weights, tmp_path):
    sweep_dir = tmp_path / "sweep"
    cmd = multirun_command(
        sample_root,
        resnet50_weights,
        sweep_dir,
        f"model={','.join(MODELS)}",
        "logger=wandb",
        *ONLY_BEST_WEIGHTS,
    )
    env = {**os.environ, "WANDB_MODE": "offline"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]

    job_dirs = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and (p / "metrics.json").is_file())
    assert [d.name for d in job_dirs] == [f"{i}_{m}" for i, m in enumerate(MODELS)]
    experiments = [json.loads((d / "metrics.json").read_text())["experiment"] for d in job_dirs]
    assert experiments == MODELS

    runs = [list((d / "wandb").glob("offline-run-*/run-*.wandb")) for d in job_dirs]
    assert all(len(r) == 1 for r in runs), runs
    group = sweep_dir.name.encode()
    for d, (run_file,) in zip(job_dirs, runs, strict=True):
        data = run_file.read_bytes()
        assert group in data, f"{run_file} is not in W&B group {sweep_dir.name}"
        assert d.name.split("_", 1)[1].encode() in data  # the run is named after its experiment
    assert "Results of" in result.stdout and "cbam_resnet50" in result.stdout
