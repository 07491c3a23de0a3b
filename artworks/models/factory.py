"""The one place every network is built: architecture, starting weights, modifications, freezing, head."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn
from torchvision import models

from artworks.models.freeze import freeze_stages
from artworks.models.modifications import apply_modifications
from artworks.models.weights import fetch_state_dict, load_backbone, read_state_dict

ARCHITECTURES = {
    "resnet18": models.resnet18,
    "resnet34": models.resnet34,
    "resnet50": models.resnet50,
    "resnet101": models.resnet101,
    "resnet152": models.resnet152,
}


def build_model(
    num_classes: int,
    arch: str = "resnet50",
    weights: str | None = None,
    weights_path: str | None = None,
    freeze: Sequence[str] = (),
    activation: str = "relu",
    depthwise: bool = False,
    attention: str = "none",
    load_weights: bool = True,
) -> nn.Module:
    """Build ``arch`` with a ``num_classes`` head.

    Args:
        weights: torchvision weights name (``IMAGENET1K_V2``, ``DEFAULT``...) or ``None`` for random init.
        weights_path: local state dict to start from instead of torchvision's cache/download; only used
            when ``weights`` is set.
        freeze: stages to freeze (``stem``, ``layer1``..``layer4``); their BatchNorm statistics are fixed.
        activation, depthwise, attention: the modified-ResNet switches (see ``modifications``).
        load_weights: ``False`` when the weights will come from a checkpoint anyway.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose from {sorted(ARCHITECTURES)}")
    model = ARCHITECTURES[arch](weights=None)
    if weights and load_weights:
        if weights_path:
            load_backbone(model, read_state_dict(weights_path), source=str(weights_path))
        else:
            load_backbone(model, fetch_state_dict(arch, weights), source=f"torchvision {arch} {weights}")
    apply_modifications(model, activation=activation, depthwise=depthwise, attention=attention)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    freeze_stages(model, freeze)
    return model
