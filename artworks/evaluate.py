"""Test a saved checkpoint without training, and write the same report a training run writes.

    python -m artworks.evaluate ckpt_path=outputs/runs/<run>/checkpoints/epoch_007.ckpt [split=test|val|train]

The checkpoint is read weights-only (``artworks.training.checkpoint``) and brings its network, class names,
image size and normalisation; the data settings (``data=...``) rebuild the split, as in training.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig

from artworks.config import config_dir
from artworks.config.schema import EVALUATE, check_config
from artworks.data.split import SPLITS
from artworks.errors import ArtworksError
from artworks.inference import tta
from artworks.reports.run_report import EvalData, ReportSettings, write_test_report
from artworks.runtime import wandb_run
from artworks.runtime.command import hydra_task, run_command
from artworks.storage.atomic import atomic_write_json
from artworks.training.checkpoint import check_compatible, load_checkpoint, load_classifier

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test ``cfg.ckpt_path`` on ``cfg.split``; write ``metrics.json`` and the report into the output dir."""
    if cfg.split not in SPLITS:
        raise ArtworksError(f"split={cfg.split} is not a split; choose one of {', '.join(SPLITS)}.")
    checkpoint = load_checkpoint(cfg.ckpt_path)
    hparams = checkpoint["hyper_parameters"]
    image_size = hparams["preprocess"].get("image_size") or cfg.data.image_size
    mode = tta.check_mode(cfg.get("tta", "none"))
    # normalize only picks the statistics of a new model; the checkpoint brings its own mean/std;
    # multicrop reads (and caches) the images larger, to cut crops at the training scale from them
    larger = {"cache_image_size": None} if mode == "multicrop" else {}
    datamodule = instantiate(
        cfg.data, image_size=tta.input_size(mode, image_size), normalize="imagenet", **larger
    )
    datamodule.prepare_data()
    datamodule.setup("test")
    check_compatible(checkpoint, cfg.ckpt_path, hparams["net"], datamodule.classes)
    module = load_classifier(cfg.ckpt_path)

    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    wandb_run.describe_checkpoint(cfg, hparams, cfg.split)  # the W&B run is named and tagged as in training
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if "_target_" in c]
    try:
        return _test_and_report(cfg, module, datamodule, loggers, image_size, mode)
    finally:
        wandb_run.finish()


def _test_and_report(
    cfg: DictConfig, module: Any, datamodule: Any, loggers: list[Any], image_size: int, mode: str
) -> dict[str, Any]:
    """Test, then write the report, ``metrics.json`` and the W&B summary."""
    hparams, output_dir = module.hparams, Path(cfg.paths.output_dir)
    trainer: L.Trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    if trainer.is_global_zero:
        wandb_run.use_split(loggers, datamodule.split_path)
    with tta.applied(module, mode, image_size):  # the test loop's metrics and outputs average the views
        trainer.test(module, dataloaders=datamodule.eval_dataloader(cfg.split))

    metrics: dict[str, Any] = {
        "experiment": hparams.get("experiment"),
        "ckpt_path": str(cfg.ckpt_path),
        "split": cfg.split,
        "classes": len(datamodule.classes),
        "image_size": image_size,
        "tta": mode,
    }
    for key, value in trainer.callback_metrics.items():
        if key.startswith("test/"):
            metrics[f"{cfg.split}/{key.removeprefix('test/')}"] = float(value)
    metrics["temperature"] = float(module.temperature)  # the checkpoint's calibration (1: none)
    data = EvalData.from_datamodule(datamodule, cfg.split)
    settings = ReportSettings(**cfg.get("report", {}))
    metrics.update(write_test_report(output_dir, module, metrics, data, loggers, cfg.split, settings))
    wandb_run.write_summary(loggers, metrics)
    atomic_write_json(output_dir / "metrics.json", metrics, indent=2)
    log.info("Metrics: %s", json.dumps(metrics))
    return metrics


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="evaluate")
@hydra_task
def _hydra_entry(cfg: DictConfig) -> None:
    check_config(cfg, EVALUATE)
    metrics = evaluate(cfg)
    print(f"\n{json.dumps(metrics, indent=2)}\nReport written to {cfg.paths.output_dir}")


def main() -> None:
    """``python -m artworks.evaluate`` / ``artworks-evaluate``."""
    run_command(_hydra_entry)


if __name__ == "__main__":
    main()
