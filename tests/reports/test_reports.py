"""The test report of a run: metric semantics pinned against scikit-learn, report files, W&B summary."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image
from sklearn.metrics import balanced_accuracy_score, classification_report, recall_score
from torchmetrics.classification import MulticlassAccuracy

from artworks.reports.classification import classification_rows
from artworks.training.callbacks.history import read_history
from artworks.training.checkpoint import load_checkpoint, load_classifier
from artworks.training.task import train
from tests.helpers.wandb_records import final_summary, of_type, read_records, run_file, run_record

NAMES = ["a", "b", "c", "d", "e"]


def _torchmetrics_macro_acc(preds: list[int], targets: list[int]) -> float:
    metric = MulticlassAccuracy(num_classes=len(NAMES), average="macro")
    return float(metric(torch.tensor(preds), torch.tensor(targets)))


def _report_macro_recall(preds: list[int], targets: list[int]) -> float:
    rows = classification_rows(np.array(targets), np.array(preds), NAMES)
    return next(r["recall"] for r in rows if r["artist"] == "macro avg")


def test_macro_accuracy_is_balanced_accuracy_when_every_predicted_class_has_targets():
    targets = [0, 0, 0, 1, 1, 2, 2, 2, 2]  # class 3 and 4: neither targets nor predictions
    preds = [0, 1, 0, 1, 1, 2, 0, 2, 1]
    expected = balanced_accuracy_score(targets, preds)
    assert expected == pytest.approx((2 / 3 + 1 + 2 / 4) / 3)
    assert _torchmetrics_macro_acc(preds, targets) == pytest.approx(expected)
    assert _report_macro_recall(preds, targets) == pytest.approx(expected)


def test_a_predicted_class_without_targets_counts_as_zero_recall():
    targets = [0, 0, 1, 1, 2, 2]
    preds = [0, 1, 1, 1, 2, 3]  # class 3 is predicted but has no test images
    torchmetrics_value = _torchmetrics_macro_acc(preds, targets)
    # torchmetrics averages over 4 classes (0, 1, 2 and the predicted 3, whose recall is 0) ...
    assert torchmetrics_value == pytest.approx((0.5 + 1 + 0.5 + 0) / 4)
    assert torchmetrics_value == pytest.approx(recall_score(targets, preds, average="macro", zero_division=0))
    # ... while scikit-learn's balanced accuracy drops class 3 (with a warning) and reports more.
    with pytest.warns(UserWarning, match="y_pred contains classes not in y_true"):
        assert balanced_accuracy_score(targets, preds) == pytest.approx((0.5 + 1 + 0.5) / 3)
    # The project reports the torchmetrics figure, and its classification report agrees with it.
    assert _report_macro_recall(preds, targets) == pytest.approx(torchmetrics_value)


@pytest.mark.e2e
def test_a_run_writes_a_report_that_agrees_with_sklearn_and_a_wandb_run_that_reads_itself(
    make_cfg, tmp_path, capsys
):
    cfg = make_cfg(
        "model=scratch_resnet50",
        "logger=wandb",
        "trainer.max_epochs=2",
        "trainer.limit_test_batches=2",
        "report.figures=true",
        output_dir=tmp_path,
    )
    metrics = train(cfg)

    # The predictions of the tested (best) checkpoint, recomputed here, give scikit-learn's report.
    datamodule = instantiate(cfg.data)
    datamodule.setup("test")
    module = load_classifier(metrics["best_ckpt"])
    batches = [batch for _, batch in zip(range(2), datamodule.test_dataloader(), strict=False)]
    with torch.no_grad():
        preds = torch.cat([module(module.preprocess(x, augment=False)).argmax(1) for x, _ in batches])
    targets = torch.cat([y for _, y in batches]).numpy()
    expected = classification_report(
        targets,
        preds.numpy(),
        labels=sorted(set(targets) | set(preds.tolist())),
        output_dict=True,
        zero_division=0,
    )
    with (tmp_path / "classification_report.csv").open() as f:
        rows = {r["artist"]: r for r in csv.DictReader(f)}
    for i, name in enumerate(module.class_names):
        if str(i) in expected:
            assert float(rows[name]["recall"]) == pytest.approx(expected[str(i)]["recall"])
            assert float(rows[name]["precision"]) == pytest.approx(expected[str(i)]["precision"])
            assert int(rows[name]["support"]) == expected[str(i)]["support"]
    assert float(rows["accuracy"]["f1-score"]) == pytest.approx(expected["accuracy"])
    assert float(rows["macro avg"]["recall"]) == pytest.approx(metrics["test/macro_acc"], abs=1e-6)
    assert float(rows["macro avg"]["f1-score"]) == pytest.approx(metrics["test/macro_f1"], abs=1e-6)
    assert float(rows["accuracy"]["f1-score"]) == pytest.approx(metrics["test/acc"], abs=1e-6)
    assert "| macro avg |" in (tmp_path / "classification_report.md").read_text()
    for png in ("confusion_matrix.png", "per_class_accuracy.png"):
        with Image.open(tmp_path / png) as image:
            assert image.format == "PNG" and min(image.size) > 200

    history = read_history(tmp_path)
    assert [r["epoch"] for r in history] == [0, 1]
    best = max(history, key=lambda r: r["val/macro_acc"])
    assert metrics["best_epoch"] == best["epoch"] and metrics["best_ckpt"].endswith(
        f"epoch_{best['epoch']:03.0f}.ckpt"
    )
    assert metrics["params_total"] == metrics["params_trainable"] > 20_000_000
    assert metrics["train_img_per_s"] > 0 and metrics["wall_time_s"] > 0
    assert metrics["tags"] == ["scratch_resnet50", "resnet50", "init:random", "frozen:none"]
    assert 0 <= metrics["test/top5_acc"] <= 1 and metrics["test/top5_acc"] >= metrics["test/acc"]

    # test_predictions.csv: one row per tested image, in the test set's order, reproducing test/macro_acc
    with (tmp_path / "test_predictions.csv").open() as f:
        predictions = list(csv.DictReader(f))
    assert [r["path"] for r in predictions] == datamodule.datasets["test"].paths[: len(targets)]
    assert [r["artist"] for r in predictions] == [module.class_names[t] for t in targets]
    assert [r["predicted"] for r in predictions] == [module.class_names[p] for p in preds.tolist()]
    true = [module.class_names.index(r["artist"]) for r in predictions]
    predicted = [module.class_names.index(r["predicted"]) for r in predictions]
    assert _torchmetrics_macro_acc(predicted, true) == pytest.approx(metrics["test/macro_acc"], abs=1e-7)
    for row in predictions:  # probability columns: a distribution; "probability": the predicted artist's
        probabilities = [float(row[name]) for name in module.class_names]
        assert sum(probabilities) == pytest.approx(1, abs=1e-4)
        assert float(row["probability"]) == pytest.approx(max(probabilities))
    for name in ("macro_acc", "acc", "macro_f1"):
        lo, hi = metrics[f"test/{name}_ci95"]
        assert lo - 1e-6 <= metrics[f"test/{name}"] <= hi + 1e-6
    report = (tmp_path / "classification_report.md").read_text()
    assert "95 % CI" in report and "## Most-confused artist pairs" in report and "validation ECE" in report

    # the temperature: fitted on validation, stored in the best checkpoint, read back by load_classifier
    assert metrics["temperature"] > 0 and {"val/ece", "val/ece_calibrated", "test/ece"} <= set(metrics)
    assert load_checkpoint(metrics["best_ckpt"])["calibration"] == {"temperature": metrics["temperature"]}
    assert module.temperature == metrics["temperature"]
    for png in ("misclassified.png", "recall_vs_train_size.png", "reliability.png"):
        with Image.open(tmp_path / png) as image:
            assert image.format == "PNG" and min(image.size) > 100

    records = read_records(tmp_path)
    run = run_record(records)
    assert run.display_name == "scratch_resnet50" and run.job_type == "train"
    assert list(run.tags) == metrics["tags"]
    config = {item.key: json.loads(item.value_json) for c in of_type(records, "config") for item in c.update}
    assert config["model"]["net"]["arch"] == "resnet50" and config["data"]["image_size"] == 32
    summary = final_summary(records)
    assert summary["val/macro_acc"] == {"max": pytest.approx(best["val/macro_acc"])}  # the best, not the last
    assert summary["test/macro_acc"] == pytest.approx(metrics["test/macro_acc"])
    assert summary["test/macro_acc_ci95"] == pytest.approx(metrics["test/macro_acc_ci95"])
    assert summary["best_epoch"] == metrics["best_epoch"]
    assert summary["test/classification_report/_type"] == "table-file"
    assert summary["test/classification_report/nrows"] == len(rows)  # artists, accuracy, two averages
    figures = {
        "test/confusion_matrix",
        "test/per_class_accuracy",
        "test/misclassified_sheet",
        "test/reliability",
    }
    assert {f"{key}/_type" for key in figures} <= set(summary)
    if predicted != true:  # the most confident mistakes as a table with images
        assert summary["test/misclassified/_type"] == "table-file"
    (split,) = [a for a in of_type(records, "artifact") if a.name == "data-split"]
    assert split.use_after_commit and datamodule.split_path.stem in split.aliases  # used as input
    assert f"wandb sync {run_file(tmp_path).parent.resolve()}" in capsys.readouterr().out
