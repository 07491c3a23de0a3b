"""Models: one factory (``build_model``) for every backbone the experiments use."""

from artworks.models.factory import ARCHITECTURES, build_model

__all__ = ["ARCHITECTURES", "build_model"]
