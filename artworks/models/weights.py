"""Pretrained weights: torchvision's weights API (cached in ``$TORCH_HOME``) or a local file.

A local file is a state dict in torchvision's format (what ``torch.save(model.state_dict())`` writes,
as in ``resnet50-11ad3fa6.pth``). The classifier head is always replaced, so ``fc.*`` entries are ignored.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.error import URLError

import torch
from torch import nn
from torchvision.models import get_model_weights

from artworks.errors import ArtworksError

log = logging.getLogger(__name__)


def weights_file_name(arch: str, weights: str) -> str:
    return Path(get_model_weights(arch)[weights].url).name


def checkpoint_dir() -> Path:
    """Where torchvision looks for (and caches) downloaded weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def fetch_state_dict(arch: str, weights: str) -> dict[str, torch.Tensor]:
    """torchvision's weights ``weights`` for ``arch``: from the cache, else downloaded into it."""
    try:
        entry = get_model_weights(arch)[weights]
    except KeyError as err:
        names = [w.name for w in get_model_weights(arch)]
        raise ArtworksError(f"Unknown weights {weights!r} for {arch}; torchvision has {names} (or DEFAULT).") from err
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
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same advice
        raise ArtworksError(f"{path} is not a readable PyTorch state dict ({err}). Re-download or re-save it.") from err
    if isinstance(state, dict) and "state_dict" in state:  # a Lightning checkpoint or a wrapped dict
        state = {k.removeprefix("net."): v for k, v in state["state_dict"].items()}
    return state


def load_backbone(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load every non-head entry of ``state`` into ``model``; any other mismatch is an error."""
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("fc.")]
    if missing or unexpected:
        raise ArtworksError(
            f"The weights from {source} do not fit this network: {len(missing)} missing entries "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}). Use a state dict "
            f"saved from the same torchvision architecture."
        )
    log.info("Loaded backbone weights from %s", source)
