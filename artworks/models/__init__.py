"""Models: one factory (``build_model``) for every backbone the experiments use."""

from artworks.models.factory import DEFAULT_ARCH, build_model
from artworks.models.registry import BACKBONES, get_backbone
from artworks.models.stages import parameter_counts, stage_param_groups

__all__ = [
    "BACKBONES",
    "DEFAULT_ARCH",
    "build_model",
    "get_backbone",
    "parameter_counts",
    "stage_param_groups",
]
