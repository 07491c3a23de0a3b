"""A shuffling sampler whose order depends only on (seed, epoch), so training can resume mid-epoch exactly.

PyTorch's ``RandomSampler`` draws its order from the global RNG when an epoch starts; a run resumed in the
middle of an epoch would see a new order and repeat some images. This sampler derives each epoch's
permutation from ``(seed, epoch)`` and can start part-way through it; the datamodule stores where training
stands (:func:`train_order_state`) in every checkpoint and hands it back after a restore.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler


class ResumableRandomSampler(Sampler[int]):
    """Shuffles ``size`` indices per epoch; ``start_epoch``, ``start_batch``: where a resumed run goes on."""

    def __init__(
        self, size: int, seed: int, batch_size: int, start_epoch: int = 0, start_batch: int = 0
    ) -> None:
        self.size = size
        self.seed = seed
        self.batch_size = batch_size
        self.epoch = start_epoch
        self._resume = (start_epoch, start_batch)

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning before each epoch."""
        self.epoch = epoch

    def permutation(self, epoch: int) -> list[int]:
        seed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])
        return torch.randperm(self.size, generator=torch.Generator().manual_seed(seed)).tolist()

    def __iter__(self) -> Iterator[int]:
        order = self.permutation(self.epoch)
        resume_epoch, resume_batch = self._resume
        self._resume = (-1, 0)  # only the first pass after a restore starts part-way
        if self.epoch == resume_epoch:
            order = order[resume_batch * self.batch_size :]
        return iter(order)

    def __len__(self) -> int:
        # the full epoch: Lightning counts the batches done before a mid-epoch checkpoint itself
        return self.size


def train_order_state(trainer: Any) -> dict[str, int]:
    """Where the train data order stands: the epoch to continue and the batches of it already trained on."""
    epoch = trainer.current_epoch
    done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
    if done >= trainer.num_training_batches:
        return {"start_epoch": epoch + 1, "start_batch": 0}
    return {"start_epoch": epoch, "start_batch": done}
