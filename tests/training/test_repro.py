"""Reproducible runs: the same seed gives the same numbers, and the run folder says what produced them."""

from __future__ import annotations

import json

import pytest

from artworks.runtime.provenance import git_state
from artworks.training.task import train
from tests.helpers.compose import tiny_net

TIMING_KEYS = ("wall_time_s", "train_img_per_s", "best_ckpt")


@pytest.mark.e2e
def test_same_seed_same_metrics_and_a_provenance_record(make_cfg, tiny_weights, tmp_path):
    runs = []
    for name in ("a", "b"):
        cfg = make_cfg(
            "seed=7",
            "trainer.deterministic=true",
            "model=finetune_resnet50",
            *tiny_net(tiny_weights),
            "trainer.max_epochs=2",
            output_dir=tmp_path / name,
        )
        runs.append({k: v for k, v in train(cfg).items() if k not in TIMING_KEYS})
    assert runs[0] == runs[1]
    assert "test/macro_acc" in runs[0] and runs[0]["seed"] == 7

    (session,) = json.loads((tmp_path / "a" / "provenance.json").read_text())["sessions"]
    assert {"torch", "lightning", "torchvision", "python"} <= session["versions"].keys()
    git = git_state()
    if git:  # running from a git checkout
        assert session["git"]["commit"] == git["commit"] and isinstance(session["git"]["dirty"], bool)
