"""Temperature scaling and ECE, and the temperature's way from the checkpoint into evaluate and predict."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from scipy.special import softmax

from artworks.data.images import load_image
from artworks.evaluate import evaluate
from artworks.inference.predictor import Predictor
from artworks.reports import calibration
from artworks.training.checkpoint import load_checkpoint, load_classifier, store_calibration
from artworks.training.task import build_module
from tests.helpers.compose import TINY_ARCH, compose_evaluate
from tests.helpers.wandb_records import final_summary, of_type, read_records, run_record


def _overconfident(rng: np.random.Generator, n: int, classes: int, factor: float):
    """Labels drawn from softmax(z), and logits ``factor * z``: calibrated exactly at T = ``factor``."""
    z = rng.normal(scale=1.5, size=(n, classes))
    labels = np.array([rng.choice(classes, p=p) for p in softmax(z, axis=1)])
    return factor * z, labels


def test_temperature_recovers_the_overconfidence_and_lowers_the_ece():
    logits, labels = _overconfident(np.random.default_rng(0), 4000, 5, factor=3.0)
    result = calibration.calibrate(logits, labels)
    assert result.temperature == pytest.approx(3.0, rel=0.1)
    assert result.ece_after < result.ece_before / 3
    assert calibration.fit_temperature(logits / 3.0, labels) == pytest.approx(1.0, rel=0.1)


def test_ece_and_reliability_bins_equal_a_slow_loop():
    rng = np.random.default_rng(1)
    probabilities = rng.dirichlet(np.ones(4) * 0.5, size=300)
    labels = rng.integers(0, 4, 300)
    counts, accuracy, confidence = calibration.reliability_bins(probabilities, labels, bins=10)
    ece = 0.0
    for b in range(10):
        conf = probabilities.max(1)
        inside = (conf > b / 10) & (conf <= (b + 1) / 10)
        assert counts[b] == inside.sum()
        if inside.any():
            acc = np.mean(probabilities[inside].argmax(1) == labels[inside])
            assert accuracy[b] == pytest.approx(acc) and confidence[b] == pytest.approx(conf[inside].mean())
            ece += inside.mean() * abs(acc - conf[inside].mean())
    assert calibration.expected_calibration_error(probabilities, labels, bins=10) == pytest.approx(ece)


def _untrained_checkpoint(make_cfg, path):
    """A checkpoint of the tiny network for the sample's artists, as training writes its plain data."""
    cfg = make_cfg("model=scratch_resnet50", f"model.net.arch={TINY_ARCH}")
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    torch.manual_seed(0)
    module = build_module(cfg, datamodule)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, path)
    return path


def test_a_calibrated_checkpoint_scales_evaluate_and_predict_and_evaluate_logs_to_wandb(
    make_cfg, sample_root, tmp_path
):
    ckpt = _untrained_checkpoint(make_cfg, tmp_path / "calibrated.ckpt")
    assert load_classifier(ckpt).temperature == 1.0  # a checkpoint without calibration: T = 1
    store_calibration(ckpt, {"temperature": 2.5})
    assert load_checkpoint(ckpt)["calibration"] == {"temperature": 2.5}
    module = load_classifier(ckpt)
    assert module.temperature == 2.5

    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        logits = module(module.preprocess(images, augment=False))
    probabilities = Predictor(module, image_size=32).probabilities(images)
    assert probabilities.numpy() == pytest.approx(softmax(logits.numpy() / 2.5, axis=1), abs=1e-6)

    cfg = compose_evaluate(sample_root, tmp_path / "eval", f"ckpt_path={ckpt}")
    metrics = evaluate(cfg)
    assert metrics["temperature"] == 2.5
    with (tmp_path / "eval" / "test_predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    batch = torch.stack(
        [torch.from_numpy(load_image(sample_root / r["path"], 32)).permute(2, 0, 1) for r in rows]
    )
    expected = Predictor(module, image_size=32).probabilities(batch).numpy()  # softmax(logits / 2.5)
    written = np.array([[float(r[name]) for name in module.class_names] for r in rows])
    assert written == pytest.approx(expected, abs=1e-5)

    records = read_records(tmp_path / "eval")
    run = run_record(records)
    assert run.job_type == "evaluate" and run.display_name == "scratch_resnet50" and "split:test" in run.tags
    assert final_summary(records)["test/macro_acc_ci95"] == pytest.approx(metrics["test/macro_acc_ci95"])
    assert [a.name for a in of_type(records, "artifact") if a.use_after_commit] == ["data-split"]
