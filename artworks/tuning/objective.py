"""One trial = one ordinary training run: ``conf/train.yaml`` + the command's overrides + the trial's draw.

The run has its own folder (``<tune.dir>/trial_NNNN``: config, checkpoints, ``metrics.json``), its W&B run
joins the study's group, and it never touches the test set (``test=false``). The trial's value is the run's
``tune.objective`` from ``metrics.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from artworks.config import config_dir
from artworks.errors import ArtworksError
from artworks.tuning.pruning import OptunaPruning, reporting_to
from artworks.tuning.space import suggest

log = logging.getLogger(__name__)


def compose_run(overrides: Sequence[str], output_dir: Path) -> DictConfig:
    """The train config a ``python -m artworks.train <overrides> hydra.run.dir=<output_dir>`` job gets."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[*overrides, f"hydra.run.dir={output_dir}"],
            return_hydra_config=True,
        )
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.runtime.output_dir = str(output_dir)
    HydraConfig().set_config(cfg)
    GlobalHydra.instance().clear()
    return cfg


def write_run_config(cfg: DictConfig, overrides: Sequence[str], output_dir: Path) -> None:
    """``.hydra/config.yaml`` and ``overrides.yaml``, as Hydra writes them for a command-line run."""
    hydra_dir = output_dir / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), hydra_dir / "config.yaml")
    OmegaConf.save(OmegaConf.create(list(overrides)), hydra_dir / "overrides.yaml")


def trial_dir(tune: DictConfig, number: int) -> Path:
    return Path(tune.dir).expanduser().resolve() / f"trial_{number:04d}"


class Objective:
    """Callable for ``study.optimize``: train one trial's configuration, return its validation objective.

    Args:
        tune: the ``tune`` config (objective, dir, study name).
        space: the search space (``artworks.tuning.space.load_space``).
        train_overrides: the command's overrides, applied to every trial.
    """

    def __init__(self, tune: DictConfig, space: dict[str, Any], train_overrides: Sequence[str]) -> None:
        self.tune = tune
        self.space = space
        self.train_overrides = list(train_overrides)

    def __call__(self, trial: optuna.Trial) -> float:
        from artworks.training.task import train  # heavy import: only when a trial runs

        params = suggest(trial, self.space)
        output_dir = trial_dir(self.tune, trial.number)
        trial.set_user_attr("run_dir", str(output_dir))
        log.info("Trial %d: %s (%s)", trial.number, " ".join(params), output_dir)
        overrides = [*self.train_overrides, *params, "test=false"]
        cfg = compose_run(overrides, output_dir)
        write_run_config(cfg, overrides, output_dir)
        self._join_study(cfg, trial.number)
        with reporting_to(trial):
            metrics = train(cfg)
        value = metrics.get(self.tune.objective)
        if value is None:
            raise ArtworksError(
                f"Trial {trial.number} finished without {self.tune.objective} in {output_dir}/metrics.json "
                f"(it has {', '.join(sorted(metrics))}). Choose a logged validation metric as tune.objective."
            )
        return float(value)

    def _join_study(self, cfg: DictConfig, number: int) -> None:
        """The trial's pruning callback, and its W&B run in the study's group, named after the trial."""
        with open_dict(cfg):
            cfg.callbacks.optuna_pruning = {
                "_target_": f"{OptunaPruning.__module__}.{OptunaPruning.__name__}",
                "monitor": self.tune.objective,
            }
            wandb_cfg = OmegaConf.select(cfg, "logger.wandb")
            if wandb_cfg is not None:
                wandb_cfg.group = self.tune.study_name
                wandb_cfg.name = f"{self.tune.study_name}-trial_{number:04d}"
                wandb_cfg.job_type = "tune"  # W&B tells trials from ordinary training runs
