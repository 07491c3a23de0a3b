"""Prediction backends: ONNX Runtime gives PyTorch's probabilities, is exported once per model, and
``backend=auto`` exports only where it pays; ``python -m artworks.bench predict`` prints its comparison."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch

from artworks.bench import predict as bench_predict
from artworks.errors import ArtworksError
from artworks.inference import predictor as predictor_module
from artworks.inference.predictor import Predictor, predict_files

SIZE = 32


@pytest.fixture(scope="module")
def module():
    return bench_predict.make_module("timm/test_resnet", SIZE)


@pytest.fixture(scope="module")
def onnx_cache(module, tmp_path_factory) -> Path:
    """A cache holding the module's export (made once for the tests here)."""
    cache = tmp_path_factory.mktemp("onnx")
    Predictor(module, device="cpu", backend="onnx", onnx_cache=cache)
    return cache


def test_onnx_runtime_gives_pytorchs_probabilities(module, onnx_cache: Path):
    images = torch.randint(
        0, 256, (3, 3, SIZE, SIZE), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    onnx = Predictor(module, device="cpu", backend="onnx", onnx_cache=onnx_cache)
    eager = Predictor(module, device="cpu", backend="torch")
    assert onnx.onnx is not None and eager.onnx is None
    torch.testing.assert_close(onnx.probabilities(images), eager.probabilities(images), atol=1e-5, rtol=0)


def test_auto_loads_a_cached_export_and_never_exports_twice(module, onnx_cache: Path, monkeypatch):
    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(predictor_module, "export_onnx_file", no_export)
    assert Predictor(module, device="cpu", backend="auto", onnx_cache=onnx_cache).onnx is not None
    assert len(list(onnx_cache.glob("*.onnx"))) == 1


def test_auto_exports_only_for_folders_large_enough(
    module, onnx_cache: Path, sample_root: Path, tmp_path: Path, monkeypatch
):
    exports = []

    def export(module, image_size: int, path: Path) -> None:  # the real export, already made by the fixture
        exports.append(path)
        shutil.copy(next(onnx_cache.glob("*.onnx")), path)

    monkeypatch.setattr(predictor_module, "export_onnx_file", export)
    paths = sorted((sample_root / "images" / "images").rglob("*.jpg"))[:3]
    predictor = Predictor(module, device="cpu", backend="auto", onnx_cache=tmp_path)
    eager, _ = predict_files(predictor, paths, topk=2)
    assert predictor.onnx is None and not exports  # 3 images: not worth an export

    monkeypatch.setattr(predictor_module, "AUTO_ONNX_MIN_IMAGES", 3)
    onnx, _ = predict_files(predictor, paths, topk=2)
    assert predictor.onnx is not None and exports == [predictor.onnx.path]
    assert [p.top[0][0] for p in onnx] == [p.top[0][0] for p in eager]
    assert [p.top[0][1] for p in onnx] == pytest.approx([p.top[0][1] for p in eager], abs=1e-5)


def test_unknown_backend_is_refused_in_one_sentence(module):
    with pytest.raises(
        ArtworksError, match="backend=tensorrt is not a backend; choose one of torch, onnx, auto"
    ):
        Predictor(module, device="cpu", backend="tensorrt")


def test_bench_predict_prints_project_vs_naive(tmp_path: Path, capsys, onnx_cache: Path):
    rates = bench_predict.main(
        ["--images", "4", "--rounds", "1", "--arch", "timm/test_resnet", "--image-size", str(SIZE),
         "--seconds", "0.05", "--dir", str(tmp_path), "--onnx-cache", str(onnx_cache)]
    )  # fmt: skip
    out = capsys.readouterr().out
    line = re.search(r"predict: project ([\d.]+) img/s vs naive ([\d.]+) img/s: ([\d.]+) x", out)
    assert line and float(line[1]) == pytest.approx(rates["project"], rel=0.06)
    assert float(line[3]) == pytest.approx(rates["project"] / rates["naive"], rel=0.01)
    assert re.search(r"ONNX Runtime +[\d.]+ +[\d.]+", out) and "largest probability difference" in out
