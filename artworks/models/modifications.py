"""The seed's modified ResNet-50 as three independent switches on torchvision's ResNet.

- ``activation="gelu"``: every ReLU of the network becomes GELU (CBAM's own MLP keeps its ReLU);
- ``depthwise=True``: each Bottleneck's 3×3 conv becomes depthwise (groups = channels);
- ``attention="cbam"``: each Bottleneck becomes a ``CBAMBottleneck``: CBAM after ``bn3``, before the
  residual addition, as a new child ``cbam``. Every other parameter keeps its torchvision name, so
  ImageNet weights still load into the unchanged parts (see ``weights.load_matching``).
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet

from artworks.errors import ArtworksError
from artworks.models.cbam import CBAM

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}
ATTENTIONS = ("none", "cbam")


class CBAMBottleneck(Bottleneck):
    """torchvision's Bottleneck with CBAM on the residual branch after ``bn3``, as in the reference code."""

    def __init__(self, block: Bottleneck, reduction: int = 16) -> None:
        nn.Module.__init__(self)  # adopt ``block``'s layers, with their weights, instead of building new ones
        for name, child in block.named_children():
            self.add_module(name, child)
        self.downsample = block.downsample
        self.stride = block.stride
        self.cbam = CBAM(block.bn3.num_features, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.cbam(self.bn3(self.conv3(out)))
        return self.relu(out + identity)


def _bottlenecks(model: nn.Module) -> dict[str, Bottleneck]:
    blocks = {name: m for name, m in model.named_modules() if isinstance(m, Bottleneck)}
    if not isinstance(model, ResNet) or not blocks:
        raise ArtworksError(
            "model.net.depthwise and model.net.attention=cbam modify torchvision's Bottleneck ResNets only "
            "(resnet50, resnet101, resnet152). Turn them off for this model.net.arch."
        )
    return blocks


def replace_activations(model: nn.Module, activation: str) -> None:
    if activation == "relu":
        return
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.ReLU):
                setattr(parent, name, ACTIVATIONS[activation]())


def make_depthwise(model: nn.Module) -> list[str]:
    """Make every Bottleneck's 3×3 conv depthwise; returns the replaced convs' module paths."""
    replaced = []
    for name, block in _bottlenecks(model).items():
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
        nn.init.kaiming_normal_(block.conv2.weight, mode="fan_out", nonlinearity="relu")  # as torchvision's
        replaced.append(f"{name}.conv2")
    return replaced


def add_cbam(model: nn.Module) -> list[str]:
    """Put CBAM into every Bottleneck; returns the new CBAM modules' paths."""
    added = []
    for name, block in _bottlenecks(model).items():
        model.set_submodule(name, CBAMBottleneck(block))
        added.append(f"{name}.cbam")
    return added


def apply_modifications(
    model: nn.Module, activation: str = "relu", depthwise: bool = False, attention: str = "none"
) -> list[str]:
    """Apply the switches in place; returns the paths of the modules they added or reshaped.

    Those modules start from their initialisation; everything else can still take pretrained weights.
    (GELU has no parameters, so changing the activation reshapes nothing.)
    """
    if activation not in ACTIVATIONS:
        raise ArtworksError(f"model.net.activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}.")
    if attention not in ATTENTIONS:
        raise ArtworksError(f"model.net.attention must be one of {list(ATTENTIONS)}, got {attention!r}.")
    replace_activations(model, activation)
    changed = make_depthwise(model) if depthwise else []
    if attention == "cbam":
        changed += add_cbam(model)
    return changed
