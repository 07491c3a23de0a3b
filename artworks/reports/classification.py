"""The per-artist classification report (scikit-learn's), as rows, CSV and Markdown.

Which classes a report covers: those with images in the evaluated split or predicted at least once. That
makes its macro-average recall equal the project's macro accuracy (torchmetrics ``MulticlassAccuracy``,
``average="macro"``): an artist with neither images nor predictions is left out, an artist predicted but
without images counts with recall 0 (see README, "Metric semantics").
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import classification_report

from artworks.storage import atomic_open, atomic_write_text

COLUMNS = ("artist", "precision", "recall", "f1-score", "support")
SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg")
HEADLINE = {
    "macro_acc": "macro accuracy (mean per-artist recall)",
    "acc": "accuracy",
    "top5_acc": "top-5 accuracy",
    "macro_f1": "macro F1",
}


def report_labels(targets: np.ndarray, preds: np.ndarray) -> list[int]:
    """The class indices a report covers: every class that occurs in ``targets`` or ``preds``."""
    return sorted(set(np.asarray(targets).tolist()) | set(np.asarray(preds).tolist()))


def classification_rows(
    targets: np.ndarray, preds: np.ndarray, class_names: Sequence[str]
) -> list[dict[str, Any]]:
    """One row per artist (class-index order), then ``accuracy``, ``macro avg`` and ``weighted avg``."""
    labels = report_labels(targets, preds)
    report = classification_report(
        targets,
        preds,
        labels=labels,
        target_names=[class_names[i] for i in labels],
        output_dict=True,
        zero_division=0,
    )
    total = int(len(targets))
    rows = []
    for name, values in report.items():
        if name == "accuracy":
            rows.append(
                {"artist": name, "precision": None, "recall": None, "f1-score": values, "support": total}
            )
        else:
            rows.append({"artist": name, **values, "support": int(values["support"])})
    return rows


def artist_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The per-artist rows of ``classification_rows`` (without the summary rows)."""
    return [r for r in rows if r["artist"] not in SUMMARY_ROWS]


def write_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """The report as CSV (written whole or not at all: compare and W&B read it back)."""
    with atomic_open(path, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: ("" if r[k] is None else r[k]) for k in COLUMNS} for r in rows)


def write_markdown(
    rows: Sequence[Mapping[str, Any]],
    path: Path,
    title: str,
    metrics: Mapping[str, Any],
    prefix: str,
    sections: Sequence[str] = (),
) -> None:
    """The report as a Markdown table under a title and the headline metrics (keys ``<prefix>/<name>``).

    A headline metric with an interval (``<prefix>/<name>_ci95``) shows it; ``sections`` (Markdown lines)
    follow the table.
    """
    lines = [f"# {title}", ""]
    for name, label in HEADLINE.items():
        if f"{prefix}/{name}" in metrics:
            ci = metrics.get(f"{prefix}/{name}_ci95")
            interval = f" (95 % CI {ci[0]:.4f} to {ci[1]:.4f}, stratified bootstrap)" if ci else ""
            lines.append(f"- {label}: {metrics[f'{prefix}/{name}']:.4f}{interval}")
    lines += ["", "| " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * (len(COLUMNS) - 1)]
    for r in rows:
        cells = [str(r["artist"])]
        cells += ["" if r[k] is None else f"{r[k]:.3f}" for k in ("precision", "recall", "f1-score")]
        cells.append(str(r["support"]))
        lines.append("| " + " | ".join(cells) + " |")
    if sections:
        lines += ["", *sections]
    atomic_write_text(path, "\n".join(lines) + "\n")
