"""Resume: a run killed with SIGKILL mid-epoch and resumed ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from tests.helpers.kill_runs import KILL_STEP, cli_args, run_cli


def only_run_dir(log_dir: Path) -> Path:
    runs = list((log_dir / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.e2e
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(
    sample_root: Path, tiny_weights: Path, tmp_path: Path
) -> None:
    # the uninterrupted run and the one to kill are independent: side by side (most of each is imports)
    with ThreadPoolExecutor(2) as pool:
        straight_run = pool.submit(run_cli, cli_args(sample_root, tiny_weights, tmp_path / "straight"))
        killed_run = pool.submit(
            run_cli, cli_args(sample_root, tiny_weights, tmp_path / "killed"), kill_at=KILL_STEP
        )
    straight, killed = straight_run.result(), killed_run.result()
    assert straight.returncode == 0, straight.stderr[-3000:]
    assert killed.returncode == -9, killed.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "killed")
    assert not (run_dir / "metrics.json").exists()
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (1, KILL_STEP)  # saved in the middle of epoch 1

    resumed = run_cli(cli_args(sample_root, tiny_weights, tmp_path / "killed", "resume=auto"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert only_run_dir(tmp_path / "killed") == run_dir  # continued in its own folder
    assert len(json.loads((run_dir / "provenance.json").read_text())["sessions"]) == 2

    expected_dir = only_run_dir(tmp_path / "straight")
    expected = json.loads((expected_dir / "metrics.json").read_text())
    got = json.loads((run_dir / "metrics.json").read_text())
    for key in ("test/macro_acc", "test/acc", "test/loss", "val/macro_acc_best"):
        assert got[key] == expected[key], key
    a = torch.load(expected_dir / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert a["global_step"] == b["global_step"] == 4
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), name
    assert "val_macro_acc_best.max_value" in b["state_dict"]  # best-so-far tracking survives the kill
    assert (run_dir / ".hydra" / "config.yaml").is_file()  # the resolved config, next to provenance.json
