"""GPU speed options (channels_last, torch.compile, speed=fast) keep checkpoints plain and loadable."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from artworks.config import config_dir
from artworks.data.images import IMAGENET_MEAN, IMAGENET_STD
from artworks.evaluate import evaluate
from artworks.training.checkpoint import load_checkpoint
from artworks.training.module import ArtistClassifier
from artworks.training.task import train
from tests.helpers.compose import ONLY_BEST_WEIGHTS, TINY_ARCH, compose_evaluate


def classifier(**speed: object) -> ArtistClassifier:
    return ArtistClassifier(
        net={"arch": "resnet18"},
        class_names=["a", "b", "c"],
        optimizer={"_target_": "torch.optim.Adam", "lr": 1e-3},
        scheduler=None,
        preprocess={"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "rotate90": True},
        **speed,
    )


def test_channels_last_network_and_compile_keep_state_dict_keys() -> None:
    plain = classifier()
    fast = classifier(channels_last=True, compile=True, compile_options={"backend": "eager"})
    assert fast.net.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert list(fast.state_dict()) == list(plain.state_dict())  # no "_orig_mod." anywhere
    assert not {"channels_last", "compile", "compile_options"} & set(fast.hparams)


@pytest.mark.e2e
def test_checkpoint_trained_with_speed_flags_loads_in_evaluate(
    make_cfg, sample_root: Path, tmp_path: Path
) -> None:
    trained = train(
        make_cfg(
            "model=scratch_resnet50",
            f"model.net.arch={TINY_ARCH}",
            *ONLY_BEST_WEIGHTS,
            "speed.channels_last=true",
            "speed.compile=true",
            "speed.compile_options={backend: eager}",  # dynamo's graph capture without a C++ build
            output_dir=tmp_path / "run",
        )
    )
    state_dict = load_checkpoint(trained["best_ckpt"])["state_dict"]
    assert "net.conv1.0.weight" in state_dict and not any("_orig_mod" in key for key in state_dict)

    cfg = compose_evaluate(
        sample_root, tmp_path / "eval", "trainer.limit_test_batches=1", f"ckpt_path={trained['best_ckpt']}"
    )
    metrics = evaluate(cfg)
    assert metrics["test/macro_acc"] == pytest.approx(trained["test/macro_acc"])


def test_speed_fast_turns_on_the_safe_options_and_default_keeps_exact_fp32() -> None:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        fast = compose("train", overrides=["trainer=gpu", "speed=fast", "model=finetune_resnet50"])
        default = compose("train", overrides=["model=finetune_resnet50"])
    GlobalHydra.instance().clear()
    assert fast.trainer.precision == "bf16-mixed" and fast.trainer.benchmark is True
    assert fast.trainer.accelerator == "gpu" and fast.trainer._target_ == "lightning.pytorch.Trainer"
    assert fast.speed.float32_matmul_precision == "high"
    assert fast.speed.channels_last is True and fast.speed.compile is False
    assert default.trainer.precision == "32-true" and default.trainer.benchmark is None
    assert default.speed.float32_matmul_precision == "highest" and default.speed.channels_last is False
    assert "channels_last" not in fast.model  # the model config holds only what the classifier is built from
