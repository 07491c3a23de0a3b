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

from artworks.evaluate import evaluate
from artworks.training.checkpoint import load_checkpoint
from tests.helpers.compose import compose_evaluate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LEGACY_CKPT = FIXTURES / "legacy-v0.1-test_resnet.ckpt"


@pytest.mark.e2e
def test_legacy_checkpoint_is_plain_data_and_evaluates_to_its_recorded_metrics(sample_root: Path, tmp_path):
    pytest.importorskip("timm")
    checkpoint = load_checkpoint(LEGACY_CKPT)  # weights-only: would refuse any pickled class path
    assert checkpoint["hyper_parameters"]["net"]["arch"] == "timm/test_resnet"

    cfg = compose_evaluate(sample_root, tmp_path / "eval", f"ckpt_path={LEGACY_CKPT}")
    metrics = evaluate(cfg)

    recorded = json.loads((FIXTURES / "legacy-v0.1-test_resnet.metrics.json").read_text())
    assert {k: metrics[k] for k in recorded} == recorded
