"""``python -m artworks.tune``: an Optuna study of ordinary training runs that never see the test set."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from artworks import train as train_command
from artworks import tune
from artworks.errors import ArtworksError
from tests.helpers.compose import TINY_ARCH, TINY_OVERRIDES, TINY_SAMPLE

SPACE = """\
model.optimizer.lr: {type: float, low: 1.0e-4, high: 3.0e-2, log: true}
model.scheduler.gamma: {type: float, low: 0.5, high: 0.95}
"""


@pytest.fixture
def tune_args(sample_root: Path, tmp_path: Path) -> list[str]:
    """A search over a tiny network on the tiny sample, one short epoch per trial, studies under tmp_path."""
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    sample = ",".join(f"{k}:{v}" for k, v in TINY_SAMPLE.items())
    yield [
        f"tune.space={space}",
        f"tune.dir={tmp_path / 'study'}",
        "tune.seed=0",
        *[o for o in TINY_OVERRIDES if not o.startswith("trainer.limit_train_batches")],
        "trainer.limit_train_batches=1",
        "++trainer.num_sanity_val_steps=0",
        f"data.root={sample_root}",
        f"data.sample={{{sample}}}",
        "model=scratch_resnet50",
        f"model.net.arch={TINY_ARCH}",
    ]
    GlobalHydra.instance().clear()


def _stored_values(study_dir: Path) -> dict[int, float]:
    study = optuna.load_study(study_name="space", storage=f"sqlite:///{study_dir / 'study.db'}")
    return {t.number: t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE}


@pytest.mark.e2e
def test_the_same_command_again_adds_a_trial_to_the_study_and_no_trial_sees_the_test_set(tune_args, tmp_path):
    tune.run([*tune_args, "tune.n_trials=1"])
    second = tune.run([*tune_args, "tune.n_trials=1"])
    values = _stored_values(tmp_path / "study")
    assert second["trials"] == {"COMPLETE": 2} and sorted(values) == [0, 1]
    for number, value in values.items():
        metrics = json.loads((tmp_path / "study" / f"trial_{number:04d}" / "metrics.json").read_text())
        assert metrics["val/macro_acc_best"] == value and not [k for k in metrics if k.startswith("test/")]
    best = OmegaConf.load(tmp_path / "study" / "best.yaml")
    best_trial = optuna.load_study(study_name="space", storage=f"sqlite:///{tmp_path / 'study' / 'study.db'}")
    assert best.model.optimizer.lr == best_trial.best_params["model.optimizer.lr"]
    assert {"override /model": "scratch_resnet50"} in best.defaults


@pytest.mark.slow
def test_study_continues_stores_validation_values_and_best_yaml_reproduces_it(tune_args, tmp_path):
    first = tune.run([*tune_args, "tune.n_trials=2"])
    second = tune.run([*tune_args, "tune.n_trials=1"])  # the same command again: one more trial, same study
    study_dir = tmp_path / "study"

    assert first["trials"] == {"COMPLETE": 2} and second["trials"] == {"COMPLETE": 3}
    values = _stored_values(study_dir)
    assert sorted(values) == [0, 1, 2]
    study = optuna.load_study(study_name="space", storage=f"sqlite:///{study_dir / 'study.db'}")
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 3  # no trial was repeated
    for number, value in values.items():
        metrics = json.loads((study_dir / f"trial_{number:04d}" / "metrics.json").read_text())
        assert metrics["val/macro_acc_best"] == value
        assert not [k for k in metrics if k.startswith("test/")]
        assert not (study_dir / f"trial_{number:04d}" / "classification_report.csv").exists()
    for plot in second["plots"]:
        assert Path(plot).stat().st_size > 0
    assert {Path(p).name for p in second["plots"]} == {"optimization_history.png", "param_importances.png"}

    best = max(values, key=values.get)
    assert second["best_trial"] == best
    repro = tmp_path / "repro"
    argv = [
        "artworks.train",
        "--config-dir",
        str(study_dir),
        "--config-name",
        "best",
        f"hydra.run.dir={repro}",
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", argv)
        train_command.main()
    reproduced = json.loads((repro / "metrics.json").read_text())
    assert reproduced["val/macro_acc_best"] == values[best]
    assert (
        reproduced["wall_time_s"] > 0 and "test/macro_acc" in reproduced
    )  # an ordinary run: trained, tested


def test_a_test_metric_as_objective_is_refused(tune_args):
    with pytest.raises(ArtworksError, match="not a validation metric"):
        tune.run([*tune_args, "tune.objective=test/macro_acc"])


def test_a_space_key_the_train_config_lacks_is_refused(tune_args, tmp_path):
    space = tmp_path / "typo.yaml"
    space.write_text("model.optimiser.lr: {type: float, low: 1.0e-4, high: 1.0e-2}\n")
    with pytest.raises(ArtworksError, match="model.optimiser.lr"):
        tune.run([*tune_args, f"tune.space={space}"])


@pytest.mark.slow
def test_two_processes_share_one_study_and_final_tests_the_best(tune_args, tmp_path):
    args = [a for a in tune_args if a != "tune.seed=0"]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "artworks.tune", *args, "tune.n_trials=2", f"tune.seed={seed}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for seed in (1, 2)
    ]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [out[-3000:] for out in outputs]
    values = _stored_values(tmp_path / "study")
    assert sorted(values) == [0, 1, 2, 3]  # four trials, numbered by the shared database
    for number in values:
        assert (tmp_path / "study" / f"trial_{number:04d}" / "metrics.json").is_file()

    final = tune.run([*tune_args, "tune.n_trials=0", "final=true"])
    assert final["trials"] == {"COMPLETE": 4}
    assert set(final["final"]) >= {"test/macro_acc", "val/macro_acc_best"}
    assert final["final"]["val/macro_acc_best"] == max(values.values())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data=artworks", "data.root={missing}"], "does not exist"),
        (["data.batch_size=0"], "data.batch_size"),
        (
            ["model.net.weights=DEFAULT", "model.net.weights_path={missing}/w.pth"],
            "weights_path=.*does not exist",
        ),
    ],
)
def test_what_every_trial_shares_is_checked_before_the_study_starts(tune_args, tmp_path, overrides, message):
    args = [a for a in tune_args if not a.startswith(("data.root=", "data.sample="))]
    with pytest.raises(ArtworksError, match=message):
        tune.run([*args, *(o.format(missing=tmp_path / "no-data") for o in overrides)])
    assert not (tmp_path / "study" / "study.db").exists()  # no study, no trial: nothing failed ten times


def test_a_trial_failing_on_bad_input_is_logged_in_one_line_others_keep_their_traceback():
    from artworks.tuning.objective import OneLineUserErrors

    def record(error: Exception) -> logging.LogRecord:
        try:
            raise error
        except Exception:
            return logging.LogRecord(
                "optuna", logging.WARNING, __file__, 1, "Trial 0 failed", None, sys.exc_info()
            )

    user, bug = record(ArtworksError("data.root is missing")), record(ValueError("a bug"))
    assert OneLineUserErrors().filter(user) and OneLineUserErrors().filter(bug)
    assert user.exc_info is None and "Traceback" not in logging.Formatter().format(user)
    assert "Traceback" in logging.Formatter().format(bug)


def test_the_shared_check_accepts_what_a_trial_can_use(tune_args, tmp_path):
    import torch

    from artworks.models import build_model
    from artworks.tuning.objective import check_shared, compose_run

    weights = tmp_path / "tiny.pth"
    torch.save(build_model(5, arch=TINY_ARCH).state_dict(), weights)
    train_args = [a for a in tune_args if not a.startswith("tune.")]
    cfg = compose_run(
        [*train_args, "model.net.weights=DEFAULT", f"model.net.weights_path={weights}"], tmp_path
    )
    check_shared(cfg)  # the sample (generated by the first trial) and a readable weights file: no error
