"""Named stages of a network: freezing them, and per-stage learning-rate multipliers.

A stage is a name from the backbone's stage map (ResNets: ``stem``, ``layer1``..``layer4``, ``fc``) or any
module path of the network (``layer4.2``). ``model.net.freeze`` takes any set of them, not only prefixes.

A frozen stage's BatchNorm layers are swapped for ``FrozenBatchNorm2d`` (same statistics and affine
parameters, stored as buffers), so ``model.train()`` cannot make the "frozen" part drift.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

from artworks.errors import ArtworksError
from artworks.models.registry import get_backbone

log = logging.getLogger(__name__)


def resolve_stage(
    model: nn.Module, stages: Mapping[str, tuple[str, ...]], stage: str, option: str
) -> tuple[str, ...]:
    """The module paths ``stage`` stands for; a clear error for a name that is neither stage nor module."""
    if stage in stages:
        return stages[stage]
    try:
        model.get_submodule(stage)
    except AttributeError as err:
        raise ArtworksError(
            f"{option} names {stage!r}, which is not a stage of this network. Stages: {list(stages)}; "
            f"any module path (e.g. 'layer4.2') works too."
        ) from err
    return (stage,)


def _frozen_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with every BatchNorm2d below it replaced by a FrozenBatchNorm2d holding its values."""
    if type(module) in (nn.BatchNorm2d, nn.SyncBatchNorm):
        frozen = FrozenBatchNorm2d(module.num_features, eps=module.eps)
        frozen.weight.copy_(module.weight.detach())
        frozen.bias.copy_(module.bias.detach())
        frozen.running_mean.copy_(module.running_mean)
        frozen.running_var.copy_(module.running_var)
        return frozen
    if isinstance(module, nn.modules.batchnorm._BatchNorm):  # timm's BatchNormAct2d and friends
        from timm.layers import freeze_batch_norm_2d

        return freeze_batch_norm_2d(module)
    for name, child in module.named_children():
        setattr(module, name, _frozen_batchnorm(child))
    return module


def freeze_stages(model: nn.Module, stages: Mapping[str, tuple[str, ...]], names: Iterable[str]) -> list[str]:
    """Freeze the stages ``names`` in place (no gradients, BatchNorm fixed); returns their module paths."""
    paths = [p for name in names for p in resolve_stage(model, stages, name, "model.net.freeze")]
    for path in dict.fromkeys(paths):
        module = _frozen_batchnorm(model.get_submodule(path))
        if path:
            model.set_submodule(path, module)
        module.requires_grad_(False)
    if paths and not any(p.requires_grad for p in model.parameters()):
        raise ArtworksError(
            f"model.net.freeze={list(names)} freezes every parameter, so there is nothing to train. "
            f"Leave at least the classifier head out of the list."
        )
    return paths


def stage_param_groups(
    model: nn.Module, arch: str, lr: float, lr_mult: Mapping[str, float] | None
) -> list[dict[str, Any]]:
    """Optimizer parameter groups for discriminative learning rates (``model.stage_lr_mult``).

    The trainable parameters of each stage named in ``lr_mult`` train at ``lr × mult``, all others at
    ``lr``. A parameter may fall under one entry only.
    """
    stages = get_backbone(arch).stages(model)
    assigned: dict[str, str] = {}
    for stage in lr_mult or {}:
        for path in resolve_stage(model, stages, stage, "model.stage_lr_mult"):
            for name, _ in model.get_submodule(path).named_parameters(prefix=path):
                if name in assigned:
                    raise ArtworksError(
                        f"model.stage_lr_mult sets {stage!r} and {assigned[name]!r}, which overlap "
                        f"(both hold {name}). Give each part of the network one multiplier."
                    )
                assigned[name] = stage
    groups: dict[str, dict[str, Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        stage = assigned.get(name)
        mult = 1.0 if stage is None else float(lr_mult[stage])
        group = groups.setdefault(stage or "", {"name": stage or "rest", "params": [], "lr": lr * mult})
        group["params"].append(param)
    return list(groups.values())


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Total and trainable parameters; a frozen BatchNorm's affine buffers count as (frozen) parameters."""
    params = list(model.parameters())
    frozen_bn = [
        m for m in model.modules() if type(m).__name__.startswith("FrozenBatchNorm")
    ]  # torchvision, timm
    total = sum(p.numel() for p in params) + sum(m.weight.numel() + m.bias.numel() for m in frozen_bn)
    return {"total": total, "trainable": sum(p.numel() for p in params if p.requires_grad)}
