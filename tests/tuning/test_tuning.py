"""The search's parts: the YAML space, the pruning callback, the refusal of test metrics."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import torch
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from artworks.errors import ArtworksError
from artworks.tuning import space, study
from artworks.tuning.pruning import OptunaPruning, reporting_to


def _space(tmp_path: Path, text: str) -> dict:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return space.load_space(str(path))


def test_a_draw_becomes_overrides_hydra_reads_back_exactly(tmp_path):
    entries = _space(
        tmp_path,
        "model.optimizer.lr: {type: float, low: 1.0e-6, high: 1.0e-2, log: true}\n"
        "data.batch_size: {type: categorical, choices: [16, 32]}\n"
        "trainer.max_epochs: {type: int, low: 2, high: 9, step: 1}\n"
        "recipe: {type: categorical, choices: [seed, modern]}\n",
    )
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3)).ask()
    overrides = space.suggest(trial, entries)
    parsed = {o.key_or_group: o.value() for o in OverridesParser.create().parse_overrides(overrides)}
    assert parsed == trial.params
    assert space.overrides_for(trial.params) == overrides


def test_a_malformed_entry_or_unknown_space_is_refused(tmp_path):
    with pytest.raises(ArtworksError, match="model.optimizer.lr"):
        _space(tmp_path, "model.optimizer.lr: {type: float, low: 1.0e-6}\n")
    with pytest.raises(ArtworksError, match="no search space"):
        space.load_space("no-such-space")
    cfg = OmegaConf.create({"model": {"optimizer": {"lr": 0.1}}})
    space.check_keys({"model.optimizer.lr": {}, "recipe": {}}, cfg, {"recipe": "seed"})
    with pytest.raises(ArtworksError, match="model.optimiser.lr"):
        space.check_keys({"model.optimiser.lr": {}}, cfg, {})


def test_only_validation_metrics_can_be_the_objective():
    study.check_objective(OmegaConf.create({"objective": "val/macro_acc_best"}))
    for metric in ("test/macro_acc", "train/loss"):
        with pytest.raises(ArtworksError, match="validation"):
            study.check_objective(OmegaConf.create({"objective": metric}))


def test_the_pruning_callback_reports_the_curve_and_stops_a_trial_below_the_median():
    the_study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    )
    callback = OptunaPruning("val/macro_acc_best")

    def validate(trial: optuna.Trial, epoch: int, value: float) -> None:
        trainer = SimpleNamespace(
            sanity_checking=False,
            current_epoch=epoch,
            callback_metrics={"val/macro_acc_best": torch.tensor(value)},
        )
        with reporting_to(trial):
            callback.on_validation_end(trainer, None)

    good = the_study.ask()
    for epoch, value in enumerate([0.5, 0.7]):
        validate(good, epoch, value)
    the_study.tell(good, 0.7)

    bad = the_study.ask()
    validate(bad, 0, 0.6)  # above the median so far: goes on
    with pytest.raises(optuna.TrialPruned):
        validate(bad, 1, 0.1)
    assert the_study.trials[-1].intermediate_values == pytest.approx({0: 0.6, 1: 0.1})


@pytest.mark.parametrize(("name", "given"), [("finetune", []), ("seed", ["model=scratch_resnet50"])])
def test_the_shipped_spaces_name_keys_of_their_recipe_with_no_override_needed(name, given, tmp_path):
    from artworks.training.task import train  # noqa: F401 - registers the config's resolvers
    from artworks.tuning.objective import compose_run

    cfg = compose_run(space.with_base_overrides(name, given), tmp_path)
    space.check_keys(space.load_space(name), cfg, dict(cfg.hydra.runtime.choices))


def test_a_space_starts_from_its_overrides_and_the_command_line_replaces_them(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(
        "overrides: [recipe=modern, model.optimizer.weight_decay=0.01]\n"
        "model.optimizer.lr: {type: float, low: 1.0e-6, high: 1.0e-2}\n"
    )
    assert list(space.load_space(str(path))) == ["model.optimizer.lr"]  # `overrides` is not a parameter
    assert space.with_base_overrides(str(path), ["data.batch_size=8"]) == [
        "recipe=modern",
        "model.optimizer.weight_decay=0.01",
        "data.batch_size=8",
    ]
    given = ["recipe=seed", "++model.optimizer.weight_decay=0.1"]
    assert space.with_base_overrides(str(path), given) == given
    with pytest.raises(ArtworksError, match="weight_decay"):  # recipe=seed given: refused
        space.check_keys(
            space.load_space("finetune"),
            OmegaConf.create({"model": {"optimizer": {"lr": 0.1}}}),
            {"recipe": "seed"},
        )
    path.write_text("overrides: recipe=modern\nmodel.optimizer.lr: {type: float, low: 1.0, high: 2.0}\n")
    with pytest.raises(ArtworksError, match="list of train overrides"):
        space.with_base_overrides(str(path), [])
