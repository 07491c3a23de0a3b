"""Resume: a run killed with SIGKILL mid-epoch and resumed ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
KILL_STEP = 3  # 2 batches per epoch: step 3 is the middle of the second epoch


def cli_args(sample_root: Path, weights: Path, log_dir: Path, *extra: str) -> list[str]:
    """A tiny deterministic CPU run: 2 epochs of 2 batches, last.ckpt after every step."""
    return [
        "data=sample",
        f"data.root={sample_root}",
        "data.sample=null",
        "data.image_size=32",
        "data.batch_size=4",
        "data.num_workers=0",
        "data.cache=false",  # no cache build: the three runs do the same work
        "trainer=cpu",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "trainer.deterministic=true",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "logger=csv",
        "model=freeze13_resnet50",
        f"model.net.weights_path={weights}",
        "callbacks.last_checkpoint.every_n_train_steps=1",
        "+callbacks.kill._target_=kill_switch.KillAtStep",
        f"paths.log_dir={log_dir}",
        *extra,
    ]


def run_cli(
    args: list[str], kill_at: int | None = None, crash_tag: str | None = None
) -> subprocess.CompletedProcess:
    """``python -m artworks.train ARGS``; ``kill_at``: SIGKILL (or with ``crash_tag`` raise) at that step."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests"), "OMP_NUM_THREADS": "2", "WANDB_MODE": "offline"}
    for name in ("ARTWORKS_TEST_KILL_AT_STEP", "ARTWORKS_TEST_CRASH_TAG", "HYDRA_FULL_ERROR"):
        env.pop(name, None)
    if kill_at is not None:
        env["ARTWORKS_TEST_KILL_AT_STEP"] = str(kill_at)
    if crash_tag is not None:
        env["ARTWORKS_TEST_CRASH_TAG"] = crash_tag
    return subprocess.run(
        [sys.executable, "-m", "artworks.train", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def only_run_dir(log_dir: Path) -> Path:
    runs = list((log_dir / "runs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(
    sample_root: Path, resnet50_weights: Path, tmp_path: Path
) -> None:
    straight = run_cli(cli_args(sample_root, resnet50_weights, tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr[-3000:]

    killed = run_cli(cli_args(sample_root, resnet50_weights, tmp_path / "killed"), kill_at=KILL_STEP)
    assert killed.returncode == -9, killed.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "killed")
    assert not (run_dir / "metrics.json").exists()
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (1, KILL_STEP)  # saved in the middle of epoch 1

    resumed = run_cli(cli_args(sample_root, resnet50_weights, tmp_path / "killed", "resume=auto"))
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
