"""Search hyperparameters with Optuna; each trial is an ordinary training run that never sees the test set.

    python -m artworks.tune tune.n_trials=20 data.root=... [tune.space=finetune]
    python -m artworks.tune ... final=true        (then: train the best configuration once and test it)

``tune.*``, ``final`` and ``traceback`` configure the search (``conf/tune.yaml``); every other override goes
to every trial's train config (``paths.*`` to both). The same command again continues the study.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from artworks.config import config_dir
from artworks.errors import ArtworksError
from artworks.runtime.command import run_command
from artworks.tuning.objective import OneLineUserErrors

log = logging.getLogger("artworks.tune")
TUNE_KEYS = ("tune.", "final=", "traceback=", "paths.")


def split_overrides(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """(overrides of ``tune.yaml``, overrides of every trial's ``train.yaml``); ``paths.*`` go to both."""
    tune = [a for a in args if a.lstrip("+~").startswith(TUNE_KEYS)]
    train = [a for a in args if a not in tune or a.startswith("paths.")]
    deletions = [a for a in train if a.startswith("~")]
    if deletions:
        raise ArtworksError(
            f"{' '.join(deletions)}: deleting config keys is not supported in a search (best.yaml could not "
            "reproduce it). Set the key to a value instead, e.g. key=null."
        )
    return tune, train


def compose_tune(overrides: Sequence[str]) -> DictConfig:
    """``conf/tune.yaml`` with the search's own overrides (the train config is composed per trial)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="tune", overrides=list(overrides))
    GlobalHydra.instance().clear()
    if cfg.tune.study_name is None:  # named after the search space (its file name for a path)
        with open_dict(cfg):
            cfg.tune.study_name = Path(str(cfg.tune.space)).stem
    return cfg


def run(args: Sequence[str]) -> dict[str, Any]:
    """Add ``tune.n_trials`` trials to the study; write best.yaml and the plots; the final run if asked."""
    from artworks.training.task import train  # also registers the resolvers the train config uses
    from artworks.tuning import results, space, study
    from artworks.tuning.objective import Objective, check_shared, compose_run, trial_dir

    tune_args, train_overrides = split_overrides(args)
    cfg = compose_tune(tune_args)
    tune = cfg.tune
    study.check_objective(tune)
    search_space = space.load_space(tune.space)
    train_overrides = space.with_base_overrides(tune.space, train_overrides)
    tune_dir = Path(tune.dir).expanduser().resolve()
    probe = compose_run([*train_overrides, "test=false"], tune_dir / "compose-check")
    space.check_keys(search_space, probe, dict(probe.hydra.runtime.choices))
    check_shared(probe)

    the_study = study.open_study(tune, train_overrides)
    the_study.optimize(
        Objective(tune, search_space, train_overrides),
        n_trials=tune.n_trials,
        catch=(Exception,),  # a failed trial is recorded as FAIL and the search goes on
        gc_after_trial=True,
    )
    outcome: dict[str, Any] = {"study": tune.study_name, "trials": study.summary(the_study)}
    if not study.completed(the_study):
        log.warning("No trial of study %s has finished yet; nothing to report.", tune.study_name)
        return outcome
    best = the_study.best_trial
    outcome.update(
        best_trial=best.number,
        best_value=best.value,
        best_overrides=results.best_overrides(the_study, []),
        best_yaml=str(results.write_best_yaml(the_study, tune_dir, train_overrides, tune.objective)),
        plots=[str(p) for p in results.write_plots(the_study, tune_dir)],
        best_run_dir=str(trial_dir(tune, best.number)),
    )
    if cfg.final:
        final_cfg = compose_run(results.best_overrides(the_study, train_overrides), tune_dir / "final")
        outcome["final"] = {k: v for k, v in train(final_cfg).items() if k.startswith(("test/", "val/"))}
    return outcome


def _report(outcome: dict[str, Any]) -> str:
    if "best_value" not in outcome:
        return f"Study {outcome['study']}: {outcome['trials']}; no finished trial yet."
    lines = [
        f"Study {outcome['study']}: {outcome['trials']}",
        f"Best trial {outcome['best_trial']}: {outcome['best_value']:.4f}  ({outcome['best_run_dir']})",
        f"  overrides: {' '.join(outcome['best_overrides'])}",
        f"  reproduce: python -m artworks.train --config-dir {Path(outcome['best_yaml']).parent} "
        "--config-name best",
        f"  plots: {', '.join(outcome['plots'])}",
    ]
    if "final" in outcome:
        lines.append(f"Final run (best configuration, tested once): {json.dumps(outcome['final'])}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m artworks.tune`` / ``artworks-tune``: foreseeable failures print one paragraph, exit 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    if {"-h", "--help"} & set(args):
        print(f"usage: artworks-tune [tune.KEY=VALUE ...] [final=true] [train overrides ...]\n\n{__doc__}")
        raise SystemExit(0)
    handler = logging.StreamHandler()  # Lightning and Optuna log through handlers of their own
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    logging.getLogger("artworks").addHandler(handler)
    logging.getLogger("artworks").setLevel(logging.INFO)
    logging.getLogger("optuna.study._optimize").addFilter(OneLineUserErrors())  # where Optuna logs a FAIL
    run_command(lambda: print(f"\n{_report(run(args))}"), args)


if __name__ == "__main__":
    main()
