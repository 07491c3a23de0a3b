"""Train one experiment, then test its best checkpoint.

    python -m artworks.train model=cbam_resnet50 [key=value ...]
    python -m artworks.train -m model=scratch_resnet50,finetune_resnet50,freeze14_resnet50,freeze13_resnet50,cbam_resnet50
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from artworks.config import config_dir
from artworks.errors import ArtworksError
from artworks.module import ArtistClassifier

log = logging.getLogger(__name__)


def _instantiate_all(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry with a ``_target_`` of a callbacks/logger group."""
    return [instantiate(c) for c in (group or {}).values() if isinstance(c, DictConfig) and "_target_" in c]


def _name_wandb_group(cfg: DictConfig) -> None:
    """In a multirun, every job's W&B run joins one group named after the sweep directory."""
    wandb_cfg = (cfg.get("logger") or {}).get("wandb")
    if wandb_cfg is None or wandb_cfg.get("group") or not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        with open_dict(cfg):
            wandb_cfg.group = Path(hydra_cfg.sweep.dir).name


def _finish_wandb() -> None:
    """Close the W&B run so the next job of a multirun starts its own."""
    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()


def build_module(cfg: DictConfig, datamodule: Any) -> ArtistClassifier:
    mean, std = datamodule.channel_stats()
    return ArtistClassifier(
        net=OmegaConf.to_container(cfg.model.net, resolve=True),
        class_names=datamodule.classes,
        optimizer=OmegaConf.to_container(cfg.model.optimizer, resolve=True),
        scheduler=OmegaConf.to_container(cfg.model.scheduler, resolve=True) if cfg.model.scheduler else None,
        preprocess={"mean": mean, "std": std, "rotate90": datamodule.rotate90},
        experiment=cfg.model.experiment,
    )


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit the configured experiment, test the best checkpoint and write ``metrics.json``."""
    L.seed_everything(cfg.seed, workers=True)
    _name_wandb_group(cfg)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    module = build_module(cfg, datamodule)

    loggers = _instantiate_all(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=_instantiate_all(cfg.get("callbacks")), logger=loggers or False)
    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    try:
        if cfg.train:
            trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        metrics: dict[str, Any] = {"experiment": cfg.model.experiment, "classes": datamodule.num_classes}
        checkpoint = trainer.checkpoint_callback
        if checkpoint is not None and checkpoint.best_model_path:
            metrics["best_ckpt"] = checkpoint.best_model_path
            metrics["val/macro_acc_best"] = float(checkpoint.best_model_score)
        if cfg.test:
            ckpt = metrics.get("best_ckpt") if cfg.train else cfg.get("ckpt_path")
            if cfg.train and not ckpt:
                log.warning("No best checkpoint was saved; testing the weights at the end of training.")
            trainer.test(module, datamodule=datamodule, ckpt_path=ckpt)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")})
        (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        log.info("Metrics: %s", json.dumps(metrics))
        return metrics
    finally:
        _finish_wandb()


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def _hydra_entry(cfg: DictConfig) -> float | None:
    try:
        return train(cfg).get("test/macro_acc")
    except ArtworksError as err:
        print(f"\nartworks: {err.render()}\n", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    _hydra_entry()


if __name__ == "__main__":
    main()
