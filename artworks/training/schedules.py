"""Learning-rate schedules that need to know the run's length: linear warm-up, then cosine, stepped per step.

``ArtistClassifier.configure_optimizers`` passes ``total_steps`` and ``steps_per_epoch`` to a scheduler
whose signature asks for them, so the config says only what is a choice (``warmup_epochs``,
``min_lr_ratio``).
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

WARMUP_START = 0.01  # the first step runs at 1 % of the LR, not 0 (a step at LR 0 is a wasted batch)


def warmup_cosine_factor(step: int, total_steps: int, warmup_steps: int, min_lr_ratio: float) -> float:
    """The LR multiplier at ``step``: linear from 1 % to 1 over the warm-up, then a half cosine to
    ``min_lr_ratio`` at ``total_steps``."""
    if step < warmup_steps:
        return WARMUP_START + (1 - WARMUP_START) * step / warmup_steps
    progress = min((step - warmup_steps) / max(total_steps - warmup_steps, 1), 1.0)
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine(
    optimizer: Optimizer,
    total_steps: int,
    steps_per_epoch: int,
    warmup_epochs: float = 1.0,
    min_lr_ratio: float = 0.0,
) -> LambdaLR:
    """Linear warm-up over ``warmup_epochs``, then cosine to ``min_lr_ratio`` x the LR at ``total_steps``;
    every parameter group keeps its own LR ratio. Step it every optimizer step (``interval: step``)."""
    warmup = min(round(warmup_epochs * steps_per_epoch), max(total_steps - 1, 0))
    return LambdaLR(optimizer, lambda step: warmup_cosine_factor(step, total_steps, warmup, min_lr_ratio))
