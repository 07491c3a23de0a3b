"""Stop training the moment the loss stops being a finite number, before it corrupts the weights."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from artworks.errors import ArtworksError


class StopOnNonFiniteLoss(Callback):
    """Raise a clear error on a NaN/inf training loss, before its backward pass and optimizer step.

    Nothing is saved after the bad step, so ``last.ckpt`` stays the last good state.
    """

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor
    ) -> None:
        if torch.isfinite(loss).all():
            return
        value = "NaN" if torch.isnan(loss).any() else "infinite"
        batch = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        raise ArtworksError(
            f"The training loss became {value} at step {trainer.global_step + 1} "
            f"(epoch {trainer.current_epoch}, batch index {batch}), so training was stopped before that step "
            f"changed the weights. {_last_good(trainer)} "
            "A loss that blows up usually means the learning rate is too high for this model: lower "
            "model.optimizer.lr (e.g. by 10x) and start from that checkpoint, or check the data for "
            "broken images."
        )


def _last_good(trainer: L.Trainer) -> str:
    """Where the newest checkpoint written before the failure is, for the error message."""
    paths = [
        Path(cb.last_model_path or cb.best_model_path)
        for cb in trainer.callbacks
        if isinstance(cb, ModelCheckpoint) and (cb.last_model_path or cb.best_model_path)
    ]
    paths = [p for p in paths if p.is_file()]
    if not paths:
        return "No checkpoint had been written yet."
    newest = max(paths, key=lambda p: p.stat().st_mtime)
    return f"The last good checkpoint is {newest} (start from it with ckpt_path={newest})."
