"""The body of one training job: fit the configured experiment, test its best checkpoint, write the files.

``artworks.train`` (the command) wraps :func:`train` for Hydra; tests and notebooks call it with a composed
config.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from artworks.config import model_tags
from artworks.config.checks import check_image_size, check_override_types
from artworks.data.report import write_data_report
from artworks.models import parameter_counts
from artworks.reports.run_report import run_facts, write_test_report
from artworks.runtime import sweep_failures, wandb_run
from artworks.runtime.ddp import distributed_job
from artworks.runtime.provenance import write_provenance
from artworks.training import resume
from artworks.training.checkpoint import check_compatible, load_checkpoint
from artworks.training.module import ArtistClassifier

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
            offline_dir = Path(wandb.run.dir).parent.resolve() if wandb.run.offline else None
            wandb.finish()
            if offline_dir is not None:
                print(f"W&B run saved offline; upload it with:\n  wandb sync {shlex.quote(str(offline_dir))}")


def build_module(cfg: DictConfig, datamodule: Any) -> ArtistClassifier:
    mean, std = datamodule.channel_stats()
    return ArtistClassifier(
        net=OmegaConf.to_container(cfg.model.net, resolve=True),
        class_names=datamodule.classes,
        optimizer=OmegaConf.to_container(cfg.model.optimizer, resolve=True),
        scheduler=OmegaConf.to_container(cfg.model.scheduler, resolve=True) if cfg.model.scheduler else None,
        preprocess={
            "mean": mean,
            "std": std,
            "rotate90": datamodule.rotate90,
            "image_size": datamodule.image_size,
        },
        experiment=cfg.model.experiment,
        channels_last=cfg.model.get("channels_last", False),
        compile=cfg.model.get("compile", False),
        compile_options=(
            OmegaConf.to_container(cfg.model.compile_options) if cfg.model.get("compile_options") else {}
        ),
        stage_lr_mult=(
            OmegaConf.to_container(cfg.model.stage_lr_mult) if cfg.model.get("stage_lr_mult") else None
        ),
    )


@distributed_job()
def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit the configured experiment, test the best checkpoint and write ``metrics.json``."""
    torch.set_float32_matmul_precision(cfg.get("float32_matmul_precision", "highest"))
    L.seed_everything(cfg.seed, workers=True)
    check_image_size(cfg)
    check_override_types(cfg)
    _name_wandb_group(cfg)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    plan = resume.prepare(cfg, output_dir)  # resume.json, last.ckpt and the W&B id of a continued run
    if plan.finished_metrics is not None:
        return plan.finished_metrics
    sweep_failures.clear_failure(output_dir)
    write_provenance(output_dir)

    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    module = build_module(cfg, datamodule)
    start_ckpt = plan.ckpt_path if cfg.train else cfg.get("ckpt_path")
    if start_ckpt:
        check_compatible(load_checkpoint(start_ckpt), start_ckpt, module.hparams.net, datamodule.classes)

    loggers = _instantiate_all(cfg.get("logger"))
    trainer: L.Trainer = instantiate(
        cfg.trainer, callbacks=_instantiate_all(cfg.get("callbacks")), logger=loggers or False
    )
    run_config = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])  # composed in tests: has hydra
    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(run_config, resolve=True))
        lg.log_hyperparams({f"params/{k}": v for k, v in parameter_counts(module.net).items()})

    wandb_run.track_best(loggers)  # the W&B summary keeps the best val/macro_acc, not the last
    if trainer.is_global_zero:
        write_data_report(datamodule, output_dir, loggers)  # data-report/: counts per split, mean/std, skips

    try:
        started = time.perf_counter()
        if cfg.train:
            trainer.fit(module, datamodule=datamodule, ckpt_path=plan.ckpt_path)
        metrics: dict[str, Any] = {
            "experiment": cfg.model.experiment,
            "classes": datamodule.num_classes,
            "seed": cfg.seed,
            "tags": model_tags(cfg.model),
            "world_size": trainer.world_size,  # processes (devices x nodes) that trained and tested
        }
        if cfg.train:
            metrics["wall_time_s"] = time.perf_counter() - started  # fit: training and validation
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
        metrics.update(run_facts(trainer, module))
        if not trainer.is_global_zero:  # under DDP, one rank writes the run's files
            return metrics
        if cfg.test:
            write_test_report(output_dir, module, metrics, loggers)
        wandb_run.write_summary(loggers, metrics)
        (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        log.info("Metrics: %s", json.dumps(metrics))
        return metrics
    finally:
        _finish_wandb()
