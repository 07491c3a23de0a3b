"""The headline metric, end to end: macro accuracy and macro F1 are per-artist averages wherever reported.

On imbalanced data (877 vs 24 images in the real set) plain accuracy flatters a model that ignores the
small classes, which is why the study reports macro accuracy. A run on an imbalanced sample, with a class the
model never predicts, must report in its logged history, ``metrics.json``, the W&B summary and the comparison
table exactly sklearn's ``balanced_accuracy_score`` and macro ``f1_score`` of the best checkpoint's
predictions: so plain (micro) accuracy in place of macro accuracy fails here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import open_dict
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from artworks.data.sample import ensure_sample
from artworks.reports.compare import compare
from artworks.training.callbacks.history import read_history
from artworks.training.checkpoint import load_classifier
from artworks.training.task import train
from tests.helpers.compose import TINY_ARCH
from tests.helpers.wandb_records import final_summary, wandb_records

# 3 artists at the real data's proportions: 102 / 14 / 10 images, so val and test hold every artist.
IMBALANCED = {"artists": 3, "images_per_artist": 40, "image_size": 40, "seed": 0, "imbalance": "real"}


def _predictions(module: torch.nn.Module, loader) -> tuple[np.ndarray, np.ndarray]:
    """Targets and argmax predictions of ``module`` over a whole dataloader, with eval preprocessing."""
    targets, preds = [], []
    with torch.no_grad():
        for images, labels in loader:
            preds.append(module(module.preprocess(images, augment=False)).argmax(1))
            targets.append(labels)
    return torch.cat(targets).numpy(), torch.cat(preds).numpy()


def _expected(targets: np.ndarray, preds: np.ndarray) -> dict[str, float]:
    """sklearn's macro figures, after checking the predictions exercise what tells macro from micro."""
    assert set(targets.tolist()) == {0, 1, 2}, "every artist has images here (see BRIEF §4 for the edge)"
    assert set(preds.tolist()) < {0, 1, 2}, "the edge under test: an artist is never predicted"
    macro = balanced_accuracy_score(targets, preds)
    assert abs(macro - accuracy_score(targets, preds)) > 0.05, "micro and macro accuracy must differ"
    return {"macro_acc": macro, "macro_f1": f1_score(targets, preds, average="macro", zero_division=0)}


def test_macro_accuracy_and_f1_are_per_artist_averages_in_every_report(make_cfg, tmp_path: Path) -> None:
    root = ensure_sample(tmp_path / "imbalanced", **IMBALANCED)
    cfg = make_cfg(
        "model=scratch_resnet50",
        f"model.net.arch={TINY_ARCH}",
        f"data.root={root}",
        "logger=wandb",
        "trainer.limit_val_batches=null",  # the whole val and test splits, as the recomputation below
        "trainer.limit_test_batches=null",
        output_dir=tmp_path / "run",
    )
    with open_dict(cfg):
        cfg.data.sample = dict(IMBALANCED)
    metrics = train(cfg)

    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    datamodule.setup("test")
    module = load_classifier(metrics["best_ckpt"])  # one epoch: the best is the one validated and tested
    val = _expected(*_predictions(module, datamodule.val_dataloader()))
    test = _expected(*_predictions(module, datamodule.test_dataloader()))

    (logged,) = read_history(tmp_path / "run")  # what the module logged at the end of the epoch
    assert logged["val/macro_acc"] == pytest.approx(val["macro_acc"], abs=1e-6)
    assert logged["val/macro_f1"] == pytest.approx(val["macro_f1"], abs=1e-6)
    assert metrics["val/macro_acc_best"] == pytest.approx(val["macro_acc"], abs=1e-6)
    assert metrics["test/macro_acc"] == pytest.approx(test["macro_acc"], abs=1e-6)
    assert metrics["test/macro_f1"] == pytest.approx(test["macro_f1"], abs=1e-6)

    (run_file,) = (tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb")
    summary = final_summary(wandb_records(run_file))
    assert summary["val/macro_acc"] == {"max": pytest.approx(val["macro_acc"], abs=1e-6)}
    assert summary["test/macro_acc"] == pytest.approx(test["macro_acc"], abs=1e-6)
    assert summary["test/macro_f1"] == pytest.approx(test["macro_f1"], abs=1e-6)

    table = compare([tmp_path / "run"], tmp_path / "comparison")
    header, _, row = (line.strip("|").split(" | ") for line in table.splitlines()[:3])
    cells = dict(zip([h.strip() for h in header], [c.strip() for c in row], strict=True))
    assert cells["test macro acc"] == f"{test['macro_acc']:.3f}"
    assert cells["test macro F1"] == f"{test['macro_f1']:.3f}"
    assert cells["best val macro acc"] == f"{val['macro_acc']:.3f}"
