"""What a run puts into Weights & Biases beyond Lightning's metric logging: best-of summary, report, facts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import Logger, WandbLogger

from artworks.reports.classification import COLUMNS


def _wandb(loggers: Sequence[Logger]) -> list[WandbLogger]:
    return [lg for lg in loggers if isinstance(lg, WandbLogger)]


def track_best(loggers: Sequence[Logger], metric: str = "val/macro_acc") -> None:
    """Make the W&B summary of ``metric`` its maximum over the run rather than its last value."""
    for lg in _wandb(loggers):
        lg.experiment.define_metric(metric, summary="max")


def log_report(
    loggers: Sequence[Logger], rows: Sequence[Mapping[str, Any]], images: Mapping[str, Path], prefix: str
) -> None:
    """The classification report as a W&B table and the report's figures as images, under ``prefix/``."""
    for lg in _wandb(loggers):
        data = [[r[c] for c in COLUMNS] for r in rows]
        lg.log_table(key=f"{prefix}/classification_report", columns=list(COLUMNS), data=data)
        for name, path in images.items():
            lg.log_image(key=f"{prefix}/{name}", images=[str(path)])


def write_summary(loggers: Sequence[Logger], metrics: Mapping[str, Any]) -> None:
    """Put the run's final numbers and facts (``metrics.json``) into the W&B summary."""
    for lg in _wandb(loggers):
        lg.experiment.summary.update(
            {k: v for k, v in metrics.items() if isinstance(v, int | float | str | list)}
        )
