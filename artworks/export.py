"""Export a trained checkpoint as one self-contained file for ONNX Runtime or TorchScript.

    python -m artworks.export ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt format=onnx|torchscript

What the file holds and expects: ``artworks.inference.export``.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from artworks.config import config_dir
from artworks.errors import ArtworksError
from artworks.inference.export import export


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="export")
def _hydra_entry(cfg: DictConfig) -> None:
    try:
        path = export(cfg.ckpt_path, cfg.format, cfg.output, cfg.image_size)
    except ArtworksError as err:
        print(f"\nartworks: {err.render()}\n", file=sys.stderr)
        sys.exit(2)
    print(path)


def main() -> None:
    _hydra_entry()


if __name__ == "__main__":
    main()
