"""The report of a tested model: predictions, intervals, classification report, figures, error analysis.

Files (in the run directory): ``test_predictions.csv``, ``classification_report.csv``/``.md`` (with the
95 % intervals, the most-confused artist pairs and the calibration), ``confusion_matrix.png``,
``per_class_accuracy.png``, ``misclassified.png``, ``recall_vs_train_size.png``, ``reliability.png``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from lightning.pytorch.loggers import Logger

from artworks.data.images import load_image
from artworks.models import parameter_counts
from artworks.reports import analysis, calibration, classification, plots, stats
from artworks.reports.predictions import PREDICTIONS_FILE, Predictions, from_outputs, write_predictions
from artworks.runtime import wandb_run
from artworks.training.callbacks.history import EpochHistory
from artworks.training.callbacks.throughput import TrainThroughput
from artworks.training.module import ArtistClassifier

REPORT_FILES = {
    "csv": "classification_report.csv",
    "md": "classification_report.md",
    "predictions": PREDICTIONS_FILE,
    "confusion_matrix": "confusion_matrix.png",
    "per_class_accuracy": "per_class_accuracy.png",
    "misclassified": "misclassified.png",
    "recall_vs_train_size": "recall_vs_train_size.png",
    "reliability": "reliability.png",
}
FIGURES = ("confusion_matrix", "per_class_accuracy", "misclassified", "recall_vs_train_size", "reliability")


@dataclass(frozen=True)
class ReportSettings:
    """How the report is made (``conf/report/default.yaml``): bootstrap, calibration bins, error analysis."""

    resamples: int = 1000  # stratified bootstrap resamples per interval
    seed: int = 0  # of the bootstrap: the same predictions give the same interval
    level: float = 0.95
    ece_bins: int = 15
    misclassified: int = 48  # thumbnails on the contact sheet (and rows of the W&B table)
    thumbnail_px: int = 128
    confused_pairs: int = 10
    # false: no PNGs (sweeps, tuning trials, tests); the tables and figures of merit stay
    figures: bool = True


@dataclass(frozen=True)
class EvalData:
    """What the report needs from the data: the evaluated images (in dataset order) and the train counts."""

    paths: list[str]
    root: Path
    train_counts: list[int]

    @classmethod
    def from_datamodule(cls, datamodule: Any, split: str = "test") -> EvalData:
        labels = np.asarray(datamodule.datasets["train"].labels, dtype=np.int64)
        counts = np.bincount(labels, minlength=datamodule.num_classes).tolist()
        return cls(list(datamodule.datasets[split].paths), Path(datamodule.index.root), counts)


def write_test_report(
    output_dir: Path,
    module: ArtistClassifier,
    metrics: Mapping[str, Any],
    data: EvalData,
    loggers: Sequence[Logger] = (),
    prefix: str = "test",
    settings: ReportSettings | None = None,
) -> dict[str, Any]:
    """Write the report of ``module``'s last test run into ``output_dir`` (and W&B).

    ``metrics`` holds the headline numbers (``<prefix>/macro_acc`` ...) computed by the module's
    torchmetrics; everything here is computed from the same predictions. Returns the new figures for
    ``metrics.json``: the 95 % intervals (``<prefix>/macro_acc_ci95`` ...) and the ECE.
    """
    settings = settings or ReportSettings()
    logits, labels = module.test_outputs()
    temperature = float(getattr(module, "temperature", 1.0))
    predictions = from_outputs(data.paths, logits.numpy(), labels.numpy(), module.class_names, temperature)
    targets, preds, names = predictions.targets, predictions.preds, predictions.class_names
    paths = {key: Path(output_dir) / name for key, name in REPORT_FILES.items()}
    title = f"{metrics.get('experiment', module.hparams.experiment)}: {prefix} split, {len(targets)} images"
    if metrics.get("tta", "none") != "none":  # test-time augmentation (artworks.inference.tta)
        title += f", TTA {metrics['tta']}"
    write_predictions(paths["predictions"], predictions)

    intervals = stats.bootstrap_intervals(
        targets, preds, len(names), resamples=settings.resamples, seed=settings.seed, level=settings.level
    )
    extra: dict[str, Any] = {
        f"{prefix}/{k}_ci95": [round(lo, 6), round(hi, 6)] for k, (lo, hi) in intervals.items()
    }
    extra[f"{prefix}/ece"] = calibration.expected_calibration_error(
        predictions.probabilities, targets, settings.ece_bins
    )
    report_metrics = {**metrics, **extra}

    rows = classification.classification_rows(targets, preds, names)
    classification.write_csv(rows, paths["csv"])
    pairs = analysis.confused_pairs(predictions, settings.confused_pairs)
    sections = _analysis_sections(pairs, report_metrics, prefix, temperature)
    classification.write_markdown(rows, paths["md"], title, report_metrics, prefix, sections)
    macro_acc = metrics.get(
        f"{prefix}/macro_acc", next(r["recall"] for r in rows if r["artist"] == "macro avg")
    )
    mistakes = _mistakes(predictions, data.root, settings)
    images: dict[str, Path] = {}
    if settings.figures:
        figures = (predictions, logits.numpy(), rows, macro_acc, mistakes, data, settings, temperature)
        _draw_figures(paths, title, *figures)
        # the contact sheet as an image beside the table of the same mistakes (<prefix>/misclassified)
        images = {("misclassified_sheet" if k == "misclassified" else k): paths[k] for k in FIGURES}
    wandb_run.log_report(loggers, rows, images, prefix)
    wandb_run.log_misclassified(loggers, mistakes, prefix)
    return extra


def _draw_figures(
    paths: Mapping[str, Path],
    title: str,
    predictions: Predictions,
    logits: np.ndarray,
    rows: Sequence[Mapping[str, Any]],
    macro_acc: float,
    mistakes: Sequence[Mapping[str, Any]],
    data: EvalData,
    settings: ReportSettings,
    temperature: float,
) -> None:
    """The report's five figures (see ``REPORT_FILES``)."""
    targets, preds, names = predictions.targets, predictions.preds, predictions.class_names
    plots.plot_confusion_matrix(targets, preds, names, paths["confusion_matrix"], title)
    artists = classification.artist_rows(rows)
    plots.plot_per_class_accuracy(artists, macro_acc, paths["per_class_accuracy"], title)
    plots.plot_contact_sheet(
        [m["image"] for m in mistakes],
        [m["caption"] for m in mistakes],
        paths["misclassified"],
        f"{title}: the {len(mistakes)} most confident mistakes",
    )
    points = analysis.recall_and_train_size(predictions, data.train_counts)
    plots.plot_recall_vs_train_size(points, paths["recall_vs_train_size"], title)
    _plot_reliability(logits, predictions, temperature, settings.ece_bins, paths["reliability"], title)


def _analysis_sections(
    pairs: Sequence[Mapping[str, Any]], metrics: Mapping[str, Any], prefix: str, temperature: float
) -> list[str]:
    """The report's Markdown beyond the classification table: confused pairs, calibration, figures."""
    lines = ["## Most-confused artist pairs", "", analysis.confused_pairs_markdown(pairs), ""]
    lines += ["## Calibration", ""]
    lines.append(
        f"- temperature T = {temperature:.3f} (fitted on the validation split; 1 = none), "
        f"{prefix} ECE with it: {metrics[f'{prefix}/ece']:.4f}"
    )
    if "val/ece" in metrics and "val/ece_calibrated" in metrics:
        lines.append(
            f"- validation ECE: {metrics['val/ece']:.4f} before, {metrics['val/ece_calibrated']:.4f} after"
        )
    lines += ["", "## Figures", ""]
    lines += [f"![{key}]({REPORT_FILES[key]})" for key in FIGURES]
    return lines


def _mistakes(predictions: Predictions, root: Path, settings: ReportSettings) -> list[dict[str, Any]]:
    """The most confident mistakes with a thumbnail each (a blank one where the file cannot be read)."""
    names = predictions.class_names
    rows = []
    for i in analysis.worst_mistakes(predictions, settings.misclassified):
        try:
            image = load_image(root / predictions.paths[i], settings.thumbnail_px)
        except (OSError, ValueError):
            image = np.full((settings.thumbnail_px, settings.thumbnail_px, 3), 230, dtype=np.uint8)
        true, pred, p = names[predictions.targets[i]], names[predictions.preds[i]], predictions.confidence[i]
        rows.append(
            {
                "image": image,
                "path": predictions.paths[i],
                "artist": true,
                "predicted": pred,
                "probability": float(p),
                "caption": f"{true}\n-> {pred}\np = {p:.2f}",
            }
        )
    return rows


def _plot_reliability(
    logits: np.ndarray, predictions: Predictions, temperature: float, bins: int, path: Path, title: str
) -> None:
    curves = {}
    for label, t in (("T = 1", 1.0), (f"T = {temperature:.2f}", temperature)):
        probabilities = calibration.calibrated(logits, t)
        ece = calibration.expected_calibration_error(probabilities, predictions.targets, bins)
        curves[f"{label}, ECE {ece:.3f}"] = calibration.reliability_bins(
            probabilities, predictions.targets, bins
        )
        if temperature == 1.0:
            break
    plots.plot_reliability(curves, path, title)


def run_facts(trainer: L.Trainer, module: ArtistClassifier) -> dict[str, Any]:
    """Parameter counts, the best epoch and the training throughput, for ``metrics.json``."""
    facts: dict[str, Any] = {f"params_{k}": v for k, v in parameter_counts(module.net).items()}
    for callback in trainer.callbacks:
        if isinstance(callback, EpochHistory) and callback.best_epoch() is not None:
            facts["best_epoch"] = callback.best_epoch()
        if isinstance(callback, TrainThroughput) and callback.images_per_second is not None:
            facts["train_img_per_s"] = callback.images_per_second
    return facts
