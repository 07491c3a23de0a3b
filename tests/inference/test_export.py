"""Export: ONNX Runtime and TorchScript give PyTorch's answers, with class names and normalisation inside."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from artworks.config import config_dir
from artworks.data.images import load_image
from artworks.errors import ArtworksError
from artworks.inference.export import decode_metadata, export, read_torchscript
from artworks.inference.predictor import Predictor

IMAGE_SIZE = 32  # the tiny training runs' data.image_size (tests/conftest.py)
ort = pytest.importorskip(
    "onnxruntime", reason="ONNX export is tested with onnxruntime (pip install '.[export]')"
)


@pytest.fixture(scope="module")
def uint8_images(sample_root: Path) -> torch.Tensor:
    """Five real files of the sample as the exported model's input (uint8 N x 3 x S x S)."""
    paths = sorted((sample_root / "images" / "images").rglob("*.jpg"))[::10][:5]
    return torch.stack([torch.from_numpy(load_image(p, IMAGE_SIZE)).permute(2, 0, 1) for p in paths])


@pytest.fixture(scope="module")
def pytorch(uint8_images: torch.Tensor):
    """``pytorch(ckpt)``: PyTorch's logits, probabilities and hyperparameters for ``uint8_images`` (once)."""
    answers = {}

    def _get(ckpt: Path) -> tuple[np.ndarray, np.ndarray, dict]:
        if ckpt not in answers:
            predictor = Predictor.from_checkpoint(ckpt, device="cpu")
            with torch.no_grad():
                logits = predictor.net(predictor.normalise(uint8_images))
            answers[ckpt] = logits.numpy(), logits.softmax(1).numpy(), predictor.module.hparams
        return answers[ckpt]

    return _get


def export_cfg(*overrides: str):
    """The arguments ``python -m artworks.export`` would pass, composed from conf/export.yaml."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="export", overrides=list(overrides))
    GlobalHydra.instance().clear()
    return cfg


# tiny: a scratch run on the tiny network (the export path is what is tested);
# cbam (ResNet-50 with GELU, depthwise convs, CBAM's max/mean pooling): its own operators, slow
@pytest.mark.parametrize("model", ["tiny", pytest.param("cbam_resnet50", marks=pytest.mark.slow)])
def test_onnx_runtime_matches_pytorch(
    trained_checkpoint, tiny_checkpoint, pytorch, uint8_images, tmp_path: Path, model: str
):
    ckpt = tiny_checkpoint if model == "tiny" else trained_checkpoint(model)
    cfg = export_cfg(f"ckpt_path={ckpt}", "format=onnx", f"output={tmp_path / 'model.onnx'}")
    path = export(cfg.ckpt_path, cfg.format, cfg.output, cfg.image_size)

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(uint8)"
    expected_logits, expected_probabilities, hparams = pytorch(ckpt)
    for batch in (slice(0, 1), slice(0, 5)):  # the batch dimension is dynamic
        logits, probabilities = session.run(
            ["logits", "probabilities"], {"images": uint8_images[batch].numpy()}
        )
        assert np.abs(logits - expected_logits[batch]).max() <= 1e-4
        assert np.abs(probabilities - expected_probabilities[batch]).max() <= 1e-4

    metadata = decode_metadata(session.get_modelmeta().custom_metadata_map)
    assert metadata["class_names"] == list(hparams.class_names)
    assert metadata["mean"] == pytest.approx(hparams.preprocess["mean"])
    assert metadata["std"] == pytest.approx(hparams.preprocess["std"])
    assert metadata["image_size"] == IMAGE_SIZE


def test_torchscript_matches_pytorch_and_carries_metadata(tiny_checkpoint, pytorch, uint8_images, tmp_path):
    path = export(tiny_checkpoint, "torchscript", tmp_path / "model.pt")

    model, metadata = read_torchscript(path)
    logits, probabilities = model(uint8_images)
    expected_logits, expected_probabilities, _ = pytorch(tiny_checkpoint)
    assert np.abs(logits.detach().numpy() - expected_logits).max() <= 1e-4
    assert np.abs(probabilities.detach().numpy() - expected_probabilities).max() <= 1e-4
    assert len(metadata["class_names"]) == 4 and metadata["image_size"] == IMAGE_SIZE


def test_export_config_defaults_and_unknown_formats(tmp_path: Path):
    cfg = export_cfg("ckpt_path=x.ckpt")
    assert cfg.format == "onnx" and cfg.output is None
    with pytest.raises(ArtworksError, match="onnx, torchscript"):
        export(tmp_path / "x.ckpt", "tflite")
