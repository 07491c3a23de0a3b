"""Each lever of ``recipe=modern`` acts: loss weights and logit adjustment, crops from the larger cache, the
class-balanced sampler, no weight decay on norms/biases, warm-up + cosine per step, EMA validation."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback, EMAWeightAveraging

from artworks.data.samplers import ClassBalancedSampler
from artworks.training import task
from artworks.training.augment import batch_mix
from artworks.training.losses import ImbalanceAwareCrossEntropy, inverse_frequency_weights
from artworks.training.module import ArtistClassifier
from artworks.training.preprocess import BatchPreprocess
from artworks.training.schedules import warmup_cosine
from artworks.training.task import build_module, train
from tests.helpers.compose import MODELS, TINY_ARCH

TINY = [f"model.net.arch={TINY_ARCH}", "model=scratch_resnet50"]


def test_class_weights_are_inverse_train_frequency_and_weight_the_loss() -> None:
    counts = [10, 30, 60]
    weights = inverse_frequency_weights(counts)
    assert weights.tolist() == pytest.approx([100 / (3 * 10), 100 / (3 * 30), 100 / (3 * 60)])

    loss_fn = ImbalanceAwareCrossEntropy(counts, class_weights=True)
    torch.manual_seed(0)
    logits, labels = torch.randn(6, 3), torch.tensor([0, 1, 2, 2, 1, 0])
    per_sample = -logits.log_softmax(1)[torch.arange(6), labels]
    expected = (weights[labels] * per_sample).sum() / weights[labels].sum()
    assert loss_fn(logits, labels).item() == pytest.approx(expected.item())
    assert loss_fn(logits, labels, train=False).item() == pytest.approx(per_sample.mean().item())


def test_logit_adjustment_adds_tau_log_prior_in_training_only() -> None:
    counts, tau = [5, 15, 80], 1.5
    loss_fn = ImbalanceAwareCrossEntropy(counts, logit_adjust_tau=tau, label_smoothing=0.1)
    torch.manual_seed(1)
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    prior = torch.tensor(counts, dtype=torch.float32) / sum(counts)
    adjusted = F.cross_entropy(logits + tau * prior.log(), labels, label_smoothing=0.1)
    assert loss_fn(logits, labels).item() == pytest.approx(adjusted.item())
    assert loss_fn(logits, labels, train=False).item() == pytest.approx(
        F.cross_entropy(logits, labels).item()
    )


def test_module_takes_class_weights_from_the_train_split(make_cfg) -> None:
    cfg = make_cfg(*TINY, "recipe=modern", "model.loss.class_weights=true")
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    module = build_module(cfg, datamodule)
    train_counts = torch.bincount(torch.tensor(datamodule.datasets["train"].labels)).tolist()
    assert module.hparams.class_counts == train_counts
    assert module.criterion.weight.tolist() == pytest.approx(inverse_frequency_weights(train_counts).tolist())


def _identity_preprocess(**augment: object) -> BatchPreprocess:
    """Output = input pixel values (mean 0, std 1/255), no rotation: crops can be compared to the input."""
    return BatchPreprocess(mean=[0.0] * 3, std=[1 / 255] * 3, rotate90=False, image_size=8, **augment)


def test_crops_come_from_the_larger_cached_image_and_differ_per_sample() -> None:
    torch.manual_seed(0)
    cached = torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8).expand(6, -1, -1, -1).contiguous()
    # a quarter of the area at aspect 1: an 8x8 window of the 16 px image, at its full resolution
    out = _identity_preprocess(crop_scale=(0.25, 0.25), crop_ratio=(1.0, 1.0))(cached, augment=True)
    assert out.shape == (6, 3, 8, 8)
    windows = cached[0].float().unfold(1, 8, 1).unfold(2, 8, 1)  # (3, 9, 9, 8, 8): every 8x8 window
    positions = set()
    for image in out:
        match = (windows - image[:, None, None]).abs().amax(dim=(0, 3, 4)) < 1e-3
        assert match.any(), "a crop is not a window of the cached image"
        positions.add(tuple(match.nonzero()[0].tolist()))
    assert len(positions) > 1  # drawn per sample, not one crop for the batch

    evaluated = _identity_preprocess(crop_scale=(0.25, 0.25))(cached, augment=False)  # deterministic resize
    expected = F.interpolate(
        cached.float(), size=(8, 8), mode="bilinear", antialias=True, align_corners=False
    )
    assert torch.equal(evaluated, expected)


def test_batch_mix_blends_images_and_labels() -> None:
    torch.manual_seed(0)
    images, labels = torch.rand(8, 3, 8, 8), torch.arange(8) % 4
    mixed, targets = batch_mix(4, mixup_alpha=0.4)(images, labels)
    assert targets.shape == (8, 4) and torch.allclose(targets.sum(1), torch.ones(8))
    assert (targets.max(1).values < 1).all() and not torch.equal(mixed, images)
    assert batch_mix(4) is None


def test_balanced_sampler_evens_the_classes_is_seeded_and_resumes_mid_epoch() -> None:
    labels = [0] * 90 + [1] * 10
    draws = ClassBalancedSampler(labels, seed=3, batch_size=10).permutation(0)
    assert len(draws) == 100 and 30 < sum(labels[i] for i in draws) < 70  # ~50 of class 1 (10 % of data)
    again = ClassBalancedSampler(labels, seed=3, batch_size=10)
    assert again.permutation(0) == draws and again.permutation(1) != draws
    resumed = ClassBalancedSampler(labels, seed=3, batch_size=10, start_epoch=0, start_batch=4)
    assert list(resumed) == draws[40:]


def test_norms_and_biases_get_no_weight_decay() -> None:
    module = ArtistClassifier(
        net={"arch": TINY_ARCH},
        class_names=["a", "b", "c"],
        optimizer={"_target_": "torch.optim.AdamW", "lr": 1e-3, "weight_decay": 0.05},
        scheduler=None,
        preprocess={"mean": [0.5] * 3, "std": [0.25] * 3},
        decay_norms_and_biases=False,
    )
    groups = module.configure_optimizers().param_groups
    assert [g["weight_decay"] for g in groups] == [0.05, 0.0]
    assert all(p.ndim > 1 for p in groups[0]["params"]) and all(p.ndim <= 1 for p in groups[1]["params"])
    assert sum(len(g["params"]) for g in groups) == len(list(module.parameters()))


def test_warmup_then_cosine_rises_then_falls_per_step() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = warmup_cosine(
        optimizer, total_steps=20, steps_per_epoch=5, warmup_epochs=1, min_lr_ratio=0.01
    )
    lrs = []
    for _ in range(20):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    peak = lrs.index(max(lrs))
    assert peak == 5 and lrs[0] == pytest.approx(0.01) and lrs[5] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(lrs[:peak], lrs[1 : peak + 1], strict=True))
    assert all(a > b for a, b in zip(lrs[peak:], lrs[peak + 1 :], strict=False))
    assert lrs[-1] == pytest.approx(0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 14 / 15)))


class _WatchWeights(Callback):
    """Live weights after every step, and the weights the module holds when validation starts."""

    def __init__(self) -> None:
        self.live: list[list[torch.Tensor]] = []
        self.validated: list[torch.Tensor] | None = None
        self.swapped_out: list[torch.Tensor] | None = None

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        self.live.append([p.detach().clone() for p in pl_module.net.parameters()])

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        ema = next(c for c in trainer.callbacks if isinstance(c, EMAWeightAveraging))
        self.validated = [p.detach().clone() for p in pl_module.net.parameters()]
        self.swapped_out = [p.detach().clone() for p in ema._average_model.module.net.parameters()]


def test_modern_recipe_validates_ema_weights_and_steps_the_lr_per_batch(
    make_cfg, tmp_path: Path, monkeypatch
) -> None:
    decay = 0.5
    watch = _WatchWeights()
    real_callbacks = task._callbacks
    monkeypatch.setattr(task, "_callbacks", lambda *args: [*real_callbacks(*args), watch])
    cfg = make_cfg(
        *TINY,
        "recipe=modern",
        f"callbacks.ema.decay={decay}",
        "data.cache_image_size=40",  # batches arrive at 40 px and are cropped to 32 on the device
        "trainer.limit_train_batches=4",
        "model.scheduler.warmup_epochs=0.25",  # 1 of the 4 steps
        "logger=csv",
        "trainer.log_every_n_steps=1",
        "test=false",
        output_dir=tmp_path / "run",
    )
    metrics = train(cfg)
    assert metrics["val/macro_acc_best"] >= 0

    ema = watch.live[0]  # AveragedModel copies the first step's weights, then averages
    for live in watch.live[1:]:
        ema = [decay * e + (1 - decay) * w for e, w in zip(ema, live, strict=True)]
    assert all(torch.allclose(v, e, atol=1e-6) for v, e in zip(watch.validated, ema, strict=True))
    assert not all(torch.equal(v, w) for v, w in zip(watch.validated, watch.live[-1], strict=True))
    assert all(torch.equal(s, w) for s, w in zip(watch.swapped_out, watch.live[-1], strict=True))

    (metrics_csv,) = (tmp_path / "run").rglob("metrics.csv")
    rows = list(csv.DictReader(metrics_csv.open()))
    assert {"lr-AdamW/all", "lr-AdamW/all/no_decay", "train/lr/all", "train/lr/all/no_decay"} <= set(rows[0])
    lr_key = "lr-AdamW/all"  # LearningRateMonitor: every parameter group, at every step
    lrs = [float(r[lr_key]) for r in rows if r.get(lr_key)]
    assert len(lrs) == 4 and lrs[0] < lrs[1] > lrs[2] > lrs[3]  # per step: 1 warm-up step, then the cosine


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_modern_recipe_trains_every_experiment(make_cfg, tmp_path: Path, model: str) -> None:
    cfg = make_cfg(f"model={model}", "recipe=modern", "data.cache_image_size=40", output_dir=tmp_path / model)
    metrics = train(cfg)
    assert math.isfinite(metrics["test/loss"]) and metrics["experiment"] == model
