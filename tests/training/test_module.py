"""The LightningModule's metrics, losses, logging and optimizer set-up, checked against sklearn and by hand.

The network is replaced by a lookup table: image ``i`` carries ``i`` in its first pixel and gets the logits
``table[i]``, so every logged figure can be recomputed from the table. A few steps of a real ``Trainer``
on ten images, on the CPU: well under a second each.
"""

from __future__ import annotations

from types import SimpleNamespace

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from sklearn.metrics import balanced_accuracy_score, f1_score, top_k_accuracy_score
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from artworks.errors import ArtworksError
from artworks.training.module import ArtistClassifier
from tests.helpers.compose import TINY_ARCH

CLASSES = ["a", "b", "c", "d", "e", "f", "g"]  # 7: top-5 accuracy is neither top-1 nor trivially 1
# 10 images of 5 artists (f and g have none); batches of 4, 4, 2: a mean of batch means is not the mean
LABELS = torch.tensor([0, 0, 0, 0, 1, 0, 1, 2, 3, 4])
COUNTS = [40, 20, 10, 5, 5, 1, 1]


class LookupNet(nn.Module):
    """Logits ``table[i]`` for the image whose first pixel is ``i``; one parameter for the optimizer."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = table
        self.bias = nn.Parameter(torch.zeros(table.shape[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.table[x[:, 0, 0, 0].round().long()] + self.bias


def _table(seed: int = 0, right: list[int] | None = None) -> torch.Tensor:
    """Random logits; the images in ``right`` (default: a fixed mix) get their own label as the top one."""
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(len(LABELS), len(CLASSES), generator=g)
    right = [0, 1, 2, 4, 6, 8] if right is None else right
    for i in range(len(LABELS)):
        label = int(LABELS[i])
        wrong = (label + 1) % 4  # never artist e (4), never f, g: an artist with images is never predicted
        table[i, label if i in right else wrong] = 5.0
    return table


def _images(n: int = len(LABELS)) -> torch.Tensor:
    """Image ``i``: ``i`` in the top-left pixel of the red channel, zeros elsewhere (a rotation moves it)."""
    images = torch.zeros(n, 3, 8, 8)
    images[:, 0, 0, 0] = torch.arange(n, dtype=torch.float32)
    return images


def _loader() -> DataLoader:
    return DataLoader(TensorDataset(_images(), LABELS), batch_size=4)


def _module(table: torch.Tensor | None = None, **kwargs) -> ArtistClassifier:
    args = {
        "net": {"arch": TINY_ARCH},
        "class_names": CLASSES,
        "optimizer": {"_target_": "torch.optim.SGD", "lr": 0.0},
        "scheduler": None,
        "preprocess": {"mean": [0.0] * 3, "std": [1 / 255] * 3, "rotate90": True},  # pixels unchanged
        "class_counts": COUNTS,
        # a training loss that differs from plain cross-entropy: val/test must still report plain CE
        "loss": {"class_weights": True, "label_smoothing": 0.2},
    }
    module = ArtistClassifier(**(args | kwargs))
    if table is not None:
        module.net = LookupNet(table)
    return module


def _trainer(**kwargs) -> L.Trainer:
    options = {
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "max_epochs": 1,
    }
    return L.Trainer(**(options | kwargs))


def _expected(table: torch.Tensor, prefix: str) -> dict[str, float]:
    targets, preds = LABELS.numpy(), table.argmax(1).numpy()
    present = sorted(set(targets) | set(preds))
    return {
        f"{prefix}/macro_acc": balanced_accuracy_score(targets, preds),
        f"{prefix}/acc": float(np.mean(targets == preds)),
        f"{prefix}/top5_acc": top_k_accuracy_score(targets, table.numpy(), k=5, labels=range(len(CLASSES))),
        f"{prefix}/macro_f1": f1_score(targets, preds, average="macro", labels=present),
        f"{prefix}/loss": F.cross_entropy(table, LABELS).item(),  # plain CE over every image
    }


def test_validation_logs_macro_micro_top5_f1_and_plain_loss_of_every_image_without_augmentation():
    table = _table(seed=2)  # three images have their artist 6th: top-5 is not top-6
    expected = _expected(table, "val")
    assert abs(expected["val/macro_acc"] - expected["val/acc"]) > 0.05  # macro and micro differ here
    assert 0 < expected["val/acc"] < expected["val/top5_acc"] < 1
    torch.manual_seed(0)  # eval preprocessing must not rotate (rotate90 is on for training)
    trainer = _trainer()
    (logged,) = trainer.validate(_module(table), _loader(), verbose=False)
    assert logged == pytest.approx(expected | {"val/macro_acc_best": expected["val/macro_acc"]}, abs=1e-6)
    shown = trainer.progress_bar_metrics
    assert {"val/loss", "val/macro_acc", "val/acc", "val/top5_acc", "val/macro_f1"} <= set(shown)


def test_the_test_run_logs_the_same_figures_and_keeps_each_images_logits_once():
    module = _module(_table(seed=1))
    with pytest.raises(RuntimeError, match="^no test outputs: run trainer.test first$"):
        module.test_outputs()
    trainer = _trainer()
    for table in (_table(seed=1), _table(seed=5)):  # a second test run starts afresh
        module.net.table = table
        (logged,) = trainer.test(module, _loader(), verbose=False)
        assert logged == pytest.approx(_expected(table, "test"), abs=1e-6)
        logits, labels = module.test_outputs()
        assert torch.equal(labels, LABELS) and torch.allclose(logits, table)
        assert logits.dtype == torch.float32 and logits.device.type == "cpu"


def test_best_val_macro_accuracy_is_the_running_maximum_and_ignores_the_sanity_check():
    worse, better = _table(seed=2, right=[0, 4]), _table(seed=2)
    module = _module(worse)
    trainer = _trainer()
    best, current = [], []
    for table in (worse, better, worse):
        module.net.table = table
        (logged,) = trainer.validate(module, _loader(), verbose=False)
        best.append(logged["val/macro_acc_best"])
        current.append(logged["val/macro_acc"])
    low, high = _expected(worse, "v")["v/macro_acc"], _expected(better, "v")["v/macro_acc"]
    assert low < high and best == pytest.approx([low, high, high])
    assert current == pytest.approx([low, high, low])  # each validation on its own images only
    # the best so far is in the checkpoint: a resumed run keeps it
    resumed = _module(worse)
    resumed.load_state_dict(module.state_dict())
    (logged,) = _trainer().validate(resumed, _loader(), verbose=False)
    assert logged["val/macro_acc_best"] == pytest.approx(high)

    # the sanity check sees only the first batch, all right (macro acc 1): it must not count as the best
    table = _table(seed=3, right=[0, 1, 2, 3, 8])
    module = _module(table)
    trainer = _trainer(num_sanity_val_steps=1, limit_train_batches=1)
    trainer.fit(module, _loader(), _loader())
    full = _expected(table, "v")["v/macro_acc"]
    assert full < 1 and trainer.callback_metrics["val/macro_acc_best"].item() == pytest.approx(full)


class _SwapTable(L.Callback):
    """Epoch ``e`` of training sees the logits ``tables[e]``."""

    def __init__(self, tables: list[torch.Tensor]) -> None:
        self.tables = tables

    def on_train_epoch_start(self, trainer: L.Trainer, module: ArtistClassifier) -> None:
        module.net.table = self.tables[trainer.current_epoch]


def test_training_logs_the_training_loss_per_image_and_metrics_on_the_images_own_labels():
    table = _table(seed=4)  # the second epoch's: the figures are of that epoch alone
    module = _module(table, preprocess={"mean": [0.0] * 3, "std": [1 / 255] * 3, "rotate90": False})
    trainer = _trainer(max_epochs=2, callbacks=[_SwapTable([_table(seed=0, right=[]), table])])
    trainer.fit(module, _loader())
    # the training loss is the configured one (class weights, smoothing), averaged per image over the epoch
    criterion = module.criterion
    batches = [slice(0, 4), slice(4, 8), slice(8, 10)]
    losses = [criterion(table[b], LABELS[b]).item() for b in batches]
    per_image = sum(loss * (b.stop - b.start) for loss, b in zip(losses, batches, strict=True)) / 10
    logged = trainer.logged_metrics
    assert logged["train/loss_epoch"].item() == pytest.approx(per_image, rel=1e-5)
    assert logged["train/loss_step"].item() == pytest.approx(losses[-1], rel=1e-5)
    assert per_image != pytest.approx(F.cross_entropy(table, LABELS).item(), rel=1e-3)
    expected = _expected(table, "train")
    for name in ("macro_acc", "acc", "top5_acc", "macro_f1"):
        assert logged[f"train/{name}"].item() == pytest.approx(expected[f"train/{name}"], abs=1e-6)
    assert logged["train/lr"].item() == 0.0 and not any(k.startswith("train/lr/") for k in logged)
    assert {"train/loss_step", "train/loss_epoch"} <= set(trainer.progress_bar_metrics)
    assert "train/macro_acc" not in trainer.progress_bar_metrics


def test_mixup_blends_the_training_batch_but_the_metrics_keep_the_labels():
    module = _module(None, augment={"mixup_alpha": 0.4})
    assert module.batch_mix is not None and "mixup_alpha" not in module.hparams.preprocess
    module.net = ConstantNet(len(CLASSES), 0)  # always artist a
    trainer = _trainer()
    torch.manual_seed(0)
    trainer.fit(module, _loader())
    logged = trainer.logged_metrics
    assert logged["train/acc"].item() == pytest.approx(float(np.mean(LABELS.numpy() == 0)))
    assert logged["train/macro_acc"].item() == pytest.approx(1 / 5)  # 5 artists with images, 1 recalled
    assert _module(None).batch_mix is None
    # the other augment options are the preprocessing's: here a flip, on top of the rotations
    assert module.preprocess.augmentation is None
    preprocess = {"mean": [0.0] * 3, "std": [1.0] * 3, "image_size": 8}
    flipped = _module(None, preprocess=preprocess, augment={"hflip": True, "cutmix_alpha": 1.0})
    assert flipped.preprocess.augmentation is not None and flipped.batch_mix is not None


class ConstantNet(nn.Module):
    """The same logits for every image: ``label`` first."""

    def __init__(self, classes: int, label: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(classes))
        self.label = label

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.bias + torch.nn.functional.one_hot(torch.tensor(self.label), len(self.bias))
        return logits.expand(len(x), -1)


class _Recorder(nn.Module):
    """Records the batches the network sees, with whether it was training; predicts artist a."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(len(CLASSES)))
        self.seen: list[tuple[bool, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, x.detach().clone()))
        return self.bias.expand(len(x), -1)


def test_training_batches_are_augmented_and_evaluation_batches_are_not():
    module = _module(None)  # rotate90 on
    module.net = _Recorder()
    torch.manual_seed(0)
    _trainer().fit(module, _loader(), _loader())
    raw = _images()
    train = torch.cat([x for training, x in module.net.seen if training])
    val = torch.cat([x for training, x in module.net.seen if not training])
    assert torch.equal(val, raw)
    assert not torch.equal(train, raw) and torch.equal(train.sum(dim=(1, 2, 3)), raw.sum(dim=(1, 2, 3)))


def test_a_module_built_for_a_checkpoint_does_not_load_pretrained_weights(tmp_path):
    net = {"arch": TINY_ARCH, "weights": "DEFAULT", "weights_path": str(tmp_path / "missing.pth")}
    _module(None, net=net, load_weights=False)  # the checkpoint's weights come next: no file is read
    with pytest.raises(ArtworksError, match="does not exist"):
        _module(None, net=net)


def test_each_parameter_groups_learning_rate_is_logged_by_name():
    module = _module(None, stage_lr_mult={"fc": 10.0}, optimizer={"_target_": "torch.optim.SGD", "lr": 0.01})
    trainer = _trainer(limit_train_batches=1)
    images = torch.rand(4, 3, 32, 32)
    trainer.fit(module, DataLoader(TensorDataset(images, LABELS[:4]), batch_size=4))
    logged = trainer.logged_metrics
    assert logged["train/lr"].item() == pytest.approx(0.01)  # the first group: the rest of the network
    assert logged["train/lr/rest"].item() == pytest.approx(0.01)
    assert logged["train/lr/fc"].item() == pytest.approx(0.1)


def test_stage_learning_rates_use_the_stages_of_the_network_built():
    # a timm network's stages are its children plus "head" (torchvision's ResNets: stem, layer1-4, fc)
    module = _module(
        None, stage_lr_mult={"head": 10.0}, optimizer={"_target_": "torch.optim.SGD", "lr": 0.01}
    )
    assert {g["name"]: g["lr"] for g in module.configure_optimizers().param_groups} == pytest.approx(
        {"rest": 0.01, "head": 0.1}
    )
    # no arch in the net config: ResNet-50, for the network and its stages alike
    module = _module(None, net={}, stage_lr_mult={"stem": 0.1})
    assert {g["name"] for g in module.configure_optimizers().param_groups} == {"rest", "stem"}


def test_stage_learning_rates_combine_with_no_decay_for_norms_and_biases():
    module = _module(
        None,
        stage_lr_mult={"fc": 10.0},
        optimizer={"_target_": "torch.optim.AdamW", "lr": 0.01, "weight_decay": 0.05},
        decay_norms_and_biases=False,
        net={"arch": TINY_ARCH, "freeze": ["conv1", "bn1"]},
    )
    groups = module.configure_optimizers().param_groups
    assert {g["name"]: g["lr"] for g in groups} == pytest.approx(
        {"rest": 0.01, "rest/no_decay": 0.01, "fc": 0.1, "fc/no_decay": 0.1}
    )
    assert {g["name"]: g["weight_decay"] for g in groups} == {
        "rest": 0.05,
        "rest/no_decay": 0.0,
        "fc": 0.05,
        "fc/no_decay": 0.0,
    }
    assert all(p.ndim > 1 for g in groups if "no_decay" not in g["name"] for p in g["params"])
    assert all(p.ndim <= 1 for g in groups if "no_decay" in g["name"] for p in g["params"])
    params = [p for g in groups for p in g["params"]]
    trainable = [p for p in module.parameters() if p.requires_grad]
    assert len(params) == len(trainable) < len(list(module.parameters()))
    assert {id(p) for p in params} == {id(p) for p in trainable}
    # one group without stage multipliers, split the same way
    groups = _module(None, decay_norms_and_biases=False).configure_optimizers().param_groups
    assert [g["name"] for g in groups] == ["all", "all/no_decay"]
    # with decay everywhere, one plain list of the trainable parameters
    module = _module(None, net={"arch": TINY_ARCH, "freeze": ["conv1", "bn1"]})
    (group,) = module.configure_optimizers().param_groups
    assert {id(p) for p in group["params"]} == {id(p) for p in module.parameters() if p.requires_grad}
    assert len(group["params"]) < len(list(module.parameters()))


def only_total_steps(optimizer: torch.optim.Optimizer, total_steps: int) -> None:
    """A scheduler factory that asks for the run's length in steps only."""


def only_steps_per_epoch(optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> None:
    """A scheduler factory that asks for the epoch's length only (e.g. to step a per-epoch rule per step)."""


def test_a_scheduler_steps_per_epoch_unless_told_per_step_and_gets_the_run_length_it_asks_for():
    assert isinstance(_module(None).configure_optimizers(), torch.optim.SGD)
    step_lr = {"_target_": "torch.optim.lr_scheduler.StepLR", "step_size": 1, "gamma": 0.7}
    config = _module(None, scheduler=step_lr).configure_optimizers()
    assert config["lr_scheduler"]["interval"] == "epoch"
    assert isinstance(config["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.StepLR)
    assert config["lr_scheduler"]["scheduler"].optimizer is config["optimizer"]

    cosine = {"_target_": "artworks.training.schedules.warmup_cosine", "interval": "step", "warmup_epochs": 1}
    module = _module(None, scheduler=cosine, optimizer={"_target_": "torch.optim.SGD", "lr": 1.0})
    module._trainer = SimpleNamespace(estimated_stepping_batches=20, max_epochs=4)
    config = module.configure_optimizers()
    assert config["lr_scheduler"]["interval"] == "step"
    assert module._run_length(cosine["_target_"]) == {"total_steps": 20, "steps_per_epoch": 5}
    # warm-up over the first epoch's 5 steps: the LR reaches its peak at step 5, not before
    scheduler, optimizer = config["lr_scheduler"]["scheduler"], config["optimizer"]
    lrs = []
    for _ in range(6):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[4] < 1.0 and lrs[5] == pytest.approx(1.0)
    assert module._run_length(step_lr["_target_"]) == {}
    module._trainer = SimpleNamespace(estimated_stepping_batches=3, max_epochs=0)
    assert module._run_length(cosine["_target_"]) == {"total_steps": 3, "steps_per_epoch": 3}
    module._trainer = SimpleNamespace(estimated_stepping_batches=3, max_epochs=4)
    assert module._run_length(cosine["_target_"]) == {"total_steps": 3, "steps_per_epoch": 1}
    assert module._run_length(f"{__name__}.{only_total_steps.__name__}") == {"total_steps": 3}
    assert module._run_length(f"{__name__}.{only_steps_per_epoch.__name__}") == {"steps_per_epoch": 1}
    module._trainer = SimpleNamespace(estimated_stepping_batches=10, max_epochs=4)  # 2.5 steps: whole ones
    assert module._run_length(cosine["_target_"]) == {"total_steps": 10, "steps_per_epoch": 2}


def _first_conv(module: ArtistClassifier) -> torch.Tensor:
    return next(p for p in module.net.parameters() if p.ndim == 4)


def test_from_config_takes_classes_counts_and_normalisation_from_the_data_and_speed_options(monkeypatch):
    compiled = []
    monkeypatch.setattr(nn.Module, "compile", lambda self, **kw: compiled.append(kw))
    datamodule = SimpleNamespace(
        classes=["x", "y", "z"],
        class_counts=lambda split: {"train": [5, 3, 2]}[split],
        channel_stats=lambda: ([0.4, 0.5, 0.6], [0.2, 0.25, 0.3]),
        rotate90=False,
        image_size=48,
    )
    model = OmegaConf.create(
        {
            "net": {"arch": TINY_ARCH},
            "optimizer": {"_target_": "torch.optim.SGD", "lr": 0.1},
            "scheduler": None,
            "normalize": "dataset",
            "experiment": "tiny-${net.arch}",  # interpolations resolve, as in the composed configs
            "loss": {"class_weights": True},
        }
    )
    speed = OmegaConf.create({"channels_last": True, "compile": True, "compile_options": {"mode": "reduce"}})
    module = ArtistClassifier.from_config(model, datamodule, speed)
    assert module.class_names == ["x", "y", "z"] and module.hparams.class_counts == [5, 3, 2]
    assert module.hparams.experiment == f"tiny-{TINY_ARCH}" and "normalize" not in module.hparams
    assert module.hparams.preprocess == {
        "mean": [0.4, 0.5, 0.6],
        "std": [0.2, 0.25, 0.3],
        "rotate90": False,
        "image_size": 48,
    }
    assert module.criterion.weight.tolist() == pytest.approx([10 / 15, 10 / 9, 10 / 6])
    assert compiled == [{"mode": "reduce"}]
    assert module.memory_format == torch.channels_last
    assert _first_conv(module).is_contiguous(memory_format=torch.channels_last)
    assert _module(None).hparams.experiment == "experiment"  # the name logs and reports use by default
    # run-time options are not hyperparameters: a checkpoint loads into a plain network
    assert not {"load_weights", "channels_last", "compile", "compile_options"} & set(module.hparams)

    plain = ArtistClassifier.from_config(model, datamodule)
    assert plain.memory_format == torch.contiguous_format and len(compiled) == 1
    no_options = OmegaConf.create({"channels_last": False, "compile": True, "compile_options": None})
    ArtistClassifier.from_config(model, datamodule, no_options)
    assert compiled[-1] == {}


def test_a_channels_last_module_hands_its_network_channels_last_batches():
    module = _module(None, channels_last=True)
    seen = []
    module.net.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    trainer = _trainer(limit_train_batches=1)
    trainer.fit(module, DataLoader(TensorDataset(torch.rand(4, 3, 32, 32), LABELS[:4]), batch_size=4))
    assert seen and all(x.is_contiguous(memory_format=torch.channels_last) for x in seen)
    assert not _first_conv(_module(None)).is_contiguous(memory_format=torch.channels_last)
