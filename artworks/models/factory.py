"""The one place every network is built: backbone, modifications, head, starting weights, freezing.

The order is what makes it right by construction: the switches change the architecture first, then
pretrained weights load by name and shape (so a modified ResNet takes ImageNet weights wherever its shapes
still match, and the report says exactly what did not), and only then are stages frozen.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from torch import nn

from artworks.models.modifications import apply_modifications
from artworks.models.registry import get_backbone
from artworks.models.stages import freeze_stages, parameter_counts
from artworks.models.weights import load_matching, read_state_dict

log = logging.getLogger(__name__)
DEFAULT_ARCH = "resnet50"  # the study's network, when a net config names none


def build_model(
    num_classes: int,
    arch: str = DEFAULT_ARCH,
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
        arch: a ``registry.BACKBONES`` name (``resnet50``...) or ``timm/<name>``.
        weights: pretrained weights name (torchvision: ``IMAGENET1K_V2``, ``DEFAULT``...; timm: ``DEFAULT`` or
            a tag) or ``None`` for random init.
        weights_path: local state dict to start from instead of the download cache; only used when
            ``weights`` is set.
        freeze: stages or module paths to freeze (ResNets: ``stem``, ``layer1``..``layer4``, ``fc``);
            their BatchNorm statistics are fixed too.
        activation, depthwise, attention: the modified-ResNet switches (see ``modifications``).
        load_weights: ``False`` when the weights will come from a checkpoint anyway.
    """
    backbone = get_backbone(arch)
    model = backbone.create()
    changed = apply_modifications(model, activation=activation, depthwise=depthwise, attention=attention)
    backbone.reset_head(model, num_classes)
    if weights and load_weights:
        if weights_path:
            state, source = read_state_dict(weights_path), str(weights_path)
        else:
            state, source = backbone.pretrained_state(weights), f"{arch} {weights} weights"
        report = load_matching(model, state, source, new_modules=[*changed, backbone.head_name(model)])
        print(report.summary())
    freeze_stages(model, backbone.stages(model), freeze)
    counts = parameter_counts(model)
    log.info("%s: %s parameters, %s trainable", arch, f"{counts['total']:,}", f"{counts['trainable']:,}")
    return model
