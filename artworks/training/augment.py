"""Training-time augmentation on the device, per sample (kornia), and MixUp/CutMix on the batch (torchvision).

The seed recipe's only augmentation, random 90-degree turns, stays in :mod:`artworks.training.preprocess`;
everything here is off unless ``model.augment`` asks for it, and draws no random numbers when off (so
``recipe=seed`` runs are bit-for-bit what they were).
"""

from __future__ import annotations

from collections.abc import Sequence

import kornia.augmentation as K
import torch
from torch import nn
from torchvision.transforms import v2


def spatial_augmentation(
    image_size: int,
    crop_scale: Sequence[float] | None = None,
    crop_ratio: Sequence[float] = (0.75, 4 / 3),
    hflip: bool = False,
    color_jitter: float = 0.0,
) -> nn.Module | None:
    """Per-sample random resized crop (to ``image_size``), horizontal flip and mild colour jitter.

    Works on float batches in [0, 1]; ``None`` when nothing is asked for. The crop takes its region from the
    image as it arrives, i.e. from the larger cached image when ``data.cache_image_size`` exceeds the training
    size, so the crops keep full detail. Hue is never jittered: the palette is evidence of the artist.
    """
    steps: list[nn.Module] = []
    if crop_scale is not None:
        size = (image_size, image_size)
        scale, ratio = tuple(crop_scale), tuple(crop_ratio)
        steps.append(
            K.RandomResizedCrop(size, scale=scale, ratio=ratio, resample="bilinear", align_corners=False)
        )
    if hflip:
        steps.append(K.RandomHorizontalFlip())
    if color_jitter > 0:
        strength = float(color_jitter)
        steps.append(K.ColorJitter(brightness=strength, contrast=strength, saturation=strength, p=0.8))
    return K.AugmentationSequential(*steps) if steps else None


class BatchMix(nn.Module):
    """MixUp and/or CutMix on a training batch: images blended, labels turned into mixed one-hot targets.

    With both on, each batch gets one of the two, chosen at random (timm's and torchvision's convention).
    """

    def __init__(self, num_classes: int, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0) -> None:
        super().__init__()
        mixers: list[nn.Module] = []
        if mixup_alpha > 0:
            mixers.append(v2.MixUp(alpha=float(mixup_alpha), num_classes=num_classes))
        if cutmix_alpha > 0:
            mixers.append(v2.CutMix(alpha=float(cutmix_alpha), num_classes=num_classes))
        self.mix = v2.RandomChoice(mixers) if len(mixers) > 1 else mixers[0]

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mixed images and their soft targets (rows sum to 1)."""
        return self.mix(images, labels)


def batch_mix(num_classes: int, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0) -> BatchMix | None:
    """A :class:`BatchMix`, or ``None`` when neither MixUp nor CutMix is on."""
    if mixup_alpha <= 0 and cutmix_alpha <= 0:
        return None
    return BatchMix(num_classes, mixup_alpha, cutmix_alpha)
