"""The LightningModule: one artist classifier for all five experiments."""

from __future__ import annotations

import warnings
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import nn
from torchmetrics import MaxMetric, MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from artworks.data.samplers import gather_eval_outputs
from artworks.models import build_model, stage_param_groups
from artworks.training.preprocess import BatchPreprocess

# Preprocessing lives in the module on purpose (checkpoints carry it); Lightning warns about it every run.
warnings.filterwarnings("ignore", message=r".*overridden `on_after_batch_transfer` in `LightningModule`.*")


class ArtistClassifier(L.LightningModule):
    """Cross-entropy classifier with macro accuracy (mean per-class recall) as the headline metric.

    Every argument is plain data (dicts, lists, numbers), saved in the checkpoint's hyperparameters, so a
    checkpoint alone rebuilds the network, its class names and its preprocessing.

    Args:
        net: keyword arguments of ``artworks.models.build_model`` (without ``num_classes``).
        class_names: artist names, index = label.
        optimizer: Hydra config of the optimizer (``_target_`` + arguments, without ``params``).
        scheduler: Hydra config of the LR scheduler (``_target_`` + arguments, without ``optimizer``),
            stepped once per epoch; ``None`` for a constant LR.
        preprocess: ``mean``, ``std`` (RGB, [0, 1] units), ``rotate90`` (train-time augmentation) and
            ``image_size`` (the square input size, for inference).
        experiment: the experiment's name, for logs and reports.
        stage_lr_mult: learning-rate multiplier per stage (``{"layer4": 1.0, "fc": 10.0}``); stages not
            named train at the optimizer's ``lr``. ``None``: one LR for all.
        load_weights: ``False`` to skip pretrained weights (a checkpoint provides them).
        channels_last: keep the network and its input batches in NHWC memory layout (faster convolutions
            on tensor-core GPUs).
        compile: ``torch.compile`` the network in place (its state-dict keys stay unprefixed), with
            ``compile_options`` as ``torch.compile`` arguments, e.g. ``{"mode": "max-autotune"}``.
        The last four are run-time choices, not saved: a checkpoint loads into a plain network.
    """

    def __init__(
        self,
        net: dict[str, Any],
        class_names: list[str],
        optimizer: dict[str, Any],
        scheduler: dict[str, Any] | None,
        preprocess: dict[str, Any],
        experiment: str = "experiment",
        stage_lr_mult: dict[str, float] | None = None,
        load_weights: bool = True,
        channels_last: bool = False,
        compile: bool = False,
        compile_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["load_weights", "channels_last", "compile", "compile_options"])
        self.net = build_model(num_classes=len(class_names), load_weights=load_weights, **net)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            self.net.to(memory_format=torch.channels_last)
        if compile:
            self.net.compile(**(compile_options or {}))
        self.preprocess = BatchPreprocess(**preprocess)
        n = len(class_names)
        metrics = MetricCollection(
            {
                "macro_acc": MulticlassAccuracy(num_classes=n, average="macro"),
                "acc": MulticlassAccuracy(num_classes=n, average="micro"),
                "top5_acc": MulticlassAccuracy(num_classes=n, average="micro", top_k=min(5, n)),
                "macro_f1": MulticlassF1Score(num_classes=n, average="macro"),
            }
        )
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.val_macro_acc_best = MaxMetric()
        self.val_macro_acc_best.persistent(True)  # in checkpoints: a resumed run keeps its best so far
        # val/test loss as a torchmetrics mean: under DDP it is summed over every rank's samples exactly
        # (Lightning's own sync_dist mean rounds the image count to an integer)
        self.eval_loss = nn.ModuleDict({"val": MeanMetric(), "test": MeanMetric()})
        self._test_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    @property
    def class_names(self) -> list[str]:
        return list(self.hparams.class_names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch that has already been preprocessed."""
        return self.net(x)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        images, labels = batch
        augment = self.trainer is not None and self.trainer.training
        images = self.preprocess(images, augment=augment).contiguous(memory_format=self.memory_format)
        return images, labels

    def _shared_step(self, batch: Any, metrics: MetricCollection, stage: str) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        metrics.update(logits, labels)
        if stage == "test":
            self._test_outputs.append((logits.detach(), labels))
        if stage == "train":
            self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(labels))
        else:
            self.eval_loss[stage].update(loss, weight=len(labels))
            self.log(f"{stage}/loss", self.eval_loss[stage], on_epoch=True, prog_bar=True)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, self.train_metrics, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._shared_step(batch, self.val_metrics, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._shared_step(batch, self.test_metrics, "test")

    def on_train_epoch_start(self) -> None:
        # logged here rather than by LearningRateMonitor, which refuses to run without a logger
        self.log("train/lr", self.optimizers().param_groups[0]["lr"])

    def on_train_epoch_end(self) -> None:
        self.log_dict(self.train_metrics.compute())
        self.train_metrics.reset()

    def on_validation_epoch_end(self) -> None:
        values = self.val_metrics.compute()
        self.val_metrics.reset()
        self.log_dict(values, prog_bar=True)
        if not self.trainer.sanity_checking:
            self.val_macro_acc_best.update(values["val/macro_acc"])
            self.log("val/macro_acc_best", self.val_macro_acc_best.compute())

    def on_test_epoch_start(self) -> None:
        self._test_outputs = []

    def test_outputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and labels of every sample of the last test run, on the CPU, for the test report.

        The one place test predictions are collected; multi-process gathering belongs here too.
        """
        if not self._test_outputs:
            raise RuntimeError("no test outputs: run trainer.test first")
        logits, labels = zip(*self._test_outputs, strict=True)
        return torch.cat(logits).float().cpu(), torch.cat(labels).cpu()

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()
        # under DDP every rank gets every rank's share, in dataset order
        self._test_outputs = [gather_eval_outputs(*self.test_outputs())]

    def configure_optimizers(self) -> Any:
        params = [p for p in self.parameters() if p.requires_grad]
        if self.hparams.get("stage_lr_mult"):
            arch, lr = self.hparams.net.get("arch", "resnet50"), self.hparams.optimizer["lr"]
            params = stage_param_groups(self.net, arch, lr, self.hparams.stage_lr_mult)
        # _partial_: Hydra would turn param-group dicts into DictConfigs
        optimizer = instantiate(self.hparams.optimizer, _partial_=True)(params)
        if not self.hparams.scheduler:
            return optimizer
        scheduler = instantiate(self.hparams.scheduler, optimizer=optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
