"""Freezing named stages of a ResNet: no gradients, and BatchNorm statistics fixed too.

A frozen stage's BatchNorm layers are swapped for torchvision's ``FrozenBatchNorm2d`` (same statistics and
affine parameters, stored as buffers), so ``model.train()`` cannot make the "frozen" part drift.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

STAGES = {
    "stem": ("conv1", "bn1"),
    "layer1": ("layer1",),
    "layer2": ("layer2",),
    "layer3": ("layer3",),
    "layer4": ("layer4",),
}


def _freeze_batchnorm(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.BatchNorm2d):
        frozen = FrozenBatchNorm2d(module.num_features, eps=module.eps)
        frozen.weight.copy_(module.weight.detach())
        frozen.bias.copy_(module.bias.detach())
        frozen.running_mean.copy_(module.running_mean)
        frozen.running_var.copy_(module.running_var)
        return frozen
    for name, child in module.named_children():
        setattr(module, name, _freeze_batchnorm(child))
    return module


def freeze_stages(model: nn.Module, stages: Iterable[str]) -> list[str]:
    """Freeze ``stages`` (names from ``STAGES``) in place; returns the frozen module names."""
    frozen = []
    for stage in stages:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r} in model.net.freeze; choose from {list(STAGES)}")
        for name in STAGES[stage]:
            module = _freeze_batchnorm(getattr(model, name))
            setattr(model, name, module)
            for p in module.parameters():
                p.requires_grad_(False)
            frozen.append(name)
    return frozen
