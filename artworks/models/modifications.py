"""The seed's modified ResNet-50 as three independent switches on torchvision's ResNet.

- ``activation="gelu"``: every ReLU of the network becomes GELU (CBAM's own MLP keeps its ReLU);
- ``depthwise=True``: each Bottleneck's 3×3 conv becomes depthwise (groups = channels);
- ``attention="cbam"``: CBAM after ``bn3``, before the residual addition (``bn3`` becomes
  ``Sequential(bn3, CBAM)``, so torchvision's own Bottleneck.forward does the rest).
"""

from __future__ import annotations

from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet

from artworks.models.cbam import CBAM

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}
ATTENTIONS = ("none", "cbam")


def _bottlenecks(model: ResNet) -> list[Bottleneck]:
    blocks = [m for m in model.modules() if isinstance(m, Bottleneck)]
    if not blocks:
        raise ValueError("depthwise convs and CBAM need a Bottleneck ResNet (resnet50/101/152)")
    return blocks


def replace_activations(model: nn.Module, activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if activation == "relu":
        return
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.ReLU):
                setattr(parent, name, ACTIVATIONS[activation]())


def make_depthwise(model: ResNet) -> None:
    for block in _bottlenecks(model):
        old = block.conv2
        block.conv2 = nn.Conv2d(
            old.in_channels,
            old.out_channels,
            kernel_size=old.kernel_size,
            stride=old.stride,
            padding=old.padding,
            dilation=old.dilation,
            groups=old.in_channels,
            bias=False,
        )
        nn.init.kaiming_normal_(block.conv2.weight, mode="fan_out", nonlinearity="relu")


def add_cbam(model: ResNet) -> None:
    for block in _bottlenecks(model):
        block.bn3 = nn.Sequential(block.bn3, CBAM(block.bn3.num_features))


def apply_modifications(model: ResNet, activation: str = "relu", depthwise: bool = False, attention: str = "none") -> None:
    """Apply the switches in place (after any pretrained weights were loaded)."""
    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
    replace_activations(model, activation)
    if depthwise:
        make_depthwise(model)
    if attention == "cbam":
        add_cbam(model)
