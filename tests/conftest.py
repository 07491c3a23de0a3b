"""Shared fixtures: a tiny synthetic dataset, random weights in torchvision's format, composed configs.

Nothing here touches the network: W&B runs offline and TORCH_HOME points at an empty temporary folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ["TORCH_HOME"] = tempfile.mkdtemp(prefix="artworks-torch-home-")

import pytest  # noqa: E402
import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, open_dict, read_write  # noqa: E402
from torchvision.models import resnet50  # noqa: E402

from artworks.config import config_dir  # noqa: E402
from artworks.data.sample import ensure_sample  # noqa: E402

torch.set_num_threads(2)

TINY_SAMPLE = {"artists": 4, "images_per_artist": 12, "image_size": 40, "seed": 0, "imbalance": "none"}
MODELS = ["scratch_resnet50", "finetune_resnet50", "freeze14_resnet50", "freeze13_resnet50", "cbam_resnet50"]

# Small, fast settings every composed test config starts from.
TINY_OVERRIDES = [
    "data=sample",
    "data.image_size=32",
    "data.batch_size=4",
    "data.num_workers=0",
    "trainer=cpu",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "logger=none",
]


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


def compose_train(
    sample_root: Path, weights: Path, log_dir: Path, output_dir: Path, overrides: Sequence[str] = ()
) -> DictConfig:
    """``train.yaml`` with the tiny settings plus ``overrides``, set up as Hydra sets up a real job."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[
                *TINY_OVERRIDES,
                f"data.root={sample_root}",
                f"paths.log_dir={log_dir}",
                f"model.net.weights_path={weights}",
                *overrides,
            ],
            return_hydra_config=True,
        )
    with open_dict(cfg):
        cfg.data.sample = dict(TINY_SAMPLE)
        cfg.paths.output_dir = str(output_dir)
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.runtime.output_dir = cfg.paths.output_dir
    HydraConfig().set_config(cfg)
    return cfg


def multirun_command(sample_root: Path, weights: Path, sweep_dir: Path, *overrides: str) -> list[str]:
    """``python -m artworks.train -m`` with the tiny settings, except those that ``overrides`` set."""
    sample = ",".join(f"{k}:{v}" for k, v in TINY_SAMPLE.items())
    keys = {o.split("=", 1)[0] for o in overrides}
    return [
        sys.executable, "-m", "artworks.train", "-m",
        *(o for o in TINY_OVERRIDES if o.split("=", 1)[0] not in keys),
        f"data.root={sample_root}",
        f"data.sample={{{sample}}}",
        f"model.net.weights_path={weights}",
        f"hydra.sweep.dir={sweep_dir}",
        *overrides,
    ]  # fmt: skip


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
