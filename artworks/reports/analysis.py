"""Error analysis of a tested model: artists it confuses, its most confident mistakes, what size costs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from artworks.reports.predictions import Predictions


def confused_pairs(predictions: Predictions, top: int = 10) -> list[dict[str, Any]]:
    """The ``top`` (true, predicted) artist pairs with the most mistakes.

    The rate is the share of the true artist's test images that went to the predicted one.
    Ties are broken by the higher rate, then by name, so the table is stable.
    """
    names, classes = predictions.class_names, len(predictions.class_names)
    support = np.bincount(predictions.targets, minlength=classes)
    wrong = ~predictions.correct
    counts = np.bincount(
        predictions.targets[wrong] * classes + predictions.preds[wrong], minlength=classes * classes
    ).reshape(classes, classes)
    pairs = [
        {
            "artist": names[t],
            "predicted": names[p],
            "count": int(counts[t, p]),
            "rate": float(counts[t, p] / support[t]),
            "images": int(support[t]),
        }
        for t, p in zip(*np.nonzero(counts), strict=True)
    ]
    pairs.sort(key=lambda r: (-r["count"], -r["rate"], r["artist"], r["predicted"]))
    return pairs[:top]


def worst_mistakes(predictions: Predictions, count: int = 48) -> list[int]:
    """Indices of the ``count`` misclassified images the model was surest of (highest wrong probability)."""
    wrong = np.flatnonzero(~predictions.correct)
    order = np.argsort(-predictions.confidence[wrong], kind="stable")
    return wrong[order][:count].tolist()


def recall_and_train_size(
    predictions: Predictions, train_counts: Sequence[int]
) -> list[tuple[str, int, float]]:
    """Per artist with test images: (name, training images, test recall), for the recall-vs-size plot."""
    classes = len(predictions.class_names)
    support = np.bincount(predictions.targets, minlength=classes)
    hits = np.bincount(predictions.targets[predictions.correct], minlength=classes)
    return [
        (predictions.class_names[c], int(train_counts[c]), float(hits[c] / support[c]))
        for c in range(classes)
        if support[c]
    ]


def confused_pairs_markdown(pairs: Sequence[dict[str, Any]]) -> str:
    """The confused pairs as a Markdown table."""
    lines = ["| true artist (images) | predicted as | mistakes | rate |", "|---|---|---:|---:|"]
    lines += [
        f"| {r['artist']} ({r['images']}) | {r['predicted']} | {r['count']} | {r['rate']:.1%} |"
        for r in pairs
    ]
    return "\n".join(lines)
