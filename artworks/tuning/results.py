"""What a search leaves behind: ``best.yaml``, the plots, and the one final run that is tested.

``best.yaml`` is a primary Hydra config that extends ``train.yaml`` with the command's overrides and the best
trial's parameters, so

    python -m artworks.train --config-dir <tune.dir> --config-name best

trains the best configuration again (and tests it, as any training run does).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import optuna  # noqa: E402
from hydra.core.override_parser.overrides_parser import OverridesParser  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from artworks.storage import atomic_path, atomic_write_text  # noqa: E402
from artworks.tuning.objective import compose_run  # noqa: E402
from artworks.tuning.space import overrides_for  # noqa: E402

log = logging.getLogger(__name__)
# Optuna marks its matplotlib plots experimental; the two used here have been stable since Optuna 2.2
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning, module=__name__)


def best_overrides(study: optuna.Study, train_overrides: Sequence[str]) -> list[str]:
    """The command's overrides followed by the best trial's parameters (later ones win, as in Hydra)."""
    return [*train_overrides, *overrides_for(study.best_trial.params)]


def write_best_yaml(
    study: optuna.Study, tune_dir: Path, train_overrides: Sequence[str], objective: str
) -> Path:
    """``<tune.dir>/best.yaml``: ``train.yaml`` + the best overrides, as a config ``artworks.train`` loads.

    Group choices (``model=...``) become ``override /group: option`` entries of the defaults list; values
    are taken from the composed config, so they are typed exactly as the trial saw them.
    """
    best = study.best_trial
    overrides = best_overrides(study, train_overrides)
    cfg = compose_run(overrides, tune_dir / "best-compose")
    choices = dict(cfg.hydra.runtime.choices)
    defaults: list[Any] = ["train"]
    values = OmegaConf.create()
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        if key.startswith("hydra"):
            continue
        if key in choices:
            defaults.append({f"override /{key}": choices[key]})
        else:
            OmegaConf.update(values, key, OmegaConf.select(cfg, key), force_add=True)
    defaults.append("_self_")
    body = OmegaConf.to_yaml(OmegaConf.merge({"defaults": defaults}, values))
    header = (
        f"# Best trial {best.number} of study {study.study_name}: {objective} = "
        f"{best.value}\n# run folder: {best.user_attrs.get('run_dir')}\n"
        f"# Reproduce it: python -m artworks.train --config-dir {tune_dir} --config-name best\n"
    )
    return atomic_write_text(tune_dir / "best.yaml", header + body)  # workers may finish together


def write_plots(study: optuna.Study, tune_dir: Path) -> list[Path]:
    """Optimisation history, and parameter importance once two finished trials differ in their parameters."""
    written = [
        _save(
            optuna.visualization.matplotlib.plot_optimization_history(study), tune_dir, "optimization_history"
        )
    ]
    finished = [t.params for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(finished) >= 2 and any(p != finished[0] for p in finished[1:]):
        importances = optuna.visualization.matplotlib.plot_param_importances(study)
        written.append(_save(importances, tune_dir, "param_importances"))
    else:
        log.info("Parameter importance needs two finished trials with different parameters; not plotted.")
    return written


def _save(ax: Any, tune_dir: Path, name: str) -> Path:
    path = tune_dir / f"{name}.png"
    figure = ax.figure
    with atomic_path(path, keep_suffix=True) as tmp:
        figure.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path
