"""Training throughput in images per second, measured on the training batches only."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch
from lightning.pytorch.trainer.states import TrainerFn


class TrainThroughput(L.Callback):
    """Counts training images and the time spent on them: data loading, forward, backward, optimizer step.

    Validation time is left out. The clock is read after a CUDA synchronisation at the end of each training
    stretch, so queued GPU work is counted. Images are counted on every process (x ``world_size``).
    Logs ``train/img_per_s`` per epoch; ``images_per_second`` is the figure over all epochs.
    """

    def __init__(self) -> None:
        self.images = 0
        self.seconds = 0.0
        self._epoch_images = 0
        self._epoch_seconds = 0.0
        self._started: float | None = None

    def _start(self) -> None:
        self._started = time.perf_counter()

    def _stop(self, trainer: L.Trainer) -> None:
        if self._started is None:
            return
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize(trainer.strategy.root_device)
        self._epoch_seconds += time.perf_counter() - self._started
        self._started = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_images, self._epoch_seconds = 0, 0.0
        self._start()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._epoch_images += len(batch[1]) * trainer.world_size

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._stop(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking:
            self._start()  # training resumes

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._stop(trainer)
        if self._epoch_seconds > 0:
            self.images += self._epoch_images
            self.seconds += self._epoch_seconds
            pl_module.log("train/img_per_s", self._epoch_images / self._epoch_seconds)

    @property
    def images_per_second(self) -> float | None:
        return self.images / self.seconds if self.seconds > 0 else None
