"""The report of a tested model: classification report, confusion matrix, per-artist accuracy, run facts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.loggers import Logger

from artworks.models import parameter_counts
from artworks.reports import classification, plots
from artworks.runtime import wandb_run
from artworks.training.callbacks.history import EpochHistory
from artworks.training.callbacks.throughput import TrainThroughput
from artworks.training.module import ArtistClassifier

REPORT_FILES = {
    "csv": "classification_report.csv",
    "md": "classification_report.md",
    "confusion_matrix": "confusion_matrix.png",
    "per_class_accuracy": "per_class_accuracy.png",
}


def write_test_report(
    output_dir: Path,
    module: ArtistClassifier,
    metrics: Mapping[str, Any],
    loggers: Sequence[Logger] = (),
    prefix: str = "test",
) -> dict[str, Path]:
    """Write the report of ``module``'s last test run into ``output_dir`` (and W&B); return the file paths.

    ``metrics`` holds the headline numbers (``<prefix>/macro_acc`` ...) computed by the module's
    torchmetrics; the report itself is scikit-learn's, from the same predictions.
    """
    logits, labels = module.test_outputs()
    targets, preds = labels.numpy(), logits.argmax(dim=1).numpy()
    names = module.class_names
    paths = {key: Path(output_dir) / name for key, name in REPORT_FILES.items()}
    title = f"{metrics.get('experiment', module.hparams.experiment)}: {prefix} split, {len(targets)} images"

    rows = classification.classification_rows(targets, preds, names)
    classification.write_csv(rows, paths["csv"])
    classification.write_markdown(rows, paths["md"], title, metrics, prefix)
    plots.plot_confusion_matrix(targets, preds, names, paths["confusion_matrix"], title)
    macro_acc = metrics.get(
        f"{prefix}/macro_acc", next(r["recall"] for r in rows if r["artist"] == "macro avg")
    )
    plots.plot_per_class_accuracy(
        classification.artist_rows(rows), macro_acc, paths["per_class_accuracy"], title
    )
    figures = {k: paths[k] for k in ("confusion_matrix", "per_class_accuracy")}
    wandb_run.log_report(loggers, rows, figures, prefix)
    return paths


def run_facts(trainer: L.Trainer, module: ArtistClassifier) -> dict[str, Any]:
    """Parameter counts, the best epoch and the training throughput, for ``metrics.json``."""
    facts: dict[str, Any] = {f"params_{k}": v for k, v in parameter_counts(module.net).items()}
    for callback in trainer.callbacks:
        if isinstance(callback, EpochHistory) and callback.best_epoch() is not None:
            facts["best_epoch"] = callback.best_epoch()
        if isinstance(callback, TrainThroughput) and callback.images_per_second is not None:
            facts["train_img_per_s"] = callback.images_per_second
    return facts
