"""Test a saved checkpoint without training, and write the same report a training run writes.

    python -m artworks.evaluate ckpt_path=outputs/runs/<run>/checkpoints/epoch_007.ckpt [split=test|val|train]

The checkpoint is read weights-only (``artworks.training.checkpoint``) and brings its network, class names,
image size and normalisation; the data settings (``data=...``) rebuild the split, as in training.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig

from artworks.config import config_dir
from artworks.data.split import SPLITS
from artworks.errors import ArtworksError
from artworks.reports.run_report import write_test_report
from artworks.training.checkpoint import check_compatible, load_checkpoint, load_classifier

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test ``cfg.ckpt_path`` on ``cfg.split``; write ``metrics.json`` and the report into the output dir."""
    if cfg.split not in SPLITS:
        raise ArtworksError(f"split={cfg.split} is not a split; choose one of {', '.join(SPLITS)}.")
    checkpoint = load_checkpoint(cfg.ckpt_path)
    hparams = checkpoint["hyper_parameters"]
    image_size = hparams["preprocess"].get("image_size") or cfg.data.image_size
    # normalize only picks the statistics of a new model; the checkpoint brings its own mean/std
    datamodule = instantiate(cfg.data, image_size=image_size, normalize="imagenet")
    datamodule.prepare_data()
    datamodule.setup("test")
    check_compatible(checkpoint, cfg.ckpt_path, hparams["net"], datamodule.classes)
    module = load_classifier(cfg.ckpt_path)

    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    trainer: L.Trainer = instantiate(cfg.trainer, logger=False, callbacks=[])
    trainer.test(module, dataloaders=datamodule.eval_dataloader(cfg.split))

    metrics: dict[str, Any] = {
        "experiment": hparams.get("experiment"),
        "ckpt_path": str(cfg.ckpt_path),
        "split": cfg.split,
        "classes": len(datamodule.classes),
        "image_size": image_size,
    }
    for key, value in trainer.callback_metrics.items():
        if key.startswith("test/"):
            metrics[f"{cfg.split}/{key.removeprefix('test/')}"] = float(value)
    write_test_report(output_dir, module, metrics, prefix=cfg.split)
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    log.info("Metrics: %s", json.dumps(metrics))
    return metrics


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="evaluate")
def _hydra_entry(cfg: DictConfig) -> None:
    try:
        metrics = evaluate(cfg)
    except ArtworksError as err:
        print(f"\nartworks: {err.render()}\n", file=sys.stderr)
        sys.exit(2)
    print(f"\n{json.dumps(metrics, indent=2)}\nReport written to {cfg.paths.output_dir}")


def main() -> None:
    _hydra_entry()


if __name__ == "__main__":
    main()
