"""The configs compose for every experiment, and ship inside the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from artworks.config import config_dir
from tests.helpers.compose import MODELS

EXPECTED = {
    "scratch_resnet50": (None, [], 3e-3, "relu", False, "none", "dataset"),
    "finetune_resnet50": ("IMAGENET1K_V2", [], 3e-4, "relu", False, "none", "imagenet"),
    "freeze14_resnet50": (
        "IMAGENET1K_V2",
        ["stem", "layer1", "layer2", "layer3", "layer4"],
        3e-4,
        "relu",
        False,
        "none",
        "imagenet",
    ),
    "freeze13_resnet50": (
        "IMAGENET1K_V2",
        ["stem", "layer1", "layer2", "layer3"],
        3e-4,
        "relu",
        False,
        "none",
        "imagenet",
    ),
    "cbam_resnet50": (None, [], 3e-3, "gelu", True, "cbam", "dataset"),
}


@pytest.mark.parametrize("model", MODELS)
def test_each_experiment_composes_with_the_seed_recipe(make_cfg, model):
    cfg = make_cfg(f"model={model}")
    net = cfg.model.net
    weights, freeze, lr, activation, depthwise, attention, normalize = EXPECTED[model]
    assert cfg.model.experiment == model
    assert (net.arch, net.weights, list(net.freeze)) == ("resnet50", weights, freeze)
    assert (net.activation, net.depthwise, net.attention) == (activation, depthwise, attention)
    assert cfg.model.optimizer._target_ == "torch.optim.Adam"
    assert cfg.model.optimizer.lr == pytest.approx(lr)
    assert cfg.model.scheduler.step_size == 1 and cfg.model.scheduler.gamma == pytest.approx(0.7)
    assert cfg.data.normalize == normalize
    assert cfg.data.split_fractions == [0.8, 0.1, 0.1]


def test_defaults_are_the_seed_recipe_on_the_real_data():
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="train")
    assert cfg.data._target_.endswith("ArtworksDataModule") and cfg.data.sample is None
    assert cfg.data.image_size == 224 and cfg.data.rotate90 is True
    assert cfg.trainer.max_epochs == 30 and cfg.seed == 42
    assert list(cfg.logger) == ["wandb"] and cfg.logger.wandb.name == cfg.model.experiment


@pytest.mark.e2e
def test_configs_are_found_from_the_installed_package(tmp_path):
    """A non-editable install gets conf/ as artworks/conf inside the wheel, where config_dir() looks first."""
    repo = Path(__file__).resolve().parents[2]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(repo),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("artworks-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.relative_to(repo).as_posix() for p in (repo / "conf").rglob("*.yaml")}
    assert {f"artworks/{p}" for p in shipped} <= names
    assert "artworks/data/artist_image_counts.csv" in names
    assert config_dir().joinpath("train.yaml").is_file()
