"""The backbones ``model.net.arch`` can name: torchvision ResNets, and any timm model as ``timm/<name>``.

A backbone says how to build itself at random init, where to get its pretrained weights, which module is
its classifier head and which named stages it has (for ``model.net.freeze`` and per-stage learning rates).
Adding a torchvision backbone is one line in ``BACKBONES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import torch
from torch import nn
from torchvision import models

from artworks.errors import ArtworksError
from artworks.models.weights import fetch_state_dict

TIMM_PREFIX = "timm/"

# torchvision's ResNets: the stem (conv1 + bn1; maxpool has no parameters), four stages, the head.
RESNET_STAGES = MappingProxyType(
    {
        "stem": ("conv1", "bn1"),
        "layer1": ("layer1",),
        "layer2": ("layer2",),
        "layer3": ("layer3",),
        "layer4": ("layer4",),
        "fc": ("fc",),
    }
)


@dataclass(frozen=True)
class TorchvisionBackbone:
    """A torchvision classification model whose head is one ``nn.Linear`` at module path ``head``."""

    name: str
    head: str = "fc"
    stage_map: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: RESNET_STAGES)

    def create(self) -> nn.Module:
        return models.get_model(self.name, weights=None)

    def pretrained_state(self, weights: str) -> dict[str, torch.Tensor]:
        return fetch_state_dict(self.name, weights)

    def head_name(self, model: nn.Module) -> str:
        return self.head

    def reset_head(self, model: nn.Module, num_classes: int) -> None:
        old = model.get_submodule(self.head)
        model.set_submodule(self.head, nn.Linear(old.in_features, num_classes))

    def stages(self, model: nn.Module) -> dict[str, tuple[str, ...]]:
        return dict(self.stage_map)


@dataclass(frozen=True)
class TimmBackbone:
    """Any timm model by name; its stages are its top-level children, plus ``head`` for the classifier."""

    name: str

    def create(self) -> nn.Module:
        timm = _import_timm(self.name)
        try:
            return timm.create_model(self.name, pretrained=False)
        except RuntimeError as err:  # timm's "Unknown model"
            raise ArtworksError(
                f"timm has no model {self.name!r} ({err}). List the names with "
                f"`python -c \"import timm; print(timm.list_models('resnet*'))\"`."
            ) from err

    def pretrained_state(self, weights: str) -> dict[str, torch.Tensor]:
        """timm's pretrained weights (Hugging Face Hub cache); ``weights`` is DEFAULT or a timm tag."""
        timm = _import_timm(self.name)
        name = self.name if weights in ("DEFAULT", "pretrained") else f"{self.name}.{weights}"
        try:
            return timm.create_model(name, pretrained=True).state_dict()
        except (OSError, RuntimeError) as err:
            raise ArtworksError(
                f"timm's pretrained weights for {name} could not be loaded "
                f"({err.__class__.__name__}: {err}). "
                f"On an offline machine pass model.net.weights_path=/path/to/weights (.pth or .safetensors) "
                f"saved from the same timm model, or set HF_HUB_CACHE to a cache that holds them."
            ) from err

    def head_name(self, model: nn.Module) -> str:
        return model.pretrained_cfg["classifier"]

    def reset_head(self, model: nn.Module, num_classes: int) -> None:
        model.reset_classifier(num_classes)

    def stages(self, model: nn.Module) -> dict[str, tuple[str, ...]]:
        children = {
            name: (name,) for name, child in model.named_children() if any(True for _ in child.parameters())
        }
        return {"head": (self.head_name(model),), **children}


Backbone = TorchvisionBackbone | TimmBackbone

BACKBONES: dict[str, Backbone] = {
    "resnet18": TorchvisionBackbone("resnet18"),
    "resnet34": TorchvisionBackbone("resnet34"),
    "resnet50": TorchvisionBackbone("resnet50"),
    "resnet101": TorchvisionBackbone("resnet101"),
    "resnet152": TorchvisionBackbone("resnet152"),
}


def get_backbone(arch: str) -> Backbone:
    """The backbone ``arch`` names: a ``BACKBONES`` key or ``timm/<timm model name>``."""
    if arch.startswith(TIMM_PREFIX):
        return TimmBackbone(arch.removeprefix(TIMM_PREFIX))
    if arch not in BACKBONES:
        raise ArtworksError(
            f"Unknown model.net.arch={arch!r}. Choose one of {sorted(BACKBONES)}, or timm/<name> for "
            f"any timm model (pip install 'artworks[timm]')."
        )
    return BACKBONES[arch]


def _import_timm(name: str):  # noqa: ANN202 - the timm module
    try:
        import timm
    except ImportError as err:
        raise ArtworksError(
            f"model.net.arch=timm/{name} needs the timm package, which is not installed. "
            f"Install it with `pip install 'artworks[timm]'` (or `pip install timm`)."
        ) from err
    return timm
