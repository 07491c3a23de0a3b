"""Batch preprocessing on the device: uint8 -> float, augmentation, fit to the training size, normalise.

It lives in the model (as a submodule with mean/std buffers) so a checkpoint carries its own preprocessing
and prediction needs no data config. Batches may arrive larger than the training size (the image cache can
store images above it, ``data.cache_image_size``): training crops them at random, evaluation resizes (or
centre-crops) them deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from artworks.training.augment import spatial_augmentation

EVAL_RESIZE = ("resize", "center_crop")


def random_rot90(x: torch.Tensor) -> torch.Tensor:
    """Rotate each square image of an NCHW batch by 0, 90, 180 or 270 degrees, chosen uniformly."""
    k = torch.randint(0, 4, (x.shape[0],), device=x.device)
    out = x.clone()
    for turns in (1, 2, 3):
        chosen = k == turns
        if chosen.any():
            out[chosen] = torch.rot90(x[chosen], turns, dims=(2, 3))
    return out


def fit_to_size(x: torch.Tensor, size: int, mode: str = "resize") -> torch.Tensor:
    """A float NCHW batch at ``size``×``size``: resized whole, or its centre square cropped then resized."""
    if mode == "center_crop":
        side = min(x.shape[-2:])
        top, left = (x.shape[-2] - side) // 2, (x.shape[-1] - side) // 2
        x = x[..., top : top + side, left : left + side]
    if tuple(x.shape[-2:]) == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


class BatchPreprocess(nn.Module):
    """Turn a uint8 NCHW batch into the normalised float batch the network expects."""

    def __init__(
        self,
        mean: Sequence[float],
        std: Sequence[float],
        rotate90: bool = True,
        image_size: int | None = None,
        crop_scale: Sequence[float] | None = None,
        crop_ratio: Sequence[float] = (0.75, 4 / 3),
        hflip: bool = False,
        color_jitter: float = 0.0,
        eval_resize: str = "resize",
    ) -> None:
        """``image_size``: the square size the network trains at (batches are fitted to it; inference
        resizes to it). ``crop_scale`` .. ``color_jitter``: training augmentation
        (:func:`~artworks.training.augment.spatial_augmentation`); ``eval_resize``: how evaluation fits a
        larger image (``resize`` the whole painting, or ``center_crop``)."""
        super().__init__()
        if eval_resize not in EVAL_RESIZE:
            raise ValueError(f"eval_resize must be one of {EVAL_RESIZE}, got {eval_resize!r}")
        self.image_size = image_size
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1) * 255)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1) * 255)
        self.rotate90 = rotate90
        self.eval_resize = eval_resize
        self.augmentation = None
        if crop_scale is not None or hflip or color_jitter > 0:
            if image_size is None:
                raise ValueError("image_size is needed for training augmentation")
            self.augmentation = spatial_augmentation(image_size, crop_scale, crop_ratio, hflip, color_jitter)

    def forward(self, x: torch.Tensor, augment: bool = False, size: int | None = None) -> torch.Tensor:
        """Normalised float batch at ``size`` (default: the training size; inference may ask for another)."""
        if augment and self.augmentation is not None:
            x = self.augmentation(x.float() / 255) * 255  # kornia works in [0, 1]
        if augment and self.rotate90:
            x = random_rot90(x)
        x = x.float()
        size = size or self.image_size
        if size is not None:  # without augmentation, or a crop that left the size as it came
            x = fit_to_size(x, size, self.eval_resize)
        return (x - self.mean) / self.std
