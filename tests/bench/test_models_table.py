"""The model table (``python -m artworks.bench.models``) and the ready ablation sweep."""

from __future__ import annotations

import itertools
import json
import subprocess

import pytest
import torch

from artworks.bench.models import count_flops, main
from artworks.models import build_model
from tests.helpers.compose import multirun_command


def test_resnet50_costs_4_09_gmacs_at_224() -> None:
    assert count_flops(build_model(1000), 224) / 2 / 1e9 == pytest.approx(4.09, abs=0.01)


def test_depthwise_resnet50_costs_2_25_gmacs_at_224() -> None:
    assert count_flops(build_model(1000, depthwise=True), 224) / 2 / 1e9 == pytest.approx(2.25, abs=0.01)


def test_summary_prints_one_row_per_model(capsys: pytest.CaptureFixture) -> None:
    torch.manual_seed(0)
    main(["model=cbam_resnet50,freeze14_resnet50", "data.image_size=32", "--batch", "2", "--steps", "1"])
    out = capsys.readouterr().out
    rows = {
        line.split(" | ")[0].strip("| "): line.split(" | ")
        for line in out.splitlines()
        if "_resnet50" in line
    }
    assert rows.keys() == {"cbam_resnet50", "freeze14_resnet50"}
    assert rows["cbam_resnet50"][2:5] == ["gelu+depthwise+cbam", "random", "32²"]
    assert rows["freeze14_resnet50"][5:7] == [
        f"{23_610_482:,}",
        f"{2048 * 50 + 50:,}",
    ]  # only the head trains
    assert float(rows["cbam_resnet50"][-1].strip(" |")) > 0  # img/s


def test_ablation_experiment_is_the_2x2x2_grid(make_cfg) -> None:
    params = make_cfg("experiment=ablation").hydra.sweeper.params
    grid = list(itertools.product(*(str(v).split(",") for v in params.values())))
    assert len(grid) == 8
    names = set()
    for combo in grid:
        cfg = make_cfg("experiment=ablation", *(f"{k}={v}" for k, v in zip(params, combo, strict=True)))
        net = cfg.model.net
        assert (net.activation, str(net.depthwise).lower(), net.attention) == combo
        assert net.weights is None and cfg.model.optimizer.lr == 3e-3  # from scratch, as experiment 5
        names.add(cfg.model.experiment)
    assert len(names) == 8


@pytest.mark.slow
@pytest.mark.e2e
def test_ablation_multirun_runs_a_chosen_subset(sample_root, resnet50_weights, tmp_path) -> None:
    sweep_dir = tmp_path / "sweep"
    cmd = multirun_command(
        sample_root,
        resnet50_weights,
        sweep_dir,
        "experiment=ablation",
        "model.net.activation=gelu",  # the command line narrows the grid: only depthwise varies
        "model.net.attention=cbam",
    )
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = sorted(json.loads(p.read_text())["experiment"] for p in sweep_dir.glob("*/metrics.json"))
    assert metrics == ["ablation_gelu_dwFalse_cbam", "ablation_gelu_dwTrue_cbam"]
