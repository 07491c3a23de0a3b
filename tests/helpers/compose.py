"""Shared test helpers: the tiny settings and composing ``train.yaml`` as Hydra does for a real job."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, open_dict

from artworks.config import compose_job
from artworks.config.study import study_models

TINY_SAMPLE = {"artists": 4, "images_per_artist": 12, "image_size": 40, "seed": 0, "imbalance": "none"}
MODELS = study_models()  # the five experiments, from conf/experiment/study.yaml

# The smallest network that trains like the real one (timm's ResNet, 0.47 M parameters, ~5.6 MB checkpoints
# with Adam state vs ~300 MB for ResNet-50): for tests where ResNet-50 itself is not what is tested.
TINY_ARCH = "timm/test_resnet"


def tiny_net(weights: Path) -> list[str]:
    """Overrides that swap the experiment's ResNet-50 for ``TINY_ARCH``; ``weights``: the ``tiny_weights``
    fixture, used by experiments that start from weights (no stage freezing: timm names no ``stem``)."""
    return [f"model.net.arch={TINY_ARCH}", f"model.net.weights_path={weights}"]


# Only the checkpoint a run reads (the best by validation, for testing), and without optimizer state.
ONLY_BEST_WEIGHTS = [
    "++callbacks.model_checkpoint.save_last=false",
    "++callbacks.model_checkpoint.save_weights_only=true",
    "~callbacks.last_checkpoint",
]

# Only last.ckpt, without optimizer state: a trained model for tests that predict or export from it.
LAST_WEIGHTS_ONLY = [
    "++callbacks.model_checkpoint.save_top_k=0",
    "++callbacks.model_checkpoint.save_weights_only=true",
    "~callbacks.last_checkpoint",
]

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
    "report.figures=false",  # tests that look at the figures ask for them (report.figures=true)
]


def compose_train(
    sample_root: Path,
    weights: Path,
    log_dir: Path,
    output_dir: Path,
    overrides: Sequence[str] = (),
    sample: dict | None = None,
) -> DictConfig:
    """``train.yaml`` with the tiny settings plus ``overrides`` on ``sample`` (default: the tiny one)."""
    cfg = compose_job(
        "train",
        [
            *TINY_OVERRIDES,
            f"data.root={sample_root}",
            f"paths.log_dir={log_dir}",
            f"model.net.weights_path={weights}",
            *overrides,
        ],
        output_dir,
    )
    with open_dict(cfg):
        cfg.data.sample = dict(sample or TINY_SAMPLE)
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


# The settings every composed evaluate config starts from: the tiny sample on the CPU, quietly.
EVAL_OVERRIDES = [
    "data=sample",
    "data.batch_size=4",
    "data.num_workers=0",
    "trainer=cpu",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "report.figures=false",
]


def compose_evaluate(
    data_root: Path, output_dir: Path, *overrides: str, sample: dict | None = None
) -> DictConfig:
    """``evaluate.yaml`` on ``data_root`` (a ``sample``, default the tiny one) plus ``overrides``."""
    cfg = compose_job("evaluate", [*EVAL_OVERRIDES, f"data.root={data_root}", *overrides], output_dir)
    with open_dict(cfg):
        cfg.data.sample = dict(sample or TINY_SAMPLE)
    return cfg
