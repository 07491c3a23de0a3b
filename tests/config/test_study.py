"""The study's five experiments come from one file, and a sweep is steered by validation, never by test."""

from __future__ import annotations

import inspect

import pytest
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import open_dict, read_write

import artworks.train as train_command
from artworks.config.study import study_models
from artworks.errors import ArtworksError


def test_study_lists_the_five_experiments_from_the_sweep_config() -> None:
    assert study_models() == [
        "scratch_resnet50",
        "finetune_resnet50",
        "freeze14_resnet50",
        "freeze13_resnet50",
        "cbam_resnet50",
    ]


def _as_multirun_job(cfg) -> None:
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.mode = RunMode.MULTIRUN
    HydraConfig().set_config(cfg)


def test_a_sweep_reports_validation_not_test(make_cfg, monkeypatch) -> None:
    """Two jobs equal on validation and far apart on test return the same value to the sweeper."""
    crafted = {
        1: {"val/macro_acc_best": 0.5, "test/macro_acc": 0.9},
        2: {"val/macro_acc_best": 0.5, "test/macro_acc": 0.1},
    }
    monkeypatch.setattr(train_command, "train", lambda cfg: crafted[cfg.seed])
    entry = train_command._hydra_entry.__wrapped__  # the task function under @hydra.main
    values = []
    for seed in crafted:
        cfg = make_cfg(f"seed={seed}")
        _as_multirun_job(cfg)
        values.append(entry(cfg))
    assert values == [0.5, 0.5]

    cfg = make_cfg("seed=1", "optimized_metric=test/macro_acc")
    with pytest.raises(ArtworksError, match="test set must never steer"):
        entry(cfg)


@pytest.mark.parametrize("recipe", ["seed", "modern"])
def test_model_config_holds_exactly_the_classifier_arguments(make_cfg, recipe: str) -> None:
    """Every key of a composed ``model`` is an ``ArtistClassifier`` argument (``normalize``: the data's)."""
    from artworks.training.module import ArtistClassifier

    arguments = set(inspect.signature(ArtistClassifier).parameters)
    data_supplied = {"class_names", "class_counts", "preprocess"}  # from_config takes them from the data
    cfg = make_cfg(f"recipe={recipe}")
    assert set(cfg.model) - {"normalize"} <= arguments - data_supplied
    assert not {"channels_last", "compile", "compile_options"} & set(cfg.model)  # the speed group's
    assert cfg.data.normalize == cfg.model.normalize
