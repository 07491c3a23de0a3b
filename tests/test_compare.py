"""Comparing runs: mean ± std over seeds, one row per experiment and per run, from local outputs alone."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from artworks.errors import ArtworksError
from artworks.reports.compare import compare, find_runs, summarize
from tests.helpers.compose import ONLY_BEST_WEIGHTS, multirun_command


def _fake_run(run_dir: Path, experiment: str, seed: int, macro_acc: float, curve: list[float], lr: str):
    run_dir.mkdir(parents=True)
    metrics = {
        "experiment": experiment,
        "seed": seed,
        "test/macro_acc": macro_acc,
        "test/acc": macro_acc + 0.1,
        "best_epoch": curve.index(max(curve)),
        "params_total": 1000,
        "params_trainable": 10,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    rows = "\n".join(f"{e},{v}" for e, v in enumerate(curve))
    (run_dir / "history.csv").write_text(f"epoch,val/macro_acc\n{rows}\n")
    (run_dir / ".hydra").mkdir()
    overrides = [f"model={experiment}", f"seed={seed}", f"optimizer.lr={lr}"]
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))


def test_mean_and_sample_std_over_seeds_and_runs_kept_apart_by_other_overrides(tmp_path):
    _fake_run(tmp_path / "0_a", "a", 1, 0.5, [0.1, 0.5], lr="1e-3")
    _fake_run(tmp_path / "1_a", "a", 2, 0.7, [0.3, 0.7], lr="1e-3")
    _fake_run(tmp_path / "2_a", "a", 1, 0.2, [0.2, 0.1], lr="1e-4")
    _fake_run(tmp_path / "10_b", "b", 1, 0.9, [0.9, 0.8], lr="1e-3")
    table = compare([tmp_path], tmp_path, reference=True)

    rows = table.splitlines()[2:]
    assert len(rows) == 3  # a at lr 1e-3 (two seeds), a at lr 1e-4, b
    assert rows[0].startswith("| a (optimizer.lr=1e-3) | 2 | 0.600 ± 0.141 | 0.700 ± 0.141 |")
    assert "| 1,000 | 10 |" in rows[0]  # equal values are shown once, not as ± 0
    assert rows[1].startswith("| a (optimizer.lr=1e-4) | 1 | 0.200 |")
    assert rows[2].startswith("| b (optimizer.lr=1e-3) | 1 | 0.900 |")
    assert table.splitlines()[0].endswith("| seed authors' val acc, 30 ep |")
    text = (tmp_path / "comparison.md").read_text()
    assert "| 10_b |" in text.split("## Runs")[1]  # one row per run as well, in job order
    assert text.index("| 2_a |") < text.index("| 10_b |")
    with Image.open(tmp_path / "comparison.png") as image:
        assert image.format == "PNG"


def test_summarize_and_the_reference_column():
    assert summarize([0.5, 0.7], lambda v: f"{v:.3f}") == "0.600 ± 0.141"
    assert summarize([], str) == "–"


def test_a_path_without_runs_is_a_clear_error(tmp_path):
    with pytest.raises(ArtworksError, match="no metrics.json"):
        find_runs([tmp_path])


def _table_rows(markdown: str) -> list[list[str]]:
    """The body rows of the Markdown tables in ``markdown``, as lists of cells."""
    lines = [line for line in markdown.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


@pytest.mark.e2e
@pytest.mark.slow  # 28 s: the crafted-run tests and test_multirun cover the default suite
def test_compare_on_a_real_multirun_of_two_models_and_two_seeds(sample_root, resnet50_weights, tmp_path):
    sweep_dir = tmp_path / "sweep"
    cmd = multirun_command(
        sample_root,
        resnet50_weights,
        sweep_dir,
        "model=scratch_resnet50,freeze14_resnet50",
        "seed=1,2",
        "trainer.limit_train_batches=1",
        "logger=csv",
        *ONLY_BEST_WEIGHTS,
    )
    result = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]

    # the sweep ended by comparing its jobs and printing the table
    assert f"Results of {sweep_dir}" in result.stdout
    text = (sweep_dir / "comparison.md").read_text()
    experiments, runs = text.split("## Runs")
    experiment_rows = _table_rows(experiments)
    assert [row[:2] for row in experiment_rows] == [["scratch_resnet50", "2"], ["freeze14_resnet50", "2"]]
    for row in experiment_rows:  # test macro accuracy: mean ± sample std of the two seeds' metrics.json
        values = [
            json.loads(p.read_text())["test/macro_acc"] for p in sweep_dir.glob(f"*_{row[0]}/metrics.json")
        ]
        mean, std = statistics.mean(values), statistics.stdev(values)
        assert row[2] == (f"{values[0]:.3f}" if std == 0 else f"{mean:.3f} ± {std:.3f}")
    run_rows = _table_rows(runs)
    assert len(run_rows) == 4  # one row per job
    assert sorted((row[1], row[2]) for row in run_rows) == [
        ("freeze14_resnet50", "1"),
        ("freeze14_resnet50", "2"),
        ("scratch_resnet50", "1"),
        ("scratch_resnet50", "2"),
    ]
    with Image.open(sweep_dir / "comparison.png") as image:
        assert image.format == "PNG" and image.size[0] > 300

    # the same from the command line, on two run directories
    two = [str(p) for p in sorted(sweep_dir.iterdir()) if (p / "metrics.json").is_file()][:2]
    cli = subprocess.run(
        [sys.executable, "-m", "artworks.compare", *two, "--out", str(tmp_path / "cli")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    assert (tmp_path / "cli" / "comparison.md").is_file() and "scratch_resnet50" in cli.stdout
