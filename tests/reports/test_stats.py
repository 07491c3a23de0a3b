"""Bootstrap intervals, paired differences and McNemar, checked against slow reference computations."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from scipy.stats import binomtest, bootstrap
from sklearn.metrics import f1_score, recall_score
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from artworks.reports import stats


def _fake_test_set(rng: np.random.Generator, sizes: list[int], accuracy: float, classes: int | None = None):
    """Targets with ``sizes[c]`` images of class c; predictions right with probability ``accuracy``."""
    classes = classes or len(sizes)
    targets = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(targets)
    wrong = rng.integers(0, classes, size=len(targets))
    preds = np.where(rng.random(len(targets)) < accuracy, targets, wrong)
    return targets, preds


def test_scores_follow_torchmetrics_also_for_a_predicted_class_without_images():
    targets = np.array([0, 0, 1, 1, 2, 2, 2])
    preds = np.array([0, 3, 1, 1, 2, 0, 3])  # class 3 predicted, no images; class 4 neither
    got = stats.scores(targets, preds, num_classes=5)
    t, p = torch.tensor(targets), torch.tensor(preds)
    assert got["macro_acc"] == pytest.approx(float(MulticlassAccuracy(5, average="macro")(p, t)))
    assert got["acc"] == pytest.approx(float(MulticlassAccuracy(5, average="micro")(p, t)))
    assert got["macro_f1"] == pytest.approx(float(MulticlassF1Score(5, average="macro")(p, t)))


def test_stratified_resamples_equal_a_slow_loop_over_the_same_draws():
    rng = np.random.default_rng(1)
    targets, preds = _fake_test_set(rng, [7, 3, 2, 5], accuracy=0.6, classes=5)
    index = stats.stratified_indices(targets, 100, np.random.default_rng(7))
    for row in index:  # every resample keeps each class's number of images
        assert np.array_equal(np.bincount(targets[row], minlength=5), np.bincount(targets, minlength=5))
    fast = stats.batch_scores(targets[index], preds[index], num_classes=5)
    for b, row in enumerate(index):
        t, p = targets[row], preds[row]
        labels = sorted(set(t) | set(p))
        assert fast["macro_acc"][b] == pytest.approx(
            recall_score(t, p, labels=labels, average="macro", zero_division=0)
        )
        assert fast["macro_f1"][b] == pytest.approx(
            f1_score(t, p, labels=labels, average="macro", zero_division=0)
        )
        assert fast["acc"][b] == pytest.approx(np.mean(t == p))


def test_interval_of_one_class_agrees_with_scipy_bootstrap():
    rng = np.random.default_rng(2)
    targets, preds = _fake_test_set(rng, [400], accuracy=0.7, classes=3)
    ours = stats.bootstrap_intervals(targets, preds, 3, resamples=4000, seed=3)["acc"]
    correct = (targets == preds).astype(float)
    theirs = bootstrap((correct,), np.mean, n_resamples=4000, method="percentile", rng=4).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high), abs=0.01)


def test_interval_contains_the_value_and_narrows_as_the_test_set_grows():
    rng = np.random.default_rng(3)
    widths = []
    for scale in (1, 4, 16):
        targets, preds = _fake_test_set(rng, [20 * scale, 10 * scale, 5 * scale, 3 * scale], accuracy=0.6)
        value = stats.scores(targets, preds, 4)
        intervals = stats.bootstrap_intervals(targets, preds, 4, resamples=1000, seed=0)
        for name in stats.SCORES:
            assert intervals[name][0] <= value[name] <= intervals[name][1]
        widths.append(intervals["macro_acc"][1] - intervals["macro_acc"][0])
    assert widths[0] > widths[1] > widths[2] > 0
    assert widths[0] / widths[2] == pytest.approx(4, rel=0.35)  # ~ 1 / sqrt(n)


def test_a_thousand_resamples_of_850_images_take_well_under_a_second():
    rng = np.random.default_rng(4)
    sizes = np.maximum(2, (rng.pareto(1.2, size=50) * 8).astype(int))
    targets, preds = _fake_test_set(rng, list(sizes * 850 // sizes.sum() + 1), accuracy=0.7)
    started = time.perf_counter()
    stats.bootstrap_intervals(targets, preds, 50, resamples=1000)
    assert time.perf_counter() - started < 0.5


def test_paired_difference_of_identical_runs_is_zero_and_of_a_better_run_significant():
    rng = np.random.default_rng(5)
    targets, preds = _fake_test_set(rng, [60, 40, 30, 20], accuracy=0.5)
    same = stats.paired_bootstrap([stats.PairedRuns(targets, preds, preds)], 4)
    assert same.delta == 0 and same.ci == (0.0, 0.0) and same.p_value == 1.0 and not same.significant
    better = np.where(rng.random(len(targets)) < 0.9, targets, preds)
    diff = stats.paired_bootstrap([stats.PairedRuns(targets, better, preds)], 4, resamples=1000)
    expected = stats.scores(targets, better, 4)["macro_acc"] - stats.scores(targets, preds, 4)["macro_acc"]
    assert diff.delta == pytest.approx(expected) and diff.ci[0] > 0 and diff.significant
    assert diff.p_value < 0.01


def test_mcnemar_is_the_exact_binomial_test_on_discordant_images():
    a = np.array([1, 1, 1, 1, 1, 1, 0, 0, 1, 0], bool)
    b = np.array([0, 0, 0, 0, 0, 1, 1, 0, 1, 0], bool)
    result = stats.mcnemar(a, b)
    assert (result.a_only, result.b_only) == (5, 1)
    assert result.p_value == pytest.approx(binomtest(5, 6, 0.5).pvalue)
    assert stats.mcnemar(a, a).p_value == 1.0
