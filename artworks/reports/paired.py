"""Experiments against a reference, image by image on the shared test set: paired bootstrap and McNemar.

Every experiment of a study is tested on the same images (the split is fixed), so differences are judged
paired: the stratified bootstrap resamples test images and scores both runs on the same resample, and
McNemar's exact test counts the images only one of the two gets right. Inputs are the runs'
``test_predictions.csv``; runs are paired per split (``data.split_seed``) in seed order, i.e. seed s of one
experiment with seed s of the other when both ran the same seeds. A pair whose test images differ (another
split or data root) is left out and said so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from artworks.reports import stats
from artworks.reports.predictions import PREDICTIONS_FILE, Predictions, read_predictions

DEFAULT_REFERENCE = "finetune_resnet50"
SPLIT_KEY = "data.split_seed"
HEADER = (
    "experiment",
    "vs reference",
    "paired runs",
    "Δ test macro acc",
    "95 % CI",
    "p (bootstrap)",
    "McNemar: only A / only B right",
    "McNemar p",
    "significant",
)


@dataclass(frozen=True)
class PairedResult:
    """One experiment against the reference: the difference and the tests, or why there are none."""

    group: str
    reference: str
    pairs: int
    difference: stats.Difference | None = None
    mcnemar: list[stats.McNemar] | None = None
    note: str = ""

    def row(self) -> list[str]:
        """The row of the Markdown table (and of the W&B table)."""
        if self.difference is None or not self.mcnemar:
            return [self.group, self.reference, str(self.pairs), "–", "–", "–", "–", "–", self.note]
        d = self.difference
        a_only = sum(m.a_only for m in self.mcnemar)
        b_only = sum(m.b_only for m in self.mcnemar)
        p_mcnemar = max(m.p_value for m in self.mcnemar)  # every pair must be significant on its own
        verdict = "yes" if d.significant else "not significant"
        return [
            self.group,
            self.reference,
            str(self.pairs),
            f"{d.delta:+.3f}",
            f"[{d.ci[0]:+.3f}, {d.ci[1]:+.3f}]",
            f"{d.p_value:.3g}",
            f"{a_only} / {b_only}",
            f"{p_mcnemar:.3g}",
            verdict + (f" ({self.note})" if self.note else ""),
        ]


def pick_reference(groups: Mapping[str, Sequence[Mapping[str, Any]]], name: str | None) -> str | None:
    """The group to compare against: ``name`` (a group label, or an experiment with one group) or the default.

    ``None`` when there is none to pick (the default experiment absent, or a name that matches no group).
    """
    wanted = name or DEFAULT_REFERENCE
    if wanted in groups:
        return wanted
    matches = [label for label, members in groups.items() if members[0]["experiment"] == wanted]
    return matches[0] if len(matches) == 1 else None


def _split_and_seed(run: Mapping[str, Any]) -> tuple[str, str]:
    return str(run["overrides"].get(SPLIT_KEY, "")), str(run.get("seed", ""))


def run_pairs(
    runs: Sequence[Mapping[str, Any]], reference: Sequence[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Runs of one experiment paired with the reference's: per split, in seed order."""
    pairs = []
    for split in sorted({_split_and_seed(r)[0] for r in runs}):
        mine = sorted((r for r in runs if _split_and_seed(r)[0] == split), key=_split_and_seed)
        theirs = sorted((r for r in reference if _split_and_seed(r)[0] == split), key=_split_and_seed)
        pairs += list(zip(mine, theirs, strict=False))
    return pairs


def _predictions(run: Mapping[str, Any], cache: dict[Any, Predictions | None]) -> Predictions | None:
    path = run["run_dir"] / PREDICTIONS_FILE
    if path not in cache:
        cache[path] = read_predictions(path) if path.is_file() else None
    return cache[path]


def compare_to_reference(
    groups: Mapping[str, Sequence[Mapping[str, Any]]], reference: str, resamples: int = 1000, seed: int = 0
) -> list[PairedResult]:
    """Every group against ``reference``: Δ macro accuracy with its paired-bootstrap interval, and McNemar."""
    cache: dict[Any, Predictions | None] = {}
    results = []
    for label, members in groups.items():
        if label == reference:
            continue
        paired, mcnemar, skipped = [], [], []
        for run, ref in run_pairs(members, groups[reference]):
            a, b = _predictions(run, cache), _predictions(ref, cache)
            if a is None or b is None:
                skipped.append(f"{(run if a is None else ref)['run_dir'].name} has no {PREDICTIONS_FILE}")
            elif (
                a.paths != b.paths
                or not np.array_equal(a.targets, b.targets)
                or a.class_names != b.class_names
            ):
                skipped.append(
                    f"{run['run_dir'].name} and {ref['run_dir'].name} were tested on different images"
                )
            else:
                paired.append(stats.PairedRuns(a.targets, a.preds, b.preds, a.test_set_id()))
                classes = len(a.class_names)
                mcnemar.append(stats.mcnemar(a.correct, b.correct))
        note = "; ".join(skipped)
        if not paired:
            results.append(PairedResult(label, reference, 0, note=note or "no runs to pair"))
            continue
        difference = stats.paired_bootstrap(paired, classes, resamples, seed)
        results.append(PairedResult(label, reference, len(paired), difference, mcnemar, note))
    return results


def paired_markdown(results: Sequence[PairedResult], resamples: int) -> list[str]:
    """The section of ``comparison.md``: what was done, then the table."""
    lines = [
        f"## Against the reference ({results[0].reference})" if results else "## Against the reference",
        "",
        "Δ = test macro accuracy of the experiment minus the reference's, paired image by image on the "
        f"shared test set: 95 % interval and two-sided p-value by a stratified paired bootstrap ({resamples} "
        "resamples of the test images within each artist, both runs scored on the same resample). "
        "McNemar: exact binomial test on the images only one of the two classifies right (accuracy, not "
        "macro). With several runs per experiment, runs are paired per split in seed order; Δ is the mean "
        "over the pairs (every pair on the same resampled images), the McNemar counts are summed over pairs "
        "and its p is the largest of the pairs' (each pair must be significant on its own). A difference "
        "whose interval contains 0 is marked not significant.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|---|---|" + "---:|" * (len(HEADER) - 3) + "---|",
    ]
    lines += ["| " + " | ".join(r.row()) + " |" for r in results]
    return lines
