"""Figures of reports and comparisons: matplotlib's object API (no pyplot state, no display); PIL mosaics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image, ImageDraw, ImageFont
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


def plot_contact_sheet(
    images: Sequence[np.ndarray], captions: Sequence[str], path: Path, title: str, columns: int = 8
) -> None:
    """Thumbnails (equal-size uint8 RGB arrays) in a grid, each above its caption lines; a note when none.

    Drawn with PIL rather than one matplotlib axes per image: 48 axes take seconds, a mosaic milliseconds.
    """
    font = ImageFont.load_default()
    side = images[0].shape[0] if images else 128
    line = 12
    lines = max((c.count("\n") + 1 for c in captions), default=1)
    tile_w, tile_h = side + 8, side + 8 + line * lines
    rows = max(1, -(-len(images) // columns))
    sheet = Image.new("RGB", (tile_w * columns, 24 + tile_h * rows), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 4), title if images else f"{title}: no misclassified images", fill="black", font=font)
    max_chars = tile_w // 6
    for i, (image, caption) in enumerate(zip(images, captions, strict=True)):
        x, y = (i % columns) * tile_w + 4, 24 + (i // columns) * tile_h
        sheet.paste(Image.fromarray(image), (x, y))
        for k, text in enumerate(caption.split("\n")):
            draw.text((x, y + side + 2 + k * line), text[:max_chars], fill="black", font=font)
    sheet.save(path)


def plot_recall_vs_train_size(points: Sequence[tuple[str, int, float]], path: Path, title: str) -> None:
    """Each artist's test recall against its number of training images (log x): what imbalance costs."""
    fig = Figure(figsize=(8.0, 5.5), layout="constrained")
    ax = fig.subplots()
    sizes = [max(p[1], 1) for p in points]
    ax.scatter(sizes, [p[2] for p in points], color="tab:blue")
    for (name, _, recall), size in zip(points, sizes, strict=True):
        ax.annotate(name, (size, recall), fontsize=6, xytext=(3, 2), textcoords="offset points")
    ax.set_xscale("log")
    ax.set(ylim=(-0.03, 1.03), xlabel="training images of the artist (log scale)", ylabel="test recall")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110)


def plot_reliability(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]], path: Path, title: str
) -> None:
    """Reliability diagram: accuracy against mean confidence per bin (marker area ~ images), per label.

    ``curves`` maps a label (e.g. "T = 1, ECE 0.12") to ``(counts, accuracy, confidence)`` per bin.
    """
    fig = Figure(figsize=(6.0, 6.0), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    for label, (counts, accuracy, confidence) in curves.items():
        used = counts > 0
        (line,) = ax.plot(confidence[used], accuracy[used], marker="o", markersize=0, label=label)
        ax.scatter(
            confidence[used], accuracy[used], s=20 + 200 * counts[used] / counts.sum(), color=line.get_color()
        )
    ax.set(
        xlim=(0, 1), ylim=(0, 1), xlabel="confidence (mean probability of the prediction)", ylabel="accuracy"
    )
    ax.set_title(title)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
