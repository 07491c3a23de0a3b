"""Explanations: Grad-CAM shape, that it points at the evidence, CBAM attention maps, files written."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from artworks.data.images import IMAGENET_MEAN, IMAGENET_STD
from artworks.errors import ArtworksError
from artworks.inference.explain import gradcam, spatial_attention, target_layer
from artworks.inference.predictor import Predictor, predict_files
from artworks.models import build_model
from artworks.training.module import ArtistClassifier

SIZE = 64  # layer4 of a ResNet is 2x2 here, so the maps have some spatial extent


@pytest.fixture(scope="module")
def images(sample_root: Path) -> list[Path]:
    return sorted((sample_root / "images" / "images").rglob("*.jpg"))[::16][:3]


@pytest.fixture(scope="module")
def predictors(trained_checkpoint) -> dict[str, Predictor]:
    return {
        model: Predictor.from_checkpoint(trained_checkpoint(model), image_size=SIZE, device="cpu")
        for model in ("scratch_resnet50", "cbam_resnet50")
    }


@pytest.mark.parametrize("model", ["scratch_resnet50", "cbam_resnet50"])
def test_gradcam_is_one_map_per_image_at_the_input_size(predictors, images: list[Path], model: str):
    predictor = predictors[model]
    batch = predictor.normalise(torch.stack([predictor.read(p) for p in images]))
    cams = gradcam(predictor.net, batch, targets=[0, 1, 2])
    assert cams.shape == (3, SIZE, SIZE)
    assert np.isfinite(cams).all() and cams.min() >= 0 and cams.max() <= 1


def test_gradcam_works_when_every_stage_is_frozen():
    net = build_model(4, freeze=["stem", "layer1", "layer2", "layer3", "layer4"]).eval()
    cams = gradcam(net, torch.randn(2, 3, SIZE, SIZE), targets=[0, 3])
    assert cams.shape == (2, SIZE, SIZE) and cams.max() > 0


class PatchColourNet(nn.Module):
    """Class 0 = "red", class 1 = "blue", scored on non-overlapping 8x8 patches, so the evidence for a class
    sits exactly where its colour is: a known answer for Grad-CAM to find."""

    def __init__(self) -> None:
        super().__init__()
        conv = nn.Conv2d(3, 2, kernel_size=8, stride=8, bias=False)
        with torch.no_grad():
            conv.weight.zero_()
            conv.weight[0, 0], conv.weight[0, 2] = 1 / 64, -1 / 64  # red minus blue
            conv.weight[1, 2], conv.weight[1, 0] = 1 / 64, -1 / 64  # blue minus red
        self.layer4 = nn.Sequential(conv, nn.ReLU())
        self.fc = nn.Linear(2, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.eye(2))
            self.fc.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.layer4(x).mean(dim=(2, 3)))


def test_gradcam_highlights_the_region_that_carries_the_class():
    torch.manual_seed(0)
    image = 0.5 + 0.1 * torch.randn(1, 3, SIZE, SIZE)  # grey noise: no evidence for either class
    half = SIZE // 2
    image[0, :, :half, :half] = torch.tensor([1.0, 0.1, 0.1])[:, None, None]  # red top-left
    image[0, :, half:, half:] = torch.tensor([0.1, 0.1, 1.0])[:, None, None]  # blue bottom-right
    net = PatchColourNet().eval()

    red, blue = gradcam(net, image.repeat(2, 1, 1, 1), targets=[0, 1])

    def share(cam: np.ndarray, rows: slice, cols: slice) -> float:
        return float(cam[rows, cols].sum() / cam.sum())

    top_left, bottom_right = (slice(0, half), slice(0, half)), (slice(half, None), slice(half, None))
    assert share(red, *top_left) > 0.8 and share(red, *bottom_right) < 0.05
    assert share(blue, *bottom_right) > 0.8 and share(blue, *top_left) < 0.05


def test_cbam_attention_maps_of_each_stage(predictors, images: list[Path]):
    predictor = predictors["cbam_resnet50"]
    batch = predictor.normalise(torch.stack([predictor.read(p) for p in images]))
    maps = spatial_attention(predictor.net, batch)
    assert {stage: m.shape for stage, m in maps.items()} == {
        "layer1": (3, SIZE // 4, SIZE // 4),
        "layer2": (3, SIZE // 8, SIZE // 8),
        "layer3": (3, SIZE // 16, SIZE // 16),
        "layer4": (3, SIZE // 32, SIZE // 32),
    }
    assert all(((m > 0) & (m < 1)).all() for m in maps.values())
    assert spatial_attention(predictors["scratch_resnet50"].net, batch) == {}


def test_predict_with_explanations_writes_overlays_beside_the_folder_layout(
    predictors, images: list[Path], tmp_path: Path
):
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    paths = [inputs / "a.jpg", inputs / "sub" / "b.jpg"]
    for source, target in zip(images, paths, strict=False):
        shutil.copy(source, target)
    predict_files(
        predictors["cbam_resnet50"], paths, batch_size=2, explain_dir=tmp_path / "explain", base=inputs
    )

    written = sorted(
        p.relative_to(tmp_path / "explain").as_posix() for p in (tmp_path / "explain").rglob("*.png")
    )
    assert written == ["a.attention.png", "a.gradcam.png", "sub/b.attention.png", "sub/b.gradcam.png"]
    assert Image.open(tmp_path / "explain" / "a.gradcam.png").size == (SIZE, SIZE)


def timm_predictor(arch: str = "timm/test_resnet") -> Predictor:
    """An untrained timm backbone ready for inference."""
    torch.manual_seed(0)
    module = ArtistClassifier(
        net={"arch": arch, "weights": None},
        class_names=["a", "b", "c"],
        optimizer={"_target_": "torch.optim.Adam", "lr": 1e-3},
        scheduler=None,
        preprocess={"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "image_size": SIZE},
    )
    return Predictor(module, device="cpu")


def test_gradcam_target_is_the_last_feature_stage_of_any_backbone():
    timm_net = timm_predictor().net
    assert target_layer(timm_net) is timm_net.get_submodule(timm_net.feature_info[-1]["module"])
    torchvision_net = build_model(4, arch="resnet18")
    assert target_layer(torchvision_net) is torchvision_net.layer4
    with pytest.raises(ArtworksError, match="last feature stage"):
        target_layer(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()))


# test_convnext has no ``layer4`` at all (its stages are ``stages.0``..``stages.3``)
@pytest.mark.parametrize("arch", ["timm/test_resnet", "timm/test_convnext"])
def test_timm_backbone_is_explained_end_to_end(images: list[Path], tmp_path: Path, arch: str):
    predictor = timm_predictor(arch)
    batch = predictor.normalise(torch.stack([predictor.read(p) for p in images]))
    cams = gradcam(predictor.net, batch, targets=[0, 1, 2])
    assert cams.shape == (3, SIZE, SIZE) and np.isfinite(cams).all() and cams.max() > 0
    predict_files(predictor, images[:2], batch_size=2, explain_dir=tmp_path, base=images[0].parent)
    assert sorted(p.name for p in tmp_path.rglob("*.png")) == sorted(
        f"{p.stem}.gradcam.png" for p in images[:2]
    )


def test_gradcam_refuses_token_outputs_with_a_clear_message():
    class Tokens(nn.Module):  # a transformer-like network: its last stage outputs N x tokens x C
        def __init__(self) -> None:
            super().__init__()
            self.layer4 = nn.Linear(3, 4)
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.layer4(x.flatten(2).transpose(1, 2)).mean(dim=1))

    with pytest.raises(ArtworksError, match="feature maps"):
        gradcam(Tokens(), torch.randn(1, 3, 8, 8), targets=[0])
