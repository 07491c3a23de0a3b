"""Batch preprocessing on the training device: uint8 -> float, random 90° rotations, normalisation.

It lives in the model (as a submodule with mean/std buffers) so a checkpoint carries its own preprocessing
and prediction needs no data config.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def random_rot90(x: torch.Tensor) -> torch.Tensor:
    """Rotate each square image of an NCHW batch by 0, 90, 180 or 270 degrees, chosen uniformly."""
    k = torch.randint(0, 4, (x.shape[0],), device=x.device)
    out = x.clone()
    for turns in (1, 2, 3):
        chosen = k == turns
        if chosen.any():
            out[chosen] = torch.rot90(x[chosen], turns, dims=(2, 3))
    return out


class BatchPreprocess(nn.Module):
    """Turn a uint8 NCHW batch into the normalised float batch the network expects."""

    def __init__(
        self,
        mean: Sequence[float],
        std: Sequence[float],
        rotate90: bool = True,
        image_size: int | None = None,
    ) -> None:
        """``image_size``: the square size the network was trained at, kept so inference can resize to it."""
        super().__init__()
        self.image_size = image_size
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1) * 255)
        self.rotate90 = rotate90

    def forward(self, x: torch.Tensor, augment: bool = False) -> torch.Tensor:
        if augment and self.rotate90:
            x = random_rot90(x)
        return (x.float() - self.mean) / self.std
