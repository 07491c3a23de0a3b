"""``test_predictions.csv``: one row per tested image, the basis of every interval, test and error analysis.

Columns: ``path`` (relative to the data root, as in the split file), ``artist`` (the true one),
``predicted``, ``probability`` (of the prediction), then one probability column per artist in class order.
Probabilities are the model's calibrated ones (softmax of logits / temperature, see
``artworks.reports.calibration``); the predicted artist is the arg-max of the logits either way.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from artworks.errors import ArtworksError
from artworks.storage.atomic import atomic_write_text

PREDICTIONS_FILE = "test_predictions.csv"
FIXED_COLUMNS = ("path", "artist", "predicted", "probability")


@dataclass(frozen=True)
class Predictions:
    """A run's test predictions: image paths, true and predicted class indices, probabilities (N x C)."""

    paths: list[str]
    targets: np.ndarray
    preds: np.ndarray
    probabilities: np.ndarray
    class_names: list[str]

    @property
    def correct(self) -> np.ndarray:
        return self.targets == self.preds

    @property
    def confidence(self) -> np.ndarray:
        """The probability of each predicted artist."""
        return self.probabilities[np.arange(len(self.preds)), self.preds]

    def test_set_id(self) -> str:
        """A short hash of the image paths and true artists: equal for runs tested on the same images."""
        text = "\n".join(f"{p}\t{t}" for p, t in zip(self.paths, self.targets.tolist(), strict=True))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def write_predictions(path: Path, predictions: Predictions) -> Path:
    """Write ``predictions`` as ``test_predictions.csv`` (durably: later commands read it)."""
    names = predictions.class_names
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*FIXED_COLUMNS, *names])
    for i, rel in enumerate(predictions.paths):
        row = predictions.probabilities[i]
        pred = int(predictions.preds[i])
        writer.writerow(
            [
                rel,
                names[int(predictions.targets[i])],
                names[pred],
                f"{row[pred]:.6g}",
                *(f"{p:.6g}" for p in row),
            ]
        )
    return atomic_write_text(path, buffer.getvalue())


def read_predictions(path: Path) -> Predictions:
    """Read a ``test_predictions.csv`` back; the class order is that of its probability columns."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        rows = list(reader)
    if header is None or tuple(header[: len(FIXED_COLUMNS)]) != FIXED_COLUMNS:
        raise ArtworksError(
            f"{path} is not a predictions file of this project (its header should start with "
            f"{', '.join(FIXED_COLUMNS)}). It is written by every test of `python -m artworks.train` and "
            "`python -m artworks.evaluate`; re-run the evaluation to get it."
        )
    names = header[len(FIXED_COLUMNS) :]
    index = {name: i for i, name in enumerate(names)}
    return Predictions(
        paths=[r[0] for r in rows],
        targets=np.array([index[r[1]] for r in rows], dtype=np.int64),
        preds=np.array([index[r[2]] for r in rows], dtype=np.int64),
        probabilities=np.array([[float(x) for x in r[len(FIXED_COLUMNS) :]] for r in rows]).reshape(
            len(rows), len(names)
        ),
        class_names=names,
    )


def from_outputs(
    paths: Sequence[str],
    logits: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    temperature: float,
) -> Predictions:
    """Predictions of a test run's logits and labels; ``paths`` are the dataset's, in dataset order."""
    if len(paths) < len(labels):
        raise ValueError(f"{len(labels)} test outputs but only {len(paths)} image paths")
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    probabilities = np.exp(scaled)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    # a limited test (trainer.limit_test_batches) covers the first images of the dataset's order
    return Predictions(
        list(paths[: len(labels)]),
        labels.astype(np.int64),
        logits.argmax(axis=1),
        probabilities,
        list(class_names),
    )
