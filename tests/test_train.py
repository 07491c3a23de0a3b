"""End to end: each experiment trains, tests its best checkpoint and writes metrics.json."""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.error import URLError

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from artworks.errors import ArtworksError
from artworks.models import build_model
from artworks.training.task import build_module, train
from tests.helpers.compose import MODELS, ONLY_BEST_WEIGHTS, TINY_ARCH


@pytest.mark.e2e
@pytest.mark.parametrize("model", MODELS)
def test_each_experiment_trains_and_tests_its_best_checkpoint(make_cfg, model, tmp_path):
    # weights only (no Adam state: a third of ResNet-50's ~300 MB); resuming: training/test_resume.py
    metrics = train(
        make_cfg(f"model={model}", "++callbacks.model_checkpoint.save_weights_only=true", output_dir=tmp_path)
    )
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == metrics
    assert saved["experiment"] == model and saved["classes"] == 4
    assert 0.0 <= saved["test/macro_acc"] <= 1.0 and 0.0 <= saved["test/acc"] <= 1.0
    assert saved["best_ckpt"].startswith(str(tmp_path / "checkpoints"))
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def _one_step(module: L.LightningModule, datamodule) -> None:
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=datamodule)


def test_frozen_stages_and_their_batchnorm_statistics_do_not_change(make_cfg):
    cfg = make_cfg("model=freeze13_resnet50")
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    module = build_module(cfg, datamodule)
    before = {k: v.clone() for k, v in module.net.state_dict().items()}
    _one_step(module, datamodule)
    after = module.net.state_dict()
    frozen = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.")
    for key, value in before.items():
        if key.startswith(frozen):
            assert torch.equal(value, after[key]), f"frozen {key} changed"
    assert not torch.equal(before["fc.weight"], after["fc.weight"])
    assert not torch.equal(before["layer4.0.conv1.weight"], after["layer4.0.conv1.weight"])
    assert not torch.equal(before["layer4.0.bn1.running_mean"], after["layer4.0.bn1.running_mean"])
    assert not any(p.requires_grad for n, p in module.net.named_parameters() if n.startswith(frozen))


def test_weights_load_from_a_local_torchvision_file(resnet50_weights):
    reference = torch.load(resnet50_weights, weights_only=True)
    model = build_model(num_classes=7, weights="IMAGENET1K_V2", weights_path=str(resnet50_weights))
    state = model.state_dict()
    for key, value in reference.items():
        if not key.startswith("fc."):
            assert torch.equal(state[key], value), key
    assert model.fc.out_features == 7


def test_weights_that_cannot_be_had_name_the_file_and_folder(monkeypatch):
    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ArtworksError) as err:
        build_model(num_classes=3, weights="IMAGENET1K_V2")
    message = str(err.value)
    assert "resnet50-11ad3fa6.pth" in message
    assert str(torch.hub.get_dir()) in message and "weights_path" in message


def test_weights_from_the_torch_home_cache_need_no_network(resnet50_weights, monkeypatch):
    cache = torch.hub.get_dir() + "/checkpoints"
    monkeypatch.setattr(torch.hub, "urlopen", lambda *a, **k: (_ for _ in ()).throw(URLError("offline")))
    import shutil
    from pathlib import Path

    Path(cache).mkdir(parents=True, exist_ok=True)
    shutil.copy(resnet50_weights, Path(cache) / "resnet50-0676ba61.pth")
    model = build_model(num_classes=3, weights="IMAGENET1K_V1")
    reference = torch.load(resnet50_weights, weights_only=True)
    assert torch.equal(model.state_dict()["layer3.2.conv2.weight"], reference["layer3.2.conv2.weight"])


@pytest.mark.e2e
def test_a_short_run_learns_far_above_chance(make_cfg, tmp_path):
    """8 synthetic artists: chance is 0.125; a few epochs from scratch reach far more.

    The network is the tiny ResNet (the loop, labels and preprocessing are what is tested; ResNet-50
    itself learns the same way, ~5x slower), and only the best weights are kept.
    """
    cfg = make_cfg(
        "model=scratch_resnet50",
        f"model.net.arch={TINY_ARCH}",
        *ONLY_BEST_WEIGHTS,
        f"data.root={tmp_path / 'sample'}",
        "trainer.max_epochs=4",
        "trainer.limit_train_batches=null",
        "trainer.limit_val_batches=null",
        "trainer.limit_test_batches=null",
        "data.batch_size=16",
        output_dir=tmp_path / "run",
    )
    cfg.data.sample = {
        "artists": 8,
        "images_per_artist": 30,
        "image_size": 48,
        "seed": 0,
        "imbalance": "none",
    }
    metrics = train(cfg)
    assert metrics["test/macro_acc"] >= 0.5, metrics


@pytest.mark.e2e
def test_missing_data_root_is_one_clear_paragraph(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "artworks.train",
            f"data.root={tmp_path / 'nope'}",
            "logger=none",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "does not exist" in result.stderr and "artworks.data.download" in result.stderr
    assert "data=sample" in result.stderr
