"""Pretrained weights: torchvision's weights API (cached in ``$TORCH_HOME``) or a local file.

A local file is a state dict in torchvision's format (what ``torch.save(model.state_dict())`` writes,
as in ``resnet50-11ad3fa6.pth``), an artworks checkpoint, or a ``.safetensors`` file (timm's format).
Weights are loaded by name and shape *after* the modified-ResNet switches were applied, so a modified model
starts from ImageNet wherever shapes still match; the classifier head always starts fresh (other classes).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

import torch
from torch import nn
from torchvision.models import get_model_weights

from artworks.errors import ArtworksError

log = logging.getLogger(__name__)


def checkpoint_dir() -> Path:
    """Where torchvision looks for (and caches) downloaded weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def fetch_state_dict(arch: str, weights: str) -> dict[str, torch.Tensor]:
    """torchvision's weights ``weights`` for ``arch``: from the cache, else downloaded into it."""
    try:
        entry = get_model_weights(arch)[weights]
    except KeyError as err:
        names = [w.name for w in get_model_weights(arch)]
        raise ArtworksError(
            f"Unknown weights {weights!r} for {arch}; torchvision has {names} (or DEFAULT)."
        ) from err
    try:
        return entry.get_state_dict(progress=False, check_hash=False)
    except (URLError, OSError, RuntimeError) as err:
        file_name, folder = Path(entry.url).name, checkpoint_dir()
        raise ArtworksError(
            f"The {weights} weights for {arch} could not be downloaded ({err.__class__.__name__}: {err}). "
            f"On an offline machine copy the file {file_name} into {folder} (torchvision reads it from there "
            f"without the network), or pass model.net.weights_path=/path/to/{file_name}."
        ) from err


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ArtworksError(
            f"model.net.weights_path={path} does not exist. Give the path of a torchvision-format state dict "
            f"(e.g. resnet50-11ad3fa6.pth), or drop the option to use torchvision's download cache."
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file  # installed with timm

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same advice
        raise ArtworksError(
            f"{path} is not a readable PyTorch state dict ({err}). Re-download or re-save it."
        ) from err
    if isinstance(state, dict) and "state_dict" in state:  # an artworks (Lightning) checkpoint
        state = {k.removeprefix("net."): v for k, v in state["state_dict"].items() if k.startswith("net.")}
    return state


@dataclass(frozen=True)
class LoadReport:
    """What a partial load took from a state dict: the printed answer to "what did I start from?".

    ``loaded``: model entries copied from the file. ``fresh``: model entries left at their initialisation
    (the new head, modules a switch added or reshaped). ``skipped``: file entries not used (ImageNet's head,
    tensors whose module a switch reshaped).
    """

    source: str
    loaded: list[str]
    fresh: list[str]
    skipped: list[str]

    def summary(self) -> str:
        total = len(self.loaded) + len(self.fresh)
        lines = [f"Loaded {len(self.loaded)} of {total} tensors of the network from {self.source}."]
        if self.fresh:
            lines.append(f"  not loaded, start from initialisation: {_grouped(self.fresh)}")
        if self.skipped:
            lines.append(f"  in the file but not used: {_grouped(self.skipped)}")
        return "\n".join(lines)


def _grouped(keys: list[str]) -> str:
    """``layer1.0.cbam.channel.mlp.1.weight``, ... -> ``layer*.*.cbam.* (160)``: readable for 16 blocks."""
    counts: dict[str, int] = {}
    for key in keys:
        parts = key.split(".")
        # up to the first named part after a block index (layer1.0.cbam), indices starred
        stop = next((i + 2 for i, p in enumerate(parts[:-1]) if p.isdigit()), len(parts) - 1)
        module = ".".join("*" if p.isdigit() else p for p in parts[:stop])
        module = re.sub(r"^layer\d+", "layer*", module) + ("" if stop == len(parts) - 1 else ".*")
        counts[module] = counts.get(module, 0) + 1
    return ", ".join(f"{module} ({n})" for module, n in counts.items())


def load_matching(
    model: nn.Module, state: dict[str, torch.Tensor], source: str, new_modules: Iterable[str]
) -> LoadReport:
    """Copy every entry of ``state`` whose name and shape match ``model``; report the rest.

    ``new_modules`` are the module paths that are expected not to load (the replaced head, what the
    modified-ResNet switches added or reshaped). Anything else that does not load means the file is for
    another architecture, which is an error rather than a silent partial start.
    """
    prefixes = tuple(f"{m}." for m in new_modules)
    target = model.state_dict()
    usable = {
        k: v
        for k, v in state.items()
        if k in target and v.shape == target[k].shape and not k.startswith(prefixes)
    }
    report = LoadReport(
        source=source,
        loaded=[k for k in target if k in usable],
        fresh=[k for k in target if k not in usable],
        skipped=[k for k in state if k not in usable],
    )
    unexplained = [k for k in report.fresh + report.skipped if not k.startswith(prefixes)]
    if unexplained:
        raise ArtworksError(
            f"The weights from {source} do not fit this network: {len(unexplained)} entries have no "
            f"counterpart of the same shape (e.g. {unexplained[:3]}). Use a state dict saved from the same "
            f"architecture (model.net.arch) in torchvision's format."
        )
    model.load_state_dict(usable, strict=False)
    return report
