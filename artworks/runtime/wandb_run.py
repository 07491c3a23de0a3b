"""Everything the project says to Weights & Biases, in one adapter.

Lightning's ``WandbLogger`` logs the metrics; this module adds what a study needs around them: the W&B mode
(online only with credentials), the group of a multirun, the id of a continued run, the best-of summary,
the data and test reports, the misclassified images as a table, the split file as the ``data-split``
artifact every run uses (lineage: which runs share a test set), the calibrated best checkpoint as a model
artifact, the comparison run of a sweep, and closing the run. Every function takes the run's loggers (or its
config) and does nothing when W&B is not among them, so callers need no ``if``.
"""

from __future__ import annotations

import hashlib
import netrc
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf, open_dict

if TYPE_CHECKING:
    from lightning.pytorch.loggers import Logger, WandbLogger

SPLIT_ARTIFACT = "data-split"
COMPARE_DIR = ".compare"  # the sweep's comparison run: hidden, so the sweep folder lists only its jobs


def wandb_mode() -> str:
    """``online`` when W&B credentials are present, else ``offline``; ``WANDB_MODE`` wins if set.

    Only checks that a key exists; the key itself is never read into the config or printed.
    """
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        auth = netrc.netrc().authenticators("api.wandb.ai")
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        auth = None
    return "online" if auth else "offline"


def _wandb(loggers: Sequence[Logger]) -> list[WandbLogger]:
    from lightning.pytorch.loggers import WandbLogger

    return [lg for lg in loggers if isinstance(lg, WandbLogger)]


# -- configuring the run before the logger exists ----------------------------------------------------
def name_group(cfg: DictConfig) -> None:
    """In a multirun, every job's W&B run joins one group named after the sweep directory."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    wandb_cfg = (cfg.get("logger") or {}).get("wandb")
    if wandb_cfg is None or wandb_cfg.get("group") or not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        with open_dict(cfg):
            wandb_cfg.group = Path(hydra_cfg.sweep.dir).name


def continue_run(cfg: DictConfig, output_dir: Path, saved_id: str | None) -> str:
    """The W&B run id of the run in ``output_dir`` (``saved_id`` when continuing one); the logger gets it.

    A new id is derived from the run directory, so every DDP rank of the run agrees on it; ``resume=allow``
    continues the W&B run of that id, or starts it.
    """
    wandb_id = saved_id or hashlib.sha256(str(output_dir.resolve()).encode()).hexdigest()[:12]
    wandb_cfg = OmegaConf.select(cfg, "logger.wandb")
    if wandb_cfg is not None:
        with open_dict(cfg):
            wandb_cfg.id = wandb_id
            wandb_cfg.resume = "allow"
    return wandb_id


def describe_checkpoint(cfg: DictConfig, hparams: Mapping[str, Any], split: str) -> None:
    """Name and tag an ``evaluate`` run after the checkpoint it evaluates (there is no ``model`` config)."""
    from artworks.config.resolvers import model_tags  # noqa: PLC0415 (resolvers import this module)

    wandb_cfg = OmegaConf.select(cfg, "logger.wandb")
    if wandb_cfg is None:
        return
    defaults = {"arch": "resnet50", "weights": None, "freeze": [], "activation": "relu"}
    net = {**defaults, "depthwise": False, "attention": "none", **hparams.get("net", {})}
    model = OmegaConf.create({"experiment": hparams.get("experiment") or "experiment", "net": net})
    with open_dict(cfg):
        wandb_cfg.name = str(model.experiment)
        wandb_cfg.tags = [*model_tags(model), f"split:{split}"]


# -- during the run ----------------------------------------------------------------------------------
def track_best(loggers: Sequence[Logger], metric: str = "val/macro_acc") -> None:
    """Make the W&B summary of ``metric`` its maximum over the run rather than its last value."""
    for lg in _wandb(loggers):
        lg.experiment.define_metric(metric, summary="max")


def use_split(loggers: Sequence[Logger], split_path: Path) -> None:
    """Record the split file as the input artifact ``data-split`` (one version per file content).

    Runs on the same split use the same version, so W&B's lineage shows which runs share a test set; the
    alias is the split file's own name (``split-<hash>``). Offline, W&B refuses ``use_artifact``; the draft
    is then logged the way ``use_artifact`` itself logs one (marked for use once committed), so ``wandb
    sync`` records the use.
    """
    import wandb

    for lg in _wandb(loggers):
        artifact = wandb.Artifact(SPLIT_ARTIFACT, type="dataset", metadata={"file": split_path.name})
        artifact.add_file(str(split_path))
        run = lg.experiment
        if run.offline:
            run._log_artifact(
                artifact, aliases=[split_path.stem], is_user_created=True, use_after_commit=True
            )
        else:
            run.use_artifact(artifact, aliases=[split_path.stem])


def log_data_report(
    loggers: Sequence[Logger],
    tables: Mapping[str, tuple[Sequence[str], Sequence[Sequence[Any]]]],
    images: Mapping[str, Path],
    summary: Mapping[str, Any],
) -> None:
    """The data report under ``data/``: tables (an empty row where a table is empty), images, summary."""
    for lg in _wandb(loggers):
        for key, (columns, rows) in tables.items():
            lg.log_table(key, columns=list(columns), data=[list(r) for r in rows] or [[""] * len(columns)])
        for key, path in images.items():
            lg.log_image(key, images=[str(path)])
        lg.experiment.summary.update({f"data/{k}": v for k, v in summary.items()})


def log_report(
    loggers: Sequence[Logger], rows: Sequence[Mapping[str, Any]], images: Mapping[str, Path], prefix: str
) -> None:
    """The classification report as a W&B table and the report's figures as images, under ``prefix/``."""
    from artworks.reports.classification import COLUMNS

    for lg in _wandb(loggers):
        data = [[r[c] for c in COLUMNS] for r in rows]
        lg.log_table(key=f"{prefix}/classification_report", columns=list(COLUMNS), data=data)
        for name, path in images.items():
            lg.log_image(key=f"{prefix}/{name}", images=[str(path)])


MISCLASSIFIED_COLUMNS = ("image", "path", "artist", "predicted", "probability")


def log_misclassified(loggers: Sequence[Logger], mistakes: Sequence[Mapping[str, Any]], prefix: str) -> None:
    """The most confident mistakes, with thumbnails, as the table ``<prefix>/misclassified`` (sortable)."""
    if not mistakes:
        return
    import wandb

    for lg in _wandb(loggers):
        rows = [
            [wandb.Image(m["image"], caption=m["caption"]), *(m[c] for c in MISCLASSIFIED_COLUMNS[1:])]
            for m in mistakes
        ]
        lg.experiment.log(
            {f"{prefix}/misclassified": wandb.Table(columns=list(MISCLASSIFIED_COLUMNS), data=rows)}
        )


def log_best_model(loggers: Sequence[Logger], ckpt_path: Path | str, metadata: Mapping[str, Any]) -> None:
    """With ``logger.wandb.log_model`` on: the best checkpoint (with its temperature) as a model artifact.

    Lightning uploads the checkpoints when training ends, before the temperature is stored; this version
    is the file as ``predict`` will read it, aliased ``best`` and ``calibrated``.
    """
    import wandb

    for lg in _wandb(loggers):
        if not lg._log_model:  # WandbLogger keeps its log_model argument only there
            continue
        artifact = wandb.Artifact(f"model-{lg.experiment.id}", type="model", metadata=dict(metadata))
        artifact.add_file(str(ckpt_path), name="model.ckpt")
        lg.experiment.log_artifact(artifact, aliases=["best", "calibrated"])


def write_summary(loggers: Sequence[Logger], metrics: Mapping[str, Any]) -> None:
    """Put the run's final numbers and facts (``metrics.json``, intervals included) into the W&B summary."""
    for lg in _wandb(loggers):
        lg.experiment.summary.update(
            {k: v for k, v in metrics.items() if isinstance(v, int | float | str | list)}
        )


def finish() -> None:
    """Close the W&B run so the next job of a multirun starts its own; say how to upload an offline one."""
    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            offline_dir = Path(wandb.run.dir).parent.resolve() if wandb.run.offline else None
            wandb.finish()
            if offline_dir is not None:
                print(f"W&B run saved offline; upload it with:\n  wandb sync {shlex.quote(str(offline_dir))}")


# -- after a sweep -------------------------------------------------------------------------------------
def comparison_settings(config: DictConfig) -> dict[str, Any] | None:
    """What a sweep's comparison run needs from the sweep's config: ``None`` when it does not use W&B."""
    wandb_cfg = OmegaConf.select(config, "logger.wandb")
    if wandb_cfg is None:
        return None
    sweep_dir = Path(config.hydra.sweep.dir)
    return {
        "project": wandb_cfg.get("project", "artworks"),
        "group": wandb_cfg.get("group") or sweep_dir.name,
        "mode": wandb_cfg.get("mode") or wandb_mode(),  # as the jobs ran: online, offline or disabled
        "dir": str(sweep_dir / COMPARE_DIR),
    }


def log_comparison(
    settings: Mapping[str, Any],
    tables: Mapping[str, tuple[Sequence[str], Sequence[Sequence[Any]]]],
    plot: Path,
) -> None:
    """One run of job type ``compare`` in the sweep's group: the comparison tables and the plot."""
    import wandb

    Path(settings["dir"]).mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=settings["project"],
        group=settings["group"],
        mode=settings["mode"],
        dir=settings["dir"],
        name=f"compare {settings['group']}",
        job_type="compare",
        reinit="create_new",
    )
    try:
        for key, (columns, rows) in tables.items():
            run.log({key: wandb.Table(columns=list(columns), data=[list(r) for r in rows])})
        run.log({"comparison/plot": wandb.Image(str(plot))})
    finally:
        offline_dir = Path(run.dir).parent.resolve() if run.offline else None
        run.finish()
    if offline_dir is not None:
        print(
            f"W&B comparison run saved offline; upload it with:\n  wandb sync {shlex.quote(str(offline_dir))}"
        )
