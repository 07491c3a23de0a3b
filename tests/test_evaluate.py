"""``python -m artworks.evaluate``: a saved checkpoint re-tested without training gives the run's numbers."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from omegaconf import DictConfig

from artworks.data.sample import ensure_sample
from artworks.errors import ArtworksError
from artworks.evaluate import evaluate
from artworks.training.task import train
from tests.helpers.compose import TINY_ARCH, TINY_SAMPLE, compose_evaluate


def _eval_cfg(*overrides: str, data_root: Path, sample: dict, output_dir: Path) -> DictConfig:
    return compose_evaluate(data_root, output_dir, "trainer.limit_test_batches=1", *overrides, sample=sample)


@pytest.mark.e2e
def test_evaluate_reproduces_the_test_metrics_and_refuses_other_artists(make_cfg, sample_root, tmp_path):
    trained = train(
        make_cfg("model=scratch_resnet50", f"model.net.arch={TINY_ARCH}", output_dir=tmp_path / "run")
    )

    cfg = _eval_cfg(
        f"ckpt_path={trained['best_ckpt']}",
        "report.figures=true",
        data_root=sample_root,
        sample=dict(TINY_SAMPLE),
        output_dir=tmp_path / "eval",
    )
    metrics = evaluate(cfg)
    for key in ("test/macro_acc", "test/acc", "test/top5_acc", "test/macro_f1"):
        assert metrics[key] == pytest.approx(trained[key]), key
    assert metrics["image_size"] == 32  # the training size, from the checkpoint (the sample config says 64)
    for name in (
        "metrics.json",
        "confusion_matrix.png",
        "per_class_accuracy.png",
        "classification_report.md",
    ):
        assert (tmp_path / "eval" / name).is_file(), name
    with (tmp_path / "eval" / "classification_report.csv").open() as f:
        rows = {r["artist"]: r for r in csv.DictReader(f)}
    assert (tmp_path / "run" / "classification_report.csv").read_text() == (
        tmp_path / "eval" / "classification_report.csv"
    ).read_text()
    assert float(rows["macro avg"]["recall"]) == pytest.approx(trained["test/macro_acc"], abs=1e-6)

    val = evaluate(
        _eval_cfg(
            f"ckpt_path={trained['best_ckpt']}",
            "split=val",
            data_root=sample_root,
            sample=dict(TINY_SAMPLE),
            output_dir=tmp_path / "eval_val",
        )
    )
    assert val["split"] == "val" and "val/macro_acc" in val and "test/macro_acc" not in val
    # report.figures=false (the tests' default): the same tables, no figure drawn
    assert (tmp_path / "eval_val" / "classification_report.md").is_file()
    assert not list((tmp_path / "eval_val").glob("*.png"))

    other_sample = {**TINY_SAMPLE, "artists": 3}
    other_root = ensure_sample(tmp_path / "other", **other_sample)
    with pytest.raises(ArtworksError, match="another list of artists"):
        evaluate(
            _eval_cfg(
                f"ckpt_path={trained['best_ckpt']}",
                data_root=other_root,
                sample=other_sample,
                output_dir=tmp_path / "refused",
            )
        )
    with pytest.raises(ArtworksError, match="not a split"):
        evaluate(
            _eval_cfg(
                f"ckpt_path={trained['best_ckpt']}",
                "split=holdout",
                data_root=sample_root,
                sample=dict(TINY_SAMPLE),
                output_dir=tmp_path / "bad",
            )
        )
