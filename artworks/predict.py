"""Top-k artists for new images, from a trained checkpoint alone.

    python -m artworks.predict ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt inputs=photos/ [topk=5]
    python -m artworks.predict ckpt_path=... inputs='photos/*.jpg' explain=true

The work is done by ``artworks.inference.predictor``; this command reads the config, prints the table and
writes the CSV.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig

from artworks.config import config_dir
from artworks.config.schema import PREDICT, check_config
from artworks.errors import ArtworksError
from artworks.inference.predictor import (
    Prediction,
    Predictor,
    find_images,
    format_table,
    predict_files,
    write_csv,
)
from artworks.runtime.command import hydra_task, run_command

log = logging.getLogger(__name__)


def predict(cfg: DictConfig) -> list[Prediction]:
    """Predict every image of ``cfg.inputs``, print the table, write the CSV (and explanations)."""
    if cfg.topk < 1 or cfg.batch_size < 1:
        raise ArtworksError(f"topk and batch_size must be at least 1 (got {cfg.topk} and {cfg.batch_size}).")
    predictor = Predictor.from_checkpoint(
        cfg.ckpt_path,
        image_size=cfg.image_size,
        device=cfg.device,
        tta=cfg.tta,
        backend=cfg.get("backend", "torch"),
        onnx_cache=cfg.get("onnx_cache"),
    )
    files, base = find_images(str(cfg.inputs))
    explain_dir = Path(cfg.explain_dir) if cfg.explain else None
    predictions, skipped = predict_files(
        predictor, files, cfg.topk, cfg.batch_size, cfg.num_workers, explain_dir=explain_dir, base=base
    )
    print(format_table(predictions, base))
    csv_path = write_csv(predictions, cfg.output, cfg.topk)
    log.info("%d images predicted, %d skipped; CSV: %s", len(predictions), len(skipped), csv_path)
    if explain_dir is not None:
        log.info("Explanations: %s", explain_dir)
    return predictions


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="predict")
@hydra_task
def _hydra_entry(cfg: DictConfig) -> None:
    check_config(cfg, PREDICT)
    predict(cfg)


def main() -> None:
    """``python -m artworks.predict`` / ``artworks-predict``."""
    run_command(_hydra_entry)


if __name__ == "__main__":
    main()
