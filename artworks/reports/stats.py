"""How sure a test figure is: stratified bootstrap intervals, paired bootstrap of a difference, McNemar.

The test set has ~850 images, and its smallest artists 2-3 each, so a difference of a few points in macro
accuracy can be noise. Every interval here resamples test images *within each artist* (a stratified
bootstrap): each resample keeps every artist with its own number of images, as the fixed split does, so
the macro average is taken over the same classes every time. The scores follow the project's metric
semantics (torchmetrics, see ``artworks.reports.classification``): a class counts when it has images or
is predicted; a class predicted without images has recall 0.

Everything is vectorised: one ``(resamples, images)`` index array, per-class sums by ``np.add.reduceat``
and ``np.bincount``; 1,000 resamples of 850 images take a few tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

SCORES = ("macro_acc", "acc", "macro_f1")


def stratified_indices(targets: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(resamples, N)`` indices into ``targets``: each row draws, with replacement, within each class.

    Row ``b`` lists the images of resample ``b`` grouped by class (classes in ascending order), so column
    ``j`` always holds an image of the same class: per-class sums are sums over a fixed block of columns.
    Within a class the draws index the images in their original order (a stable sort): numpy's default
    sort is not stable and its algorithm depends on the CPU's vector units, so without it the same seed
    could give other resamples, and other intervals, on another machine.
    """
    targets = np.asarray(targets)
    order = np.argsort(targets, kind="stable")
    _, starts, sizes = np.unique(targets[order], return_index=True, return_counts=True)
    block_start = np.repeat(starts, sizes)
    block_size = np.repeat(sizes, sizes)
    offsets = (rng.random((resamples, len(targets))) * block_size).astype(np.int64)
    return order[block_start + offsets]


def batch_scores(targets: np.ndarray, preds: np.ndarray, num_classes: int) -> dict[str, np.ndarray]:
    """Macro accuracy, accuracy and macro F1 of each row of ``(R, N)`` target and prediction arrays."""
    targets, preds = np.atleast_2d(targets), np.atleast_2d(preds)
    rows = targets.shape[0]
    offset = num_classes * np.arange(rows)[:, None]

    def per_class(values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        flat = (values + offset).ravel()
        counts = np.bincount(
            flat, weights=None if weights is None else weights.ravel(), minlength=rows * num_classes
        )
        return counts.reshape(rows, num_classes)

    correct = targets == preds
    support = per_class(targets)
    predicted = per_class(preds)
    hits = per_class(targets, correct.astype(np.float64))
    counted = (support + predicted) > 0  # the classes torchmetrics averages over
    # hits <= support, so a class without images (or not counted at all) scores 0 / 1 = 0, not 0 / 0
    recall = hits / np.maximum(support, 1)
    f1 = 2 * hits / np.maximum(support + predicted, 1)
    n_counted = counted.sum(axis=1)
    return {
        "macro_acc": (recall * counted).sum(axis=1) / n_counted,
        "acc": correct.mean(axis=1),
        "macro_f1": (f1 * counted).sum(axis=1) / n_counted,
    }


def scores(targets: np.ndarray, preds: np.ndarray, num_classes: int) -> dict[str, float]:
    """Macro accuracy, accuracy and macro F1 of one set of predictions."""
    return {k: float(v[0]) for k, v in batch_scores(targets, preds, num_classes).items()}


def bootstrap_intervals(
    targets: np.ndarray,
    preds: np.ndarray,
    num_classes: int,
    *,
    resamples: int,
    seed: int,
    level: float,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of macro accuracy, accuracy and macro F1 by stratified bootstrap.

    No defaults: ``resamples``, ``seed`` and ``level`` are the report's settings (``conf/report/``).
    """
    targets, preds = np.asarray(targets), np.asarray(preds)
    index = stratified_indices(targets, resamples, np.random.default_rng(seed))
    values = batch_scores(targets[index], preds[index], num_classes)
    return {name: _percentiles(v, level) for name, v in values.items()}


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


@dataclass(frozen=True)
class PairedRuns:
    """Two runs' predictions for the same test images (same paths, same order) and their true labels.

    ``test_set`` names the test set (e.g. a hash of its paths): pairs on the same test set share every
    bootstrap resample, pairs on different splits are resampled independently.
    """

    targets: np.ndarray
    preds_a: np.ndarray
    preds_b: np.ndarray
    test_set: str = ""


@dataclass(frozen=True)
class Difference:
    """Macro accuracy of A minus B: the point value, its paired-bootstrap interval and two-sided p-value."""

    delta: float
    ci: tuple[float, float]
    p_value: float

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return not self.ci[0] <= 0.0 <= self.ci[1]


def paired_bootstrap(
    pairs: Sequence[PairedRuns], num_classes: int, resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> Difference:
    """Mean over ``pairs`` of macro accuracy A − B, with a paired stratified-bootstrap interval and p-value.

    Each resample draws test images within each artist and scores A and B on the *same* images, so what
    the two runs share (the difficulty of the test images) cancels. With several pairs (seed pairs, or
    splits) the statistic is the mean difference over pairs, every pair on the same test set using the same
    draw. The p-value is the two-sided bootstrap one: twice the smaller share of resamples on either side
    of 0 (with the usual +1 correction), at most 1.
    """
    if not pairs:
        raise ValueError("paired_bootstrap needs at least one pair of runs")
    rng = np.random.default_rng(seed)
    draws: dict[str, np.ndarray] = {}
    deltas = np.zeros(resamples)
    point = 0.0
    for pair in pairs:
        targets = np.asarray(pair.targets)
        if pair.test_set not in draws:
            draws[pair.test_set] = stratified_indices(targets, resamples, rng)
        index = draws[pair.test_set]
        a = batch_scores(targets[index], np.asarray(pair.preds_a)[index], num_classes)["macro_acc"]
        b = batch_scores(targets[index], np.asarray(pair.preds_b)[index], num_classes)["macro_acc"]
        deltas += (a - b) / len(pairs)
        point += (
            scores(targets, pair.preds_a, num_classes)["macro_acc"]
            - scores(targets, pair.preds_b, num_classes)["macro_acc"]
        ) / len(pairs)
    below, above = int((deltas <= 0).sum()), int((deltas >= 0).sum())
    p_value = min(1.0, 2 * (min(below, above) + 1) / (resamples + 1))
    return Difference(point, _percentiles(deltas, level), p_value)


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test on per-image correctness: ``a_only`` right only by A, ``b_only`` only by B."""

    a_only: int
    b_only: int
    p_value: float


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> McNemar:
    """Exact (binomial) McNemar test: are the images only A gets right as many as those only B gets right?

    Only the discordant images carry information; under the null each is equally likely to go either
    way, so ``a_only ~ Binomial(a_only + b_only, 1/2)`` (Dietterich, 1998, recommends this test for
    comparing two classifiers on one test set).
    """
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    a_only, b_only = int((correct_a & ~correct_b).sum()), int((~correct_a & correct_b).sum())
    p_value = binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return McNemar(a_only, b_only, float(p_value))
