"""The search space: a YAML file under ``conf/tune/`` mapping train-config keys to Optuna distributions.

Each entry is a key of the composed train config (``model.optimizer.lr``) or a config group
(``recipe``), with how to draw it::

    model.optimizer.lr: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}
    model.scheduler.gamma: {type: float, low: 0.5, high: 0.95}
    data.batch_size: {type: categorical, choices: [16, 32]}

A trial's draw becomes Hydra overrides (``model.optimizer.lr=0.00021``), so a trial is composed exactly as a
command line would compose it. The reserved key ``overrides`` lists what the space needs to mean anything
(``[recipe=modern]`` for a space over weight decay): the search starts from them, and an override of the same
key on the command line replaces one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import yaml
from omegaconf import DictConfig, OmegaConf

from artworks.config import config_dir
from artworks.errors import ArtworksError

KINDS = ("float", "int", "categorical")
BASE_KEY = "overrides"  # the reserved key: train overrides the space is meant for


def space_path(space: str) -> Path:
    """``space`` as a file: a name under ``conf/tune/`` or a path to a YAML file."""
    if space.endswith((".yaml", ".yml")):
        path = Path(space).expanduser()
    else:
        path = config_dir() / "tune" / f"{space}.yaml"
    if not path.is_file():
        shipped = sorted(p.stem for p in (config_dir() / "tune").glob("*.yaml"))
        raise ArtworksError(
            f"tune.space={space}: no search space at {path}. Choose one of {', '.join(shipped)} "
            "or pass the path of your own YAML file (see conf/tune/finetune.yaml for the format)."
        )
    return path


def load_space(space: str) -> dict[str, dict[str, Any]]:
    """The search space ``{key: {type, low, high, log, step, choices}}``, checked for its shape."""
    path = space_path(space)
    entries = {k: v for k, v in _read(path).items() if k != BASE_KEY}
    if not entries:
        raise ArtworksError(f"The search space {path} is empty; give at least one key to search.")
    for key, spec in entries.items():
        _check_entry(path, key, spec)
    return entries


def with_base_overrides(space: str, given: list[str]) -> list[str]:
    """The space's ``overrides`` the command does not override itself, then the command's ``given``.

    A space over weight decay means nothing with the seed recipe (it has no weight decay), so the space says
    ``overrides: [recipe=modern]`` and a bare ``artworks-tune`` runs; ``recipe=...`` on the command line wins.
    """
    path = space_path(space)
    base = _read(path).get(BASE_KEY) or []
    if not isinstance(base, list) or not all(isinstance(o, str) and "=" in o for o in base):
        raise ArtworksError(
            f"{path}: `{BASE_KEY}` must be a list of train overrides such as [recipe=modern], got {base!r}."
        )
    given_keys = {_override_key(o) for o in given}
    return [*(o for o in base if _override_key(o) not in given_keys), *given]


def _override_key(override: str) -> str:
    """``recipe`` for ``recipe=modern``, ``model.optimizer.lr`` for ``++model.optimizer.lr=0.1``."""
    return override.split("=", 1)[0].lstrip("+~")


def _read(path: Path) -> dict[str, Any]:
    entries = yaml.safe_load(path.read_text()) or {}
    if not isinstance(entries, dict):
        raise ArtworksError(
            f"The search space {path} is not a mapping of config keys to distributions "
            "(see conf/tune/finetune.yaml for the format)."
        )
    return entries


def _check_entry(path: Path, key: str, spec: Any) -> None:
    """One entry has a known type and the bounds (or choices) that type needs."""
    kind = spec.get("type") if isinstance(spec, dict) else None
    needs = ("choices",) if kind == "categorical" else ("low", "high")
    if kind not in KINDS or any(n not in spec for n in needs):
        raise ArtworksError(
            f"{path}: the entry {key} must be a mapping with type: float|int|categorical and "
            "low/high (float, int; optional log: true, step) or choices (categorical), got "
            f"{spec!r}."
        )


def check_keys(space: dict[str, dict[str, Any]], train_cfg: DictConfig, choices: dict[str, Any]) -> None:
    """Every key of the space exists in the composed train config (or is a config group).

    A misspelt key would otherwise become a new, unused config value and the search would tune nothing.
    """
    missing = [
        k
        for k in space
        if k not in choices and OmegaConf.select(train_cfg, k, default="__missing__") == "__missing__"
    ]
    if missing:
        raise ArtworksError(
            f"The search space names {', '.join(missing)}, which the train config does not have (with the "
            "overrides given). Check the spelling against `python -m artworks.train --cfg job` with the same "
            "overrides, or add the group that defines it (e.g. recipe=modern) to the command."
        )


def suggest(trial: optuna.Trial, space: dict[str, dict[str, Any]]) -> list[str]:
    """Draw every parameter of ``space`` for ``trial`` and return them as Hydra overrides."""
    return [f"{key}={_format(_draw(trial, key, spec))}" for key, spec in space.items()]


def _draw(trial: optuna.Trial, key: str, spec: dict[str, Any]) -> Any:
    if spec["type"] == "categorical":
        return trial.suggest_categorical(key, list(spec["choices"]))
    args = {"log": bool(spec.get("log", False))}
    if spec.get("step") is not None:
        args["step"] = spec["step"]
    if spec["type"] == "int":
        return trial.suggest_int(key, int(spec["low"]), int(spec["high"]), **args)
    return trial.suggest_float(key, float(spec["low"]), float(spec["high"]), **args)


def overrides_for(params: dict[str, Any]) -> list[str]:
    """A finished trial's parameters as Hydra overrides (the same strings :func:`suggest` returned)."""
    return [f"{key}={_format(value)}" for key, value in params.items()]


def _format(value: Any) -> str:
    """A value as Hydra's override grammar reads it back unchanged (floats in full precision)."""
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    if isinstance(value, float):
        return repr(value)
    return str(value)
