"""``recipe=seed`` reproduces, bit for bit, the metrics recorded before the recipe levers existed.

``tests/fixtures/seed_recipe_baseline.json`` holds four deterministic CPU runs (2 epochs, seed 7, the tiny
sample) made with the code as it was before configs, losses, augmentation or schedules were touched. Any
change to the default path that moves a single float shows up here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from artworks.training.task import train

BASELINE = json.loads((Path(__file__).parents[1] / "fixtures" / "seed_recipe_baseline.json").read_text())
SLOW = {"finetune_resnet50", "freeze13_resnet50"}  # the other two cover ImageNet init less cheaply


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in BASELINE["runs"]],
)
@pytest.mark.e2e
def test_seed_recipe_reproduces_the_recorded_metrics(make_cfg, tmp_path: Path, name: str) -> None:
    # recorded with 2 intra-op threads (conftest's setting): another count sums convolutions in another order
    assert torch.get_num_threads() == 2, "an earlier test changed torch's thread count and did not restore it"
    cfg = make_cfg(*BASELINE["common"], *BASELINE["runs"][name], output_dir=tmp_path / name)
    metrics = train(cfg)
    recorded = BASELINE["metrics"][name]  # later additions to metrics.json (new keys) are not compared
    assert {k: metrics.get(k) for k in recorded} == recorded
