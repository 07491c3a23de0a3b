"""Checkpoint files are written whole or not at all: a kill or a full disk never leaves a torn ``last.ckpt``.

Lightning writes local checkpoints through fsspec, whose temporary file lives in the system temp folder;
moving it across file systems is a copy, which a kill can cut short. Here every checkpoint goes through
:func:`artworks.storage.atomic_save_torch`: a temporary file next to its target, ``fsync``, ``os.replace``
(atomic on POSIX and Windows within one file system), ``fsync`` of the folder. A kill leaves at most a
``<name>.tmp<pid>-...`` file, which the next run of the same folder removes (``artworks.training.resume``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.fabric.plugins import CheckpointIO
from lightning.pytorch.callbacks import Callback

from artworks.storage import atomic_save_torch


class AtomicCheckpointIO(CheckpointIO):
    """Saves local checkpoints atomically; loading and removal go to the wrapped CheckpointIO."""

    def __init__(self, inner: CheckpointIO) -> None:
        self.inner = inner

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        if "://" in str(path):  # remote storage: the inner plugin's own transaction
            self.inner.save_checkpoint(checkpoint, path, storage_options)
            return
        atomic_save_torch(Path(path), checkpoint)

    def load_checkpoint(
        self, path: Any, map_location: Any | None = None, weights_only: bool | None = None
    ) -> Any:
        return self.inner.load_checkpoint(path, map_location=map_location, weights_only=weights_only)

    def remove_checkpoint(self, path: Any) -> None:
        self.inner.remove_checkpoint(path)

    def teardown(self) -> None:
        self.inner.teardown()


class AtomicCheckpointing(Callback):
    """Switches the trainer's checkpoint writer to :class:`AtomicCheckpointIO` (composes with any other)."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        strategy = trainer.strategy
        if not isinstance(strategy.checkpoint_io, AtomicCheckpointIO):
            strategy.checkpoint_io = AtomicCheckpointIO(strategy.checkpoint_io)
