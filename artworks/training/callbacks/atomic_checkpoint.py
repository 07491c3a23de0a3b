"""Checkpoint files are written whole or not at all: a kill or a full disk never leaves a torn ``last.ckpt``.

Lightning writes local checkpoints through fsspec, whose temporary file lives in the system temp folder;
moving it across file systems is a copy, which a kill can cut short. Here every checkpoint is written to
a temporary file next to its target, flushed to disk, and renamed over it with ``os.replace`` (atomic on
POSIX and Windows within one file system).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins import CheckpointIO
from lightning.pytorch.callbacks import Callback


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
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()  # serialise first: a full disk then fails in write() with a clear OSError
        torch.save(checkpoint, buffer)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(buffer.getbuffer())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except OSError as err:
            Path(tmp).unlink(missing_ok=True)
            raise OSError(err.errno, err.strerror, str(target)) from err
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

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
