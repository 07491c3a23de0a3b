"""The study: where it is stored, how trials are sampled and pruned, and creating or continuing it.

The storage is a real database (SQLite at ``<tune.dir>/study.db`` by default, any Optuna storage URL via
``tune.storage``), so running the same command again continues the study and several processes pointed at one
storage share it. SQLite waits ``tune.sqlite_timeout_s`` for a lock, which is enough for a few local workers;
use PostgreSQL or MySQL for a cluster.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import optuna
from filelock import FileLock
from omegaconf import DictConfig

from artworks.errors import ArtworksError

log = logging.getLogger(__name__)

TRAIN_OVERRIDES_ATTR = "train_overrides"


def storage_url(tune: DictConfig) -> str:
    """``tune.storage``, or SQLite in the study folder."""
    return str(tune.storage or f"sqlite:///{Path(tune.dir).expanduser().resolve() / 'study.db'}")


def make_storage(tune: DictConfig) -> optuna.storages.RDBStorage:
    """The RDB storage; a heartbeat marks trials of a killed process as failed instead of running forever."""
    url = storage_url(tune)
    if not url.startswith("sqlite:///"):
        return _rdb_storage(url, {}, tune.heartbeat_s)
    database = Path(url.removeprefix("sqlite:///"))
    database.parent.mkdir(parents=True, exist_ok=True)
    # two workers starting at once would both create the schema (a UNIQUE error for one): one at a time
    with FileLock(f"{database}.lock", timeout=tune.sqlite_timeout_s):
        return _rdb_storage(url, {"connect_args": {"timeout": tune.sqlite_timeout_s}}, tune.heartbeat_s)


def _rdb_storage(url: str, engine_kwargs: dict[str, Any], heartbeat_s: int) -> optuna.storages.RDBStorage:
    with warnings.catch_warnings():  # the heartbeat is marked experimental; it has been stable since 2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_s, grace_period=heartbeat_s * 2
        )


def make_sampler(tune: DictConfig, trials_so_far: int) -> optuna.samplers.BaseSampler:
    """TPE (or random) search; with ``tune.seed`` the draws are reproducible for one process.

    The seed is offset by the trials already in the study, so a continued study draws new points instead of
    repeating the first call's random start-up trials.
    """
    seed = None if tune.seed is None else int(tune.seed) + trials_so_far
    if tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if tune.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=tune.n_startup_trials)
    raise ArtworksError(f"tune.sampler={tune.sampler} is not a sampler; choose tpe or random.")


def make_pruner(tune: DictConfig) -> optuna.pruners.BasePruner:
    """Median pruning on the validation curve, after a few complete trials and warm-up epochs."""
    if tune.pruner == "none":
        return optuna.pruners.NopPruner()
    if tune.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=tune.n_startup_trials, n_warmup_steps=tune.pruner_warmup_epochs
        )
    raise ArtworksError(f"tune.pruner={tune.pruner} is not a pruner; choose median or none.")


def check_objective(tune: DictConfig) -> None:
    """The objective is a validation metric: choosing on the test set would make its figures meaningless."""
    objective = str(tune.objective)
    if not objective.startswith("val/"):
        raise ArtworksError(
            f"tune.objective={objective} is not a validation metric. The search chooses on validation only "
            "(a test/ metric would leak the test set into the choice); use e.g. "
            "tune.objective=val/macro_acc_best, then final=true to test the chosen configuration once."
        )


def open_study(tune: DictConfig, train_overrides: list[str]) -> optuna.Study:
    """Create the study, or continue the one already in the storage under ``tune.study_name``.

    The train overrides are recorded with the study; continuing it with different ones is refused, because
    their trials would not be comparable.
    """
    storage = make_storage(tune)
    existing = _existing_trials(storage, tune.study_name)
    study = optuna.create_study(
        storage=storage,
        study_name=tune.study_name,
        direction=tune.direction,
        sampler=make_sampler(tune, existing),
        pruner=make_pruner(tune),
        load_if_exists=True,
    )
    recorded = study.user_attrs.get(TRAIN_OVERRIDES_ATTR)
    if recorded is None:
        study.set_user_attr(TRAIN_OVERRIDES_ATTR, list(train_overrides))
    elif sorted(recorded) != sorted(train_overrides):
        raise ArtworksError(
            f"The study {tune.study_name} in {storage_url(tune)} was started with the train overrides "
            f"{' '.join(recorded) or '(none)'}, not {' '.join(train_overrides) or '(none)'}. Trials with "
            "different settings are not comparable: pass the same overrides to continue it, or start a new "
            "study with tune.study_name=<new name>."
        )
    if existing:
        log.info("Continuing study %s: %d trials so far (%s)", tune.study_name, existing, storage_url(tune))
    return study


def _existing_trials(storage: optuna.storages.BaseStorage, name: str) -> int:
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return 0
    return len(storage.get_all_trials(study_id, deepcopy=False))


def completed(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The trials that finished with a value."""
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def summary(study: optuna.Study) -> dict[str, Any]:
    """How many trials ended in each state."""
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts
