"""Samplers: a training order that resumes mid-epoch exactly, and an evaluation split that never pads.

* :class:`ResumableRandomSampler`: PyTorch's ``RandomSampler`` draws its order from the global RNG when an
  epoch starts; a run resumed in the middle of an epoch would see a new order and repeat some images. This
  sampler derives each epoch's permutation from ``(seed, epoch)`` and can start part-way through it; the
  datamodule stores where training stands (:func:`train_order_state`) in every checkpoint and hands it back
  after a restore.
* :class:`ClassBalancedSampler`: the same, drawing every artist equally often (``data.sampler=balanced``).
* :class:`UnpaddedEvalSampler`: Lightning's default ``DistributedSampler`` pads val/test sets with repeated
  samples so every rank gets the same number of batches, which changes the metrics. This one splits them
  without padding; the metrics (torchmetrics states) are summed across ranks, so each sample counts exactly
  once, and :func:`gather_eval_outputs` puts every rank's outputs back in dataset order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence, Sized
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler, Sampler


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


class ClassBalancedSampler(ResumableRandomSampler):
    """Draws ``len(labels)`` indices per epoch with replacement, each artist equally likely per draw.

    For imbalanced classes (Van Gogh 877 paintings, Pollock 24): every class is seen about equally often,
    the small ones as repeats. Each epoch's draw depends on ``(seed, epoch)`` only, so it resumes mid-epoch
    exactly as :class:`ResumableRandomSampler` does.
    """

    def __init__(self, labels: Sequence[int], seed: int, batch_size: int, **resume: int) -> None:
        super().__init__(len(labels), seed, batch_size, **resume)
        labels_t = torch.as_tensor(list(labels))
        counts = torch.bincount(labels_t).to(torch.float64)
        self.weights = (1.0 / counts)[labels_t]  # per image: 1 / (its class's count)

    def permutation(self, epoch: int) -> list[int]:
        seed = int(np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0])
        generator = torch.Generator().manual_seed(seed)
        return torch.multinomial(self.weights, self.size, replacement=True, generator=generator).tolist()


def train_order_state(trainer: Any) -> dict[str, int]:
    """Where the train data order stands: the epoch to continue and the batches of it already trained on."""
    epoch = trainer.current_epoch
    done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
    if done >= trainer.num_training_batches:
        return {"start_epoch": epoch + 1, "start_batch": 0}
    return {"start_epoch": epoch, "start_batch": done}


class UnpaddedEvalSampler(DistributedSampler):
    """Val/test order for any number of processes: rank ``r`` of ``W`` gets items ``r, r + W, r + 2W, ...``.

    No item is repeated, so ranks may run one batch more or less than each other, which is safe for
    evaluation (no gradient sync). The rank and world size are read when the loader is iterated, so a loader
    built before the process group starts (``artworks.evaluate``) still splits correctly; on one process it
    is the plain sequential order. It is a ``DistributedSampler`` only so that Lightning keeps it instead of
    injecting its padding one.
    """

    # DistributedSampler.__init__ is skipped on purpose: it needs the process group to exist already.
    def __init__(self, dataset: Sized) -> None:  # noqa: B027
        self.dataset = dataset
        self.epoch, self.seed, self.shuffle, self.drop_last = 0, 0, False, False

    def _share(self) -> range:
        if dist.is_available() and dist.is_initialized():
            return range(dist.get_rank(), len(self.dataset), dist.get_world_size())
        return range(len(self.dataset))

    def __iter__(self) -> Iterator[int]:
        return iter(self._share())

    def __len__(self) -> int:
        return len(self._share())


def gather_eval_outputs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every rank's evaluation outputs, in dataset order (as one process would have them); on the CPU.

    Rank ``r`` of ``W`` evaluated dataset items ``r, r + W, r + 2W, ...`` (:class:`UnpaddedEvalSampler`),
    so its ``k``-th output sits at position ``r + k W``. A collective: call it on every rank.
    """
    logits, labels = logits.cpu(), labels.cpu()
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return logits, labels
    world = dist.get_world_size()
    shares: list[tuple[torch.Tensor, torch.Tensor]] = [None] * world  # type: ignore[list-item]
    dist.all_gather_object(shares, (logits, labels))
    positions = torch.cat([rank + world * torch.arange(len(share[1])) for rank, share in enumerate(shares)])
    order = positions.argsort()
    return torch.cat([s[0] for s in shares])[order], torch.cat([s[1] for s in shares])[order]
