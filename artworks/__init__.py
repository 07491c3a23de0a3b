"""artworks: which artist painted this? ResNet-50 experiments with Lightning + Hydra."""

__version__ = "0.1.0"
