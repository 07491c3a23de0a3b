"""Bootstrap intervals, paired differences and McNemar, checked against slow reference computations."""

from __future__ import annotations

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
    targets = np.array([0, 0, 1, 1, 2, 2, 2, 5])
    preds = np.array([0, 3, 1, 1, 2, 0, 3, 5])  # class 3 predicted, no images; 4 neither; 5 one image, right
    got = stats.scores(targets, preds, num_classes=6)
    t, p = torch.tensor(targets), torch.tensor(preds)
    assert got["macro_acc"] == pytest.approx(float(MulticlassAccuracy(6, average="macro")(p, t)))
    assert got["acc"] == pytest.approx(float(MulticlassAccuracy(6, average="micro")(p, t)))
    assert got["macro_f1"] == pytest.approx(float(MulticlassF1Score(6, average="macro")(p, t)))
    assert got["macro_acc"] == pytest.approx((0.5 + 1 + 1 / 3 + 0 + 1) / 5)  # 5 classes counted


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
    ours = stats.bootstrap_intervals(targets, preds, 3, resamples=4000, seed=3, level=0.95)["acc"]
    correct = (targets == preds).astype(float)
    theirs = bootstrap((correct,), np.mean, n_resamples=4000, method="percentile", rng=4).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high), abs=0.01)


def test_interval_contains_the_value_and_narrows_as_the_test_set_grows():
    rng = np.random.default_rng(3)
    widths = []
    for scale in (1, 4, 16):
        targets, preds = _fake_test_set(rng, [20 * scale, 10 * scale, 5 * scale, 3 * scale], accuracy=0.6)
        value = stats.scores(targets, preds, 4)
        intervals = stats.bootstrap_intervals(targets, preds, 4, resamples=1000, seed=0, level=0.95)
        for name in stats.SCORES:
            assert intervals[name][0] <= value[name] <= intervals[name][1]
        widths.append(intervals["macro_acc"][1] - intervals["macro_acc"][0])
    assert widths[0] > widths[1] > widths[2] > 0
    assert widths[0] / widths[2] == pytest.approx(4, rel=0.35)  # ~ 1 / sqrt(n)


def test_intervals_are_reproducible_from_their_seed_and_nest_by_level():
    rng = np.random.default_rng(4)
    sizes = np.maximum(2, (rng.pareto(1.2, size=50) * 8).astype(int))  # a long tail like the real artists
    targets, preds = _fake_test_set(rng, list(sizes * 850 // sizes.sum() + 1), accuracy=0.7)

    def intervals(seed: int, level: float = 0.95) -> dict[str, tuple[float, float]]:
        return stats.bootstrap_intervals(targets, preds, 50, resamples=300, seed=seed, level=level)

    assert intervals(0) == intervals(0) and intervals(0) != intervals(1)
    for name, (lo, hi) in intervals(0, level=0.5).items():  # the same draws: the 50 % interval lies inside
        assert intervals(0)[name][0] < lo < hi < intervals(0)[name][1]


def test_percentile_interval_cuts_equal_tails():
    values = np.arange(101.0)  # the p-th percentile of 0..100 is p
    assert stats._percentiles(values, 0.9) == pytest.approx((5.0, 95.0), abs=1e-9)
    assert stats._percentiles(values, 0.5) == pytest.approx((25.0, 75.0), abs=1e-9)


def test_draws_within_a_class_index_its_images_in_their_original_order():
    """Column j of a draw at the k-th position of its class block is the k-th image of that class in file
    order, whatever sort numpy uses (the same seed, the same intervals on every machine)."""
    targets = np.random.default_rng(5).integers(0, 3, size=500)  # many ties: an unstable sort reorders them

    class Positions:  # an "rng" whose draws land on each position of each class block once, in order
        def random(self, shape: tuple[int, int]) -> np.ndarray:
            sizes = np.bincount(targets)
            within = np.concatenate([(np.arange(n) + 0.5) / n for n in sizes])
            return np.broadcast_to(within, shape)

    index = stats.stratified_indices(targets, 2, Positions())
    expected = np.concatenate([np.flatnonzero(targets == c) for c in range(3)])
    assert np.array_equal(index[0], expected) and np.array_equal(index[1], expected)


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


def test_paired_bootstrap_is_reproducible_with_its_documented_defaults_and_refuses_no_pairs():
    rng = np.random.default_rng(6)
    targets, preds = _fake_test_set(rng, [40, 30, 20], accuracy=0.6)
    other = np.where(rng.random(len(targets)) < 0.3, targets, preds)
    pairs = [stats.PairedRuns(targets, other, preds)]
    default = stats.paired_bootstrap(pairs, 3)
    assert default == stats.paired_bootstrap(pairs, 3)  # seeded: the same interval every time
    assert default == stats.paired_bootstrap(pairs, 3, resamples=1000, seed=0, level=0.95)
    assert default != stats.paired_bootstrap(pairs, 3, seed=1)
    with pytest.raises(ValueError, match="^paired_bootstrap needs at least one pair of runs$"):
        stats.paired_bootstrap([], 3)


def test_mcnemar_takes_correctness_as_any_truthy_array():
    a = np.array([1.0, 1.0, 1.0, 0.0, 0.0])  # e.g. per-image scores read back from a file
    b = np.array([0.0, 0.0, 1.0, 1.0, 0.0])
    result = stats.mcnemar(a, b)
    assert (result.a_only, result.b_only) == (2, 1)
    assert result.p_value == pytest.approx(binomtest(2, 3, 0.5).pvalue)
    assert (stats.mcnemar(a, b.astype(bool)).a_only, stats.mcnemar(a.astype(bool), b).b_only) == (2, 1)


def test_several_pairs_average_their_differences_and_share_the_draws_of_their_test_set():
    rng = np.random.default_rng(7)
    targets, preds = _fake_test_set(rng, [50, 30, 20], accuracy=0.5)
    better = np.where(rng.random(len(targets)) < 0.5, targets, preds)
    one = stats.paired_bootstrap([stats.PairedRuns(targets, better, preds)], 3)
    assert one.ci[0] < one.delta < one.ci[1]  # an interval around the value, not a point
    twice = stats.paired_bootstrap([stats.PairedRuns(targets, better, preds)] * 2, 3)
    assert twice.delta == pytest.approx(one.delta) and twice.ci == pytest.approx(one.ci)
    assert twice.p_value == one.p_value
    mixed = stats.paired_bootstrap(
        [stats.PairedRuns(targets, better, preds), stats.PairedRuns(targets, preds, preds)], 3
    )
    assert mixed.delta == pytest.approx(one.delta / 2) and mixed.ci == pytest.approx(np.divide(one.ci, 2))


def test_the_p_value_is_twice_the_smaller_share_of_resamples_on_either_side_of_zero():
    """A is right on one image more than B: every resample is >= 0, those without that image exactly 0."""
    targets = np.repeat(np.arange(3), [8, 6, 4])
    preds_b = (targets + 1) % 3
    preds_a = preds_b.copy()
    preds_a[9] = targets[9]  # the one image only A gets right (class 1)
    for resamples in (200, 1000):
        result = stats.paired_bootstrap([stats.PairedRuns(targets, preds_a, preds_b)], 3, resamples, seed=3)
        index = stats.stratified_indices(targets, resamples, np.random.default_rng(3))  # the same draws
        at_zero = int((~(index == 9).any(axis=1)).sum())  # resamples without image 9: difference 0
        assert 0 < at_zero < resamples / 2
        assert result.p_value == pytest.approx(2 * (at_zero + 1) / (resamples + 1))
