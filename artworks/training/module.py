"""The LightningModule: one artist classifier for all five experiments."""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import lightning as L
import torch
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torchmetrics import MaxMetric, MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from artworks.data.samplers import gather_eval_outputs
from artworks.models import DEFAULT_ARCH, build_model, stage_param_groups
from artworks.training.augment import batch_mix
from artworks.training.losses import ImbalanceAwareCrossEntropy
from artworks.training.preprocess import BatchPreprocess

MIX_KEYS = ("mixup_alpha", "cutmix_alpha")  # model.augment keys that act on the batch, not on each image

# Preprocessing lives in the module on purpose (checkpoints carry it); Lightning warns about it every run.
warnings.filterwarnings("ignore", message=r".*overridden `on_after_batch_transfer` in `LightningModule`.*")


class ArtistClassifier(L.LightningModule):
    """Artist classifier with macro accuracy (mean per-class recall) as the headline metric.

    Every argument is plain data (dicts, lists, numbers), saved in the checkpoint's hyperparameters, so a
    checkpoint alone rebuilds the network, its class names and its preprocessing.

    Args:
        net: keyword arguments of ``artworks.models.build_model`` (without ``num_classes``).
        class_names: artist names, index = label.
        optimizer: Hydra config of the optimizer (``_target_`` + arguments, without ``params``).
        scheduler: Hydra config of the LR scheduler (``_target_`` + arguments, without ``optimizer``) and
            ``interval`` (``epoch``, the default, or ``step``: when it steps); ``total_steps`` and
            ``steps_per_epoch`` are passed when its signature asks for them. ``None`` for a constant LR.
        preprocess: ``mean``, ``std`` (RGB, [0, 1] units), ``rotate90`` (train-time augmentation) and
            ``image_size`` (the square input size the network trains at).
        experiment: the experiment's name, for logs and reports.
        stage_lr_mult: learning-rate multiplier per stage (``{"layer4": 1.0, "fc": 10.0}``); stages not
            named train at the optimizer's ``lr``. ``None``: one LR for all.
        loss: ``ImbalanceAwareCrossEntropy`` options (``class_weights``, ``label_smoothing``,
            ``logit_adjust_tau``); ``None``: plain cross-entropy.
        augment: training augmentation: ``BatchPreprocess`` options (crop, flip, colour jitter, how
            evaluation fits the image) and ``mixup_alpha``/``cutmix_alpha`` for the batch.
        class_counts: train-split images per class (class weights, logit adjustment).
        decay_norms_and_biases: ``False`` puts normalisation weights and biases (every parameter with
            fewer than 2 dimensions) in groups with ``weight_decay=0``.
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
        loss: dict[str, Any] | None = None,
        augment: dict[str, Any] | None = None,
        class_counts: list[int] | None = None,
        decay_norms_and_biases: bool = True,
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
        augment = dict(augment or {})
        mix = {k: augment.pop(k) for k in MIX_KEYS if k in augment}
        self.preprocess = BatchPreprocess(**preprocess, **augment)
        n = len(class_names)
        self.batch_mix = batch_mix(n, **mix)
        self.criterion = ImbalanceAwareCrossEntropy(class_counts, **(loss or {}))
        # compute_groups=False: by default torchmetrics lets metrics whose states agree after the first batch
        # share one state from then on; top-5 accuracy's agree with top-1's whenever no image of that batch
        # has its artist at ranks 2-5, and top5_acc then reported top-1 accuracy for the rest of the run
        metrics = MetricCollection(
            {
                "macro_acc": MulticlassAccuracy(num_classes=n, average="macro"),
                "acc": MulticlassAccuracy(num_classes=n, average="micro"),
                "top5_acc": MulticlassAccuracy(num_classes=n, average="micro", top_k=min(5, n)),
                "macro_f1": MulticlassF1Score(num_classes=n, average="macro"),
            },
            compute_groups=False,
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

    @classmethod
    def from_config(
        cls, model: DictConfig, datamodule: Any, speed: DictConfig | None = None
    ) -> ArtistClassifier:
        """The classifier a composed ``model`` config describes, for ``datamodule``'s data.

        The data supplies what only it knows (artist names, their train counts, the normalisation
        statistics ``model.normalize`` chose, the image size); ``speed`` the run-time options.
        """
        kwargs = OmegaConf.to_container(model, resolve=True)
        kwargs.pop("normalize", None)  # read by the data config (data.normalize), which computes mean/std
        mean, std = datamodule.channel_stats()
        preprocess = {
            "mean": mean,
            "std": std,
            "rotate90": datamodule.rotate90,
            "image_size": datamodule.image_size,
        }
        speed_kwargs = {}
        if speed is not None:
            speed_kwargs = {
                "channels_last": speed.channels_last,
                "compile": speed.compile,
                "compile_options": OmegaConf.to_container(speed.compile_options)
                if speed.compile_options
                else {},
            }
        return cls(
            **kwargs,
            class_names=datamodule.classes,
            class_counts=datamodule.class_counts("train"),
            preprocess=preprocess,
            **speed_kwargs,
        )

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

    def _eval_step(self, batch: Any, metrics: MetricCollection, stage: str) -> None:
        images, labels = batch
        logits = self(images)
        loss = self.criterion(logits, labels, train=False)  # plain cross-entropy: comparable across recipes
        metrics.update(logits, labels)
        if stage == "test":
            self._test_outputs.append((logits.detach(), labels))
        self.eval_loss[stage].update(loss, weight=len(labels))
        self.log(f"{stage}/loss", self.eval_loss[stage], on_epoch=True, prog_bar=True)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        images, labels = batch
        targets = labels
        if self.batch_mix is not None:  # MixUp/CutMix: soft targets; the metrics keep the images' own labels
            images, targets = self.batch_mix(images, labels)
        logits = self(images)
        loss = self.criterion(logits, targets)
        self.train_metrics.update(logits, labels)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(labels))
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_step(batch, self.val_metrics, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_step(batch, self.test_metrics, "test")

    def on_train_epoch_start(self) -> None:
        # Logged here as well as by LearningRateMonitor (task.py adds it when there is a logger; it refuses to
        # run without one): history.csv and logger=none runs see every parameter group's LR too.
        groups = self.optimizers().param_groups
        self.log("train/lr", groups[0]["lr"])
        if len(groups) > 1:
            for i, group in enumerate(groups):
                self.log(f"train/lr/{group.get('name', i)}", group["lr"])

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

    def _param_groups(self) -> list[Any]:
        """Trainable parameters: one list, or groups per stage LR and/or without weight decay."""
        params: list[Any] = [p for p in self.parameters() if p.requires_grad]
        if self.hparams.get("stage_lr_mult"):
            arch, lr = self.hparams.net.get("arch", DEFAULT_ARCH), self.hparams.optimizer["lr"]
            params = stage_param_groups(self.net, arch, lr, self.hparams.stage_lr_mult)
        if self.hparams.decay_norms_and_biases:
            return params
        groups = params if isinstance(params[0], dict) else [{"name": "all", "params": params}]
        return [split for group in groups for split in _split_no_decay(group)]

    def configure_optimizers(self) -> Any:
        # _partial_: Hydra would turn param-group dicts into DictConfigs
        optimizer = instantiate(self.hparams.optimizer, _partial_=True)(self._param_groups())
        if not self.hparams.scheduler:
            return optimizer
        config = dict(self.hparams.scheduler)
        interval = config.pop("interval", "epoch")
        scheduler = instantiate(config, optimizer=optimizer, **self._run_length(config["_target_"]))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}

    def _run_length(self, target: str) -> dict[str, int]:
        """``total_steps`` and ``steps_per_epoch`` for a scheduler that asks for them (warm-up + cosine)."""
        wanted = inspect.signature(get_object(target)).parameters
        if not {"total_steps", "steps_per_epoch"} & set(wanted):
            return {}
        total = int(self.trainer.estimated_stepping_batches)
        sizes = {"total_steps": total, "steps_per_epoch": max(total // max(self.trainer.max_epochs, 1), 1)}
        return {k: v for k, v in sizes.items() if k in wanted}


def _split_no_decay(group: dict[str, Any]) -> list[dict[str, Any]]:
    """``group`` as two: weights with weight decay, and norm weights and biases (< 2 dims) without it."""
    decay = [p for p in group["params"] if p.ndim > 1]
    no_decay = [p for p in group["params"] if p.ndim <= 1]
    name = group.get("name", "all")
    halves = [
        {**group, "params": decay},
        {**group, "name": f"{name}/no_decay", "params": no_decay, "weight_decay": 0.0},
    ]
    return [h for h in halves if h["params"]]
