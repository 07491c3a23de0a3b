"""The body of one training job: fit the configured experiment, test its best checkpoint, write the files.

``artworks.train`` (the command) wraps :func:`train` for Hydra; tests and notebooks call it with a composed
config.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from artworks.config import model_tags
from artworks.config.checks import check_override_types
from artworks.config.schema import TRAIN, check_config
from artworks.data.report import write_data_report
from artworks.models import parameter_counts
from artworks.reports.calibration import calibrate_best_checkpoint
from artworks.reports.run_report import EvalData, ReportSettings, run_facts, write_test_report
from artworks.runtime import sweep_failures, wandb_run
from artworks.runtime.ddp import distributed_job
from artworks.runtime.provenance import write_provenance
from artworks.storage.atomic import atomic_write_json
from artworks.training import resume
from artworks.training.checkpoint import check_compatible, load_checkpoint
from artworks.training.module import ArtistClassifier

log = logging.getLogger(__name__)


def _instantiate_all(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry with a ``_target_`` of a callbacks/logger group."""
    return [instantiate(c) for c in (group or {}).values() if isinstance(c, DictConfig) and "_target_" in c]


def build_module(cfg: DictConfig, datamodule: Any) -> ArtistClassifier:
    """The classifier ``cfg.model`` describes (with ``cfg.speed``'s run-time options) for ``datamodule``."""
    return ArtistClassifier.from_config(cfg.model, datamodule, cfg.get("speed"))


def _callbacks(cfg: DictConfig, loggers: list[Any]) -> list[Any]:
    """The configured callbacks; with a logger also every parameter group's LR (LearningRateMonitor, which
    refuses to run without one; the module logs ``train/lr`` itself for history.csv)."""
    callbacks = _instantiate_all(cfg.get("callbacks"))
    return [*callbacks, LearningRateMonitor()] if loggers else callbacks


@distributed_job()
def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit the configured experiment, test the best checkpoint and write ``metrics.json``."""
    torch.set_float32_matmul_precision(cfg.speed.float32_matmul_precision)
    check_override_types(cfg)
    check_config(cfg, TRAIN)  # value ranges (artworks.config.schema), before anything prints or runs
    L.seed_everything(cfg.seed, workers=True)
    wandb_run.name_group(cfg)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    plan = resume.prepare(cfg, output_dir)  # resume.json, last.ckpt and the W&B id of a continued run
    if plan.finished_metrics is not None:
        return plan.finished_metrics
    sweep_failures.clear_failure(output_dir)
    if rank_zero_only.rank == 0:  # under DDP (e.g. SLURM tasks) one rank writes the run's files
        write_provenance(output_dir)

    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    module = build_module(cfg, datamodule)
    start_ckpt = plan.ckpt_path if cfg.train else cfg.get("ckpt_path")
    if start_ckpt:
        check_compatible(load_checkpoint(start_ckpt), start_ckpt, module.hparams.net, datamodule.classes)

    loggers = _instantiate_all(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=_callbacks(cfg, loggers), logger=loggers or False)
    run_config = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])  # composed in tests: has hydra
    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(run_config, resolve=True))
        lg.log_hyperparams({f"params/{k}": v for k, v in parameter_counts(module.net).items()})

    report = ReportSettings(**cfg.get("report", {}))
    wandb_run.track_best(loggers)  # the W&B summary keeps the best val/macro_acc, not the last
    if trainer.is_global_zero:
        write_data_report(datamodule, output_dir, loggers, report.figures)  # data-report/: counts, mean/std
        wandb_run.use_split(loggers, datamodule.split_path)  # lineage: the runs that share this test set

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
        if cfg.test and metrics.get("best_ckpt"):  # T on validation, into the best checkpoint (every rank)
            metrics.update(
                calibrate_best_checkpoint(trainer, module, datamodule, metrics["best_ckpt"], report.ece_bins)
            )
        if not trainer.is_global_zero:  # under DDP, one rank writes the run's files
            return metrics
        if cfg.test:
            data = EvalData.from_datamodule(datamodule, "test")
            metrics.update(write_test_report(output_dir, module, metrics, data, loggers, settings=report))
        if metrics.get("best_ckpt"):
            wandb_run.log_best_model(
                loggers, metrics["best_ckpt"], {"val/macro_acc": metrics["val/macro_acc_best"]}
            )
        wandb_run.write_summary(loggers, metrics)
        atomic_write_json(output_dir / "metrics.json", metrics, indent=2)
        log.info("Metrics: %s", json.dumps(metrics))
        return metrics
    finally:
        wandb_run.finish()
