"""Figures of reports and comparisons, drawn with matplotlib's object API (no pyplot state, no display)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

from artworks.reports.classification import report_labels

# Cell values are written into the confusion matrix up to this many classes; beyond, colour alone is readable.
MAX_CLASSES_WITH_VALUES = 15


def plot_confusion_matrix(
    targets: np.ndarray, preds: np.ndarray, class_names: Sequence[str], path: Path, title: str
) -> None:
    """Row-normalised confusion matrix (each row: where one artist's images went), artists by class size."""
    counts = np.bincount(targets, minlength=len(class_names))
    order = sorted(report_labels(targets, preds), key=lambda c: (-counts[c], c))
    matrix = confusion_matrix(targets, preds, labels=order, normalize="true")
    n = len(order)
    side = max(6.0, 0.24 * n + 3.5)
    fig = Figure(figsize=(side + 1.5, side + 1.0), layout="constrained")
    ax = fig.subplots()
    ConfusionMatrixDisplay(matrix, display_labels=[f"{class_names[c]} ({counts[c]})" for c in order]).plot(
        ax=ax,
        include_values=n <= MAX_CLASSES_WITH_VALUES,
        values_format=".2f",
        cmap="Blues",
        xticks_rotation="vertical",
        im_kw={"vmin": 0.0, "vmax": 1.0},
    )
    ax.set(title=title, xlabel="predicted artist", ylabel="true artist (images)")
    fig.savefig(path, dpi=110)


def plot_per_class_accuracy(
    rows: Sequence[Mapping[str, Any]], macro_acc: float, path: Path, title: str
) -> None:
    """Horizontal bars of each artist's accuracy (recall), largest class on top, macro accuracy as a line."""
    rows = sorted(rows, key=lambda r: -r["support"])
    y = np.arange(len(rows))
    fig = Figure(figsize=(8.0, max(3.0, 0.24 * len(rows) + 1.5)), layout="constrained")
    ax = fig.subplots()
    ax.barh(y, [r["recall"] for r in rows], color="tab:blue")
    ax.set_yticks(y, [f"{r['artist']} ({r['support']})" for r in rows])
    ax.invert_yaxis()
    ax.axvline(macro_acc, color="tab:red", linestyle="--")
    xlabel = f"accuracy on the artist's images (recall); dashed: macro accuracy {macro_acc:.3f}"
    ax.set(xlim=(0.0, 1.0), xlabel=xlabel, title=title)
    fig.savefig(path, dpi=110)


def plot_curves(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    path: Path,
    ylabel: str,
    title: str,
) -> None:
    """One line per entry (epochs, mean, std or ``None``); a ±std band where several runs were averaged."""
    fig = Figure(figsize=(8.0, 5.0), layout="constrained")
    ax = fig.subplots()
    for label, (epochs, mean, std) in curves.items():
        (line,) = ax.plot(epochs, mean, marker="o", markersize=3, label=label)
        if std is not None:
            ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if curves:
        ax.legend()
    fig.savefig(path, dpi=110)
