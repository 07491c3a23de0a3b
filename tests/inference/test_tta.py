"""Test-time augmentation: probabilities averaged over views, exact in the test loop and in prediction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from sklearn.metrics import balanced_accuracy_score

from artworks.data.datamodule import ArtworksDataModule
from artworks.errors import ArtworksError
from artworks.evaluate import evaluate
from artworks.inference import tta
from artworks.inference.predictor import Predictor
from artworks.training.preprocess import BatchPreprocess
from tests.helpers.compose import TINY_SAMPLE, compose_evaluate


def _tiny_scorer() -> tuple[torch.nn.Module, BatchPreprocess]:
    """A small random CNN whose output depends on orientation (no symmetry built in) and its preprocessing."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 5, stride=2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.LazyLinear(5),
    ).eval()
    preprocess = BatchPreprocess(mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.3])
    net(preprocess(torch.zeros(1, 3, 16, 16)))  # materialise the lazy layer
    return net, preprocess


@torch.no_grad()
def test_flip_tta_is_invariant_to_flipping_the_input_and_rot90_to_turning_it():
    net, preprocess = _tiny_scorer()
    score = lambda x: net(preprocess(x))  # noqa: E731
    images = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8)

    plain = tta.probabilities(score, images, "none", 16)
    flipped = tta.probabilities(score, images.flip(-1), "none", 16)
    assert not torch.allclose(plain, flipped, atol=1e-4)  # the network itself is not flip-invariant

    assert torch.equal(
        tta.probabilities(score, images, "flip", 16), tta.probabilities(score, images.flip(-1), "flip", 16)
    )
    turned = torch.rot90(images, 1, dims=(-2, -1))
    assert torch.allclose(
        tta.probabilities(score, images, "rot90", 16),
        tta.probabilities(score, turned, "rot90", 16),
        atol=1e-6,
    )


def test_the_views_probabilities_are_averaged_not_their_logits():
    logits = iter([torch.tensor([[8.0, 0.0, 0.0]]), torch.tensor([[0.0, 1.0, 0.0]])])
    mean = tta.probabilities(lambda _: next(logits), torch.zeros(1, 3, 4, 4), "flip", 4)
    expected = (torch.tensor([[8.0, 0.0, 0.0]]).softmax(1) + torch.tensor([[0.0, 1.0, 0.0]]).softmax(1)) / 2
    assert torch.allclose(mean, expected)
    assert not torch.allclose(mean, torch.tensor([[4.0, 0.5, 0.0]]).softmax(1), atol=1e-3)


def test_multicrop_cuts_a_grid_at_the_training_scale_plus_the_whole_image():
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    views = list(tta.views(images, "multicrop", 4))
    assert tta.input_size("multicrop", 4) == 8 and tta.input_size("flip", 4) == 4
    assert len(views) == 1 + tta.GRID**2 and all(v.shape == (2, 3, 4, 4) for v in views)
    top, bottom = torch.cat(views[1:3], dim=-1), torch.cat(views[3:5], dim=-1)
    assert torch.equal(torch.cat([top, bottom], dim=-2), images)  # the crops tile the larger rendering
    assert views[0].mean() == pytest.approx(images.mean().item(), rel=1e-5)  # the whole image, resized
    shown = tta.whole_image(images.to(torch.uint8), 4)  # what explanations show: the whole image, uint8
    assert shown.dtype == torch.uint8 and shown.shape == (2, 3, 4, 4)
    with pytest.raises(ArtworksError, match="multicrops"):
        tta.check_mode("multicrops")


def _eval_cfg(sample_root: Path, ckpt: Path, output_dir: Path, *overrides: str):
    return compose_evaluate(
        sample_root,
        output_dir,
        "logger=none",
        "report.resamples=20",
        "report.misclassified=4",
        f"ckpt_path={ckpt}",
        *overrides,
    )


def test_evaluate_with_multicrop_tests_through_the_views_and_records_it(
    sample_root, tiny_checkpoint, tmp_path
):
    metrics = evaluate(_eval_cfg(sample_root, tiny_checkpoint, tmp_path / "eval", "tta=multicrop"))
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["tta"] == "multicrop"
    assert metrics["image_size"] == 32  # the crops are at the checkpoint's training size
    assert "TTA multicrop" in (tmp_path / "eval" / "classification_report.md").read_text()

    # the test loop's loss and macro accuracy are those of the Predictor's multicrop probabilities
    data = ArtworksDataModule(str(sample_root), image_size=32, sample=dict(TINY_SAMPLE), build_workers=1)
    data.setup("test")
    test = data.datasets["test"]
    predictor = Predictor.from_checkpoint(tiny_checkpoint, device="cpu", tta="multicrop")
    images = torch.stack([predictor.read(Path(data.index.root) / p) for p in test.paths])
    probabilities = predictor.probabilities(images)
    labels = torch.as_tensor(test.labels)
    assert metrics["test/loss"] == pytest.approx(
        -probabilities[torch.arange(len(labels)), labels].log().mean().item(), rel=1e-4
    )
    expected = balanced_accuracy_score(labels.numpy(), probabilities.argmax(1).numpy())
    assert metrics["test/macro_acc"] == pytest.approx(expected, abs=1e-6)
    plain = Predictor.from_checkpoint(tiny_checkpoint, device="cpu").probabilities(images)  # fitted to 32
    assert not torch.allclose(plain, probabilities, atol=1e-4)  # the views changed the prediction
