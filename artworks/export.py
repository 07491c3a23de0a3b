"""Export a trained checkpoint as one self-contained file for ONNX Runtime or TorchScript.

    python -m artworks.export ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt format=onnx|torchscript

What the file holds and expects: ``artworks.inference.export``.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from artworks.config import config_dir
from artworks.config.schema import EXPORT, check_config
from artworks.inference.export import export
from artworks.runtime.command import hydra_task, run_command


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="export")
@hydra_task
def _hydra_entry(cfg: DictConfig) -> None:
    check_config(cfg, EXPORT)
    print(export(cfg.ckpt_path, cfg.format, cfg.output, cfg.image_size))


def main() -> None:
    """``python -m artworks.export`` / ``artworks-export``."""
    run_command(_hydra_entry)


if __name__ == "__main__":
    main()
