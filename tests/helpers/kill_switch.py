"""Callbacks for the resume tests: die (SIGKILL) or crash (exception) at a given training step.

Active only through environment variables, so the interrupted and the resumed run share one config.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback


class KillAtStep(Callback):
    """``ARTWORKS_TEST_KILL_AT_STEP=N``: SIGKILL this process before step N (after step N's checkpoint).

    ``ARTWORKS_TEST_CRASH_TAG=T``: raise instead, in the job whose ``tag`` is T (one job of a sweep).
    """

    def __init__(self, tag: str = "") -> None:
        self.tag = str(tag)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, idx: int
    ) -> None:
        step = os.environ.get("ARTWORKS_TEST_KILL_AT_STEP")
        if step is None or trainer.global_step != int(step):
            return
        if os.environ.get("ARTWORKS_TEST_CRASH_TAG") is None:
            os.kill(os.getpid(), signal.SIGKILL)
        if os.environ["ARTWORKS_TEST_CRASH_TAG"] == self.tag:
            raise RuntimeError(f"simulated crash at step {step}")
