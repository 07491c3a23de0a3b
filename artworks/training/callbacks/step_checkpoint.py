"""``last.ckpt`` every N training steps, but never after an epoch's last batch.

Lightning resumes a checkpoint written after an epoch's last training batch as if that epoch had ended:
the epoch's validation is skipped, so its score never reaches ModelCheckpoint and a run killed during its
last validation (or before the epoch's checkpoint was renamed into place) can pick another best epoch than
an uninterrupted run (found by ``tests/storage/test_crash.py``). At that point the epoch-end checkpoint,
written after validation, follows anyway; without the step checkpoint a kill in between resumes from the
step before and redoes the last batch, which lands exactly where the uninterrupted run does.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


class StepCheckpoint(ModelCheckpoint):
    """A ModelCheckpoint for ``every_n_train_steps`` leaving an epoch's last batch to the epoch-end one."""

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if batch_idx + 1 >= trainer.num_training_batches:
            return
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
