"""Shared fixtures: a tiny synthetic dataset, random weights in torchvision's format, composed configs.

Nothing here touches the network: W&B runs offline and TORCH_HOME points at an empty temporary folder.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ["TORCH_HOME"] = tempfile.mkdtemp(prefix="artworks-torch-home-")

import pytest  # noqa: E402
import torch  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from torchvision.models import resnet50  # noqa: E402

from artworks.data.sample import ensure_sample  # noqa: E402
from tests.helpers.compose import TINY_SAMPLE, compose_train  # noqa: E402

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-artist, 48-image synthetic dataset in the Kaggle layout (shared; do not modify)."""
    root = tmp_path_factory.mktemp("sample") / "data"
    return ensure_sample(root, **TINY_SAMPLE)


@pytest.fixture(scope="session")
def resnet50_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random ResNet-50 state dict saved the way torchvision's weight files are (1000-class head)."""
    path = tmp_path_factory.mktemp("weights") / "resnet50-11ad3fa6.pth"
    torch.manual_seed(0)
    torch.save(resnet50().state_dict(), path)
    return path


@pytest.fixture
def make_cfg(sample_root: Path, resnet50_weights: Path, tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose ``train.yaml`` with tiny settings plus ``overrides``, as ``python -m artworks.train`` would."""

    def _make(*overrides: str, output_dir: Path | None = None) -> DictConfig:
        return compose_train(
            sample_root, resnet50_weights, tmp_path / "outputs", output_dir or tmp_path / "run", overrides
        )

    yield _make
    GlobalHydra.instance().clear()


@pytest.fixture(scope="session")
def trained_checkpoint(
    sample_root: Path, resnet50_weights: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """``trained_checkpoint(model)``: ``last.ckpt`` of a tiny run of ``model``, trained once per session.

    For tests that only need *a* trained checkpoint (prediction, export); read-only, do not modify it.
    """
    from artworks.training.task import train

    trained: dict[str, Path] = {}

    def _get(model: str) -> Path:
        if model not in trained:
            run_dir = tmp_path_factory.mktemp(f"trained-{model}")
            cfg = compose_train(
                sample_root, resnet50_weights, run_dir / "outputs", run_dir, [f"model={model}", "test=false"]
            )
            train(cfg)
            GlobalHydra.instance().clear()
            trained[model] = run_dir / "checkpoints" / "last.ckpt"
        return trained[model]

    return _get
