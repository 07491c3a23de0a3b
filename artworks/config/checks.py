"""Up-front checks of a composed config: fail in a second with a clear message, not deep inside training."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from artworks.config import config_dir
from artworks.errors import ArtworksError

log = logging.getLogger(__name__)


def _kind(value: Any) -> str | None:
    """The type family an override must keep; ``None`` where anything goes."""
    if value is None or (isinstance(value, str) and "${" in value):
        return None
    if isinstance(value, bool):
        return "a boolean (true/false)"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list like [a,b]"
    if isinstance(value, dict):
        return "a mapping like {a:1}"
    return None


def check_override_types(cfg: DictConfig) -> None:
    """Each command-line ``key=value`` keeps the type of the value it replaces (no ``batch_size=abc``)."""
    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    overrides = [
        o
        for o in OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task))
        if not o.is_delete()
        and not o.is_add()
        and o.key_or_group not in hydra_cfg.runtime.choices
        and not o.is_sweep_override()
    ]
    if not overrides:
        return
    choices = [f"{g}={c}" for g, c in hydra_cfg.runtime.choices.items() if not g.startswith("hydra") and c]
    defaults = _compose(hydra_cfg.job.config_name, choices)
    if defaults is None:
        return
    for override in overrides:
        key = override.key_or_group
        default = (
            OmegaConf.to_container(OmegaConf.create({"v": OmegaConf.select(defaults, key)}))["v"]
            if OmegaConf.select(defaults, key) is not None
            else None
        )
        given = OmegaConf.select(cfg, key)
        given = OmegaConf.to_container(given) if OmegaConf.is_config(given) else given
        expected, got = _kind(default), _kind(given)
        if expected and got and expected != got:
            raise ArtworksError(
                f"{key}={given!r} has the wrong type: {key} takes {expected} "
                f"(default: {default!r}). "
                f"Fix the value on the command line, e.g. {key}={default}."
            )


def _compose(config_name: str, overrides: list[str]) -> DictConfig | None:
    """The config with only the group choices, i.e. the values each command-line override replaces."""
    try:
        if GlobalHydra.instance().is_initialized():
            return compose(config_name=config_name, overrides=overrides)
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return compose(config_name=config_name, overrides=overrides)
    except Exception as err:  # the check is a courtesy; never block a run that composed fine
        log.debug("Override type check skipped: %s", err)
        return None


def check_sweep_choices(args: Sequence[str]) -> None:
    """Every option a sweep names for a config group exists, checked before its first job starts.

    Hydra composes each job only when it is its turn, so ``model=scratch_resnet50,typo`` would run the first
    job and then stop the whole sweep at the second.
    """
    try:
        overrides = OverridesParser.create().parse_overrides([a for a in args if "=" in a and a[0] != "-"])
    except Exception:  # noqa: BLE001 - a malformed override gets Hydra's own message later
        return
    for override in overrides:
        group = override.key_or_group
        folder = config_dir() / group
        if group.startswith("hydra") or not folder.is_dir() or not override.is_sweep_override():
            continue
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        unknown = [v for v in override.sweep_string_iterator() if v not in options and v != "null"]
        if unknown:
            raise ArtworksError(
                f"{group}={','.join(unknown)} is not an option of the config group '{group}', so no job of "
                f"the sweep was started. The options are: {', '.join(options)}. Fix the name and run the "
                f"command again."
            )
