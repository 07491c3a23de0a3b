"""Runs of ``python -m artworks.train`` that can be killed (SIGKILL) or crashed at a given step."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.compose import tiny_net

REPO = Path(__file__).resolve().parents[2]
KILL_STEP = 3  # 2 batches per epoch: step 3 is the middle of the second epoch


def cli_args(sample_root: Path, weights: Path, log_dir: Path, *extra: str) -> list[str]:
    """A tiny deterministic CPU run: 2 epochs of 2 batches, last.ckpt after every step.

    The network is the tiny one (``weights``: the ``tiny_weights`` fixture), fine-tuned: resuming restores
    weights, Adam's state, the scheduler and the RNGs whatever the network, at ~5 MB per checkpoint.
    """
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
        "report.figures=false",
        "model=finetune_resnet50",
        *tiny_net(weights),
        "callbacks.last_checkpoint.every_n_train_steps=1",
        "+callbacks.kill._target_=tests.helpers.kill_switch.KillAtStep",
        f"paths.log_dir={log_dir}",
        *extra,
    ]


def run_cli(
    args: list[str], kill_at: int | None = None, crash_tag: str | None = None
) -> subprocess.CompletedProcess:
    """``python -m artworks.train ARGS``; ``kill_at``: SIGKILL (or with ``crash_tag`` raise) at that step."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "2", "WANDB_MODE": "offline"}
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
