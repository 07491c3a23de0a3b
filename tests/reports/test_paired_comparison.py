"""Experiments against a reference, paired on the test images: crafted run folders, no training."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from artworks.compare import main as compare_main
from artworks.errors import ArtworksError
from artworks.reports import paired, stats
from artworks.reports.compare import compare
from artworks.reports.predictions import Predictions, read_predictions, write_predictions
from tests.helpers.wandb_records import history_keys, read_records, run_record

CLASSES = ["Alpha", "Beta", "Gamma", "Delta"]
SIZES = [60, 40, 25, 15]


def _test_set(seed: int = 0) -> tuple[list[str], np.ndarray]:
    targets = np.repeat(np.arange(len(SIZES)), SIZES)
    paths = [f"images/images/{CLASSES[t]}/{CLASSES[t]}_{i}.jpg" for i, t in enumerate(targets)]
    return paths, targets


def _preds(targets: np.ndarray, accuracy: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    wrong = (targets + rng.integers(1, len(CLASSES), size=len(targets))) % len(CLASSES)
    return np.where(rng.random(len(targets)) < accuracy, targets, wrong)


def _run(
    root: Path, name: str, experiment: str, preds: np.ndarray, seed: int = 1, split_seed: int | None = None
):
    """A finished run's folder: metrics.json (with test/macro_acc), test_predictions.csv, overrides."""
    paths, targets = _test_set()
    if split_seed is not None:  # another split: other test images
        paths = [p.replace(".jpg", f"-split{split_seed}.jpg") for p in paths]
    run_dir = root / name
    run_dir.mkdir(parents=True)
    probabilities = np.full((len(targets), len(CLASSES)), 0.1)
    probabilities[np.arange(len(targets)), preds] = 0.7
    write_predictions(
        run_dir / "test_predictions.csv", Predictions(paths, targets, preds, probabilities, CLASSES)
    )
    recall = [np.mean(preds[targets == c] == c) for c in range(len(CLASSES))]
    metrics = {"experiment": experiment, "seed": seed, "test/macro_acc": float(np.mean(recall))}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    overrides = [f"model={experiment}", f"seed={seed}"]
    overrides += [f"data.split_seed={split_seed}"] if split_seed is not None else []
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    return run_dir


def _paired_rows(text: str) -> dict[str, list[str]]:
    section = text.split("## Against the reference")[1].split("## Runs")[0]
    rows = [
        line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| experiment")
    ]
    return {cells[0]: cells for cells in ([c.strip() for c in r.strip("|").split(" | ")] for r in rows)}


def test_predictions_file_round_trips(tmp_path):
    paths, targets = _test_set()
    preds = _preds(targets, 0.6, 0)
    probabilities = np.random.default_rng(0).dirichlet(np.ones(len(CLASSES)), size=len(targets))
    original = Predictions(paths, targets, preds, probabilities, CLASSES)
    back = read_predictions(write_predictions(tmp_path / "p.csv", original))
    assert back.paths == paths and back.class_names == CLASSES
    assert np.array_equal(back.targets, targets) and np.array_equal(back.preds, preds)
    assert np.allclose(back.probabilities, probabilities, rtol=1e-5)


def test_identical_experiments_differ_by_zero_and_a_better_one_significantly(tmp_path):
    _, targets = _test_set()
    base = _preds(targets, 0.5, seed=1)
    _run(tmp_path, "0_finetune", "finetune_resnet50", base)
    _run(tmp_path, "1_twin", "twin", base.copy())
    _run(
        tmp_path,
        "2_better",
        "better",
        np.where(np.random.default_rng(2).random(len(targets)) < 0.8, targets, base),
    )
    compare([tmp_path], tmp_path)

    text = (tmp_path / "comparison.md").read_text()
    rows = _paired_rows(text)
    assert set(rows) == {
        "twin",
        "better",
    }  # the reference (default finetune_resnet50) is not tested against itself
    twin, better = rows["twin"], rows["better"]
    assert twin[3] == "+0.000" and twin[4] == "[+0.000, +0.000]" and twin[5] == "1"
    assert twin[-1] == "not significant" and twin[6] == "0 / 0"
    assert float(better[3]) > 0.15 and float(better[4].strip("[]").split(",")[0]) > 0
    assert float(better[5]) < 0.01 and float(better[7]) < 0.001 and better[-1] == "yes"
    assert "paired per split in seed order" in text


def test_seeds_are_paired_splits_averaged_and_other_test_sets_left_out(tmp_path):
    _, targets = _test_set()
    for seed in (1, 2):
        _run(tmp_path, f"ref_{seed}", "finetune_resnet50", _preds(targets, 0.5, seed), seed=seed)
        _run(tmp_path, f"new_{seed}", "new", _preds(targets, 0.55, seed + 10), seed=seed)
    _run(tmp_path, "other_split", "odd", _preds(targets, 0.5, 5), split_seed=3)
    table = compare([tmp_path], tmp_path / "out", reference_experiment="finetune_resnet50")

    rows = _paired_rows((tmp_path / "out" / "comparison.md").read_text())
    assert rows["new"][2] == "2"  # two seed pairs, pooled
    assert rows["odd"][2] == "0" and "no runs to pair" in rows["odd"][-1]
    assert "| new | 2 |" in table  # mean ± std over the two seeds


def test_runs_on_other_images_are_not_paired(tmp_path):
    _, targets = _test_set()
    _run(tmp_path, "ref", "finetune_resnet50", _preds(targets, 0.5, 1))
    other = _run(tmp_path, "new", "new", _preds(targets, 0.5, 2))
    csv_path = other / "test_predictions.csv"
    csv_path.write_text(csv_path.read_text().replace("Alpha_0.jpg", "Alpha_0_other.jpg"))
    compare([tmp_path], tmp_path)
    row = _paired_rows((tmp_path / "comparison.md").read_text())["new"]
    assert row[2] == "0" and "tested on different images" in row[-1]


def test_reference_experiment_option_and_an_unknown_name(tmp_path, capsys):
    _, targets = _test_set()
    _run(tmp_path, "a", "scratch_resnet50", _preds(targets, 0.4, 1))
    _run(tmp_path, "b", "cbam_resnet50", _preds(targets, 0.6, 2))
    compare_main([str(tmp_path), "--reference-experiment", "scratch_resnet50"])
    rows = _paired_rows((tmp_path / "comparison.md").read_text())
    assert set(rows) == {"cbam_resnet50"} and rows["cbam_resnet50"][1] == "scratch_resnet50"
    with pytest.raises(ArtworksError, match="matches none of the compared experiments"):
        compare([tmp_path], tmp_path, reference_experiment="nope")


def _group_runs(*runs: tuple[Path, int]) -> list[dict]:
    """The run records ``compare`` groups (run folder, overrides, seed), for calling ``paired`` directly."""
    return [{"run_dir": run_dir, "overrides": {}, "seed": seed} for run_dir, seed in runs]


def test_a_row_shows_the_figures_of_every_pair_and_dashes_when_there_are_none():
    difference = stats.Difference(0.1, (0.02, 0.18), 0.01)
    mcnemar = [stats.McNemar(5, 1, 0.2), stats.McNemar(3, 2, 0.5)]
    row = paired.PairedResult("new", "ref", 2, difference, mcnemar, note="one pair left out").row()
    assert row == [
        "new",
        "ref",
        "2",
        "+0.100",
        "[+0.020, +0.180]",
        "0.01",
        "8 / 3",
        "0.5",
        "yes (one pair left out)",
    ]
    row = paired.PairedResult("new", "ref", 1, stats.Difference(-0.01, (-0.05, 0.03), 0.6), mcnemar[:1]).row()
    assert row[3:] == ["-0.010", "[-0.050, +0.030]", "0.6", "5 / 1", "0.2", "not significant"]
    for result in (
        paired.PairedResult("new", "ref", 0, note="no runs to pair"),
        paired.PairedResult("new", "ref", 0, difference, [], note="no runs to pair"),
    ):
        assert result.row() == ["new", "ref", "0", "–", "–", "–", "–", "–", "no runs to pair"]


def test_the_reference_is_a_row_label_or_the_experiment_of_exactly_one_row():
    def group(experiment: str) -> list[dict]:
        return [{"experiment": experiment}]

    groups = {"finetune_resnet50 (lr=0.1)": group("finetune_resnet50"), "cbam": group("cbam_resnet50")}
    assert paired.pick_reference(groups, None) == "finetune_resnet50 (lr=0.1)"  # the default experiment
    assert paired.pick_reference(groups, "cbam_resnet50") == "cbam"
    assert paired.pick_reference(groups, "cbam") == "cbam"
    assert paired.pick_reference(groups, "nope") is None
    two = {"finetune_resnet50 (lr=0.1)": group("finetune_resnet50"), "ft (lr=1)": group("finetune_resnet50")}
    assert paired.pick_reference(two, None) is None  # ambiguous: name a row
    assert paired.pick_reference(two, "ft (lr=1)") == "ft (lr=1)"


def test_runs_pair_in_seed_order_within_each_split():
    def run(name: str, seed: int, split: str | None = None) -> dict:
        return {"name": name, "seed": seed, "overrides": {paired.SPLIT_KEY: split} if split else {}}

    mine = [run("a2", 2), run("a1", 1), run("a3", 3), run("b1", 1, "7")]  # listed out of seed order
    theirs = [run("r1", 1), run("r2", 2), run("s1", 1, "7"), run("t1", 1, "8")]
    pairs = [(a["name"], b["name"]) for a, b in paired.run_pairs(mine, theirs)]
    assert pairs == [("a1", "r1"), ("a2", "r2"), ("b1", "s1")]  # a3: no reference run with seed 3


def test_a_run_without_predictions_is_named_and_left_out(tmp_path):
    _, targets = _test_set()
    ref = _run(tmp_path / "x", "ref", "finetune_resnet50", _preds(targets, 0.5, 1))
    new = _run(tmp_path / "x", "new", "new", _preds(targets, 0.6, 2))
    (new / "test_predictions.csv").unlink()
    (result,) = paired.compare_to_reference(
        {"ref": _group_runs((ref, 1)), "new": _group_runs((new, 1))}, "ref"
    )
    assert result.pairs == 0 and result.note == "new has no test_predictions.csv"
    assert result.row()[-1] == "new has no test_predictions.csv"
    (ref / "test_predictions.csv").unlink()
    other = _run(tmp_path / "y", "other", "other", _preds(targets, 0.6, 3))
    (result,) = paired.compare_to_reference(
        {"ref": _group_runs((ref, 1)), "o": _group_runs((other, 1))}, "ref"
    )
    assert result.pairs == 0 and result.note == "ref has no test_predictions.csv"


@pytest.mark.parametrize("change", ["targets", "class_names"])
def test_runs_whose_labels_or_artists_differ_are_not_paired(tmp_path, change):
    _, targets = _test_set()
    ref = _run(tmp_path, "ref", "finetune_resnet50", _preds(targets, 0.5, 1))
    new = _run(tmp_path, "new", "new", _preds(targets, 0.5, 2))
    original = read_predictions(new / "test_predictions.csv")
    value = np.roll(original.targets, 1) if change == "targets" else CLASSES[::-1]
    write_predictions(new / "test_predictions.csv", dataclasses.replace(original, **{change: value}))
    (result,) = paired.compare_to_reference(
        {"ref": _group_runs((ref, 1)), "new": _group_runs((new, 1))}, "ref"
    )
    assert result.pairs == 0 and result.note == "new and ref were tested on different images"


def test_compare_to_reference_defaults_to_a_thousand_resamples_seed_0(tmp_path):
    _, targets = _test_set()
    ref = _run(tmp_path, "ref", "finetune_resnet50", _preds(targets, 0.5, 1))
    new = _run(tmp_path, "new", "new", _preds(targets, 0.6, 2))
    groups = {"ref": _group_runs((ref, 1)), "new": _group_runs((new, 1))}
    (result,) = paired.compare_to_reference(groups, "ref")
    assert [result] == paired.compare_to_reference(groups, "ref", resamples=1000, seed=0)
    assert result.difference != paired.compare_to_reference(groups, "ref", seed=1)[0].difference


def test_notes_are_kept_next_to_the_pairs_made_and_every_experiment_gets_a_row(tmp_path):
    _, targets = _test_set()
    ref = [_run(tmp_path, f"ref{s}", "finetune_resnet50", _preds(targets, 0.5, s), seed=s) for s in (1, 2, 3)]
    new = [_run(tmp_path, f"new{s}", "new", _preds(targets, 0.6, s + 10), seed=s) for s in (1, 2, 3)]
    odd = _run(tmp_path, "odd", "odd", _preds(targets, 0.6, 9), seed=1)
    for run_dir in (new[1], new[2]):
        (run_dir / "test_predictions.csv").unlink()
    groups = {
        "nothing": [],  # first: an experiment with no pairs must not end the comparison
        "odd": [{"run_dir": odd, "overrides": {paired.SPLIT_KEY: "5"}, "seed": 1}],
        "ref": _group_runs(*((r, s) for s, r in enumerate(ref, 1))),
        "new": _group_runs(*((r, s) for s, r in enumerate(new, 1))),
    }
    nothing, other, result = paired.compare_to_reference(groups, "ref", resamples=200)
    assert (nothing.group, nothing.pairs, nothing.note) == ("nothing", 0, "no runs to pair")
    assert (other.group, other.pairs, other.note) == ("odd", 0, "no runs to pair")
    assert result.pairs == 1 and result.difference is not None
    assert result.note == "new2 has no test_predictions.csv; new3 has no test_predictions.csv"
    assert result.row()[-1].endswith("(new2 has no test_predictions.csv; new3 has no test_predictions.csv)")


def test_pairs_on_other_splits_are_resampled_independently(tmp_path):
    _, targets = _test_set()
    runs = {"ref": [], "new": []}
    for split in (3, 4):  # the same artists, other images: other test sets
        for name, accuracy in (("ref", 0.5), ("new", 0.6)):
            run_dir = _run(
                tmp_path, f"{name}{split}", name, _preds(targets, accuracy, split), split_seed=split
            )
            runs[name].append({"run_dir": run_dir, "overrides": {paired.SPLIT_KEY: str(split)}, "seed": 1})
    (result,) = paired.compare_to_reference(runs, "ref", resamples=300, seed=4)
    pairs = []
    for mine, theirs in zip(runs["new"], runs["ref"], strict=True):
        a = read_predictions(mine["run_dir"] / "test_predictions.csv")
        b = read_predictions(theirs["run_dir"] / "test_predictions.csv")
        assert a.test_set_id() == b.test_set_id()
        pairs.append(stats.PairedRuns(a.targets, a.preds, b.preds, a.test_set_id()))
    assert pairs[0].test_set != pairs[1].test_set
    assert result.difference == stats.paired_bootstrap(pairs, len(CLASSES), 300, 4)
    shared = [dataclasses.replace(p, test_set="") for p in pairs]  # as if both were one test set
    assert result.difference != stats.paired_bootstrap(shared, len(CLASSES), 300, 4)


def test_the_section_has_its_heading_explanation_and_table(tmp_path):
    difference = stats.Difference(0.1, (0.02, 0.18), 0.01)
    results = [
        paired.PairedResult("new", "ref", 1, difference, [stats.McNemar(5, 1, 0.2)]),
        paired.PairedResult("odd", "ref", 0, note="no runs to pair"),
    ]
    lines = paired.paired_markdown(results, resamples=321)
    assert lines[:2] == ["## Against the reference (ref)", ""]
    assert "321 resamples" in lines[2] and lines[3] == ""
    assert lines[4] == "| " + " | ".join(paired.HEADER) + " |"
    assert lines[5] == "|---|---|" + "---:|" * 6 + "---|"
    assert lines[6:] == ["| " + " | ".join(r.row()) + " |" for r in results]
    assert paired.paired_markdown([], resamples=10)[:2] == ["## Against the reference", ""]


@pytest.mark.slow  # a W&B run start (~5-8 s); the tables themselves are tested above
def test_the_comparison_run_of_a_sweep_logs_its_tables_to_wandb(tmp_path):
    _, targets = _test_set()
    _run(tmp_path / "sweep", "0_finetune", "finetune_resnet50", _preds(targets, 0.5, 1))
    _run(tmp_path / "sweep", "1_new", "new", _preds(targets, 0.6, 2))
    settings = {"project": "artworks", "group": "sweep", "mode": "offline", "dir": str(tmp_path)}
    compare([tmp_path / "sweep"], tmp_path / "sweep", wandb_settings=settings)
    records = read_records(tmp_path)
    assert run_record(records).job_type == "compare" and run_record(records).run_group == "sweep"
    assert {"comparison/experiments", "comparison/vs_reference", "comparison/plot"} <= history_keys(records)
