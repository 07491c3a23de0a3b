"""The model table: what each experiment's network costs, before choosing one.

    python -m artworks.bench.models                                   # the five experiments at 224 px
    python -m artworks.bench.models model=cbam_resnet50,scratch_resnet50 data.image_size=128
    python -m artworks.bench.models --classes 1000 --batch 4 model.net.arch=resnet18

Positional arguments are Hydra overrides of ``train.yaml`` (``model=a,b`` picks the model configs).
For each model: total and trainable parameters, forward GFLOPs for one image at ``data.image_size``
counted by PyTorch's own ``FlopCounterMode`` (convolutions and matmuls; GMACs = GFLOPs / 2, the unit of
"ResNet-50 = 4.09 G" figures), and forward+backward training throughput at a small batch on this machine.
No weights are downloaded: the networks are built at random init.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from artworks.config import config_dir
from artworks.config.study import study_models
from artworks.models.factory import build_model
from artworks.models.stages import parameter_counts


@dataclass(frozen=True)
class ModelRow:
    """One line of the table."""

    model: str
    arch: str
    switches: str
    init: str
    image_size: int
    params: int
    trainable: int
    gflops: float
    train_images_per_s: float

    def cells(self) -> list[str]:
        return [
            self.model,
            self.arch,
            self.switches,
            self.init,
            f"{self.image_size}²",
            f"{self.params:,}",
            f"{self.trainable:,}",
            f"{self.gflops:.2f}",
            f"{self.gflops / 2:.2f}",
            f"{self.train_images_per_s:.1f}",
        ]


HEADER = [
    "model",
    "arch",
    "switches",
    "init",
    "input",
    "params",
    "trainable",
    "GFLOPs",
    "GMACs",
    "train img/s",
]


def compose_config(model: str, overrides: Sequence[str]) -> DictConfig:
    """``train.yaml`` with ``model=<model>`` and ``overrides``, composed as ``artworks.train`` does."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="train", overrides=[f"model={model}", *overrides])


def count_flops(net: nn.Module, image_size: int) -> int:
    """Forward FLOPs of one ``image_size``² image (PyTorch's counter: convolutions and matmuls)."""
    net.eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(torch.zeros(1, 3, image_size, image_size))
    return counter.get_total_flops()


def train_throughput(net: nn.Module, image_size: int, batch: int, steps: int, device: torch.device) -> float:
    """Images per second of forward + backward in train mode, after one warm-up step."""
    net.to(device).train()
    images = torch.randn(batch, 3, image_size, image_size, device=device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)
    elapsed = 0.0
    for step in range(steps + 1):
        start = time.perf_counter()
        F.cross_entropy(net(images), labels).backward()
        net.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step:  # the first step is the warm-up
            elapsed += time.perf_counter() - start
    return batch * steps / elapsed


def _switches(net_cfg: DictConfig) -> str:
    parts = [net_cfg.activation] if net_cfg.activation != "relu" else []
    parts += ["depthwise"] if net_cfg.depthwise else []
    parts += [net_cfg.attention] if net_cfg.attention != "none" else []
    return "+".join(parts) or "-"


def summarize(
    model: str, overrides: Sequence[str], classes: int, batch: int, steps: int, device: torch.device
) -> ModelRow:
    """Build ``model``'s network (random init) and measure it."""
    cfg = compose_config(model, overrides)
    net_cfg = cfg.model.net
    net = build_model(classes, load_weights=False, **OmegaConf.to_container(net_cfg, resolve=True))
    counts = parameter_counts(net)
    size = int(cfg.data.image_size)
    return ModelRow(
        model=cfg.model.experiment,
        arch=net_cfg.arch,
        switches=_switches(net_cfg),
        init=net_cfg.weights or "random",
        image_size=size,
        params=counts["total"],
        trainable=counts["trainable"],
        gflops=count_flops(net, size) / 1e9,
        train_images_per_s=train_throughput(net, size, batch, steps, device),
    )


def format_table(rows: Sequence[ModelRow]) -> str:
    """A Markdown table of ``rows``."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m artworks.bench models", description=__doc__.split("\n")[0]
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of train.yaml; model=a,b picks models")
    parser.add_argument(
        "--classes", type=int, default=50, help="classifier outputs (50 artists; 1000 = ImageNet)"
    )
    parser.add_argument("--batch", type=int, default=8, help="batch size of the throughput measurement")
    parser.add_argument("--steps", type=int, default=2, help="timed forward+backward steps after one warm-up")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)

    models = study_models()
    overrides = []
    for override in args.overrides:
        if override.startswith("model="):
            models = override.removeprefix("model=").split(",")
        else:
            overrides.append(override)
    device = torch.device(args.device)
    rows = [summarize(m, overrides, args.classes, args.batch, args.steps, device) for m in models]
    print(format_table(rows))
    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {torch.get_num_threads()} threads"
    )
    print(
        f"\n{args.classes} classes. GFLOPs: forward, one image, torch.utils.flop_counter.FlopCounterMode "
        f"(convolutions + matmuls); GMACs = GFLOPs / 2. train img/s: forward+backward, batch {args.batch}, "
        f"mean of {args.steps} steps after a warm-up, fp32, on {where} (a shared machine: indicative only)."
    )


if __name__ == "__main__":
    main()
