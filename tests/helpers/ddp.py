"""Helpers for tests that run ``python -m artworks.train`` in a subprocess (DDP, SLURM)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lightning as L

# 5 artists x 11 images -> a 5-image test split: odd, so the ranks get 3 and 2 images (2 and 1 batches of 2);
# Lightning's default sampler would pad rank 1 with a repeat of image 0.
DDP_SAMPLE = {"artists": 5, "images_per_artist": 11, "image_size": 40, "seed": 0, "imbalance": "none"}
TEST_IMAGES = 5
CLI_TIMEOUT_S = 300


def tiny_overrides(root: Path, log_dir: Path) -> list[str]:
    sample = ", ".join(f"{k}: {v}" for k, v in DDP_SAMPLE.items())
    return [
        "data=sample",
        f"data.root={root}",
        f"data.sample={{{sample}}}",
        "data.image_size=32",
        "data.batch_size=2",
        "data.num_workers=0",
        "model=scratch_resnet50",
        "model.net.arch=resnet18",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        "report.figures=false",
        f"paths.log_dir={log_dir}",
    ]


def run_train(*args: str, cwd: Path, timeout: int = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    proc = subprocess.run(
        [sys.executable, "-m", "artworks.train", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


class FailOnRank(L.Callback):
    """Raise in one DDP rank as training starts: a rank that dies (out of memory, a bad node) in a test."""

    def __init__(self, rank: int) -> None:
        self.rank = rank

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_rank == self.rank:
            raise RuntimeError(f"rank {self.rank} fails on purpose")
