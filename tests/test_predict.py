"""Prediction from a checkpoint alone: single files, a folder, a glob, unreadable files, the command line."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from artworks.data.images import load_image
from artworks.errors import ArtworksError
from artworks.inference.predictor import Predictor, find_images, predict_files
from artworks.training.checkpoint import load_classifier
from artworks.training.module import ArtistClassifier


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint: Path) -> Predictor:
    return Predictor.from_checkpoint(tiny_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def folder(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """photos/{a.jpg, b.png (greyscale), sub/c.jpg, broken.jpg (not an image), notes.txt}."""
    sources = sorted((sample_root / "images" / "images").rglob("*.jpg"))
    root = tmp_path_factory.mktemp("photos")
    (root / "sub").mkdir()
    shutil.copy(sources[0], root / "a.jpg")
    Image.open(sources[13]).convert("L").save(root / "b.png")
    shutil.copy(sources[-1], root / "sub" / "c.jpg")
    (root / "broken.jpg").write_bytes(b"this is not a JPEG")
    (root / "notes.txt").write_text("not an image either, and not named like one")
    return root


def test_predictions_are_the_model_on_the_training_preprocessing(predictor: Predictor, folder: Path):
    files = [folder / "a.jpg", folder / "sub" / "c.jpg"]
    predictions, skipped = predict_files(predictor, files, topk=3, batch_size=1)

    assert not skipped
    assert [p.path for p in predictions] == files
    module = predictor.module
    for prediction, path in zip(predictions, files, strict=True):
        # the training path: load_image at the checkpoint's image size, then the module's own normalisation
        image = torch.from_numpy(load_image(path, module.hparams.preprocess["image_size"])).permute(2, 0, 1)
        with torch.no_grad():
            expected = module.net(module.preprocess(image[None], augment=False)).softmax(1)[0]
        values, indices = expected.topk(3)
        assert [a for a, _ in prediction.top] == [module.class_names[i] for i in indices]
        assert [p for _, p in prediction.top] == pytest.approx(values.tolist(), abs=1e-5)


def test_a_folder_is_searched_recursively_and_unreadable_images_are_skipped(
    predictor: Predictor, folder: Path
):
    files, base = find_images(str(folder))
    assert base == folder
    assert [f.relative_to(folder).as_posix() for f in files] == ["a.jpg", "b.png", "broken.jpg", "sub/c.jpg"]

    predictions, skipped = predict_files(predictor, files, topk=5, batch_size=2)

    assert [p.path.name for p in predictions] == ["a.jpg", "b.png", "c.jpg"]
    assert [(s.path.name, s.reason.split(":")[0]) for s in skipped] == [
        ("broken.jpg", "UnidentifiedImageError")
    ]
    for p in predictions:
        assert len(p.top) == 4  # topk=5 on a 4-artist model gives all four, best first
        probabilities = [prob for _, prob in p.top]
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)


def test_inputs_by_glob_and_inputs_that_match_nothing(folder: Path, tmp_path: Path):
    files, base = find_images(str(folder / "**" / "*.jpg"))
    assert sorted(f.name for f in files) == ["a.jpg", "broken.jpg", "c.jpg"]
    assert base == folder
    with pytest.raises(ArtworksError, match="neither a file"):
        find_images(str(tmp_path / "missing.jpg"))
    with pytest.raises(ArtworksError, match="No image files"):
        find_images(str(tmp_path))


def test_checkpoint_without_recorded_image_size_needs_an_override(tiny_checkpoint: Path):
    hparams = dict(load_classifier(tiny_checkpoint).hparams)
    hparams["preprocess"] = {k: v for k, v in hparams["preprocess"].items() if k != "image_size"}
    old = ArtistClassifier(**hparams, load_weights=False)  # what a checkpoint from before the field loads as
    with pytest.raises(ArtworksError, match="image_size="):
        Predictor(old)
    assert Predictor(old, image_size=48).image_size == 48


@pytest.mark.e2e
def test_command_line_prints_a_table_and_writes_csv(tiny_checkpoint: Path, folder: Path, tmp_path: Path):
    output = tmp_path / "predictions.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "artworks.predict",
            f"ckpt_path={tiny_checkpoint}",
            f"inputs={folder}",
            f"output={output}",
            f"paths.log_dir={tmp_path / 'logs'}",
            "topk=2",
            "num_workers=0",
            "device=cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "top-1" in result.stdout and "sub/c.jpg" in result.stdout
    assert "Skipped" in result.stdout + result.stderr and "broken.jpg" in result.stdout + result.stderr
    rows = list(csv.DictReader(output.open()))
    assert list(rows[0]) == ["path", "artist_1", "probability_1", "artist_2", "probability_2"]
    assert [Path(r["path"]).name for r in rows] == ["a.jpg", "b.png", "c.jpg"]
    assert all(float(r["probability_1"]) >= float(r["probability_2"]) for r in rows)
