"""A checkpoint written before the package was regrouped (v0.1 layout) still loads and evaluates the same.

``tests/fixtures/legacy-v0.1-test_resnet.ckpt`` was trained by the v0.1 code (``timm/test_resnet``, 32 px,
the tiny sample, 2 epochs, seed 7, deterministic) and stripped to weights + hyperparameters; its
``.metrics.json`` holds what v0.1's ``python -m artworks.evaluate`` measured on the whole test split.
Checkpoints hold plain data only, so no module path is stored in them and a move of the code must not
change a single figure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

from artworks.config import config_dir
from artworks.evaluate import evaluate
from artworks.training.checkpoint import load_checkpoint
from tests.helpers.compose import TINY_SAMPLE

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LEGACY_CKPT = FIXTURES / "legacy-v0.1-test_resnet.ckpt"


def test_legacy_checkpoint_is_plain_data_and_evaluates_to_its_recorded_metrics(sample_root: Path, tmp_path):
    pytest.importorskip("timm")
    checkpoint = load_checkpoint(LEGACY_CKPT)  # weights-only: would refuse any pickled class path
    assert checkpoint["hyper_parameters"]["net"]["arch"] == "timm/test_resnet"

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(
            "evaluate",
            overrides=[
                "data=sample",
                f"data.root={sample_root}",
                "data.batch_size=4",
                "data.num_workers=0",
                "trainer=cpu",
                "trainer.enable_progress_bar=false",
                "trainer.enable_model_summary=false",
                f"ckpt_path={LEGACY_CKPT}",
            ],
        )
    GlobalHydra.instance().clear()
    with open_dict(cfg):
        cfg.data.sample = dict(TINY_SAMPLE)
        cfg.paths.output_dir = str(tmp_path / "eval")
    metrics = evaluate(cfg)

    recorded = json.loads((FIXTURES / "legacy-v0.1-test_resnet.metrics.json").read_text())
    assert {k: metrics[k] for k in recorded} == recorded
