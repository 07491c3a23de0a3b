"""CBAM: Convolutional Block Attention Module (Woo et al., ECCV 2018), as in the authors' reference code.

Channel gate: avg- and max-pooled descriptors through one shared MLP (C -> C/r -> C, ReLU, Linear layers
with bias), summed, sigmoid. Spatial gate: [channel-max, channel-mean] -> 7x7 conv (no bias)
-> BatchNorm (momentum 0.01) -> sigmoid. Both gates multiply their input, so CBAM keeps its input's shape.

Initialisation as the authors' reference code (Jongchan/attention-module, ``MODELS/model_resnet.py``) does it,
by state-dict key: every ``conv`` weight Kaiming-normal with ``mode="fan_out"``; the SpatialGate's BatchNorm
weight 0 (every other BatchNorm weight 1); every bias 0, the channel MLP's Linear biases included; the
MLP's Linear weights keep PyTorch's default init (their keys contain neither "conv" nor "bn"). With the
BatchNorm weight at 0 the spatial gate starts as a uniform 0.5 and learns its map from there.
In a Bottleneck, CBAM sits on ``bn3.num_features`` = 4 × planes channels (the count that gives the
paper's 28.09M parameters for ResNet-50).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ChannelGate(nn.Module):
    """Per-channel weights in (0, 1) from the avg- and max-pooled descriptors through one shared MLP."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels, channels // reduction),
            nn.ReLU(inplace=True),
            nn.Linear(channels // reduction, channels),
        )
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                nn.init.zeros_(layer.bias)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel attention in (0, 1), shape N×C×1×1."""
        logits = self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1))
        return torch.sigmoid(logits)[:, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


class SpatialGate(nn.Module):
    """Per-position weights in (0, 1) from the [channel-max, channel-mean] maps through a 7×7 conv."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out")
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The per-position attention map in (0, 1), shape N×1×H×W."""
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.bn(self.conv(pooled)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


class CBAM(nn.Module):
    """Channel gate then spatial gate; output has the input's shape."""

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        self.channel = ChannelGate(channels, reduction)
        self.spatial = SpatialGate(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))
